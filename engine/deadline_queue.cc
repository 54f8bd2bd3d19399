#include "engine/deadline_queue.h"

namespace duet {

void DeadlineQueue::Set(ModuleIndex module, absl::Time when) {
  if (at_[module] == when) return;
  if (at_[module] != absl::InfiniteFuture()) queue_.erase({at_[module], module});
  at_[module] = when;
  if (when != absl::InfiniteFuture()) queue_.insert({when, module});
}

absl::Time DeadlineQueue::Earliest() const {
  return queue_.empty() ? absl::InfiniteFuture() : queue_.begin()->first;
}

std::vector<ModuleIndex> DeadlineQueue::PopDue(absl::Time now) {
  std::vector<ModuleIndex> due;
  while (!queue_.empty() && queue_.begin()->first <= now) {
    const ModuleIndex m = queue_.begin()->second;
    queue_.erase(queue_.begin());
    at_[m] = absl::InfiniteFuture();
    due.push_back(m);
  }
  return due;
}

}  // namespace duet
