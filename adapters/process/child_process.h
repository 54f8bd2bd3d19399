// One child process run in its own session and process group (pgid == pid), driven by a
// Boost.Asio loop: stdin is /dev/null, stdout and stderr come back line by line, the exit is
// learned through a pidfd (no SIGCHLD handler, no global state) and reaped with
// waitid(P_PIDFD). Shared by the script runner and the custom health checker.
//
// Contract
//  - All calls and callbacks on the io_context's thread.
//  - on_exit is called exactly once, after every line the leader wrote has been given to
//    on_line, unless Abandon() came first. Lines written later by processes the leader left
//    behind (a daemon it started) still reach on_line until they close the pipe.
//  - Timeout: SIGTERM to the whole group, then SIGKILL to the group after kill_grace; the
//    leader is reaped only after that SIGKILL, so the group id cannot be reused meanwhile,
//    and on_exit says timed_out.
//  - The object stays alive while the loop still owes it work (the exit, the pipe); the
//    destructor of the last reference kills the group and reaps the leader if it must, so
//    no zombie is left behind. Nobody else in the process may reap children with
//    waitpid(-1) or set SIGCHLD to SIG_IGN: that would steal the exit status.
#ifndef DUET_ADAPTERS_PROCESS_CHILD_PROCESS_H_
#define DUET_ADAPTERS_PROCESS_CHILD_PROCESS_H_

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "adapters/process/line_buffer.h"

namespace duet {

// Environment variables as (name, value); the child gets exactly these.
using Environment = std::vector<std::pair<std::string, std::string>>;

struct ChildSpec {
  // argv[0] is the program's path; no PATH search.
  std::vector<std::string> argv;
  Environment env;
  absl::Duration timeout = absl::InfiniteDuration();
  absl::Duration kill_grace = absl::Seconds(5);
};

struct ChildExit {
  // The exit status, or 128 + signal number when killed by a signal; -1 when the status
  // was lost (another part of the process reaped the child, against the contract).
  int exit_code = 0;
  int signal = 0;  // the signal that killed it, 0 if it exited
  bool timed_out = false;
};

class ChildProcess : public std::enable_shared_from_this<ChildProcess> {
 public:
  using LineCallback = std::function<void(std::string_view line)>;
  using ExitCallback = std::function<void(const ChildExit&)>;

  // Starts the child. Fails (the errno as a Status, naming the program) when it cannot be
  // executed: missing, not executable, out of resources. No callback is called then.
  static absl::StatusOr<std::shared_ptr<ChildProcess>> Spawn(boost::asio::io_context& io,
                                                             const ChildSpec& spec,
                                                             LineCallback on_line,
                                                             ExitCallback on_exit);

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }  // also the process group id
  // The leader has not been reaped yet: its group may still be signalled.
  bool running() const { return !reaped_; }

  // SIGKILL to the whole group now (if the leader is not reaped yet); on_exit still comes.
  void KillGroup();
  // No callback any more; the group is killed if the leader still runs, the pipe is closed,
  // and the leader is reaped in the background.
  void Abandon();

 private:
  struct Private {};

 public:
  ChildProcess(Private, pid_t pid, boost::asio::posix::stream_descriptor pidfd,
               boost::asio::posix::stream_descriptor output, absl::Duration kill_grace,
               LineCallback on_line, ExitCallback on_exit);

 private:
  void Start(absl::Duration timeout);
  void WaitForExit();
  enum class OutputState { kDrained, kMore, kEnded };
  void WaitForOutput();
  void OnOutputReady();
  // Reads what the pipe holds now, up to a bound per turn of the loop.
  OutputState ReadOutput();
  void CloseOutput();
  void OnTimeout();
  void OnGraceExpired();
  void ReapAndReport();
  void SignalGroup(int signal);

  pid_t pid_;
  boost::asio::posix::stream_descriptor pidfd_;
  boost::asio::posix::stream_descriptor output_;
  boost::asio::steady_timer deadline_;
  absl::Duration kill_grace_;
  LineCallback on_line_;
  ExitCallback on_exit_;
  LineBuffer lines_;
  bool output_wait_armed_ = false;
  bool leader_exited_ = false;
  bool reaped_ = false;
  bool timed_out_ = false;
  bool grace_over_ = false;
};

// A deadline for a steady timer: absl durations may be infinite, chrono ones may not.
std::chrono::steady_clock::duration ToTimerDuration(absl::Duration duration);

}  // namespace duet

#endif  // DUET_ADAPTERS_PROCESS_CHILD_PROCESS_H_
