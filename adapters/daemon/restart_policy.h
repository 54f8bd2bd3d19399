// When the guard starts duetd again after it died: at once-ish after a daemon that had run a
// while, with a growing delay (capped) after fast crashes, and never again after too many fast
// crashes in a window (a daemon that cannot stay up is left down, and the log says why, rather
// than flapping the node's VIPs and mounts forever).
#ifndef DUET_ADAPTERS_DAEMON_RESTART_POLICY_H_
#define DUET_ADAPTERS_DAEMON_RESTART_POLICY_H_

#include <deque>
#include <string>

#include "absl/time/time.h"

namespace duet::daemon {

class RestartPolicy {
 public:
  struct Options {
    absl::Duration first_delay = absl::Seconds(1);
    absl::Duration max_delay = absl::Seconds(30);
    // A daemon that ran less than this before dying crashed "fast".
    absl::Duration fast_crash = absl::Seconds(60);
    // This many fast crashes within `window`: no more restarts.
    int max_fast_crashes = 5;
    absl::Duration window = absl::Minutes(10);
  };

  struct Decision {
    bool restart = true;
    absl::Duration delay;  // before the next start, when restart
    std::string why;       // when not restarting: the reason, for the log
  };

  RestartPolicy() : RestartPolicy(Options()) {}
  explicit RestartPolicy(Options options) : options_(options) {}

  // The daemon started at `started` died at `ended`.
  Decision AfterCrash(absl::Time started, absl::Time ended);

 private:
  Options options_;
  std::deque<absl::Time> fast_crashes_;  // within the window, oldest first
};

}  // namespace duet::daemon

#endif  // DUET_ADAPTERS_DAEMON_RESTART_POLICY_H_
