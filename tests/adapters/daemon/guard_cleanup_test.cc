// The guard's cleanup pieces on real processes, a real network namespace and real locks. The
// test process is the subreaper of what it starts, as the guard is.
#include "adapters/daemon/guard_cleanup.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/prctl.h>

#include <algorithm>

#include "adapters/daemon/app_groups.h"
#include "tests/adapters/daemon/process_test_util.h"
#include "tests/adapters/vip/test_netns.h"

namespace duet::daemon {
namespace {

bool Contains(const std::vector<ProcessInfo>& processes, pid_t pid) {
  return std::any_of(processes.begin(), processes.end(),
                     [pid](const ProcessInfo& p) { return p.pid == pid; });
}

class GuardCleanupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "the guard's tests need root";
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  }
  void TearDown() override {
    for (pid_t pid : started_) ::kill(pid, SIGKILL);
    KillDescendants(absl::Seconds(5));
  }
  // Starts an application that leaves its parent's session and group and outlives the shell
  // that started it (as a daemonizing application does); returns its pid.
  pid_t StartEscapedApplication() {
    const std::string pid_file = dir_.path() + "/app" + std::to_string(++apps_) + ".pid";
    WaitForChild(SpawnShell("(setsid sh -c 'echo $$ > " + pid_file + "; exec sleep 1000' &)"));
    const pid_t app = WaitForPidFile(pid_file);
    started_.push_back(app);
    return app;
  }

  TempDir dir_;
  std::vector<pid_t> started_;
  int apps_ = 0;
};

TEST_F(GuardCleanupTest, KillDescendantsKillsEvenWhatLeftItsSessionAndParent) {
  const pid_t app = StartEscapedApplication();
  ASSERT_GT(app, 0);
  EXPECT_TRUE(Contains(DescendantsOf(::getpid()), app));
  std::vector<ProcessInfo> killed = KillDescendants(absl::Seconds(5));
  EXPECT_TRUE(Contains(killed, app));
  EXPECT_FALSE(ProcessAlive(app));
  EXPECT_TRUE(DescendantsOf(::getpid()).empty());
}

TEST_F(GuardCleanupTest, ARecordedGroupIsKilledOnlyWhileItHoldsADescendant) {
  const pid_t ours = StartEscapedApplication();
  std::vector<ProcessInfo> members = KillGroupOfDescendants(ours);
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].pid, ours);
  EXPECT_EQ(members[0].name, "sleep");
  EXPECT_TRUE(WaitUntil([&] { return !ProcessAlive(ours); }));

  // A group that is not ours (here: started while this process was nobody's subreaper, so it
  // went to init) stands for a recorded id that came back with someone else.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
  const pid_t stranger = StartEscapedApplication();
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  ASSERT_FALSE(Contains(DescendantsOf(::getpid()), stranger));
  EXPECT_TRUE(KillGroupOfDescendants(stranger).empty());
  EXPECT_TRUE(ProcessAlive(stranger));
}

TEST_F(GuardCleanupTest, RemoveVipNowTakesTheAddressOffAndAnAbsentOneIsFine) {
  absl::StatusOr<std::unique_ptr<vip::TestNetns>> netns = vip::TestNetns::Create();
  ASSERT_TRUE(netns.ok()) << netns.status();
  const VipConfig vip{"198.18.5.7/24", vip::TestNetns::kVipSide};
  ASSERT_TRUE(vip::RunCommand("ip -n " + (*netns)->name() + " addr add 198.18.5.7/24 dev " +
                              vip::TestNetns::kVipSide)
                  .ok());
  ASSERT_NE((*netns)->ShowVipSideAddresses()->find("198.18.5.7"), std::string::npos);
  absl::StatusOr<bool> removed = RemoveVipNow(vip);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_TRUE(*removed);
  EXPECT_EQ((*netns)->ShowVipSideAddresses()->find("198.18.5.7"), std::string::npos);
  removed = RemoveVipNow(vip);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_FALSE(*removed);
  removed = RemoveVipNow(VipConfig{"198.18.5.7/24", "nosuchif0"});
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_FALSE(*removed);
  EXPECT_FALSE(RemoveVipNow(VipConfig{"not an address", vip::TestNetns::kVipSide}).ok());
}

TEST_F(GuardCleanupTest, CleanUpKillsRecordedGroupsAndTheRestButNotWhileAnotherDuetdHoldsTheLock) {
  NodeFootprint footprint;
  footprint.state_dir = dir_.path();
  footprint.modules.push_back({"web", {dir_.path() + "/not-mounted"}, {}});
  // The application stays in its script's group, which is recorded; a second one escaped it.
  const std::string group_file = dir_.path() + "/grouped.pid";
  WaitForChild(SpawnShell("(setsid sh -c 'sh -c \"echo \\$\\$ > " + group_file +
                          "; exec sleep 1000\" & exit 0' &)"));
  const pid_t grouped = WaitForPidFile(group_file);
  ASSERT_GT(grouped, 0);
  const pid_t group = ::getpgid(grouped);
  ASSERT_NE(group, grouped);  // the member of a group whose leader (its script) has exited
  const pid_t escaped = StartEscapedApplication();
  ASSERT_TRUE(AppGroups(RunDirOf(dir_.path())).Record("web", group).ok());

  const std::string lock_path = dir_.path() + "/duetd.lock";
  const int held = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_EQ(::flock(held, LOCK_EX | LOCK_NB), 0);
  const std::string out_path = dir_.path() + "/out";
  {
    FILE* console = std::fopen(out_path.c_str(), "w");
    DaemonLog log("a", "", 1 << 20, console);
    CleanUpAfterDaemon(footprint, "duetd (pid 1) was killed by signal 9 (SIGKILL)", log);
    std::fclose(console);
  }
  EXPECT_NE(ReadFile(out_path).find("guard: another duetd holds " + lock_path), std::string::npos)
      << ReadFile(out_path);
  EXPECT_TRUE(ProcessAlive(grouped));
  EXPECT_TRUE(ProcessAlive(escaped));

  ::close(held);
  {
    FILE* console = std::fopen(out_path.c_str(), "w");
    DaemonLog log("a", "", 1 << 20, console);
    CleanUpAfterDaemon(footprint, "duetd (pid 1) was killed by signal 9 (SIGKILL)", log);
    std::fclose(console);
  }
  const std::string out = ReadFile(out_path);
  EXPECT_NE(out.find("guard: killed process group " + std::to_string(group) + ": " +
                     std::to_string(grouped) + " (sleep) (duetd (pid 1) was killed by signal 9"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("guard: killed what duetd's processes left running: " +
                     std::to_string(escaped) + " (sleep)"),
            std::string::npos)
      << out;
  EXPECT_FALSE(ProcessAlive(grouped));
  EXPECT_FALSE(ProcessAlive(escaped));
  EXPECT_TRUE(AppGroups(RunDirOf(dir_.path())).Recorded("web").empty());
}

}  // namespace
}  // namespace duet::daemon
