#include "sim/invariants.h"

#include "absl/strings/str_cat.h"
#include "sim/cluster.h"

namespace duet::sim {

void InvariantChecker::Fail(absl::Time at, std::string detail) {
  ++failures_;
  if (sink_) sink_(Violation{at, name_, std::move(detail)});
}

std::string InvariantChecker::FormatTime(absl::Time t) const {
  return format_ ? format_(t) : absl::FormatTime(t);
}

// --- NoTwoWritersChecker ---------------------------------------------------------------------

NoTwoWritersChecker::NoTwoWritersChecker(const Config& config)
    : InvariantChecker("at most one writer per module"), config_(config) {
  for (auto& w : writable_) w.assign(config.modules.size(), false);
}

void NoTwoWritersChecker::OnWritable(absl::Time now, NodeIndex n, ModuleIndex m, bool writable) {
  writable_[n][m] = writable;
  if (!config_.witness) return;  // without a witness a partition may split the brain
  if (writable && writable_[Peer(n)][m]) {
    Fail(now, absl::StrCat("two writers for module ", config_.modules[m].name, ": ",
                           config_.nodes[n].name, " became writable while ",
                           config_.nodes[Peer(n)].name, " still is"));
  }
}

void NoTwoWritersChecker::OnNodeDown(absl::Time, NodeIndex n) {
  writable_[n].assign(writable_[n].size(), false);
}

// --- LeaseGrantChecker -----------------------------------------------------------------------

LeaseGrantChecker::LeaseGrantChecker(const Config& config)
    : InvariantChecker("no lease granted while the peer writes"), config_(config) {
  for (auto& w : writable_) w.assign(config.modules.size(), false);
}

void LeaseGrantChecker::OnWritable(absl::Time, NodeIndex n, ModuleIndex m, bool writable) {
  writable_[n][m] = writable;
}

void LeaseGrantChecker::OnNodeDown(absl::Time, NodeIndex n) {
  writable_[n].assign(writable_[n].size(), false);
}

void LeaseGrantChecker::OnLeaseGranted(absl::Time now, NodeIndex n, ModuleIndex m) {
  if (!writable_[Peer(n)][m]) return;
  Fail(now, absl::StrCat("the witness granted the lease of ", config_.modules[m].name, " to ",
                         config_.nodes[n].name, " while ", config_.nodes[Peer(n)].name,
                         " still writes it (", config_.nodes[Peer(n)].name,
                         " outlived the lease it held, or wrote without one)"));
}

// --- ScriptsNeverOverlapChecker --------------------------------------------------------------

ScriptsNeverOverlapChecker::ScriptsNeverOverlapChecker(const Config& config)
    : InvariantChecker("scripts never overlap"), config_(config) {
  for (auto& r : running_) r.assign(config.modules.size(), false);
}

void ScriptsNeverOverlapChecker::OnScriptStarted(absl::Time now, NodeIndex n, ModuleIndex m,
                                                 ScriptKind kind) {
  if (running_[n][m]) {
    Fail(now, absl::StrCat("scripts overlap: ", ScriptKindName(kind), " started on ",
                           config_.nodes[n].name, " for ", config_.modules[m].name,
                           " while another script runs"));
  }
  running_[n][m] = true;
}

void ScriptsNeverOverlapChecker::OnScriptEnded(absl::Time, NodeIndex n, ModuleIndex m) {
  running_[n][m] = false;
}

void ScriptsNeverOverlapChecker::OnNodeDown(absl::Time, NodeIndex n) {
  running_[n].assign(running_[n].size(), false);
}

// --- SplitBrainDetectedChecker ---------------------------------------------------------------

SplitBrainDetectedChecker::SplitBrainDetectedChecker(const Config& config)
    : InvariantChecker("every split brain is detected"),
      config_(config),
      undetected_since_(config.modules.size()) {
  for (auto& w : writable_) w.assign(config.modules.size(), false);
}

void SplitBrainDetectedChecker::OnWritable(absl::Time now, NodeIndex n, ModuleIndex m,
                                           bool writable) {
  const bool before = writable_[0][m] && writable_[1][m];
  writable_[n][m] = writable;
  if (config_.witness) return;  // with a witness two writers are a violation by themselves
  if (!before && writable_[0][m] && writable_[1][m]) {
    ++episodes_;
    if (!undetected_since_[m]) undetected_since_[m] = now;
  }
}

void SplitBrainDetectedChecker::OnNodeDown(absl::Time, NodeIndex n) {
  // An overlap that ends because one writer crashed before it learned of the other's claim
  // is not a split brain: with synchronous replication the crashed side could acknowledge
  // nothing the survivor lacks, and its activity log rolls back what it wrote alone.
  for (ModuleIndex m = 0; m < writable_[n].size(); ++m) {
    if (writable_[0][m] && writable_[1][m]) undetected_since_[m].reset();
  }
  writable_[n].assign(writable_[n].size(), false);
}

void SplitBrainDetectedChecker::OnLog(absl::Time, NodeIndex, const std::string& text) {
  // "<module>: ... split brain ..." (engine/node.cc, engine/replication/replica.cc), logged
  // by whichever node sees it first.
  const size_t colon = text.find(": ");
  if (colon == std::string::npos || text.find("split brain", colon) == std::string::npos) return;
  if (std::optional<ModuleIndex> m = config_.FindModule(text.substr(0, colon))) {
    undetected_since_[*m].reset();
  }
}

void SplitBrainDetectedChecker::Finish(absl::Time now) {
  for (ModuleIndex m = 0; m < undetected_since_.size(); ++m) {
    if (!undetected_since_[m]) continue;
    Fail(now,
         absl::StrCat("module ", config_.modules[m].name, " was writable on both nodes at once at ",
                      FormatTime(*undetected_since_[m]),
                      " and neither node has logged a split brain since"));
    undetected_since_[m].reset();
  }
}

// --- ConvergenceChecker ----------------------------------------------------------------------

ConvergenceChecker::ConvergenceChecker(const Config& config, absl::Duration bound,
                                       absl::Duration stable)
    : InvariantChecker("convergence and failback within the bound"),
      config_(config),
      bound_(bound),
      stable_(stable) {}

void ConvergenceChecker::Begin(absl::Time now) {
  deadline_ = now + bound_;
  converged_since_.reset();
}

bool ConvergenceChecker::ModuleConverged(const SimCluster& cluster, ModuleIndex m,
                                         std::string* why) const {
  const NodeIndex home = config_.modules[m].default_primary;
  const NodeIndex other = Peer(home);
  const ModuleStatus h = cluster.Status(home, m);
  const ModuleStatus o = cluster.Status(other, m);
  const bool ok = h.state == ModuleState::kPrim && o.state == ModuleState::kSecond &&
                  cluster.Writable(home, m) && cluster.VipAssigned(home, m) &&
                  !cluster.Writable(other, m) && !cluster.VipAssigned(other, m);
  if (!ok && why != nullptr) {
    auto show = [&](NodeIndex n, const ModuleStatus& s) {
      return absl::StrCat(config_.nodes[n].name, "=", ModuleStateName(s.state),
                          s.reason.empty() ? "" : " (" + s.reason + ")",
                          cluster.Writable(n, m) ? " writable" : "",
                          cluster.VipAssigned(n, m) ? " vip" : "");
    };
    *why = absl::StrCat(config_.modules[m].name, " (home ", config_.nodes[home].name,
                        "): ", show(home, h), ", ", show(other, o));
  }
  return ok;
}

ConvergenceChecker::Outcome ConvergenceChecker::Poll(absl::Time now, const SimCluster& cluster) {
  bool all = true;
  for (ModuleIndex m = 0; m < config_.modules.size() && all; ++m) {
    all = ModuleConverged(cluster, m, nullptr);
  }
  if (all) {
    if (!converged_since_) converged_since_ = now;
    if (now - *converged_since_ >= stable_) return Outcome::kConverged;
  } else {
    converged_since_.reset();
  }
  // Converged by the deadline: it only has to stay so.
  if (now < deadline_ || (converged_since_ && *converged_since_ <= deadline_)) {
    return Outcome::kWaiting;
  }
  std::string detail =
      absl::StrCat("the pair did not settle within ", absl::FormatDuration(bound_),
                   " of the faults healing (each module PRIM on its default primary and SECOND "
                   "on the other, for ",
                   absl::FormatDuration(stable_), "):");
  for (ModuleIndex m = 0; m < config_.modules.size(); ++m) {
    std::string why;
    if (!ModuleConverged(cluster, m, &why)) absl::StrAppend(&detail, "\n    ", why);
  }
  Fail(now, std::move(detail));
  return Outcome::kFailed;
}

// --- Data invariants (replication mode) ------------------------------------------------------

void ReplicasIdenticalChecker::Check(absl::Time now, const SimCluster& cluster) {
  const Config& config = cluster.config();
  for (ModuleIndex m = 0; m < config.modules.size(); ++m) {
    const std::string diff = DescribeDifference(
        cluster.store(0, m).live(), cluster.store(1, m).live(), config.modules[m].zone_size);
    if (diff.empty()) continue;
    Fail(now, absl::StrCat("module ", config.modules[m].name, ": the copies on ",
                           config.nodes[0].name, " and ", config.nodes[1].name, " differ: ", diff));
  }
}

void AcknowledgedWritesChecker::Check(absl::Time now, const std::vector<Workload::Loss>& losses) {
  for (const Workload::Loss& loss : losses) {
    if (!loss.fsynced) Fail(now, loss.detail);
  }
}

void FsyncSurvivesChecker::Check(absl::Time now, const std::vector<Workload::Loss>& losses) {
  for (const Workload::Loss& loss : losses) {
    if (loss.fsynced) Fail(now, loss.detail + " (an acknowledged fsync covered it)");
  }
}

}  // namespace duet::sim
