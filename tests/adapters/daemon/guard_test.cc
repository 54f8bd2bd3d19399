// The guard's loop (RunGuarded) with a stand-in daemon: a real forked process that dies the
// ways duetd can. Each guard runs in a child of the test, so its signal mask and subreaper
// flag stay there.
#include "adapters/daemon/guard.h"

#include <gtest/gtest.h>

#include "tests/adapters/daemon/process_test_util.h"

namespace duet::daemon {
namespace {

class GuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.footprint.state_dir = dir_.path();
    options_.restart.first_delay = absl::Milliseconds(10);
    options_.restart.max_fast_crashes = 3;
    options_.stop_timeout = absl::Seconds(10);
  }
  void TearDown() override {
    if (guard_ > 0) {
      ::kill(guard_, SIGKILL);
      WaitForChild(guard_);
    }
  }

  // Starts the guard over `daemon` (which may call Run() to count its starts).
  void StartGuard(std::function<int(int run)> daemon) {
    guard_ = ::fork();
    ASSERT_GE(guard_, 0);
    if (guard_ == 0) {
      FILE* console = std::fopen(out().c_str(), "a");
      DaemonLog log("a", "", 1 << 20, console);
      ::_exit(RunGuarded(options_, log, [&] {
        // Counted on disk: each daemon is a fresh fork of the guard.
        const int run = Runs() + 1;
        std::ofstream(runs_file(), std::ios::app) << run << "\n";
        return daemon(run);
      }));
    }
  }
  // The guard's exit status.
  int GuardExit() {
    const int status = WaitForChild(guard_);
    guard_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  int Runs() const {
    std::string text = ReadFile(runs_file());
    return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  }
  std::string out() const { return dir_.path() + "/guard.out"; }
  std::string runs_file() const { return dir_.path() + "/runs"; }

  TempDir dir_;
  GuardOptions options_;
  pid_t guard_ = -1;
};

TEST_F(GuardTest, AKilledDaemonsApplicationIsKilledAndTheDaemonRestarted) {
  const std::string app_file = dir_.path() + "/app.pid";
  StartGuard([&](int run) {
    if (run > 1) return 0;  // the second one stops in order
    WaitForChild(SpawnShell("(setsid sh -c 'echo $$ > " + app_file + "; exec sleep 1000' &)"));
    WaitForPidFile(app_file);
    ::raise(SIGKILL);
    return 0;
  });
  EXPECT_EQ(GuardExit(), 0);
  EXPECT_EQ(Runs(), 2);
  const pid_t app = static_cast<pid_t>(std::atoi(ReadFile(app_file).c_str()));
  ASSERT_GT(app, 0);
  EXPECT_FALSE(ProcessAlive(app));
  const std::string log = ReadFile(out());
  EXPECT_NE(log.find("was killed by signal 9 (SIGKILL): releasing its VIPs"), std::string::npos)
      << log;
  EXPECT_NE(log.find("guard: killed what duetd's processes left running: " + std::to_string(app) +
                     " (sleep)"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("guard: restarting duetd in 10ms"), std::string::npos) << log;
}

TEST_F(GuardTest, ADaemonThatKeepsFailingStopIsRestartedUntilTheGuardGivesUp) {
  StartGuard([](int) { return 3; });
  EXPECT_EQ(GuardExit(), kGuardGaveUp);
  EXPECT_EQ(Runs(), 3);
  const std::string log = ReadFile(out());
  EXPECT_NE(log.find("exited with status 3 (fail-stop"), std::string::npos) << log;
  EXPECT_NE(log.find("3 crashes within 10m"), std::string::npos) << log;
}

TEST_F(GuardTest, ADaemonThatCannotStartTheFirstTimeIsNotRestarted) {
  StartGuard([](int) { return 1; });
  EXPECT_EQ(GuardExit(), 1);
  EXPECT_EQ(Runs(), 1);
}

TEST_F(GuardTest, SigtermToTheGuardStopsTheDaemonAndIsNotARestart) {
  const std::string ready = dir_.path() + "/ready";
  StartGuard([&](int) {
    // As duetd: SIGTERM is taken as the order to stop.
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    ::sigprocmask(SIG_BLOCK, &term, nullptr);
    std::ofstream(ready) << "1";
    int signal = 0;
    ::sigwait(&term, &signal);
    return 0;
  });
  ASSERT_TRUE(WaitUntil([&] { return !ReadFile(ready).empty(); }));
  ::kill(guard_, SIGTERM);
  EXPECT_EQ(GuardExit(), 0);
  EXPECT_EQ(Runs(), 1);
  const std::string log = ReadFile(out());
  EXPECT_NE(log.find("guard: stopping on signal 15 (SIGTERM): passing it to duetd"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("restarting"), std::string::npos) << log;
}

}  // namespace
}  // namespace duet::daemon
