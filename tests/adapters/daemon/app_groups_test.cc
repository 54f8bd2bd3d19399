#include "adapters/daemon/app_groups.h"

#include <gtest/gtest.h>
#include <signal.h>

#include "tests/adapters/daemon/process_test_util.h"

namespace duet::daemon {
namespace {

TEST(AppGroupsTest, RecordedGroupsComeBackInOrderOncePerModule) {
  TempDir dir;
  AppGroups groups(RunDirOf(dir.path()));
  EXPECT_TRUE(groups.Recorded("web").empty());
  ASSERT_TRUE(groups.Record("web", 4242).ok());
  ASSERT_TRUE(groups.Record("db", 777).ok());
  ASSERT_TRUE(groups.Record("web", 4343).ok());
  ASSERT_TRUE(groups.Record("web", 4242).ok());
  EXPECT_EQ(groups.Recorded("web"), (std::vector<pid_t>{4242, 4343}));
  EXPECT_EQ(groups.Recorded("db"), (std::vector<pid_t>{777}));
  groups.Forget("web");
  EXPECT_TRUE(groups.Recorded("web").empty());
  EXPECT_EQ(groups.Recorded("db"), (std::vector<pid_t>{777}));
}

TEST(AppGroupsTest, GarbledLinesAreSkippedNotMisread) {
  TempDir dir;
  AppGroups groups(RunDirOf(dir.path()));
  ASSERT_TRUE(groups.Record("web", 100).ok());
  std::ofstream(groups.run_dir() + "/web.pgids", std::ios::app) << "12x\n-5\n1\n0\n\n";
  ASSERT_TRUE(groups.Record("web", 200).ok());
  EXPECT_EQ(groups.Recorded("web"), (std::vector<pid_t>{100, 200}));
}

TEST(AppGroupsTest, PruneKeepsOnlyGroupsThatStillHaveAMember) {
  TempDir dir;
  AppGroups groups(RunDirOf(dir.path()));
  EXPECT_TRUE(groups.Prune("web").ok());  // nothing recorded yet
  const pid_t live = SpawnShell("exec setsid sleep 1000");
  const pid_t ended = SpawnShell("exec setsid true");
  ASSERT_TRUE(WaitUntil([&] { return GroupAlive(live); }));
  WaitForChild(ended);
  ASSERT_TRUE(groups.Record("web", live).ok());
  ASSERT_TRUE(groups.Record("web", ended).ok());
  ASSERT_TRUE(groups.Prune("web").ok());
  EXPECT_EQ(groups.Recorded("web"), (std::vector<pid_t>{live}));
  ::kill(live, SIGKILL);
  WaitForChild(live);
  EXPECT_FALSE(GroupAlive(live));
}

}  // namespace
}  // namespace duet::daemon
