#include "adapters/process/script_environment.h"

#include <cstddef>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace duet {

const char* ScriptRoleName(ScriptKind kind) {
  switch (kind) {
    case ScriptKind::kStartPrim:
    case ScriptKind::kStopPrim:
      return "primary";
    case ScriptKind::kStartSecond:
    case ScriptKind::kStopSecond:
      return "secondary";
    case ScriptKind::kPrestart:
    case ScriptKind::kPoststop:
      return "none";
  }
  return "none";
}

namespace {

// What scripts and checkers share; `role` is DUET_ROLE.
Environment ModuleEnvironment(const Config& config, ModuleIndex module, NodeIndex self,
                              const char* role) {
  const ModuleConfig& m = config.modules[module];
  Environment env = {
      {"PATH", kStandardPath},
      {"DUET_CLUSTER", config.cluster_name},
      {"DUET_MODULE", m.name},
      {"DUET_NODE", config.nodes[self].name},
      {"DUET_PEER", config.nodes[Peer(self)].name},
      {"DUET_ROLE", role},
      {"DUET_DEFAULT_PRIMARY", config.nodes[m.default_primary].name},
      {"DUET_DIRS", absl::StrJoin(m.directories, " ")},
  };
  for (size_t i = 0; i < m.directories.size(); ++i) {
    env.emplace_back(absl::StrCat("DUET_DIR_", i), m.directories[i]);
  }
  std::string vips;
  for (const VipConfig& vip : m.vips) absl::StrAppend(&vips, vips.empty() ? "" : " ", vip.address);
  env.emplace_back("DUET_VIPS", vips);
  return env;
}

}  // namespace

Environment ScriptEnvironment(const Config& config, ModuleIndex module, NodeIndex self,
                              ScriptKind kind) {
  Environment env = ModuleEnvironment(config, module, self, ScriptRoleName(kind));
  env.emplace_back("DUET_SCRIPT", ScriptKindName(kind));
  return env;
}

Environment CheckerEnvironment(const Config& config, ModuleIndex module, NodeIndex self) {
  return ModuleEnvironment(config, module, self, "primary");
}

ScriptRequest ScriptRequestFor(const Config& config, NodeIndex self, const RunScript& action) {
  const ModuleConfig& m = config.modules[action.module];
  ScriptRequest request;
  request.module = m.name;
  request.kind = action.kind;
  request.run_id = action.run_id;
  request.scripts_dir = m.scripts_dir;
  request.env = ScriptEnvironment(config, action.module, self, action.kind);
  request.timeout = m.script_timeout;
  return request;
}

}  // namespace duet
