// CheckerRunner (adapters/process/checker_runner.h) with real processes, a real listener on
// 127.0.0.1 and the machine's real interfaces. "Healthy" is shown by a healthy checker
// staying silent while a failing one in the same runner has reported several times.
#include "adapters/process/checker_runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "adapters/process/health_probes.h"
#include "adapters/process/script_environment.h"
#include "tests/adapters/process/test_loop.h"

namespace duet {
namespace {

namespace asio = boost::asio;
using ::duet::testing::RunUntil;
using ::duet::testing::RunUntilIdle;
using ::duet::testing::SubreaperScope;
using ::duet::testing::WaitGroupGone;
using ::testing::AllOf;
using ::testing::Each;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

CheckerConfig Checker(CheckerType type, std::string target,
                      absl::Duration interval = absl::Milliseconds(20),
                      absl::Duration timeout = absl::Seconds(2)) {
  CheckerConfig checker;
  checker.name = target;
  checker.type = type;
  checker.target = std::move(target);
  checker.interval = interval;
  checker.timeout = timeout;
  return checker;
}

// A process the test owns, killed and reaped at the end whatever happens.
class TestProcess {
 public:
  // Runs `sleep 1000` under the name `name` (its argv[0]).
  explicit TestProcess(const std::string& name) {
    std::string arg0 = name;
    std::string seconds = "1000";
    char* argv[] = {arg0.data(), seconds.data(), nullptr};
    char* envp[] = {nullptr};
    if (::posix_spawn(&pid_, "/bin/sleep", nullptr, nullptr, argv, envp) != 0) pid_ = -1;
  }
  TestProcess(const TestProcess&) = delete;
  TestProcess& operator=(const TestProcess&) = delete;
  ~TestProcess() { Kill(); }
  pid_t pid() const { return pid_; }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // Killed but left a zombie until Kill() or the destructor reaps it.
  void KillWithoutReaping() {
    if (pid_ > 0) ::kill(pid_, SIGKILL);
  }

 private:
  pid_t pid_ = -1;
};

class CheckerRunnerTest : public ::testing::Test {
 protected:
  CheckerRunnerTest()
      : runner_(io_, [this](uint32_t checker, std::string detail) {
          failures_[checker].push_back(std::move(detail));
        }) {}

  size_t FailuresOf(uint32_t checker) {
    auto it = failures_.find(checker);
    return it == failures_.end() ? 0 : it->second.size();
  }

  // Waits until checker `index` has failed `count` times.
  bool WaitForFailures(uint32_t index, size_t count = 1) {
    return RunUntil(io_, [&] { return FailuresOf(index) >= count; });
  }

  asio::io_context io_;
  std::map<uint32_t, std::vector<std::string>> failures_;
  CheckerRunner runner_;
};

TEST_F(CheckerRunnerTest, ProcessCheckerIsHealthyWhileTheProcessRunsAndFailsOnceItIsGone) {
  const std::string name = absl::StrCat("duet-probe-", ::getpid());
  TestProcess process(name);
  ASSERT_GT(process.pid(), 0);
  runner_.Start({Checker(CheckerType::kProcess, name),
                 Checker(CheckerType::kProcess, "duet-no-such-process")});

  ASSERT_TRUE(WaitForFailures(1, 3));
  EXPECT_EQ(FailuresOf(0), 0u);
  EXPECT_THAT(failures_[1], Each("no process named 'duet-no-such-process' is running"));

  // A zombie is not a running process.
  process.KillWithoutReaping();
  ASSERT_TRUE(WaitForFailures(0));
  EXPECT_EQ(failures_[0][0], absl::StrCat("no process named '", name, "' is running"));
}

TEST_F(CheckerRunnerTest, TcpCheckerIsHealthyWithAListenerAndFailsOnAClosedPort) {
  asio::ip::tcp::acceptor listener(io_, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::tcp::acceptor closed(io_, {asio::ip::make_address("127.0.0.1"), 0});
  const uint16_t closed_port = closed.local_endpoint().port();
  closed.close();
  const std::string open_target = absl::StrCat("127.0.0.1:", listener.local_endpoint().port());
  const std::string closed_target = absl::StrCat("127.0.0.1:", closed_port);
  runner_.Start(
      {Checker(CheckerType::kTcp, open_target), Checker(CheckerType::kTcp, closed_target)});

  ASSERT_TRUE(WaitForFailures(1, 3));
  EXPECT_EQ(FailuresOf(0), 0u);
  EXPECT_THAT(failures_[1][0], AllOf(HasSubstr(absl::StrCat("cannot connect to ", closed_target)),
                                     HasSubstr("refused")));

  listener.close();
  ASSERT_TRUE(WaitForFailures(0));
  EXPECT_THAT(failures_[0][0], HasSubstr(absl::StrCat("cannot connect to ", open_target)));
}

TEST_F(CheckerRunnerTest, TcpCheckerFailsWhenNoConnectionIsAcceptedWithinTheTimeout) {
  // A listener with a backlog of 0 holding one unaccepted connection drops further SYNs,
  // so the next connect hangs.
  asio::ip::tcp::acceptor listener(io_);
  listener.open(asio::ip::tcp::v4());
  listener.bind({asio::ip::make_address("127.0.0.1"), 0});
  listener.listen(0);
  asio::ip::tcp::socket queued(io_);
  queued.connect(listener.local_endpoint());
  const std::string target = absl::StrCat("127.0.0.1:", listener.local_endpoint().port());
  runner_.Start(
      {Checker(CheckerType::kTcp, target, absl::Milliseconds(20), absl::Milliseconds(200))});

  ASSERT_TRUE(WaitForFailures(0));
  EXPECT_EQ(failures_[0][0], absl::StrCat("no connection to ", target, " within 200ms"));
}

TEST_F(CheckerRunnerTest, TcpCheckerWithABadTargetFailsSayingWhy) {
  runner_.Start({Checker(CheckerType::kTcp, "127.0.0.1")});

  ASSERT_TRUE(WaitForFailures(0));
  EXPECT_EQ(failures_[0][0], "'127.0.0.1' is not host:port: no port");
}

TEST_F(CheckerRunnerTest, InterfaceCheckerIsHealthyForLoopbackAndFailsForAMissingInterface) {
  runner_.Start(
      {Checker(CheckerType::kInterface, "lo"), Checker(CheckerType::kInterface, "nonexistent0")});

  ASSERT_TRUE(WaitForFailures(1, 3));
  EXPECT_EQ(FailuresOf(0), 0u);
  EXPECT_EQ(failures_[1][0], "interface nonexistent0 does not exist");
}

// A veth pair made for the test (root, iproute2), deleted at the end.
class VethPair {
 public:
  VethPair()
      : name_(absl::StrCat("dpc", ::getpid() % 1000000, "a")),
        peer_(absl::StrCat("dpc", ::getpid() % 1000000, "b")) {
    ok_ = Ip(absl::StrCat("link add ", name_, " type veth peer name ", peer_));
  }
  VethPair(const VethPair&) = delete;
  VethPair& operator=(const VethPair&) = delete;
  ~VethPair() { Ip(absl::StrCat("link del ", name_)); }
  bool ok() const { return ok_; }
  const std::string& name() const { return name_; }
  bool SetUp(const std::string& which) { return Ip(absl::StrCat("link set ", which, " up")); }
  const std::string& peer() const { return peer_; }

 private:
  static bool Ip(const std::string& args) {
    return std::system(absl::StrCat("ip ", args, " >/dev/null 2>&1").c_str()) == 0;
  }
  std::string name_;
  std::string peer_;
  bool ok_ = false;
};

TEST_F(CheckerRunnerTest, InterfaceCheckerFailsWhileTheInterfaceOrItsLinkIsDown) {
  VethPair veth;
  ASSERT_TRUE(veth.ok()) << "creating a veth pair needs root and iproute2";
  runner_.Start({Checker(CheckerType::kInterface, veth.name())});

  ASSERT_TRUE(WaitForFailures(0));
  EXPECT_EQ(failures_[0][0], absl::StrCat("interface ", veth.name(), " is down"));

  // Up, but its peer is down: no carrier.
  ASSERT_TRUE(veth.SetUp(veth.name()));
  ASSERT_TRUE(RunUntil(io_, [&] {
    return failures_[0].back() != absl::StrCat("interface ", veth.name(), " is down");
  }));
  EXPECT_THAT(failures_[0].back(),
              HasSubstr(absl::StrCat("interface ", veth.name(), " is up but its link is not")));

  // Both ends up: healthy, so the failures stop.
  ASSERT_TRUE(veth.SetUp(veth.peer()));
  ASSERT_TRUE(RunUntil(io_, [&] { return CheckInterfaceUp(veth.name()).ok(); }));
  const size_t failures = FailuresOf(0);
  runner_.Start({Checker(CheckerType::kInterface, veth.name()),
                 Checker(CheckerType::kInterface, "nonexistent0")});
  ASSERT_TRUE(WaitForFailures(1, 3));
  EXPECT_EQ(FailuresOf(0), failures);
}

TEST_F(CheckerRunnerTest, InterfaceCheckerRefusesANameThatIsAPath) {
  runner_.Start({Checker(CheckerType::kInterface, "../lo")});

  ASSERT_TRUE(WaitForFailures(0));
  EXPECT_EQ(failures_[0][0], "'../lo' is not an interface name");
}

TEST_F(CheckerRunnerTest, CustomCheckerIsHealthyOnExitZeroAndFailsWithStatusAndLastOutput) {
  runner_.Start(
      {Checker(CheckerType::kCustom, "test -d /"),
       Checker(CheckerType::kCustom, "echo checking; echo 'db is read-only' >&2; exit 3")});

  ASSERT_TRUE(WaitForFailures(1, 3));
  EXPECT_EQ(FailuresOf(0), 0u);
  EXPECT_EQ(failures_[1][0], "command exited with status 3 (last output: db is read-only)");
}

// Written by a user's check script: it tells which module and node it checks, and where the
// data is, from the same variables the module's scripts get.
TEST(CheckerEnvironmentTest, CustomCheckerSeesModuleNodeRoleDirectoriesAndItsOwnName) {
  Config config;
  config.cluster_name = "shop";
  config.nodes.resize(2);
  config.nodes[0].name = "alpha";
  config.nodes[1].name = "beta";
  ModuleConfig web;
  web.name = "web";
  web.default_primary = 1;
  web.directories = {"/srv/web/htdocs", "/srv/web/uploads"};
  web.vips = {{"10.0.0.100/24", "eth0"}};
  config.modules.push_back(web);
  asio::io_context io;
  std::vector<std::string> failures;
  CheckerRunner runner(
      io, [&](uint32_t, std::string detail) { failures.push_back(std::move(detail)); },
      CheckerRunner::Options{CheckerEnvironment(config, 0, 0), absl::Seconds(1)});
  CheckerConfig checker =
      Checker(CheckerType::kCustom,
              "echo \"module=$DUET_MODULE node=$DUET_NODE peer=$DUET_PEER role=$DUET_ROLE "
              "checker=$DUET_CHECKER cluster=$DUET_CLUSTER default=$DUET_DEFAULT_PRIMARY "
              "dirs=$DUET_DIRS first=$DUET_DIR_0 second=$DUET_DIR_1 vips=$DUET_VIPS "
              "script=${DUET_SCRIPT:-unset} home=${HOME:-unset} path=$PATH\"; exit 1");
  checker.name = "uploads-writable";
  runner.Start({checker});

  ASSERT_TRUE(RunUntil(io, [&] { return !failures.empty(); }));
  runner.Stop();
  EXPECT_EQ(failures[0],
            absl::StrCat("command exited with status 1 (last output: module=web node=alpha "
                         "peer=beta role=primary checker=uploads-writable cluster=shop "
                         "default=beta dirs=/srv/web/htdocs /srv/web/uploads "
                         "first=/srv/web/htdocs second=/srv/web/uploads vips=10.0.0.100/24 "
                         "script=unset home=unset path=",
                         kStandardPath, ")"));
}

TEST_F(CheckerRunnerTest, CustomCheckerPastItsTimeoutIsKilledWithItsGroupAndFails) {
  SubreaperScope subreaper;
  CheckerRunner runner(
      io_,
      [this](uint32_t checker, std::string detail) {
        failures_[checker].push_back(std::move(detail));
      },
      CheckerRunner::Options{{}, absl::Milliseconds(100)});
  runner.Start({Checker(CheckerType::kCustom, "sleep 1000 & echo group=$$; wait",
                        absl::Milliseconds(20), absl::Seconds(1))});

  ASSERT_TRUE(WaitForFailures(0));
  runner.Stop();
  const std::string& detail = failures_[0][0];
  EXPECT_THAT(detail, HasSubstr("command timed out after 1s and was killed (last output: group="));
  // The shell printed its pid, which is the id of the group the command ran in.
  const size_t at = detail.find("group=") + 6;
  int group = 0;
  ASSERT_TRUE(absl::SimpleAtoi(detail.substr(at, detail.find(')', at) - at), &group)) << detail;
  EXPECT_TRUE(WaitGroupGone(io_, group));
}

TEST_F(CheckerRunnerTest, NoCallbackAfterStopAndNothingLeftPending) {
  runner_.Start({Checker(CheckerType::kInterface, "nonexistent0", absl::Milliseconds(1)),
                 Checker(CheckerType::kCustom, "exit 1", absl::Milliseconds(1)),
                 Checker(CheckerType::kTcp, "127.0.0.1:1", absl::Milliseconds(1))});
  ASSERT_TRUE(RunUntil(io_, [&] { return FailuresOf(0) > 2 && FailuresOf(1) > 2; }));

  runner_.Stop();
  failures_.clear();

  // Every timer, connect and command of the checkers ended: the loop runs out of work.
  EXPECT_TRUE(RunUntilIdle(io_));
  EXPECT_THAT(failures_, IsEmpty());
  EXPECT_FALSE(runner_.running());
}

TEST_F(CheckerRunnerTest, StopKillsTheGroupOfACustomCommandStillRunning) {
  SubreaperScope subreaper;
  duet::testing::TempDir dir;
  const std::string pid_file = (dir.path() / "pid").string();
  runner_.Start({Checker(CheckerType::kCustom,
                         absl::StrCat("sleep 1000 & echo $$ > ", pid_file, ".tmp; mv ", pid_file,
                                      ".tmp ", pid_file, "; wait"),
                         absl::Milliseconds(10), absl::Seconds(100))});
  int group = 0;
  ASSERT_TRUE(RunUntil(io_, [&] {
    std::string text;
    std::ifstream(pid_file) >> text;
    return absl::SimpleAtoi(text, &group);
  }));

  runner_.Stop();

  EXPECT_TRUE(WaitGroupGone(io_, group));
  EXPECT_TRUE(RunUntilIdle(io_));
  EXPECT_THAT(failures_, IsEmpty());
}

TEST_F(CheckerRunnerTest, FailureCallbackMayStopTheRunner) {
  CheckerRunner* runner = nullptr;
  int calls = 0;
  CheckerRunner stopping(io_, [&](uint32_t, std::string) {
    ++calls;
    runner->Stop();
  });
  runner = &stopping;
  stopping.Start({Checker(CheckerType::kInterface, "nonexistent0", absl::Milliseconds(1)),
                  Checker(CheckerType::kInterface, "nonexistent1", absl::Milliseconds(1))});

  ASSERT_TRUE(RunUntil(io_, [&] { return calls > 0; }));
  EXPECT_TRUE(RunUntilIdle(io_));
  EXPECT_EQ(calls, 1);
}

TEST_F(CheckerRunnerTest, StartReplacesTheCheckersRunningBefore) {
  runner_.Start({Checker(CheckerType::kInterface, "nonexistent0")});
  ASSERT_TRUE(WaitForFailures(0));

  runner_.Start(
      {Checker(CheckerType::kInterface, "lo"), Checker(CheckerType::kInterface, "nonexistent1")});
  failures_.clear();

  ASSERT_TRUE(WaitForFailures(1, 3));
  EXPECT_EQ(FailuresOf(0), 0u);
  EXPECT_THAT(failures_[1], Each("interface nonexistent1 does not exist"));
}

}  // namespace
}  // namespace duet
