// Reading duet.toml from disk and finding which node of it this process is (the programs
// duetd, duetctl and duet-witness share this; the parsing and checking itself is the engine's
// ParseConfig).
#ifndef DUET_ADAPTERS_DAEMON_CONFIG_FILE_H_
#define DUET_ADAPTERS_DAEMON_CONFIG_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "engine/config.h"

namespace duet::daemon {

inline constexpr char kDefaultConfigPath[] = "/etc/duet/duet.toml";

// The file parsed and checked; NotFound/PermissionDenied name the file, a bad file gives
// ParseConfig's "file:line: what is wrong".
absl::StatusOr<Config> LoadConfigFile(const std::string& path);

// The node named `name`, or when `name` is empty the one named like this host; otherwise
// NotFound saying which names the config has and that --node picks one.
absl::StatusOr<NodeIndex> ResolveNode(const Config& config, const std::string& name);

}  // namespace duet::daemon

#endif  // DUET_ADAPTERS_DAEMON_CONFIG_FILE_H_
