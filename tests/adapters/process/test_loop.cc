#include "tests/adapters/process/test_loop.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <fstream>
#include <stdexcept>

namespace duet::testing {

bool RunUntil(boost::asio::io_context& io, const std::function<bool()>& done,
              std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  boost::asio::steady_timer tick(io);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    // The tick bounds each wait, so conditions outside the loop (a process group) are
    // looked at again too.
    tick.expires_after(std::chrono::milliseconds(10));
    tick.async_wait([](const boost::system::error_code&) {});
    io.restart();
    io.run_one();
  }
  return true;
}

bool RunUntilIdle(boost::asio::io_context& io, std::chrono::milliseconds timeout) {
  io.restart();
  io.run_for(timeout);
  return io.stopped();
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "duet-process-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::WriteScript(const std::string& name, const std::string& body) const {
  const std::string file = (path_ / name).string();
  std::ofstream(file) << "#!/bin/sh\n" << body << "\n";
  ::chmod(file.c_str(), 0755);
  return file;
}

bool GroupIsGone(pid_t pgid) { return ::kill(-pgid, 0) != 0 && errno == ESRCH; }

SubreaperScope::SubreaperScope() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
SubreaperScope::~SubreaperScope() { ::prctl(PR_SET_CHILD_SUBREAPER, 0); }

void SubreaperScope::ReapGroup(pid_t pgid) {
  siginfo_t info;
  for (;;) {
    info.si_pid = 0;
    if (::waitid(P_PGID, static_cast<id_t>(pgid), &info, WEXITED | WNOHANG) != 0) return;
    if (info.si_pid == 0) return;
  }
}

bool WaitGroupGone(boost::asio::io_context& io, pid_t pgid, std::chrono::milliseconds timeout) {
  return RunUntil(
      io,
      [pgid] {
        SubreaperScope::ReapGroup(pgid);
        return GroupIsGone(pgid);
      },
      timeout);
}

}  // namespace duet::testing
