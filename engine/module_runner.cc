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
  if (target != plan_target_) {
    // Drop the start part of the current plan: it was for another role.
    while (!steps_.empty() && steps_.back().starting) steps_.pop_back();
  }
  if (running_) return;
  if (steps_.empty()) {
    // A fenced primary (writes frozen) must stop before it may start again.
    const bool fenced = role_ == AppRole::kPrimary && !writable_;
    const bool poststop_due = role_ == AppRole::kNone && target == AppRole::kNone && prestarted_;
    if (role_ == target && !fenced && !poststop_due) return;
    Plan(role_, fenced ? AppRole::kNone : target);
  }
  Advance(next_run_id, out);
}

void ModuleRunner::Plan(AppRole from, AppRole to) {
  using K = Step::Kind;
  plan_target_ = to;
  // Stop part. Leaving the primary role: clients first (checkers, VIP), then the
  // application, which may still flush its data, and only then are writes frozen.
  if (from == AppRole::kPrimary) {
    steps_.push_back(Flag(K::kCheckers, false));
    steps_.push_back(Flag(K::kVip, false));
    steps_.push_back(Script(ScriptKind::kStopPrim));
    steps_.push_back(Flag(K::kWritable, false));
  } else if (from == AppRole::kSecondary) {
    steps_.push_back(Script(ScriptKind::kStopSecond));
  }
  steps_.push_back(Role(AppRole::kNone));
  if (to == AppRole::kNone) {
    steps_.push_back(Script(ScriptKind::kPoststop));
    return;
  }
  // Start part.
  std::vector<Step> start;
  if (!prestarted_) start.push_back(Script(ScriptKind::kPrestart));
  if (to == AppRole::kSecondary) {
    start.push_back(Role(AppRole::kSecondary));
    start.push_back(Script(ScriptKind::kStartSecond));
  } else {
    start.push_back(Flag(K::kWritable, true));
    start.push_back(Flag(K::kVip, true));
    start.push_back(Role(AppRole::kPrimary));
    start.push_back(Script(ScriptKind::kStartPrim));
    start.push_back(Flag(K::kCheckers, true));
  }
  for (Step& step : start) {
    step.starting = true;
    steps_.push_back(step);
  }
}

void ModuleRunner::Restart(uint64_t& next_run_id, Actions& out) {
  if (Busy() || role_ == AppRole::kNone) return;
  plan_target_ = role_;
  if (role_ == AppRole::kPrimary) {
    steps_.push_back(Flag(Step::Kind::kCheckers, false));
    steps_.push_back(Script(ScriptKind::kStopPrim));
    Step start = Script(ScriptKind::kStartPrim);
    start.starting = true;
    steps_.push_back(start);
    Step checkers = Flag(Step::Kind::kCheckers, true);
    checkers.starting = true;
    steps_.push_back(checkers);
  } else {
    steps_.push_back(Script(ScriptKind::kStopSecond));
    Step start = Script(ScriptKind::kStartSecond);
    start.starting = true;
    steps_.push_back(start);
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

std::optional<ScriptOutcome> ModuleRunner::OnScriptExited(uint64_t run_id, bool ok) {
  if (!running_ || running_->run_id != run_id) return std::nullopt;
  const ScriptKind kind = running_->kind;
  running_.reset();
  if (ok && kind == ScriptKind::kPrestart) prestarted_ = true;
  if (kind == ScriptKind::kPoststop) prestarted_ = false;
  const bool is_start = kind == ScriptKind::kPrestart || kind == ScriptKind::kStartPrim ||
                        kind == ScriptKind::kStartSecond;
  if (!ok && is_start) steps_.clear();
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
