// duetctl's end of the admin socket: one blocking request and its reply (admin_protocol.h).
#ifndef DUET_ADAPTERS_DAEMON_ADMIN_CLIENT_H_
#define DUET_ADAPTERS_DAEMON_ADMIN_CLIENT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "adapters/daemon/admin_protocol.h"

namespace duet::daemon {

// Unavailable when no daemon answers on `socket_path` (with what to check), DeadlineExceeded
// when it does not answer within `timeout`; otherwise the daemon's reply.
absl::StatusOr<AdminReplyText> SendAdminRequest(const std::string& socket_path,
                                                const AdminRequest& request,
                                                absl::Duration timeout = absl::Seconds(30));

}  // namespace duet::daemon

#endif  // DUET_ADAPTERS_DAEMON_ADMIN_CLIENT_H_
