#include "adapters/daemon/restart_policy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace duet::daemon {

RestartPolicy::Decision RestartPolicy::AfterCrash(absl::Time started, absl::Time ended) {
  Decision decision;
  if (ended - started >= options_.fast_crash) {
    // It had settled: whatever killed it is not a crash loop.
    fast_crashes_.clear();
    decision.delay = options_.first_delay;
    return decision;
  }
  fast_crashes_.push_back(ended);
  while (!fast_crashes_.empty() && ended - fast_crashes_.front() > options_.window) {
    fast_crashes_.pop_front();
  }
  const int fast = static_cast<int>(fast_crashes_.size());
  if (fast >= options_.max_fast_crashes) {
    decision.restart = false;
    decision.why = absl::StrCat(fast, " crashes within ", absl::FormatDuration(options_.window),
                                ", each less than ", absl::FormatDuration(options_.fast_crash),
                                " after its start: not restarting duetd any more");
    return decision;
  }
  decision.delay = options_.first_delay;
  for (int i = 1; i < fast && decision.delay < options_.max_delay; ++i) decision.delay *= 2;
  decision.delay = std::min(decision.delay, options_.max_delay);
  return decision;
}

}  // namespace duet::daemon
