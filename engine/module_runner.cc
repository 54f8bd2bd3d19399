#include "engine/module_runner.h"

#include <cassert>

namespace duet {

const char* AppRoleName(AppRole role) {
  switch (role) {
    case AppRole::kNone:
      return "none";
    case AppRole::kSecondary:
      return "secondary";
    case AppRole::kPrimary:
      return "primary";
  }
  return "?";
}

void ModuleRunner::Drive(AppRole target, uint64_t& next_run_id, Actions& out) {
  if (Busy()) return;
  // A fenced primary (writes frozen) must stop before it may start again.
  const bool fenced = role_ == AppRole::kPrimary && !writable_;
  if (role_ == target && !fenced) return;
  Plan(role_, fenced ? AppRole::kNone : target);
  Advance(next_run_id, out);
}

void ModuleRunner::Plan(AppRole from, AppRole to) {
  using K = Step::Kind;
  // Leaving the primary role: clients first (checkers, VIP), then the application, which
  // may still flush its data, and only then are writes frozen.
  if (from == AppRole::kPrimary) {
    steps_.push_back(Flag(K::kCheckers, false));
    steps_.push_back(Flag(K::kVip, false));
    steps_.push_back(Script(ScriptKind::kStopPrim));
    steps_.push_back(Flag(K::kWritable, false));
  } else if (from == AppRole::kSecondary) {
    steps_.push_back(Script(ScriptKind::kStopSecond));
  } else {
    steps_.push_back(Script(ScriptKind::kPrestart));
  }
  switch (to) {
    case AppRole::kNone:
      steps_.push_back(Role(AppRole::kNone));
      steps_.push_back(Script(ScriptKind::kPoststop));
      break;
    case AppRole::kSecondary:
      steps_.push_back(Role(AppRole::kSecondary));
      steps_.push_back(Script(ScriptKind::kStartSecond));
      break;
    case AppRole::kPrimary:
      steps_.push_back(Flag(K::kWritable, true));
      steps_.push_back(Flag(K::kVip, true));
      steps_.push_back(Role(AppRole::kPrimary));
      steps_.push_back(Script(ScriptKind::kStartPrim));
      steps_.push_back(Flag(K::kCheckers, true));
      break;
  }
}

void ModuleRunner::Restart(uint64_t& next_run_id, Actions& out) {
  if (Busy() || role_ == AppRole::kNone) return;
  if (role_ == AppRole::kPrimary) {
    steps_.push_back(Flag(Step::Kind::kCheckers, false));
    steps_.push_back(Script(ScriptKind::kStopPrim));
    steps_.push_back(Script(ScriptKind::kStartPrim));
    steps_.push_back(Flag(Step::Kind::kCheckers, true));
  } else {
    steps_.push_back(Script(ScriptKind::kStopSecond));
    steps_.push_back(Script(ScriptKind::kStartSecond));
  }
  Advance(next_run_id, out);
}

void ModuleRunner::Fence(Actions& out) {
  if (writable_) {
    writable_ = false;
    out.push_back(SetWritable{module_, false});
  }
  if (vip_) {
    vip_ = false;
    out.push_back(SetVip{module_, false});
  }
  // A queued start must not undo the fence: drop what has not started yet.
  steps_.clear();
}

std::optional<ScriptOutcome> ModuleRunner::OnScriptExited(uint64_t run_id, bool ok,
                                                          uint64_t& next_run_id, Actions& out) {
  if (!running_ || running_->run_id != run_id) return std::nullopt;
  const ScriptKind kind = running_->kind;
  running_.reset();
  const bool is_start = kind == ScriptKind::kPrestart || kind == ScriptKind::kStartPrim ||
                        kind == ScriptKind::kStartSecond;
  if (!ok && is_start) steps_.clear();
  Advance(next_run_id, out);
  return ScriptOutcome{kind, ok};
}

void ModuleRunner::Advance(uint64_t& next_run_id, Actions& out) {
  while (!running_ && !steps_.empty()) {
    const Step step = steps_.front();
    steps_.pop_front();
    switch (step.kind) {
      case Step::Kind::kScript: {
        const uint64_t id = next_run_id++;
        running_ = Running{id, step.script};
        out.push_back(RunScript{module_, step.script, id});
        break;
      }
      case Step::Kind::kVip:
        if (vip_ != step.on) {
          vip_ = step.on;
          out.push_back(SetVip{module_, step.on});
        }
        break;
      case Step::Kind::kCheckers:
        if (checkers_ != step.on) {
          checkers_ = step.on;
          out.push_back(SetCheckers{module_, step.on});
        }
        break;
      case Step::Kind::kWritable:
        if (writable_ != step.on) {
          writable_ = step.on;
          out.push_back(SetWritable{module_, step.on});
        }
        break;
      case Step::Kind::kRole:
        role_ = step.role;
        break;
    }
  }
}

}  // namespace duet
