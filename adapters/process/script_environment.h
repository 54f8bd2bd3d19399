// The request and environment a module's scripts run with (DESIGN.md §7), built from the
// configuration:
//   DUET_CLUSTER  cluster name          DUET_MODULE  module name
//   DUET_NODE     this node's name      DUET_PEER    the other node's name
//   DUET_SCRIPT   prestart, start_prim, stop_prim, start_second, stop_second or poststop
//   DUET_ROLE     the role the script starts or stops: "primary" (start_prim, stop_prim),
//                 "secondary" (start_second, stop_second), "none" (prestart, poststop)
//   DUET_DEFAULT_PRIMARY  the module's default primary node
//   DUET_DIRS     the replicated directories, separated by spaces (one per line would not
//                 survive `for d in $DUET_DIRS`); DUET_DIR_0, DUET_DIR_1... each exactly
//   DUET_VIPS     the virtual IPs with prefix, separated by spaces
//   PATH          a standard system PATH
// Checkers (custom commands) get the same but DUET_SCRIPT, with DUET_ROLE "primary" (they run
// only while the module is primary here), and DUET_CHECKER, the checker's name.
#ifndef DUET_ADAPTERS_PROCESS_SCRIPT_ENVIRONMENT_H_
#define DUET_ADAPTERS_PROCESS_SCRIPT_ENVIRONMENT_H_

#include "adapters/process/child_process.h"
#include "adapters/process/script_runner.h"
#include "engine/actions.h"
#include "engine/config.h"
#include "engine/types.h"

namespace duet {

// The PATH scripts and checkers get unless their environment names one.
inline constexpr char kStandardPath[] =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// `module` and `self` must be valid indices of `config`.
Environment ScriptEnvironment(const Config& config, ModuleIndex module, NodeIndex self,
                              ScriptKind kind);

// The environment of the module's checkers on node `self` (DUET_CHECKER is added per checker
// by the CheckerRunner). `module` and `self` must be valid indices of `config`.
Environment CheckerEnvironment(const Config& config, ModuleIndex module, NodeIndex self);

// What carries out the engine's `action` on node `self`: the module's scripts directory,
// script timeout and ScriptEnvironment. `action.module` and `self` must be valid.
ScriptRequest ScriptRequestFor(const Config& config, NodeIndex self, const RunScript& action);

// "primary", "secondary" or "none": the role a script of that kind starts or stops.
const char* ScriptRoleName(ScriptKind kind);

}  // namespace duet

#endif  // DUET_ADAPTERS_PROCESS_SCRIPT_ENVIRONMENT_H_
