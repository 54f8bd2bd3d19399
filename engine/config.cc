#include "engine/config.h"

namespace duet {

std::optional<NodeIndex> Config::FindNode(std::string_view name) const {
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].name == name) return static_cast<NodeIndex>(i);
  }
  return std::nullopt;
}

std::optional<ModuleIndex> Config::FindModule(std::string_view name) const {
  for (size_t i = 0; i < modules.size(); ++i) {
    if (modules[i].name == name) return static_cast<ModuleIndex>(i);
  }
  return std::nullopt;
}

const std::string& Config::StateDirOf(NodeIndex node) const {
  const std::string& own = nodes[node].state_dir;
  return own.empty() ? state_dir : own;
}

}  // namespace duet
