#include "sim/simulation.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace duet::sim {
namespace {

// The run looks at the pair (violations, convergence) at least this often.
constexpr absl::Duration kSlice = absl::Milliseconds(100);
// After the faults heal: admin start everywhere after this, and admin repairs this often.
constexpr absl::Duration kStartAfterHeal = absl::Seconds(1);
constexpr absl::Duration kRepairInterval = absl::Seconds(10);
constexpr size_t kReportTraceLines = 30;
// Replication mode: after convergence the replicas have this long to settle.
constexpr absl::Duration kDataSettleBound = absl::Seconds(60);
// ... and must stay settled this long before the copies are compared (acks, flushes).
constexpr absl::Duration kDataQuiet = absl::Seconds(2);

bool Contains(const std::string& text, const char* what) {
  return text.find(what) != std::string::npos;
}

}  // namespace

void Simulation::Counters::OnLog(absl::Time, NodeIndex, const std::string& text) {
  // The engine's log lines (engine/node.cc) name these events.
  if (Contains(text, ": taking over (")) ++failovers;
  if (Contains(text, ": failback: ")) ++failbacks;
  if (Contains(text, ": handed over to ")) ++handovers;
  if (Contains(text, ": split brain")) ++split_brains;
  if (Contains(text, "resync done: this copy is up to date")) ++resyncs;
}

Simulation::Simulation(RunOptions options)
    : options_(std::move(options)),
      cluster_(options_.MakeConfig(), StreamSeed(options_.seed, Stream::kCluster),
               options_.replication),
      injector_(options_, cluster_, StreamSeed(options_.seed, Stream::kFaults)),
      accuracy_(cluster_.config(), injector_.ledger(), options_.drift_bound_ppm),
      split_brain_(cluster_.config()),
      convergence_(cluster_.config(), options_.liveness_bound, options_.stable_period),
      promoted_copy_(cluster_) {
  cluster_.AddObserver(&counters_);
  cluster_.AddChecker(&accuracy_);
  cluster_.AddChecker(&split_brain_);
  cluster_.AddChecker(&convergence_);
  if (options_.replication) {
    cluster_.AddChecker(&settles_);
    cluster_.AddChecker(&identical_);
    cluster_.AddChecker(&acknowledged_);
    cluster_.AddChecker(&fsync_);
    cluster_.AddChecker(&promoted_copy_);
  }
}

void Simulation::Start() {
  wall_start_ = absl::Now();
  injector_.Prepare();
  cluster_.Start();
  cluster_.Note(absl::StrCat("run of seed ", options_.seed, ": safety phase (",
                             absl::FormatDuration(options_.safety_duration), " of faults)"));
  injector_.Begin();
}

bool Simulation::Advance(absl::Time until) {
  while (cluster_.now() < until) {
    const absl::Time next = std::min({until, injector_.next_at(), cluster_.now() + kSlice});
    cluster_.RunFor(std::max(next - cluster_.now(), absl::ZeroDuration()));
    injector_.RunDue();
    if (Failed()) return false;
  }
  return !Failed();
}

bool Simulation::RunSafetyPhase() {
  return Advance(cluster_.start_time() + options_.safety_duration);
}

std::optional<absl::Status> Simulation::OperatorAdmin(NodeIndex n, AdminVerb verb, ModuleIndex m) {
  injector_.RecordOperator(
      n, verb, m,
      absl::StrCat("duetctl ", AdminVerbName(verb), " ", cluster_.config().modules[m].name, " on ",
                   cluster_.config().nodes[n].name));
  return cluster_.Admin(n, verb, m);
}

void Simulation::AdminEverywhere(AdminVerb verb, ModuleIndex m) {
  for (NodeIndex n = 0; n < 2; ++n) OperatorAdmin(n, verb, m);
}

// What an operator does for a module that is not where it belongs once the faults are gone:
// start it on both nodes (clearing failures), and move it home with `prim` (undoing admin
// moves, which pin a module, and manual failback).
void Simulation::Repair() {
  for (ModuleIndex m = 0; m < cluster_.config().modules.size(); ++m) {
    std::string why;
    if (convergence_.ModuleConverged(cluster_, m, &why)) continue;
    cluster_.Note(absl::StrCat("repair: ", why));
    AdminEverywhere(AdminVerb::kStart, m);
    const NodeIndex home = cluster_.config().modules[m].default_primary;
    // The pair waits for the admin to choose a copy (unrelated data: a copy forced primary
    // when it was blank or not known up to date): the forced one is what the admin chose.
    for (NodeIndex n = 0; n < 2; ++n) {
      if (!cluster_.NodeUp(n) || cluster_.Status(n, m).replication_refused.find(
                                     "the admin must choose") == std::string::npos) {
        continue;
      }
      const NodeIndex loser = Peer(cluster_.LastForced(m).value_or(home));
      // A serving copy cannot be discarded (the node asks for it to be made secondary first,
      // and `second` needs an up-to-date peer to hand over to): the operator stops the
      // module there first; the next round starts it again.
      if (cluster_.Status(loser, m).owner == loser) OperatorAdmin(loser, AdminVerb::kStop, m);
      const std::optional<absl::Status> status = OperatorAdmin(loser, AdminVerb::kDiscard, m);
      cluster_.Note(absl::StrCat("repair: duetctl discard ", cluster_.config().modules[m].name,
                                 " on ", cluster_.config().nodes[loser].name, ": ",
                                 status ? status->ToString() : "node down"));
      break;
    }
    if (cluster_.Status(home, m).owner != home) {
      const std::optional<absl::Status> status = OperatorAdmin(home, AdminVerb::kPrim, m);
      cluster_.Note(absl::StrCat("repair: duetctl prim ", cluster_.config().modules[m].name, " on ",
                                 cluster_.config().nodes[home].name, ": ",
                                 status ? status->ToString() : "node down"));
    }
  }
}

bool Simulation::RunLivenessPhase() {
  liveness_start_ = cluster_.now();
  cluster_.Note(absl::StrCat("liveness phase: faults heal; the pair has ",
                             absl::FormatDuration(options_.liveness_bound), " to converge"));
  injector_.HealAll();
  convergence_.Begin(cluster_.now());
  const absl::Time start_at = liveness_start_ + kStartAfterHeal;
  absl::Time repair_at = liveness_start_ + options_.settle_period;
  bool started = false;
  while (true) {
    if (!Advance(cluster_.now() + kSlice)) return false;
    if (!started && cluster_.now() >= start_at) {
      for (ModuleIndex m = 0; m < cluster_.config().modules.size(); ++m) {
        AdminEverywhere(AdminVerb::kStart, m);
      }
      started = true;
    }
    if (cluster_.now() >= repair_at) {
      Repair();
      repair_at += kRepairInterval;
    }
    switch (convergence_.Poll(cluster_.now(), cluster_)) {
      case ConvergenceChecker::Outcome::kWaiting:
        break;
      case ConvergenceChecker::Outcome::kConverged:
        cluster_.Note(
            absl::StrCat("converged: every module on its default primary after ",
                         absl::FormatDuration(convergence_.converged_at() - liveness_start_)));
        return !Failed();
      case ConvergenceChecker::Outcome::kFailed:
        return false;
    }
  }
}

void Simulation::FinishChecks() { split_brain_.Finish(cluster_.now()); }

bool Simulation::RunDataChecks() {
  if (!options_.replication) return true;
  cluster_.set_workload_running(false);
  const Config& config = cluster_.config();
  auto why_not_settled = [&]() -> std::string {
    if (!cluster_.ReplicationConnected()) return "the replication connection is down";
    for (ModuleIndex m = 0; m < config.modules.size(); ++m) {
      const std::string& name = config.modules[m].name;
      if (cluster_.workload().outstanding(m) > 0) {
        return absl::StrCat(name, ": ", cluster_.workload().outstanding(m),
                            " application calls unanswered");
      }
      for (NodeIndex n = 0; n < 2; ++n) {
        const ModuleStatus s = cluster_.Status(n, m);
        if (s.data != DataState::kUpToDate || s.resync.active || s.replication_lag_bytes > 0) {
          return absl::StrCat(
              name, " on ", config.nodes[n].name, ": data ", DataStateName(s.data),
              s.resync.active ? ", resyncing" : "",
              s.replication_lag_bytes > 0 ? ", replication lag" : "",
              s.replication_refused.empty() ? "" : ", refused: ", s.replication_refused);
        }
      }
    }
    return "";
  };
  const absl::Time deadline = cluster_.now() + kDataSettleBound;
  // InfiniteFuture: not settled (a plain value: GCC 12 -O3 misreads an optional<Time> here).
  absl::Time settled_since = absl::InfiniteFuture();
  std::string why;
  while (true) {
    if (!Advance(cluster_.now() + kSlice)) return false;
    why = why_not_settled();
    if (!why.empty()) {
      settled_since = absl::InfiniteFuture();
    } else if (settled_since == absl::InfiniteFuture()) {
      settled_since = cluster_.now();
    } else if (cluster_.now() - settled_since >= kDataQuiet) {
      break;
    }
    if (cluster_.now() >= deadline) break;
  }
  if (!why.empty()) {
    cluster_.Note(absl::StrCat("data did not settle: ", why));
    settles_.Report(cluster_.now(),
                    absl::StrCat("not settled ", absl::FormatDuration(kDataSettleBound),
                                 " after convergence: ", why));
    return false;
  }
  cluster_.Note("data settled: comparing the copies and checking the model");
  identical_.Check(cluster_.now(), cluster_);
  for (ModuleIndex m = 0; m < config.modules.size(); ++m) {
    const NodeIndex home = config.modules[m].default_primary;
    const std::vector<Workload::Loss> losses =
        cluster_.workload().Verify(m, cluster_.store(home, m).live());
    acknowledged_.Check(cluster_.now(), losses);
    fsync_.Check(cluster_.now(), losses);
    replicated_bytes_ += cluster_.store(home, m).FileBytes();
  }
  return !Failed();
}

RunResult Simulation::Run() {
  Start();
  if (RunSafetyPhase() && RunLivenessPhase() && RunDataChecks()) FinishChecks();
  wall_seconds_ = absl::ToDoubleSeconds(absl::Now() - wall_start_);
  return Result();
}

RunResult Simulation::Result() const {
  RunResult r;
  r.passed = cluster_.violation_records().empty();
  if (!r.passed) {
    r.violation = cluster_.violation_records().front();
    r.violation_at = cluster_.FormatTime(r.violation->at);
    r.report = FailureReport(*r.violation);
  }
  r.trace_hash = cluster_.trace_hash();
  r.events = cluster_.events_processed() + cluster_.stats().ticks;
  r.faults = injector_.injected();
  r.stats = cluster_.stats();
  r.failovers = counters_.failovers;
  r.failbacks = counters_.failbacks;
  r.handovers = counters_.handovers;
  r.split_brains = counters_.split_brains;
  r.resyncs = counters_.resyncs;
  r.accounted_failovers = accuracy_.failovers();
  r.accounted_split_brains = accuracy_.split_brains();
  r.peer_losses_checked = accuracy_.peer_losses_checked();
  r.fences_checked = accuracy_.fences_checked();
  for (const AccountedEvent& e : accuracy_.events()) r.accounted.push_back(accuracy_.Describe(e));
  if (options_.replication) {
    r.writes_verified = cluster_.workload().writes_verified();
    r.ops_issued = cluster_.workload().issued();
    r.ops_acknowledged = cluster_.workload().acknowledged();
    r.replicated_bytes = replicated_bytes_;
  }
  r.simulated = cluster_.elapsed();
  if (convergence_.converged_at() != absl::InfiniteFuture()) {
    r.converged_after = convergence_.converged_at() - liveness_start_;
  }
  r.wall_seconds = wall_seconds_;
  return r;
}

std::string Simulation::FailureReport(const Violation& v) const {
  const char* phase = v.at >= liveness_start_ ? "liveness phase" : "safety phase";
  std::string text = absl::StrCat("INVARIANT VIOLATED: ", v.invariant, "\n");
  absl::StrAppend(&text, "  at simulated time ", cluster_.FormatTime(v.at), " (", phase, ")\n");
  absl::StrAppend(&text, "  ", v.detail, "\n");
  absl::StrAppend(&text, "  seed: ", options_.seed, "\n");
  absl::StrAppend(&text, "  replay: ", options_.ReplayCommand(), "\n");
  const std::vector<std::string>& log = cluster_.log();
  // The trace up to the violation (the run may have gone on a little after it).
  const std::string until = cluster_.FormatTime(v.at);
  size_t end = log.size();
  while (end > 0 && log[end - 1].substr(0, until.size()) > until) --end;
  const size_t begin = end > kReportTraceLines ? end - kReportTraceLines : 0;
  absl::StrAppend(&text, "  last trace lines:\n");
  for (size_t i = begin; i < end; ++i) absl::StrAppend(&text, "    ", log[i], "\n");
  return text;
}

std::string FormatSummary(const RunOptions& options, const RunResult& r) {
  std::string faults;
  uint64_t total = 0;
  for (int k = 0; k < kFaultKinds; ++k) {
    if (!options.enabled[k]) continue;
    total += r.faults[k];
    absl::StrAppend(&faults, faults.empty() ? "" : " ", FaultKindName(static_cast<FaultKind>(k)),
                    "=", r.faults[k]);
  }
  const double simulated = absl::ToDoubleSeconds(r.simulated);
  std::string text;
  absl::StrAppend(&text, "result: ", r.passed ? "PASS" : "FAIL", "\n");
  absl::StrAppend(&text, "events processed: ", r.events, "\n");
  absl::StrAppend(&text, "faults injected: ", total, total > 0 ? " (" + faults + ")" : "", "\n");
  absl::StrAppend(&text, "network: ", r.stats.peer_messages_sent, " peer messages (",
                  r.stats.peer_messages_lost, " lost, ", r.stats.peer_messages_duplicated,
                  " duplicated), ", r.stats.witness_messages_sent, " witness messages (",
                  r.stats.witness_messages_lost, " lost)\n");
  absl::StrAppend(&text, "scripts: ", r.stats.scripts_run, " run, ", r.stats.scripts_failed,
                  " failed, ", r.stats.scripts_timed_out, " timed out; ", r.stats.checker_failures,
                  " checker failures; ", r.stats.admin_commands, " admin commands\n");
  absl::StrAppend(&text, "failovers: ", r.failovers, ", failbacks: ", r.failbacks,
                  ", handovers: ", r.handovers, ", split brains detected: ", r.split_brains, "\n");
  absl::StrAppend(&text, "accuracy: ", r.accounted_failovers, " failovers and ",
                  r.accounted_split_brains, " split brains, each explained by a fault; ",
                  r.peer_losses_checked, " peer-lost declarations and ", r.fences_checked,
                  " fences checked against the fault schedule\n");
  for (const std::string& line : r.accounted) absl::StrAppend(&text, "  ", line, "\n");
  if (options.replication) {
    absl::StrAppend(&text, "workload: ", r.ops_issued, " operations issued, ", r.ops_acknowledged,
                    " acknowledged; ", r.replicated_bytes,
                    " bytes of file data in the primaries' copies\n");
    absl::StrAppend(&text, "replication: ", r.stats.replication_messages, " messages on ",
                    r.stats.replication_connects,
                    " connections; stream-gap: ", r.stats.stream_writes_lost,
                    " stream writes lost, ", r.stats.stream_writes_swapped, " swapped\n");
    absl::StrAppend(&text, "disk: ", r.stats.disk_ops, " operations, ", r.stats.disk_ops_overtaking,
                    " done before one issued earlier\n");
    absl::StrAppend(&text, "resyncs: ", r.resyncs,
                    "; keep-asides failed: ", r.stats.keep_asides_failed, " (",
                    r.stats.ops_not_carried_out, " operations not carried out after them)\n");
    absl::StrAppend(&text, "writes verified: ", r.writes_verified, "\n");
  } else {
    absl::StrAppend(&text, "resyncs: ", r.resyncs, " (data states from the oracle)\n");
    absl::StrAppend(&text, "writes verified: ", r.writes_verified,
                    " (no workload without --replication)\n");
  }
  if (r.converged_after != absl::InfiniteDuration()) {
    absl::StrAppend(&text, "converged: ", absl::FormatDuration(r.converged_after),
                    " after the faults healed\n");
  }
  absl::StrAppend(&text, "simulated time: ", absl::FormatDuration(r.simulated), "\n");
  absl::StrAppend(&text, "wall time: ", absl::FormatDuration(absl::Seconds(r.wall_seconds)), "\n");
  absl::StrAppend(&text, "simulated/real: ",
                  r.wall_seconds > 0
                      ? absl::StrCat(static_cast<int64_t>(simulated / r.wall_seconds), "x")
                      : std::string("n/a"),
                  "\n");
  absl::StrAppend(&text, "trace hash: ", absl::Hex(r.trace_hash, absl::kZeroPad16), "\n");
  return text;
}

}  // namespace duet::sim
