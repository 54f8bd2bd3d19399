#include "adapters/daemon/config_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "engine/config_parser.h"

namespace duet::daemon {

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read the configuration ", path, ": ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), path);
}

absl::StatusOr<NodeIndex> ResolveNode(const Config& config, const std::string& name) {
  std::string wanted = name;
  if (wanted.empty()) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0) wanted = host;
  }
  if (std::optional<NodeIndex> found = config.FindNode(wanted)) return *found;
  return absl::NotFoundError(absl::StrCat(name.empty() ? "this host's name '" : "node '", wanted,
                                          "' is not a node of cluster '", config.cluster_name,
                                          "' (its nodes: ", config.nodes[0].name, ", ",
                                          config.nodes[1].name, "); pick one with --node"));
}

}  // namespace duet::daemon
