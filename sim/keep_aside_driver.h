// The simulated adapter's side of keeping a divergent branch aside (adapter contract C5), and
// the data checker's rule for it. A node's keep-asides fail while a keep-aside-fail fault
// lasts (EACCES in its divergent root) or its module's disk is full (ENOSPC); a
// PreserveDivergent with no paths keeps nothing and always succeeds. After a failure the
// module's later operations, up to its next PreserveDivergent, are answered NotCarriedOut
// without being carried out (Stopped); a new process starts without that stop.
// The checker: from a failure until a keep-aside of the module succeeds on that node, no
// mutation may be carried out there while the module is not writable on it (a resync or the
// stream would overwrite the branch that was not kept). Being writable there (a forced
// promotion) makes that copy the reference, and a replaced disk (or a crash that left the
// copy empty) holds no branch: both end the rule. Flushes are allowed (they change no data).
#ifndef DUET_SIM_KEEP_ASIDE_DRIVER_H_
#define DUET_SIM_KEEP_ASIDE_DRIVER_H_

#include <array>
#include <optional>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "engine/actions.h"
#include "engine/types.h"

namespace duet::sim {

class KeepAsideDriver {
 public:
  // Node n's keep-asides fail (fault on) or work again.
  void SetFailing(NodeIndex n, bool failing) { failing_[n] = failing; }
  // Carries out a PreserveDivergent of node n (its module's disk full or not): its answer.
  absl::Status Preserve(NodeIndex n, const PreserveDivergent& keep, bool disk_full);
  // Node n's operations of `module` are answered NotCarriedOut, not carried out.
  bool Stopped(NodeIndex n, ModuleIndex module) const { return stopped_[n].contains(module); }
  // Node n's process started again: the adapter's stops are gone (the engine's state too).
  void ProcessStarted(NodeIndex n) { stopped_[n].clear(); }
  // Module m became writable on node n (its copy is the reference), or its copy holds no name
  // any more (a crash lost what was never synced).
  void BranchNoLongerOwed(NodeIndex n, ModuleIndex m) { unkept_[n].erase(m); }
  void DiskReplaced(NodeIndex n) { unkept_[n].clear(); }
  // A mutation about to be carried out on node n: the violation it is, if any.
  std::optional<std::string> CheckApply(NodeIndex n, ModuleIndex m, const ApplyMutation& apply,
                                        bool writable) const;
  uint64_t failures() const { return failures_; }

 private:
  std::array<bool, 2> failing_{false, false};
  std::array<std::set<ModuleIndex>, 2> stopped_;
  std::array<std::set<ModuleIndex>, 2> unkept_;
  uint64_t failures_ = 0;
};

}  // namespace duet::sim

#endif  // DUET_SIM_KEEP_ASIDE_DRIVER_H_
