// The health checks that need no process of their own, read from the kernel's own views
// (/proc, /sys). Each returns OK when healthy, or an error whose message says what failed,
// ready to be the detail of a CheckerFailed. They are quick and do not block on the network.
#ifndef DUET_ADAPTERS_PROCESS_HEALTH_PROBES_H_
#define DUET_ADAPTERS_PROCESS_HEALTH_PROBES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/config.h"

namespace duet {

// Healthy when a live (not zombie) process's command name (comm) or the base name of its
// argv[0] equals `name`. `proc` is the procfs mount.
absl::Status CheckProcessRunning(absl::string_view name, const std::string& proc = "/proc");

// Healthy when the interface exists, is administratively up and its link is operational
// (operstate "up", or "unknown" as loopback reports). `sys_net` is /sys/class/net.
absl::Status CheckInterfaceUp(absl::string_view name,
                              const std::string& sys_net = "/sys/class/net");

// "host:port", "[v6 address]:port"; the port is 1 to 65535.
absl::StatusOr<Endpoint> ParseHostPort(absl::string_view target);

}  // namespace duet

#endif  // DUET_ADAPTERS_PROCESS_HEALTH_PROBES_H_
