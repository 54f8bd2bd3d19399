// The guard: `duetd` forks at start; the parent stays as this small guard, the child is the
// daemon. Why a fork of the same program rather than a separate guard program or systemd
// alone: the guard needs no engine, no threads and no sockets, only the configuration both
// already parsed, and it must be there on every installation, under systemd or not; as the
// parent it learns of the daemon's death at once (SIGCHLD, whatever the cause: SIGKILL, a
// crash, exit 3), and as the child subreaper (PR_SET_CHILD_SUBREAPER) of everything the daemon
// starts it still holds the applications a dead daemon left behind, even those that left
// their process group. Forking happens before any thread exists.
//
// Contract
//  - RunGuarded forks `run_daemon` (in the child, whose exit status it returns) and waits.
//  - When the daemon died, for any reason, the guard at once runs CleanUpAfterDaemon
//    (guard_cleanup.h: VIPs released, applications killed, mounts detached, each logged with
//    the cause), then restarts it (RestartPolicy: capped backoff, gives up after too many fast
//    crashes, exit 4).
//  - Not restarted: an orderly exit (status 0, the daemon stopped by a signal), or a daemon
//    that could not start the first time (status 1: a bad configuration, or another duetd on
//    the state directory; the guard exits 1 and touches nothing of the other daemon's).
//  - SIGTERM or SIGINT to the guard: forwarded to the daemon, which is waited for (SIGKILLed
//    after `stop_timeout`), then the cleanup, then exit 0.
//  - It decides nothing about modules: it only cleans up and restarts.
#ifndef DUET_ADAPTERS_DAEMON_GUARD_H_
#define DUET_ADAPTERS_DAEMON_GUARD_H_

#include <functional>

#include "absl/time/time.h"
#include "adapters/daemon/daemon_log.h"
#include "adapters/daemon/guard_cleanup.h"
#include "adapters/daemon/restart_policy.h"

namespace duet::daemon {

// The guard's exit status when it stopped restarting a daemon that keeps crashing.
inline constexpr int kGuardGaveUp = 4;

struct GuardOptions {
  NodeFootprint footprint;
  RestartPolicy::Options restart;
  absl::Duration stop_timeout = absl::Seconds(30);
};

// Returns the guard's exit status (0 stopped, 1 the daemon could not start, kGuardGaveUp).
int RunGuarded(const GuardOptions& options, DaemonLog& log, const std::function<int()>& run_daemon);

}  // namespace duet::daemon

#endif  // DUET_ADAPTERS_DAEMON_GUARD_H_
