// What duetctl and duetd say to each other over the admin socket (a Unix stream socket only
// root can open). One request per connection: one line of words ending in '\n'
// ("status", "status --json", "prim web --force"...). The reply is a first line "ok" or
// "refused <reason>" (the engine or the daemon said no, with why and what to do) or "error
// <reason>" (the request itself was wrong), then the body (status text or JSON), then the
// daemon closes the connection. Both ends use these functions, so the format lives here only.
#ifndef DUET_ADAPTERS_DAEMON_ADMIN_PROTOCOL_H_
#define DUET_ADAPTERS_DAEMON_ADMIN_PROTOCOL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/inputs.h"

namespace duet::daemon {

// The longest request line the daemon reads; longer ones are refused unread.
inline constexpr size_t kMaxAdminRequestBytes = 4096;

enum class AdminRequestKind : uint8_t { kStatus, kStatusJson, kVerb };

struct AdminRequest {
  AdminRequestKind kind = AdminRequestKind::kStatus;
  AdminVerb verb = AdminVerb::kStart;  // kVerb only
  std::string module;                  // kVerb only
  bool force = false;                  // prim --force
};

// The verb spelled as duetctl and the engine's AdminVerbName spell it ("start", "prim"...).
absl::StatusOr<AdminVerb> AdminVerbFromWord(absl::string_view word);

std::string FormatAdminRequest(const AdminRequest& request);
// Refuses, with what is wrong, anything FormatAdminRequest does not produce.
absl::StatusOr<AdminRequest> ParseAdminRequest(absl::string_view line);

// The reply's text for `status` (OK, or a refusal carrying the engine's reason) and a body.
std::string FormatAdminReply(const absl::Status& status, absl::string_view body);
struct AdminReplyText {
  absl::Status status;  // kFailedPrecondition for "refused", kInvalidArgument for "error"
  std::string body;
};
absl::StatusOr<AdminReplyText> ParseAdminReply(absl::string_view text);

}  // namespace duet::daemon

#endif  // DUET_ADAPTERS_DAEMON_ADMIN_PROTOCOL_H_
