// The invariants the simulator checks, one checker class each (DESIGN.md §8). A checker
// watches the pair through ClusterObserver and reports what it finds to its sink; it never
// changes the run. SimCluster runs the first three itself (they hold at every instant of
// every run); the simulation adds the others.
#ifndef DUET_SIM_INVARIANTS_H_
#define DUET_SIM_INVARIANTS_H_

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "engine/config.h"
#include "sim/cluster_observer.h"
#include "sim/workload.h"

namespace duet::sim {

class SimCluster;

// One broken invariant: which, when (true simulated time) and what was seen.
struct Violation {
  absl::Time at;
  std::string invariant;
  std::string detail;
};

class InvariantChecker : public ClusterObserver {
 public:
  explicit InvariantChecker(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }
  // Where violations go; without a sink they are only counted.
  void set_sink(std::function<void(const Violation&)> sink) { sink_ = std::move(sink); }
  // How details show a simulated time (default: absl's format of the true time).
  void set_time_format(std::function<std::string(absl::Time)> format) {
    format_ = std::move(format);
  }
  int failures() const { return failures_; }

 protected:
  void Fail(absl::Time at, std::string detail);
  std::string FormatTime(absl::Time t) const;

 private:
  std::string name_;
  std::function<void(const Violation&)> sink_;
  std::function<std::string(absl::Time)> format_;
  int failures_ = 0;
};

// With a witness, a module is never writable on both nodes at the same simulated instant
// (DESIGN.md §6). Without a witness a partition may split the brain: nothing is checked.
class NoTwoWritersChecker : public InvariantChecker {
 public:
  explicit NoTwoWritersChecker(const Config& config);
  void OnWritable(absl::Time now, NodeIndex n, ModuleIndex m, bool writable) override;
  void OnNodeDown(absl::Time now, NodeIndex n) override;

 private:
  const Config& config_;
  std::vector<bool> writable_[2];
};

// With a witness, the witness grants a module's lease to a node only while its peer does
// not write the module (DESIGN.md §6: a primary cut off from its peer and the witness fences
// itself before its lease can expire, and a node takes over only with the lease). A grant
// while the peer still writes is a second writer in waiting: the new holder writes as soon
// as its scripts let it, which in the simulator may be later than the old writer stops,
// so "at most one writer" alone would miss it.
class LeaseGrantChecker : public InvariantChecker {
 public:
  explicit LeaseGrantChecker(const Config& config);
  void OnWritable(absl::Time now, NodeIndex n, ModuleIndex m, bool writable) override;
  void OnNodeDown(absl::Time now, NodeIndex n) override;
  void OnLeaseGranted(absl::Time now, NodeIndex n, ModuleIndex m) override;

 private:
  const Config& config_;
  std::vector<bool> writable_[2];
};

// A module's scripts never run concurrently on a node (DESIGN.md §3).
class ScriptsNeverOverlapChecker : public InvariantChecker {
 public:
  explicit ScriptsNeverOverlapChecker(const Config& config);
  void OnScriptStarted(absl::Time now, NodeIndex n, ModuleIndex m, ScriptKind kind) override;
  void OnScriptEnded(absl::Time now, NodeIndex n, ModuleIndex m) override;
  void OnNodeDown(absl::Time now, NodeIndex n) override;

 private:
  const Config& config_;
  std::vector<bool> running_[2];
};

// Without a witness, every split brain (the module writable on both nodes at once) is
// detected once the peers meet again: the engine logs "<module>: split brain". Finish()
// reports every episode still undetected, so call it once the network has healed and the
// pair has converged.
class SplitBrainDetectedChecker : public InvariantChecker {
 public:
  explicit SplitBrainDetectedChecker(const Config& config);
  void OnWritable(absl::Time now, NodeIndex n, ModuleIndex m, bool writable) override;
  void OnNodeDown(absl::Time now, NodeIndex n) override;
  void OnLog(absl::Time now, NodeIndex n, const std::string& text) override;
  void Finish(absl::Time now);
  int episodes() const { return episodes_; }

 private:
  const Config& config_;
  std::vector<bool> writable_[2];
  std::vector<std::optional<absl::Time>> undetected_since_;
  int episodes_ = 0;
};

// Once faults heal, every module must be PRIM (and writable, VIP up) on its default primary
// and SECOND on the other node within `bound`, and stay so for `stable`.
class ConvergenceChecker : public InvariantChecker {
 public:
  enum class Outcome { kWaiting, kConverged, kFailed };

  ConvergenceChecker(const Config& config, absl::Duration bound, absl::Duration stable);
  // Starts the clock: the pair has until `now + bound`.
  void Begin(absl::Time now);
  // Looks at the pair now (call it often: convergence is judged at these instants).
  Outcome Poll(absl::Time now, const SimCluster& cluster);
  // Whether module m is where it belongs; if not, `why` says what is seen.
  bool ModuleConverged(const SimCluster& cluster, ModuleIndex m, std::string* why) const;
  absl::Time converged_at() const { return converged_since_.value_or(absl::InfiniteFuture()); }

 private:
  const Config& config_;
  absl::Duration bound_;
  absl::Duration stable_;
  absl::Time deadline_ = absl::InfiniteFuture();
  std::optional<absl::Time> converged_since_;
};

// Replication mode: once the pair has converged and the workload stopped, every application
// call is answered and both copies of every module are up to date within a bound.
class DataSettlesChecker : public InvariantChecker {
 public:
  DataSettlesChecker() : InvariantChecker("replicas settle after the faults heal") {}
  void Report(absl::Time now, std::string why) { Fail(now, std::move(why)); }
};

// Replication mode, once the pair has converged and its data is quiet: both copies of every
// module are byte-identical (DESIGN.md §8).
class ReplicasIdenticalChecker : public InvariantChecker {
 public:
  ReplicasIdenticalChecker() : InvariantChecker("replicas byte-identical") {}
  void Check(absl::Time now, const SimCluster& cluster);
};

// Replication mode, at the end: the primary's copy holds every acknowledged write's bytes
// unless a later write covered them or the model says the pair may have lost them
// (Workload). `losses` is what Workload::Verify found.
class AcknowledgedWritesChecker : public InvariantChecker {
 public:
  AcknowledgedWritesChecker() : InvariantChecker("no acknowledged write lost") {}
  void Check(absl::Time now, const std::vector<Workload::Loss>& losses);
};

// Replication mode, at the end: what an acknowledged fsync covered survives every crash.
class FsyncSurvivesChecker : public InvariantChecker {
 public:
  FsyncSurvivesChecker() : InvariantChecker("acknowledged fsync survives") {}
  void Check(absl::Time now, const std::vector<Workload::Loss>& losses);
};

}  // namespace duet::sim

#endif  // DUET_SIM_INVARIANTS_H_
