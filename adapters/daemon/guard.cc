#include "adapters/daemon/guard.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace duet::daemon {
namespace {

struct DaemonEnd {
  int wait_status = 0;
  int stop_signal = 0;  // the SIGTERM/SIGINT the guard received and forwarded, 0 if none
};

std::string SignalName(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  return abbrev ? absl::StrCat(signal, " (SIG", abbrev, ")") : absl::StrCat(signal);
}

std::string DescribeEnd(pid_t pid, int wait_status) {
  const std::string who = absl::StrCat("duetd (pid ", pid, ")");
  if (WIFSIGNALED(wait_status)) {
    return absl::StrCat(who, " was killed by signal ", SignalName(WTERMSIG(wait_status)));
  }
  const int code = WEXITSTATUS(wait_status);
  return absl::StrCat(who, " exited with status ", code,
                      code == 3   ? " (fail-stop: metadata could not be written)"
                      : code == 1 ? " (could not start)"
                                  : "");
}

// Reaps every exited child; returns true (and its status) if the daemon was among them. The
// others are processes the daemon left behind that ended: the guard, their subreaper, reaps
// them so they leave no zombie.
bool ReapChildren(pid_t daemon, int* daemon_status) {
  bool daemon_ended = false;
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return daemon_ended;
    if (pid == daemon) {
      daemon_ended = true;
      *daemon_status = status;
    }
  }
}

timespec TimeoutOf(absl::Duration d) { return absl::ToTimespec(std::max(d, absl::ZeroDuration())); }

// Waits for the daemon to end, forwarding SIGTERM/SIGINT to it.
DaemonEnd WaitForDaemon(pid_t daemon, const sigset_t& handled, absl::Duration stop_timeout,
                        DaemonLog& log) {
  DaemonEnd end;
  absl::Time kill_at = absl::InfiniteFuture();
  for (;;) {
    if (ReapChildren(daemon, &end.wait_status)) return end;
    siginfo_t info;
    int signal;
    if (kill_at == absl::InfiniteFuture()) {
      signal = ::sigwaitinfo(&handled, &info);
    } else {
      const timespec timeout = TimeoutOf(kill_at - absl::Now());
      signal = ::sigtimedwait(&handled, &info, &timeout);
    }
    if (signal < 0) {
      if (errno == EAGAIN && absl::Now() >= kill_at) {
        log.Node(absl::StrCat("guard: duetd (pid ", daemon, ") did not stop within ",
                              absl::FormatDuration(stop_timeout), ": killing it"));
        ::kill(daemon, SIGKILL);
        kill_at = absl::InfiniteFuture();
      }
      continue;
    }
    if (signal == SIGCHLD) continue;
    if (end.stop_signal == 0) {
      end.stop_signal = signal;
      kill_at = absl::Now() + stop_timeout;
      log.Node(absl::StrCat("guard: stopping on signal ", SignalName(signal),
                            ": passing it to duetd (pid ", daemon, ")"));
    }
    ::kill(daemon, signal);
  }
}

// Waits `delay` before a restart; returns the SIGTERM/SIGINT that came meanwhile, or 0.
int SleepUnlessStopped(absl::Duration delay, const sigset_t& handled) {
  const absl::Time until = absl::Now() + delay;
  for (;;) {
    int ignored = 0;
    ReapChildren(-1, &ignored);
    const absl::Duration left = until - absl::Now();
    if (left <= absl::ZeroDuration()) return 0;
    const timespec timeout = TimeoutOf(left);
    siginfo_t info;
    const int signal = ::sigtimedwait(&handled, &info, &timeout);
    if (signal == SIGTERM || signal == SIGINT) return signal;
  }
}

}  // namespace

int RunGuarded(const GuardOptions& options, DaemonLog& log,
               const std::function<int()>& run_daemon) {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    log.Node(absl::StrCat("guard: cannot become the subreaper of duetd's processes (",
                          strerror(errno), "): those that leave their process group are missed"));
  }
  sigset_t handled, original;
  sigemptyset(&handled);
  sigaddset(&handled, SIGCHLD);
  sigaddset(&handled, SIGTERM);
  sigaddset(&handled, SIGINT);
  ::sigprocmask(SIG_BLOCK, &handled, &original);

  RestartPolicy policy(options.restart);
  for (bool first = true;; first = false) {
    std::fflush(nullptr);  // nothing buffered here is written twice by the child
    const absl::Time started = absl::Now();
    const pid_t daemon = ::fork();
    if (daemon < 0) {
      log.Node(absl::StrCat("guard: cannot start duetd: fork: ", strerror(errno)));
      return 1;
    }
    if (daemon == 0) {
      ::sigprocmask(SIG_SETMASK, &original, nullptr);
      const int code = run_daemon();
      std::fflush(nullptr);
      ::_exit(code);
    }
    log.Node(absl::StrCat("guard: started duetd (pid ", daemon, ")"));
    const DaemonEnd end = WaitForDaemon(daemon, handled, options.stop_timeout, log);
    const std::string reason = DescribeEnd(daemon, end.wait_status);
    const bool exited = WIFEXITED(end.wait_status);
    const int code = exited ? WEXITSTATUS(end.wait_status) : -1;
    if (end.stop_signal != 0 || (exited && code == 0)) {
      log.Node(absl::StrCat("guard: ", reason, "; cleaning up, then stopping"));
      CleanUpAfterDaemon(options.footprint, reason, log);
      return 0;
    }
    log.Node(absl::StrCat("guard: ", reason,
                          ": releasing its VIPs, killing its applications, detaching its mounts"));
    CleanUpAfterDaemon(options.footprint, reason, log);
    if (first && exited && code == 1) return 1;  // nothing ran: restarting cannot help
    const RestartPolicy::Decision decision = policy.AfterCrash(started, absl::Now());
    if (!decision.restart) {
      log.Node(absl::StrCat("guard: ", decision.why));
      return kGuardGaveUp;
    }
    log.Node(absl::StrCat("guard: restarting duetd in ", absl::FormatDuration(decision.delay)));
    if (const int signal = SleepUnlessStopped(decision.delay, handled); signal != 0) {
      log.Node(absl::StrCat("guard: stopping on signal ", SignalName(signal),
                            " (duetd was not running)"));
      return 0;
    }
  }
}

}  // namespace duet::daemon
