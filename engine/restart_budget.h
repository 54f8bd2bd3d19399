// restart.max local restarts within restart.window; past that, the module fails over.
#ifndef DUET_ENGINE_RESTART_BUDGET_H_
#define DUET_ENGINE_RESTART_BUDGET_H_

#include <cstdint>
#include <deque>

#include "absl/time/time.h"

namespace duet {

class RestartBudget {
 public:
  RestartBudget(uint32_t max, absl::Duration window) : max_(max), window_(window) {}

  // Records a restart at `now` if the budget allows one; false means it is exhausted.
  bool TryConsume(absl::Time now);
  void Reset() { restarts_.clear(); }
  uint32_t used(absl::Time now);

 private:
  void Expire(absl::Time now);

  uint32_t max_;
  absl::Duration window_;
  std::deque<absl::Time> restarts_;
};

}  // namespace duet

#endif  // DUET_ENGINE_RESTART_BUDGET_H_
