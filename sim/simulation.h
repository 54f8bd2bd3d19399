// One simulator run (DESIGN.md §8): a SimCluster shaped by RunOptions, a safety phase with
// the run's faults, then a liveness phase where the faults heal and the pair must converge
// (every module PRIM on its default primary, SECOND on the other) within the bound. The
// invariant checkers watch throughout; the run stops at the first violation, which the
// result reports with its simulated time, the seed and the command that replays it.
#ifndef DUET_SIM_SIMULATION_H_
#define DUET_SIM_SIMULATION_H_

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "sim/accuracy.h"
#include "sim/cluster.h"
#include "sim/fault_injector.h"
#include "sim/invariants.h"
#include "sim/promoted_copy.h"
#include "sim/run_options.h"

namespace duet::sim {

struct RunResult {
  bool passed = true;
  std::optional<Violation> violation;  // the first one
  std::string violation_at;            // its simulated time as the trace shows it
  std::string report;                  // what to print about it (empty when passed)
  uint64_t trace_hash = 0;
  uint64_t events = 0;  // messages, completions and timer ticks handled
  std::array<uint64_t, kFaultKinds> faults{};
  SimStats stats;
  int failovers = 0;     // a node took a module over from a lost or failed peer
  int failbacks = 0;     // automatic returns to the default primary
  int handovers = 0;     // planned moves (failback, swap, stop...)
  int split_brains = 0;  // both writable at once (no witness), each detected
  // Accuracy (AccuracyChecker): failovers (takeovers, application failovers) and split brains,
  // each explained by the faults named in `accounted`; peer-lost declarations and fences
  // checked against the fault schedule.
  int accounted_failovers = 0;
  int accounted_split_brains = 0;
  int peer_losses_checked = 0;
  int fences_checked = 0;
  std::vector<std::string> accounted;  // one line per failover or split brain, with its faults
  uint64_t resyncs = 0;                // resyncs finished (replication mode)
  uint64_t writes_verified = 0;        // acknowledged writes found intact at the end
  uint64_t ops_issued = 0;             // application operations (replication mode)
  uint64_t ops_acknowledged = 0;
  uint64_t replicated_bytes = 0;  // file data in the primaries' copies at the end
  absl::Duration simulated;
  absl::Duration converged_after = absl::InfiniteDuration();  // from the faults healing
  double wall_seconds = 0;
};

class Simulation {
 public:
  explicit Simulation(RunOptions options);
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  // Each trace line as it is written (e.g. to the --trace file); set before Run.
  void set_trace_sink(std::function<void(const std::string&)> sink) {
    counters_.trace_sink = std::move(sink);
  }

  // The whole run: Start, safety phase, liveness phase, final checks.
  RunResult Run();

  // The pieces of Run, for tests that build a situation by hand.
  void Start();
  bool RunSafetyPhase();    // false if an invariant broke
  bool RunLivenessPhase();  // false if an invariant broke (convergence included)
  // Replication mode, after convergence: the workload stops, the replicas must settle
  // (every call answered, secondaries up to date), then the data invariants are checked.
  bool RunDataChecks();
  void FinishChecks();
  RunResult Result() const;

  SimCluster& cluster() { return cluster_; }
  // Cuts (or heals) every heartbeat link both ways, as a partition fault the accuracy
  // checker knows of.
  void PartitionForTest(bool partitioned) { injector_.PartitionByHand(partitioned); }
  const RunOptions& options() const { return options_; }
  // The failure as printed: invariant, simulated time, what was seen, seed, replay command,
  // and the trace lines that led to it.
  std::string FailureReport(const Violation& v) const;

 private:
  // Counts what the summary shows and forwards trace lines.
  struct Counters : ClusterObserver {
    void OnLog(absl::Time now, NodeIndex n, const std::string& text) override;
    void OnTraceLine(const std::string& line) override {
      if (trace_sink) trace_sink(line);
    }
    std::function<void(const std::string&)> trace_sink;
    int failovers = 0;
    int failbacks = 0;
    int handovers = 0;
    int split_brains = 0;
    uint64_t resyncs = 0;
  };

  // Runs until `until` (or a violation: then false), letting the injector act when due.
  bool Advance(absl::Time until);
  // An operator's command (recorded in the fault ledger, as the injector's are).
  std::optional<absl::Status> OperatorAdmin(NodeIndex n, AdminVerb verb, ModuleIndex m);
  void AdminEverywhere(AdminVerb verb, ModuleIndex m);
  void Repair();
  bool Failed() const { return !cluster_.violation_records().empty(); }

  RunOptions options_;
  SimCluster cluster_;
  FaultInjector injector_;
  Counters counters_;
  AccuracyChecker accuracy_;
  SplitBrainDetectedChecker split_brain_;
  ConvergenceChecker convergence_;
  DataSettlesChecker settles_;
  ReplicasIdenticalChecker identical_;
  AcknowledgedWritesChecker acknowledged_;
  FsyncSurvivesChecker fsync_;
  PromotedCopyChecker promoted_copy_;
  uint64_t replicated_bytes_ = 0;
  absl::Time liveness_start_ = absl::InfiniteFuture();
  absl::Time wall_start_;
  double wall_seconds_ = 0;
};

// The run's closing summary: events, faults by kind, failovers, resyncs, writes verified,
// simulated and wall time and their ratio, trace hash.
std::string FormatSummary(const RunOptions& options, const RunResult& result);

}  // namespace duet::sim

#endif  // DUET_SIM_SIMULATION_H_
