// RestartBudget: restart.max local restarts within restart.window; past that the module
// fails over (engine/restart_budget.h). Node calls TryConsume on a checker failure and
// fails over when it returns false; used() is shown in the log ("restart N of max").
#include "engine/restart_budget.h"

#include <gtest/gtest.h>

namespace duet {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000);
const absl::Duration kWindow = absl::Seconds(60);

TEST(RestartBudgetTest, AllowsMaxRestartsWithinTheWindow) {
  RestartBudget b(3, kWindow);
  EXPECT_TRUE(b.TryConsume(kT0));
  EXPECT_TRUE(b.TryConsume(kT0 + absl::Seconds(1)));
  EXPECT_TRUE(b.TryConsume(kT0 + absl::Seconds(2)));
  EXPECT_EQ(b.used(kT0 + absl::Seconds(2)), 3u);
  EXPECT_FALSE(b.TryConsume(kT0 + absl::Seconds(3)));
  EXPECT_EQ(b.used(kT0 + absl::Seconds(3)), 3u);  // a refused restart is not counted
}

TEST(RestartBudgetTest, ZeroMaxNeverAllowsARestart) {
  RestartBudget b(0, kWindow);
  EXPECT_FALSE(b.TryConsume(kT0));
  EXPECT_EQ(b.used(kT0), 0u);
}

TEST(RestartBudgetTest, RestartStopsCountingExactlyOneWindowLater) {
  RestartBudget b(1, kWindow);
  EXPECT_TRUE(b.TryConsume(kT0));
  EXPECT_FALSE(b.TryConsume(kT0 + kWindow - absl::Nanoseconds(1)));
  EXPECT_EQ(b.used(kT0 + kWindow - absl::Nanoseconds(1)), 1u);
  EXPECT_EQ(b.used(kT0 + kWindow), 0u);
  EXPECT_TRUE(b.TryConsume(kT0 + kWindow));
}

TEST(RestartBudgetTest, WindowSlidesRestartByRestart) {
  RestartBudget b(2, kWindow);
  EXPECT_TRUE(b.TryConsume(kT0));
  EXPECT_TRUE(b.TryConsume(kT0 + absl::Seconds(30)));
  EXPECT_FALSE(b.TryConsume(kT0 + absl::Seconds(59)));
  // The first restart left the window; the second still counts.
  EXPECT_TRUE(b.TryConsume(kT0 + absl::Seconds(60)));
  EXPECT_FALSE(b.TryConsume(kT0 + absl::Seconds(89)));
  EXPECT_TRUE(b.TryConsume(kT0 + absl::Seconds(90)));
  EXPECT_EQ(b.used(kT0 + absl::Seconds(90)), 2u);
}

TEST(RestartBudgetTest, ResetRestoresTheWholeBudget) {
  RestartBudget b(2, kWindow);
  EXPECT_TRUE(b.TryConsume(kT0));
  EXPECT_TRUE(b.TryConsume(kT0 + absl::Seconds(1)));
  b.Reset();
  EXPECT_EQ(b.used(kT0 + absl::Seconds(1)), 0u);
  EXPECT_TRUE(b.TryConsume(kT0 + absl::Seconds(2)));
  EXPECT_TRUE(b.TryConsume(kT0 + absl::Seconds(3)));
  EXPECT_FALSE(b.TryConsume(kT0 + absl::Seconds(4)));
}

TEST(RestartBudgetTest, UsedCountsOnlyRestartsInsideTheWindow) {
  RestartBudget b(5, kWindow);
  EXPECT_TRUE(b.TryConsume(kT0));
  EXPECT_TRUE(b.TryConsume(kT0 + absl::Seconds(20)));
  EXPECT_TRUE(b.TryConsume(kT0 + absl::Seconds(40)));
  EXPECT_EQ(b.used(kT0 + absl::Seconds(40)), 3u);
  EXPECT_EQ(b.used(kT0 + absl::Seconds(60)), 2u);
  EXPECT_EQ(b.used(kT0 + absl::Seconds(100)), 0u);
}

}  // namespace
}  // namespace duet
