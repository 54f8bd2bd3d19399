#include "engine/restart_budget.h"

namespace duet {

void RestartBudget::Expire(absl::Time now) {
  while (!restarts_.empty() && restarts_.front() + window_ <= now) restarts_.pop_front();
}

bool RestartBudget::TryConsume(absl::Time now) {
  Expire(now);
  if (restarts_.size() >= max_) return false;
  restarts_.push_back(now);
  return true;
}

uint32_t RestartBudget::used(absl::Time now) {
  Expire(now);
  return static_cast<uint32_t>(restarts_.size());
}

}  // namespace duet
