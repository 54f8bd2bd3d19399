// The fixed order of a module's role changes (DESIGN.md §3), as a table, and the runner's
// rules: one script at a time, start steps dropped when the wanted role changes, fencing.
#include "engine/module_runner.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace duet {
namespace {

std::string Describe(const Action& a) {
  if (const auto* run = std::get_if<RunScript>(&a)) return ScriptKindName(run->kind);
  if (const auto* w = std::get_if<SetWritable>(&a)) return w->writable ? "writable+" : "writable-";
  if (const auto* v = std::get_if<SetVip>(&a)) return v->assigned ? "vip+" : "vip-";
  if (const auto* c = std::get_if<SetCheckers>(&a)) return c->running ? "checkers+" : "checkers-";
  return "?";
}

// Drives `runner` to `target`, answering every script with success; returns what it did.
std::vector<std::string> DriveTo(ModuleRunner& runner, AppRole target, uint64_t& run_id) {
  std::vector<std::string> seen;
  for (int guard = 0; guard < 20; ++guard) {
    Actions out;
    runner.Drive(target, run_id, out);
    for (const Action& a : out) seen.push_back(Describe(a));
    if (!runner.running_script()) break;
    uint64_t id = 0;
    for (const Action& a : out) {
      if (const auto* run = std::get_if<RunScript>(&a)) id = run->run_id;
    }
    EXPECT_TRUE(runner.OnScriptExited(id, true).has_value());
  }
  EXPECT_EQ(runner.role(), target);
  EXPECT_FALSE(runner.Busy());
  return seen;
}

struct Transition {
  AppRole from;
  AppRole to;
  std::vector<std::string> steps;
};

TEST(ModuleRunnerTest, TransitionsRunTheirStepsInTheFixedOrder) {
  const std::vector<Transition> table = {
      {AppRole::kNone,
       AppRole::kPrimary,
       {"prestart", "writable+", "vip+", "start_prim", "checkers+"}},
      {AppRole::kNone, AppRole::kSecondary, {"prestart", "start_second"}},
      {AppRole::kPrimary,
       AppRole::kSecondary,
       {"checkers-", "vip-", "stop_prim", "writable-", "start_second"}},
      {AppRole::kSecondary,
       AppRole::kPrimary,
       {"stop_second", "writable+", "vip+", "start_prim", "checkers+"}},
      {AppRole::kPrimary,
       AppRole::kNone,
       {"checkers-", "vip-", "stop_prim", "writable-", "poststop"}},
      {AppRole::kSecondary, AppRole::kNone, {"stop_second", "poststop"}},
  };
  for (const Transition& t : table) {
    SCOPED_TRACE(std::string(AppRoleName(t.from)) + " -> " + AppRoleName(t.to));
    ModuleRunner runner(0);
    uint64_t run_id = 1;
    if (t.from != AppRole::kNone) DriveTo(runner, t.from, run_id);
    EXPECT_EQ(DriveTo(runner, t.to, run_id), t.steps);
  }
}

TEST(ModuleRunnerTest, OnlyOneScriptRunsAtATime) {
  ModuleRunner runner(0);
  uint64_t run_id = 1;
  Actions out;
  runner.Drive(AppRole::kPrimary, run_id, out);
  ASSERT_EQ(runner.running_script(), ScriptKind::kPrestart);
  Actions again;
  runner.Drive(AppRole::kPrimary, run_id, again);
  runner.Restart(run_id, again);
  EXPECT_TRUE(again.empty());  // nothing starts while prestart runs
}

TEST(ModuleRunnerTest, StartStepsAreDroppedWhenTheWantedRoleChanges) {
  ModuleRunner runner(0);
  uint64_t run_id = 1;
  Actions out;
  runner.Drive(AppRole::kPrimary, run_id, out);
  const uint64_t prestart = std::get<RunScript>(out.back()).run_id;
  // The node stops wanting the primary role while prestart runs (e.g. the peer took over).
  Actions none;
  runner.Drive(AppRole::kSecondary, run_id, none);
  ASSERT_TRUE(runner.OnScriptExited(prestart, true).has_value());
  Actions next;
  runner.Drive(AppRole::kSecondary, run_id, next);
  for (const Action& a : next) {
    EXPECT_NE(Describe(a), "writable+");
    EXPECT_NE(Describe(a), "vip+");
  }
  ASSERT_FALSE(next.empty());
  EXPECT_EQ(Describe(next.back()), "start_second");
  EXPECT_FALSE(runner.writable());
}

TEST(ModuleRunnerTest, FenceFreezesWritesAndReleasesVipAtOnceEvenWhileAScriptRuns) {
  ModuleRunner runner(0);
  uint64_t run_id = 1;
  DriveTo(runner, AppRole::kPrimary, run_id);
  Actions out;
  runner.Restart(run_id, out);  // stop_prim runs
  ASSERT_TRUE(runner.running_script().has_value());
  Actions fence;
  runner.Fence(fence);
  ASSERT_EQ(fence.size(), 2u);
  EXPECT_EQ(Describe(fence[0]), "writable-");
  EXPECT_EQ(Describe(fence[1]), "vip-");
  EXPECT_FALSE(runner.writable());
  // Once the running script ends, the fenced primary is stopped, never restarted as is.
  const uint64_t id = std::get<RunScript>(out.back()).run_id;
  ASSERT_TRUE(runner.OnScriptExited(id, true).has_value());
  std::vector<std::string> rest = DriveTo(runner, AppRole::kNone, run_id);
  EXPECT_EQ(rest.back(), "poststop");
}

TEST(ModuleRunnerTest, FailedStartScriptAbandonsTheRestOfThePlan) {
  ModuleRunner runner(0);
  uint64_t run_id = 1;
  Actions out;
  runner.Drive(AppRole::kSecondary, run_id, out);
  const uint64_t prestart = std::get<RunScript>(out.back()).run_id;
  const std::optional<ScriptOutcome> outcome = runner.OnScriptExited(prestart, false);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_FALSE(outcome->ok);
  EXPECT_FALSE(runner.Busy());
  EXPECT_EQ(runner.role(), AppRole::kNone);
}

TEST(ModuleRunnerTest, StaleScriptExitIsIgnored) {
  ModuleRunner runner(0);
  uint64_t run_id = 1;
  Actions out;
  runner.Drive(AppRole::kSecondary, run_id, out);
  EXPECT_FALSE(runner.OnScriptExited(9999, true).has_value());
  EXPECT_TRUE(runner.running_script().has_value());
}

}  // namespace
}  // namespace duet
