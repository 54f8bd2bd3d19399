// Real processes and directories for the guard's tests: a temporary directory removed at the
// end, shell commands run as child processes, and waits with a timeout (never a fixed sleep).
#ifndef DUET_TESTS_ADAPTERS_DAEMON_PROCESS_TEST_UTIL_H_
#define DUET_TESTS_ADAPTERS_DAEMON_PROCESS_TEST_UTIL_H_

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

namespace duet::daemon {

class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/duet-guard-test-XXXXXX";
    path_ = ::mkdtemp(name) ? name : "";
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Polls `done` until it holds or `timeout` passed; returns whether it held.
inline bool WaitUntil(const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Runs `command` with /bin/sh as a child of this process; returns its pid.
inline pid_t SpawnShell(const std::string& command) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// Whether `pid` runs (a zombie does not).
inline bool ProcessAlive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return false;
  const size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The pid a process wrote to `path` (waited for); 0 if none came.
inline pid_t WaitForPidFile(const std::string& path) {
  pid_t pid = 0;
  WaitUntil([&] {
    pid = static_cast<pid_t>(std::atoi(ReadFile(path).c_str()));
    return pid > 0;
  });
  return pid;
}

// Waits for the child `pid` to exit; its wait status, or -1 after SIGKILLing it at `timeout`.
inline int WaitForChild(pid_t pid, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  int status = 0;
  if (WaitUntil([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, timeout)) return status;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

}  // namespace duet::daemon

#endif  // DUET_TESTS_ADAPTERS_DAEMON_PROCESS_TEST_UTIL_H_
