// The simulated adapter's keep-aside rule (adapter contract C5) and the checker built on it.
#include "sim/keep_aside_driver.h"

#include <gtest/gtest.h>

#include "engine/replication/mutation.h"

namespace duet::sim {
namespace {

ApplyMutation WriteOf(ModuleIndex m, const std::string& path) {
  return ApplyMutation{m, 1, MakeMutation(MutationKind::kWrite, path), false};
}

TEST(KeepAsideDriverTest, AFailedKeepAsideStopsItsModuleUntilTheEnginesMark) {
  KeepAsideDriver driver;
  driver.SetFailing(1, true);
  EXPECT_EQ(driver.Preserve(1, PreserveDivergent{0, {"f"}, 1}, false).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(driver.Stopped(1, 0));
  EXPECT_FALSE(driver.Stopped(1, 1));                                        // another module
  EXPECT_FALSE(driver.Stopped(0, 0));                                        // the other node
  EXPECT_TRUE(driver.Preserve(1, PreserveDivergent{0, {}, 2}, false).ok());  // nothing to keep
  EXPECT_FALSE(driver.Stopped(1, 0));
  EXPECT_EQ(driver.failures(), 1u);
}

TEST(KeepAsideDriverTest, AFullDiskFailsAKeepAsideWithENOSPC) {
  KeepAsideDriver driver;
  EXPECT_EQ(driver.Preserve(0, PreserveDivergent{0, {"f"}, 1}, true).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(driver.Preserve(0, PreserveDivergent{0, {"f"}, 2}, false).ok());
}

TEST(KeepAsideDriverTest, OverwritingABranchNotKeptAsideIsAViolationUntilAKeepAsideSucceeds) {
  KeepAsideDriver driver;
  driver.SetFailing(0, true);
  ASSERT_FALSE(driver.Preserve(0, PreserveDivergent{0, {"f"}, 1}, false).ok());
  ASSERT_TRUE(driver.Preserve(0, PreserveDivergent{0, {}, 2}, false).ok());
  EXPECT_TRUE(driver.CheckApply(0, 0, WriteOf(0, "f"), /*writable=*/false).has_value());
  EXPECT_FALSE(driver.CheckApply(0, 0, WriteOf(0, "f"), /*writable=*/true).has_value());
  EXPECT_FALSE(driver
                   .CheckApply(0, 0,
                               ApplyMutation{0, 3, MakeMutation(MutationKind::kFsync, ""), true},
                               false)
                   .has_value());  // a flush changes no data
  EXPECT_FALSE(driver.CheckApply(1, 0, WriteOf(0, "f"), false).has_value());
  driver.SetFailing(0, false);
  ASSERT_TRUE(driver.Preserve(0, PreserveDivergent{0, {"f"}, 4}, false).ok());
  EXPECT_FALSE(driver.CheckApply(0, 0, WriteOf(0, "f"), false).has_value());
}

TEST(KeepAsideDriverTest, APromotionOrAReplacedDiskEndsTheRule) {
  KeepAsideDriver driver;
  driver.SetFailing(0, true);
  ASSERT_FALSE(driver.Preserve(0, PreserveDivergent{0, {"f"}, 1}, false).ok());
  ASSERT_FALSE(driver.Preserve(0, PreserveDivergent{1, {"g"}, 2}, false).ok());
  driver.ProcessStarted(0);
  EXPECT_FALSE(driver.Stopped(0, 0));
  driver.BranchNoLongerOwed(0, 0);
  EXPECT_FALSE(driver.CheckApply(0, 0, WriteOf(0, "f"), false).has_value());
  EXPECT_TRUE(driver.CheckApply(0, 1, WriteOf(1, "g"), false).has_value());
  driver.DiskReplaced(0);
  EXPECT_FALSE(driver.CheckApply(0, 1, WriteOf(1, "g"), false).has_value());
}

}  // namespace
}  // namespace duet::sim
