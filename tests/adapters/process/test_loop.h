// What the process adapter's tests share: waiting on the loop for a condition with a
// timeout, temporary script directories, and process-group checks.
#ifndef DUET_TESTS_ADAPTERS_PROCESS_TEST_LOOP_H_
#define DUET_TESTS_ADAPTERS_PROCESS_TEST_LOOP_H_

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

namespace duet::testing {

// Runs `io` until `done()` holds (checked after every handler and every 10 ms); false if
// `timeout` passed first.
bool RunUntil(boost::asio::io_context& io, const std::function<bool()>& done,
              std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Runs `io` until it has no work left; false if it still had some after `timeout`.
bool RunUntilIdle(boost::asio::io_context& io,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10));

// A fresh directory under /tmp, removed with everything in it at destruction.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  // Writes an executable /bin/sh script `name` with `body`; returns its path.
  std::string WriteScript(const std::string& name, const std::string& body) const;

 private:
  std::filesystem::path path_;
};

// No process is left in group `pgid` (kill(-pgid, 0) fails with ESRCH).
bool GroupIsGone(pid_t pgid);

// While it lives, orphans of our children become our children (PR_SET_CHILD_SUBREAPER),
// so their zombies can be reaped here instead of waiting for whatever init does: a zombie
// still answers kill(-pgid, 0). ReapGroup reaps the exited members of a group; call it only
// once the group's leader has been reaped by its owner.
class SubreaperScope {
 public:
  SubreaperScope();
  SubreaperScope(const SubreaperScope&) = delete;
  SubreaperScope& operator=(const SubreaperScope&) = delete;
  ~SubreaperScope();
  static void ReapGroup(pid_t pgid);
};

// Waits (on the loop, with a timeout) until no process of group `pgid` remains, reaping
// the group's orphans as they exit. Needs a SubreaperScope.
bool WaitGroupGone(boost::asio::io_context& io, pid_t pgid,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace duet::testing

#endif  // DUET_TESTS_ADAPTERS_PROCESS_TEST_LOOP_H_
