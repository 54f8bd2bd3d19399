// What the fault injector did, in a form a checker can query: every fault injected (its kind,
// when, the note the trace shows) and its effects, each on one target (a direction of a
// heartbeat link, a node, the witness, a node's path to the witness, scripts, a module's
// checker or admin) over a span of true simulated time. An effect ends when its fault heals,
// or earlier when a later fault replaces it (a link degradation replaces the previous one).
// The ledger only records: it never changes the run.
#ifndef DUET_SIM_FAULT_LEDGER_H_
#define DUET_SIM_FAULT_LEDGER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "engine/inputs.h"
#include "engine/types.h"
#include "sim/run_options.h"

namespace duet::sim {

enum class EffectKind : uint8_t {
  kLinkDown,     // heartbeat link `link`, direction `node` -> peer: every message dropped
  kLinkLoss,     // ... a share (`loss`) of the messages dropped
  kLinkDelay,    // ... messages delayed up to `latency_max` (none dropped)
  kNodeDown,     // node `node` down (crash, daemon death, torn crash, replaced disk)
  kWitnessDown,  // the witness down
  kWitnessPath,  // node `node` cut off from the witness (or its replies), or lossy
  kScriptsFail,  // start scripts may fail (everywhere)
  kScriptsHang,  // scripts may hang and be killed at their timeout (everywhere)
  kChecker,      // a checker of module `module` on node `node` reported a failure (instant)
  kAdmin,        // an admin command `verb` for module `module` on node `node` (instant)
  kDisk,         // node `node`'s disk full or failing fsyncs
  kOther,        // drift change, stream gap: instants that explain no failover
};

struct FaultRecord {
  uint64_t id = 0;
  FaultKind kind = FaultKind::kLoss;
  absl::Time at;
  std::string what;  // as the trace's FAULT note says it
};

struct FaultEffect {
  uint64_t fault = 0;  // FaultRecord::id
  EffectKind kind = EffectKind::kOther;
  absl::Time start;
  absl::Time end = absl::InfiniteFuture();  // open until healed
  NodeIndex node = 0;
  int link = -1;
  ModuleIndex module = 0;
  double loss = 0;
  absl::Duration latency_max;
  AdminVerb verb = AdminVerb::kStart;
  bool force = false;
  // Whether [from, to] meets the effect's span (an instant effect has start == end).
  bool Overlaps(absl::Time from, absl::Time to) const { return start <= to && end >= from; }
};

class FaultLedger {
 public:
  // A new fault at `at`; returns its id (1, 2, ...).
  uint64_t Begin(absl::Time at, FaultKind kind, std::string what);
  // An effect of a fault; returns its handle for End.
  size_t Add(FaultEffect effect);
  // The effect stops at `at` (no-op if it already ended).
  void End(size_t handle, absl::Time at);
  // Every effect still open ends at `at` (the faults heal).
  void EndAll(absl::Time at);

  const FaultRecord& fault(uint64_t id) const { return faults_[id - 1]; }
  const std::vector<FaultRecord>& faults() const { return faults_; }
  const std::vector<FaultEffect>& effects() const { return effects_; }
  FaultEffect& mutable_effect(size_t handle) { return effects_[handle]; }
  // "partition#3 at 00:00:12.500 (partition: every heartbeat link cut both ways for 5s)",
  // with times shown by `format`.
  std::string Label(uint64_t id, const std::function<std::string(absl::Time)>& format) const;

 private:
  std::vector<FaultRecord> faults_;
  std::vector<FaultEffect> effects_;
};

}  // namespace duet::sim

#endif  // DUET_SIM_FAULT_LEDGER_H_
