// One pending deadline per module, ordered by time, so a tick touches only the modules whose
// deadline has come (per-module work proportional to what changed).
#ifndef DUET_ENGINE_DEADLINE_QUEUE_H_
#define DUET_ENGINE_DEADLINE_QUEUE_H_

#include <utility>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/time/time.h"
#include "engine/types.h"

namespace duet {

class DeadlineQueue {
 public:
  explicit DeadlineQueue(size_t modules) : at_(modules, absl::InfiniteFuture()) {}

  // Sets (or, with InfiniteFuture, clears) the module's deadline.
  void Set(ModuleIndex module, absl::Time when);
  absl::Time Earliest() const;
  // Removes and returns the modules whose deadline is at or before `now`.
  std::vector<ModuleIndex> PopDue(absl::Time now);

 private:
  std::vector<absl::Time> at_;
  absl::btree_set<std::pair<absl::Time, ModuleIndex>> queue_;
};

}  // namespace duet

#endif  // DUET_ENGINE_DEADLINE_QUEUE_H_
