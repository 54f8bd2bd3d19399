// ScriptRunner (adapters/process/script_runner.h) against real /bin/sh scripts in a temp
// directory: what a script sees, what the log gets, what the engine is told, and that a
// script past its timeout leaves no process behind.
#include "adapters/process/script_runner.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "adapters/process/script_environment.h"
#include "tests/adapters/process/test_loop.h"

namespace duet {
namespace {

using ::duet::testing::RunUntil;
using ::duet::testing::SubreaperScope;
using ::duet::testing::TempDir;
using ::duet::testing::WaitGroupGone;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

class ScriptRunnerTest : public ::testing::Test {
 protected:
  ScriptRunner MakeRunner(absl::Duration kill_grace = absl::Seconds(5)) {
    ScriptRunner::Options options;
    options.kill_grace = kill_grace;
    return ScriptRunner(
        io_,
        [this](std::string_view module, std::string_view line) {
          log_.push_back(std::string(module) + "|" + std::string(line));
        },
        std::move(options));
  }

  ScriptRequest Request(ScriptKind kind, uint64_t run_id = 1) {
    ScriptRequest request;
    request.module = "web";
    request.kind = kind;
    request.run_id = run_id;
    request.scripts_dir = dir_.path().string();
    request.timeout = absl::Seconds(20);
    return request;
  }

  // Runs the request and waits for its one exit.
  ScriptResult RunToExit(ScriptRunner& runner, ScriptRequest request) {
    std::vector<ScriptResult> results;
    runner.Run(std::move(request), [&](const ScriptResult& r) { results.push_back(r); });
    EXPECT_TRUE(RunUntil(io_, [&] { return !results.empty(); }));
    EXPECT_EQ(results.size(), 1u);
    return results.empty() ? ScriptResult{} : results.front();
  }

  // The pid a script printed as "pid=N" (its background child's, say).
  std::optional<pid_t> PrintedPid(std::string_view prefix) {
    for (const std::string& line : log_) {
      const size_t at = line.find(prefix);
      int pid = 0;
      if (at != std::string::npos && absl::SimpleAtoi(line.substr(at + prefix.size()), &pid)) {
        return pid;
      }
    }
    return std::nullopt;
  }

  boost::asio::io_context io_;
  TempDir dir_;
  std::vector<std::string> log_;
};

Config TwoNodeConfig() {
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
  return config;
}

TEST_F(ScriptRunnerTest, ScriptSeesModuleNodeRoleAndDirectoriesInItsEnvironment) {
  dir_.WriteScript(
      "start_prim",
      "echo \"module=$DUET_MODULE node=$DUET_NODE peer=$DUET_PEER role=$DUET_ROLE\"\n"
      "echo \"dirs=$DUET_DIRS first=$DUET_DIR_0 vips=$DUET_VIPS\"\n"
      "echo \"script=$DUET_SCRIPT cluster=$DUET_CLUSTER default=$DUET_DEFAULT_PRIMARY\"\n"
      "echo \"cwd=$(pwd) home=${HOME:-unset}\"");
  ScriptRunner runner = MakeRunner();
  ScriptRequest request = Request(ScriptKind::kStartPrim);
  request.env = ScriptEnvironment(TwoNodeConfig(), 0, 0, ScriptKind::kStartPrim);

  EXPECT_EQ(RunToExit(runner, request).exit_code, 0);

  EXPECT_THAT(log_, Contains("web|web/start_prim: module=web node=alpha peer=beta role=primary"));
  EXPECT_THAT(log_, Contains("web|web/start_prim: dirs=/srv/web/htdocs /srv/web/uploads "
                             "first=/srv/web/htdocs vips=10.0.0.100/24"));
  EXPECT_THAT(log_, Contains("web|web/start_prim: script=start_prim cluster=shop default=beta"));
  // Only the environment given: nothing of the test process leaks in.
  EXPECT_THAT(log_, Contains("web|web/start_prim: cwd=/ home=unset"));
}

TEST(ScriptRequestForTest, CarriesTheModulesScriptsDirectoryTimeoutAndEnvironment) {
  Config config = TwoNodeConfig();
  config.modules[0].scripts_dir = "/etc/duet/web";
  config.modules[0].script_timeout = absl::Seconds(90);

  ScriptRequest request = ScriptRequestFor(config, 1, RunScript{0, ScriptKind::kStopSecond, 12});

  EXPECT_EQ(request.module, "web");
  EXPECT_EQ(request.kind, ScriptKind::kStopSecond);
  EXPECT_EQ(request.run_id, 12u);
  EXPECT_EQ(request.scripts_dir, "/etc/duet/web");
  EXPECT_EQ(request.timeout, absl::Seconds(90));
  EXPECT_THAT(request.env, Contains(std::pair<std::string, std::string>("DUET_NODE", "beta")));
  EXPECT_THAT(request.env, Contains(std::pair<std::string, std::string>("DUET_ROLE", "secondary")));
}

TEST_F(ScriptRunnerTest, StdoutAndStderrLinesAreLoggedInOrderWithModuleAndScriptName) {
  dir_.WriteScript("stop_second", "echo one\necho two >&2\nprintf 'three without newline'");
  ScriptRunner runner = MakeRunner();

  RunToExit(runner, Request(ScriptKind::kStopSecond));

  std::vector<std::string> output;
  for (const std::string& line : log_) {
    if (line.find("web/stop_second: one") != std::string::npos ||
        line.find("web/stop_second: two") != std::string::npos ||
        line.find("web/stop_second: three") != std::string::npos) {
      output.push_back(line);
    }
  }
  EXPECT_THAT(output, ElementsAre("web|web/stop_second: one", "web|web/stop_second: two",
                                  "web|web/stop_second: three without newline"));
}

TEST_F(ScriptRunnerTest, EveryLineOfALargeOutputIsLoggedBeforeTheExit) {
  dir_.WriteScript("start_second", "seq 1 100000");
  ScriptRunner runner = MakeRunner();

  EXPECT_EQ(RunToExit(runner, Request(ScriptKind::kStartSecond)).exit_code, 0);

  std::vector<std::string> numbers;
  for (const std::string& line : log_) {
    if (line.find("web/start_second: ") != std::string::npos &&
        line.find("started") == std::string::npos && line.find("exited") == std::string::npos) {
      numbers.push_back(line.substr(line.find(": ") + 2));
    }
  }
  ASSERT_EQ(numbers.size(), 100000u);
  EXPECT_EQ(numbers.front(), "1");
  EXPECT_EQ(numbers.back(), "100000");
}

TEST_F(ScriptRunnerTest, ScriptInheritsNoDescriptorSignalMaskOrIgnoredSignalOfTheDaemon) {
  // A descriptor without close-on-exec (as asio opens its sockets), SIGPIPE ignored and
  // SIGUSR1 blocked, as a daemon may have them.
  const int leaked = ::fcntl(STDIN_FILENO, F_DUPFD, 200);
  ASSERT_GE(leaked, 200);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction old_pipe {};
  ASSERT_EQ(::sigaction(SIGPIPE, &ignore, &old_pipe), 0);
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigset_t old_mask;
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &usr1, &old_mask), 0);
  dir_.WriteScript("prestart", absl::StrCat("[ -e /proc/$$/fd/", leaked,
                                            " ] && echo fd=leaked || echo fd=closed\n"
                                            "exec grep -E 'SigIgn|SigBlk' /proc/self/status"));
  ScriptRunner runner = MakeRunner();

  RunToExit(runner, Request(ScriptKind::kPrestart));

  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::sigaction(SIGPIPE, &old_pipe, nullptr);
  ::close(leaked);
  EXPECT_THAT(log_, Contains("web|web/prestart: fd=closed"));
  // The masks as /proc shows them: bit n-1 stands for signal n.
  auto mask = [&](std::string_view field) {
    uint64_t value = ~uint64_t{0};
    for (const std::string& line : log_) {
      const size_t at = line.find(field);
      if (at != std::string::npos) {
        absl::SimpleHexAtoi(absl::StripAsciiWhitespace(line.substr(at + field.size())), &value);
      }
    }
    return value;
  };
  EXPECT_EQ(mask("SigBlk:"), 0u);
  EXPECT_EQ(mask("SigIgn:") & (uint64_t{1} << (SIGPIPE - 1)), 0u);
}

TEST_F(ScriptRunnerTest, OnStartedIsToldTheProcessGroupWhereTheScriptLeavesItsApplication) {
  dir_.WriteScript("start_prim", "sleep 1000 </dev/null >/dev/null 2>&1 &\necho pid=$!");
  std::vector<std::pair<std::string, pid_t>> started;
  ScriptRunner::Options options;
  options.on_started = [&](std::string_view module, pid_t group) {
    started.emplace_back(std::string(module), group);
  };
  ScriptRunner runner(
      io_, [this](std::string_view, std::string_view line) { log_.push_back(std::string(line)); },
      options);

  ScriptResult result = RunToExit(runner, Request(ScriptKind::kStartPrim));

  EXPECT_EQ(result.exit_code, 0);
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].first, "web");
  std::optional<pid_t> application = PrintedPid("pid=");
  ASSERT_TRUE(application.has_value());
  // The script is gone; its application still runs in the group the runner named.
  EXPECT_EQ(getpgid(*application), started[0].second);
  kill(-started[0].second, SIGKILL);
  EXPECT_TRUE(WaitGroupGone(io_, started[0].second));
}

TEST_F(ScriptRunnerTest, ExitCodeIsReportedWithTheRunId) {
  dir_.WriteScript("prestart", "exit 3");
  ScriptRunner runner = MakeRunner();

  ScriptResult result = RunToExit(runner, Request(ScriptKind::kPrestart, 42));

  EXPECT_EQ(result.run_id, 42u);
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_FALSE(result.timed_out);
  EXPECT_THAT(log_, Contains(HasSubstr("web/prestart: exited with status 3")));
}

TEST_F(ScriptRunnerTest, ScriptKilledBySignalReports128PlusTheSignal) {
  dir_.WriteScript("poststop", "kill -KILL $$");
  ScriptRunner runner = MakeRunner();

  EXPECT_EQ(RunToExit(runner, Request(ScriptKind::kPoststop)).exit_code, 128 + SIGKILL);
  EXPECT_THAT(log_, Contains(HasSubstr("web/poststop: killed by signal 9 (SIGKILL)")));
}

TEST_F(ScriptRunnerTest, ScriptReadsEndOfFileFromStdin) {
  dir_.WriteScript("prestart", "cat\necho after-cat");
  ScriptRunner runner = MakeRunner();

  EXPECT_EQ(RunToExit(runner, Request(ScriptKind::kPrestart)).exit_code, 0);
  EXPECT_THAT(log_, Contains("web|web/prestart: after-cat"));
}

TEST_F(ScriptRunnerTest, MissingScriptSucceedsButNotBeforeRunReturns) {
  ScriptRunner runner = MakeRunner();
  std::vector<ScriptResult> results;
  runner.Run(Request(ScriptKind::kStartSecond, 7),
             [&](const ScriptResult& r) { results.push_back(r); });
  EXPECT_THAT(results, IsEmpty());

  ASSERT_TRUE(RunUntil(io_, [&] { return !results.empty(); }));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].run_id, 7u);
  EXPECT_EQ(results[0].exit_code, 0);
  EXPECT_FALSE(results[0].timed_out);
}

TEST_F(ScriptRunnerTest, ModuleWithoutScriptsDirectorySucceedsForEveryScript) {
  ScriptRunner runner = MakeRunner();
  ScriptRequest request = Request(ScriptKind::kStopPrim);
  request.scripts_dir = "";

  EXPECT_EQ(RunToExit(runner, request).exit_code, 0);
}

TEST_F(ScriptRunnerTest, ScriptThatIsNotExecutableFailsWith126) {
  const std::string path = dir_.WriteScript("start_prim", "exit 0");
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  ScriptRunner runner = MakeRunner();

  EXPECT_EQ(RunToExit(runner, Request(ScriptKind::kStartPrim)).exit_code, 126);
  EXPECT_THAT(log_, Contains(AllOf(HasSubstr("web/start_prim: cannot run"),
                                   HasSubstr("Permission denied"))));
}

TEST_F(ScriptRunnerTest, TimeoutTerminatesTheWholeProcessGroup) {
  SubreaperScope subreaper;
  dir_.WriteScript("start_prim", "sleep 1000 &\necho child=$!\nwait");
  ScriptRunner runner = MakeRunner(absl::Milliseconds(300));
  ScriptRequest request = Request(ScriptKind::kStartPrim);
  request.timeout = absl::Seconds(1);

  ScriptResult result = RunToExit(runner, request);

  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.exit_code, 128 + SIGTERM);
  EXPECT_THAT(log_, Contains(HasSubstr("web/start_prim: timed out after 1s")));
  std::optional<pid_t> leader = PrintedPid("process group ");
  std::optional<pid_t> child = PrintedPid("child=");
  ASSERT_TRUE(leader.has_value());
  ASSERT_TRUE(child.has_value());
  EXPECT_TRUE(WaitGroupGone(io_, *leader));
  // The background child was in that group, so it is gone with it.
  EXPECT_NE(::kill(*child, 0), 0);
}

TEST_F(ScriptRunnerTest, TimeoutEscalatesToSigkillWhenTheGroupIgnoresSigterm) {
  SubreaperScope subreaper;
  dir_.WriteScript("stop_prim", "trap '' TERM\nsleep 1000 &\nwait");
  ScriptRunner runner = MakeRunner(absl::Milliseconds(200));
  ScriptRequest request = Request(ScriptKind::kStopPrim);
  request.timeout = absl::Seconds(1);

  ScriptResult result = RunToExit(runner, request);

  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.exit_code, 128 + SIGKILL);
  std::optional<pid_t> leader = PrintedPid("process group ");
  ASSERT_TRUE(leader.has_value());
  EXPECT_TRUE(WaitGroupGone(io_, *leader));
}

TEST_F(ScriptRunnerTest, KillAllKillsEveryRunningScriptGroup) {
  SubreaperScope subreaper;
  dir_.WriteScript("start_prim", "sleep 1000 &\necho started\nwait");
  TempDir other;
  other.WriteScript("start_second", "sleep 1000 &\necho started\nwait");
  ScriptRunner runner = MakeRunner();
  std::vector<ScriptResult> results;
  auto record = [&](const ScriptResult& r) { results.push_back(r); };
  runner.Run(Request(ScriptKind::kStartPrim, 1), record);
  ScriptRequest second = Request(ScriptKind::kStartSecond, 2);
  second.scripts_dir = other.path().string();
  runner.Run(second, record);
  ASSERT_TRUE(RunUntil(io_, [&] {
    return std::count(log_.begin(), log_.end(), "web|web/start_prim: started") == 1 &&
           std::count(log_.begin(), log_.end(), "web|web/start_second: started") == 1;
  }));
  EXPECT_EQ(runner.running(), 2u);
  std::vector<pid_t> groups;
  for (const std::string& line : log_) {
    const size_t at = line.find("process group ");
    int pid = 0;
    if (at != std::string::npos && absl::SimpleAtoi(line.substr(at + 14), &pid)) {
      groups.push_back(pid);
    }
  }
  ASSERT_EQ(groups.size(), 2u);

  runner.KillAll();

  ASSERT_TRUE(RunUntil(io_, [&] { return results.size() == 2; }));
  for (const ScriptResult& r : results) {
    EXPECT_EQ(r.exit_code, 128 + SIGKILL);
    EXPECT_FALSE(r.timed_out);
  }
  EXPECT_EQ(runner.running(), 0u);
  for (pid_t group : groups) EXPECT_TRUE(WaitGroupGone(io_, group)) << group;
}

TEST_F(ScriptRunnerTest, DestroyingTheRunnerKillsRunningScriptsWithoutCallingBack) {
  SubreaperScope subreaper;
  dir_.WriteScript("start_prim", "sleep 1000 &\necho started\nwait");
  std::vector<ScriptResult> results;
  std::optional<pid_t> leader;
  {
    ScriptRunner runner = MakeRunner();
    runner.Run(Request(ScriptKind::kStartPrim),
               [&](const ScriptResult& r) { results.push_back(r); });
    ASSERT_TRUE(RunUntil(io_, [&] {
      return std::count(log_.begin(), log_.end(), "web|web/start_prim: started") == 1;
    }));
    leader = PrintedPid("process group ");
  }
  ASSERT_TRUE(leader.has_value());

  EXPECT_TRUE(WaitGroupGone(io_, *leader));
  EXPECT_TRUE(duet::testing::RunUntilIdle(io_));
  EXPECT_THAT(results, IsEmpty());
}

TEST_F(ScriptRunnerTest, OutputOfWhatTheScriptLeftRunningIsStillLoggedAfterItsExit) {
  // The application a start script launches inherits the script's output.
  dir_.WriteScript("start_prim",
                   "(read line < \"$DUET_GO\"; echo from-daemon) &\necho script-done");
  const std::string go = (dir_.path() / "go").string();
  ASSERT_EQ(::mkfifo(go.c_str(), 0600), 0);
  ScriptRunner runner = MakeRunner();
  ScriptRequest request = Request(ScriptKind::kStartPrim);
  request.env = {{"DUET_GO", go}};

  EXPECT_EQ(RunToExit(runner, request).exit_code, 0);
  EXPECT_THAT(log_, Contains("web|web/start_prim: script-done"));
  EXPECT_THAT(log_, Not(Contains("web|web/start_prim: from-daemon")));
  EXPECT_EQ(runner.running(), 0u);

  std::ofstream(go) << "go\n";  // the daemon goes on only once its script has exited
  EXPECT_TRUE(RunUntil(io_, [&] {
    return std::count(log_.begin(), log_.end(), "web|web/start_prim: from-daemon") == 1;
  }));
}

TEST_F(ScriptRunnerTest, ExitCallbackMayRunTheNextScript) {
  dir_.WriteScript("prestart", "echo first");
  dir_.WriteScript("start_prim", "echo second");
  ScriptRunner runner = MakeRunner();
  std::vector<uint64_t> exited;
  runner.Run(Request(ScriptKind::kPrestart, 1), [&](const ScriptResult& r) {
    exited.push_back(r.run_id);
    runner.Run(Request(ScriptKind::kStartPrim, 2),
               [&](const ScriptResult& next) { exited.push_back(next.run_id); });
  });

  ASSERT_TRUE(RunUntil(io_, [&] { return exited.size() == 2; }));
  EXPECT_THAT(exited, ElementsAre(1, 2));
  EXPECT_THAT(log_, Contains("web|web/start_prim: second"));
}

}  // namespace
}  // namespace duet
