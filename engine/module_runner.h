// Carries one module's application between roles on this node: none, secondary, primary.
// It turns a role change into the fixed sequence of DESIGN.md §3 (prestart, VIP, start_prim,
// checkers ... stop_prim, poststop) and runs it one step at a time, so the module's scripts
// never overlap. It decides nothing: Node says which role it wants, the runner gets there.
#ifndef DUET_ENGINE_MODULE_RUNNER_H_
#define DUET_ENGINE_MODULE_RUNNER_H_

#include <cstdint>
#include <deque>
#include <optional>

#include "engine/actions.h"
#include "engine/types.h"

namespace duet {

enum class AppRole : uint8_t { kNone, kSecondary, kPrimary };

const char* AppRoleName(AppRole role);

// What a finished script means to the caller.
struct ScriptOutcome {
  ScriptKind kind = ScriptKind::kPrestart;
  bool ok = true;
};

class ModuleRunner {
 public:
  explicit ModuleRunner(ModuleIndex module) : module_(module) {}

  // Moves toward `target`: plans the steps when idle; continues a plan after a script
  // exited. A plan is a stop part (always completed once begun) and a start part, dropped
  // as soon as Drive is called with another target, so nothing is started for a role the
  // node no longer wants (the caller re-decides after every script exit).
  void Drive(AppRole target, uint64_t& next_run_id, Actions& out);

  // Stops and starts the application in its current role (VIP and writability kept).
  // Ignored unless idle with an application running.
  void Restart(uint64_t& next_run_id, Actions& out);

  // Fencing: writes frozen and VIP released at once, whatever runs; the stop script follows
  // when Drive is next called with a lower role.
  void Fence(Actions& out);

  // The running script with `run_id` exited. Returns nothing for a stale run id. A failed
  // prestart/start script abandons the rest of its sequence; a failed stop script does not,
  // because a stop must always complete.
  std::optional<ScriptOutcome> OnScriptExited(uint64_t run_id, bool ok);

  bool Busy() const { return running_.has_value() || !steps_.empty(); }
  // The role whose resources are held: VIP and writes for primary, start_second for secondary.
  AppRole role() const { return role_; }
  bool writable() const { return writable_; }
  bool vip_assigned() const { return vip_; }
  bool checkers_running() const { return checkers_; }
  std::optional<ScriptKind> running_script() const {
    return running_ ? std::optional<ScriptKind>(running_->kind) : std::nullopt;
  }

 private:
  struct Step {
    enum class Kind : uint8_t { kScript, kVip, kCheckers, kWritable, kRole } kind;
    ScriptKind script = ScriptKind::kPrestart;
    bool on = false;
    AppRole role = AppRole::kNone;
    bool starting = false;  // part of the start part of a plan
  };
  struct Running {
    uint64_t run_id;
    ScriptKind kind;
  };

  static Step Script(ScriptKind k) {
    return {Step::Kind::kScript, k, false, AppRole::kNone, false};
  }
  static Step Flag(Step::Kind kind, bool on) {
    return {kind, ScriptKind::kPrestart, on, AppRole::kNone, false};
  }
  static Step Role(AppRole r) {
    return {Step::Kind::kRole, ScriptKind::kPrestart, false, r, false};
  }

  void Plan(AppRole from, AppRole to);
  // Executes queued steps until a script starts or the queue is empty.
  void Advance(uint64_t& next_run_id, Actions& out);

  ModuleIndex module_;
  AppRole role_ = AppRole::kNone;
  AppRole plan_target_ = AppRole::kNone;
  bool prestarted_ = false;  // prestart ran and poststop has not
  bool writable_ = false;
  bool vip_ = false;
  bool checkers_ = false;
  std::deque<Step> steps_;
  std::optional<Running> running_;
};

}  // namespace duet

#endif  // DUET_ENGINE_MODULE_RUNNER_H_
