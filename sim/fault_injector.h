// Injects the faults of a run (RunOptions) into a SimCluster at seeded random times, and heals
// them: each fault that lasts schedules its own end. Link states compose: a link direction is
// down while any fault holds it down, and the latest degradation (loss, duplication, delay)
// replaces an earlier one. One thread, no real clock: everything comes from the seed.
#ifndef DUET_SIM_FAULT_INJECTOR_H_
#define DUET_SIM_FAULT_INJECTOR_H_

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <vector>

#include "absl/time/time.h"
#include "engine/rng.h"
#include "sim/cluster.h"
#include "sim/fault_ledger.h"
#include "sim/run_options.h"

namespace duet::sim {

class FaultInjector {
 public:
  // `options` and `cluster` must outlive the injector.
  FaultInjector(const RunOptions& options, SimCluster& cluster, uint64_t seed);
  FaultInjector(const FaultInjector&) = delete;
  FaultInjector& operator=(const FaultInjector&) = delete;

  // The steady state (link latency, clock offsets and drift, script latency); before Start.
  void Prepare();
  // Starts injecting from the cluster's current time.
  void Begin();
  // When something is next due (a fault, or the end of one); InfiniteFuture when idle.
  absl::Time next_at() const;
  // Does whatever is due at the cluster's current time.
  void RunDue();
  // The liveness phase: every link clean, nodes and witness up, scripts healthy, pending
  // fault ends dropped, no more faults. Clock drift stays: it is physics, not a fault.
  void HealAll();
  // An admin command the run itself issues (the operator's repairs in the liveness phase):
  // in the ledger (not the trace), so that what it makes the engine do is explained.
  void RecordOperator(NodeIndex n, AdminVerb verb, ModuleIndex m, const std::string& what);
  // A partition made by hand (tests): every heartbeat link cut both ways (or healed), in the
  // ledger as a partition fault.
  void PartitionByHand(bool partitioned);

  // How many faults of each kind were injected.
  const std::array<uint64_t, kFaultKinds>& injected() const { return injected_; }
  // Every fault injected and its effects over time (for the accuracy checker).
  const FaultLedger& ledger() const { return ledger_; }

 private:
  struct Direction {
    int down = 0;                        // faults holding it down
    std::optional<LinkFaults> degraded;  // loss, duplication or delay in force
    uint64_t degraded_id = 0;
    std::optional<size_t> degraded_effect;  // its effect in the ledger (loss or delay)
  };
  struct WitnessPath {
    int down = 0;          // both directions
    int replies_down = 0;  // witness -> node only
    double loss = 0;
    uint64_t loss_id = 0;
  };
  struct Pending {
    absl::Time at;
    uint64_t seq;
    std::function<void()> run;
    bool operator>(const Pending& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };

  void ScheduleNextFault();
  void After(absl::Duration delay, std::function<void()> run);
  bool Inject(FaultKind kind);
  bool Degrade(FaultKind kind);
  void SetDown(int link, NodeIndex from, int delta);
  void ApplyLink(int link, NodeIndex from);
  void ApplyWitness(NodeIndex n);
  void ScriptWindow(bool hang, int delta);
  bool Admin();
  absl::Duration FaultDuration();
  absl::Duration LogUniform(absl::Duration lo, absl::Duration hi);
  std::string Name(NodeIndex n) const;
  // Notes "FAULT <what>" in the trace and opens the fault in the ledger; returns its id.
  uint64_t Record(FaultKind kind, const std::string& what);
  // Adds an effect of fault `id` starting now; returns its ledger handle.
  size_t Effect(uint64_t id, EffectKind kind, NodeIndex node, int link = -1);
  // kDiskFull, half the time: one module's disk is full on both nodes.
  bool ModuleDiskFull();
  void EndEffect(size_t handle) { ledger_.End(handle, cluster_.now()); }

  const RunOptions& options_;
  SimCluster& cluster_;
  Rng rng_;
  LinkFaults baseline_;
  std::array<std::vector<Direction>, 2> links_;
  std::array<WitnessPath, 2> witness_;
  int script_fail_windows_ = 0;
  int script_hang_windows_ = 0;
  bool isolated_ = false;  // an isolate fault is in force
  uint64_t next_id_ = 1;
  bool injecting_ = false;
  absl::Time next_fault_at_ = absl::InfiniteFuture();
  uint64_t next_seq_ = 0;
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> pending_;
  std::array<uint64_t, kFaultKinds> injected_{};
  FaultLedger ledger_;
  std::vector<size_t> by_hand_;  // the effects of PartitionByHand
};

}  // namespace duet::sim

#endif  // DUET_SIM_FAULT_INJECTOR_H_
