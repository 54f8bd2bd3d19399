#include "sim/promoted_copy.h"

#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "sim/cluster.h"

namespace duet::sim {
namespace {

// A loss names the range, the write and what was found instead ("... ) but byte 7 differs"):
// the same write missing from both copies has the same text up to " but ".
std::string WhatIsMissing(const std::string& detail) {
  return detail.substr(0, detail.rfind(" but "));
}

}  // namespace

std::vector<std::string> WritesOnlyThePeerHolds(Workload model, ModuleIndex m,
                                                const MemStore::Tree& promoted,
                                                const MemStore::Tree& peer) {
  std::set<std::string> peer_lacks;
  for (const Workload::Loss& loss : model.Verify(m, peer)) {
    peer_lacks.insert(WhatIsMissing(loss.detail));
  }
  std::vector<std::string> missing;
  for (const Workload::Loss& loss : model.Verify(m, promoted)) {
    if (!peer_lacks.contains(WhatIsMissing(loss.detail))) missing.push_back(loss.detail);
  }
  return missing;
}

PromotedCopyChecker::PromotedCopyChecker(const SimCluster& cluster)
    : InvariantChecker("a new primary's copy lacks no acknowledged write its peer holds"),
      cluster_(cluster) {
  for (NodeIndex n = 0; n < 2; ++n) {
    modules_[n].resize(cluster.config().modules.size());
    // Before any token is persisted, each node holds the configuration's (term 0).
    for (ModuleIndex m = 0; m < modules_[n].size(); ++m) {
      modules_[n][m].owner = cluster.config().modules[m].default_primary;
    }
  }
}

void PromotedCopyChecker::OnNodeStarted(absl::Time, NodeIndex n) {
  for (PerModule& mod : modules_[n]) mod.forced = false;
}

void PromotedCopyChecker::OnNodeDown(absl::Time, NodeIndex n) {
  for (PerModule& mod : modules_[n]) mod.vip = false;
}

void PromotedCopyChecker::OnVip(absl::Time, NodeIndex n, ModuleIndex m, bool assigned) {
  modules_[n][m].vip = assigned;
}

void PromotedCopyChecker::OnAdminCommand(absl::Time, NodeIndex n, ModuleIndex m, AdminVerb verb,
                                         bool force) {
  if (verb != AdminVerb::kPrim || !force) return;
  // The engine keeps a force where the command keeps or claims the module here (on the
  // owner, or with the peer lost; engine/admin_verbs.cc); with the peer alive a non-owner
  // only asks it to hand over, and the peer hands over only to an up-to-date secondary.
  const ModuleStatus status = cluster_.Status(n, m);
  if (status.owner != n && cluster_.PeerAlive(n)) return;
  PerModule& mod = modules_[n][m];
  mod.forced = true;
  mod.owner = status.owner;
  mod.term = status.term;
}

void PromotedCopyChecker::OnTokenPersisted(absl::Time, NodeIndex n, ModuleIndex m,
                                           const PersistedModule& token) {
  PerModule& mod = modules_[n][m];
  // A newer token naming the peer: n handed the module over, or heard that the peer took it.
  // (An admin's stop persists the same token, and keeps a force.)
  if (token.owner != n && (token.owner != mod.owner || token.term != mod.term)) {
    mod.forced = false;
  }
  mod.owner = token.owner;
  mod.term = token.term;
}

void PromotedCopyChecker::OnLog(absl::Time, NodeIndex n, const std::string& text) {
  // "<module>: ..." (engine/replication/replica.cc, session_decision.cc).
  const size_t colon = text.find(": ");
  if (colon == std::string::npos) return;
  const std::optional<ModuleIndex> m = cluster_.config().FindModule(text.substr(0, colon));
  if (!m) return;
  PerModule& mod = modules_[n][*m];
  if (text.find("discards its changes", colon) != std::string::npos) {
    mod.losing_split = true;
  } else if (text.find(": connected: ", colon) != std::string::npos) {
    mod.losing_split = false;  // the data handshake decided: the loser resyncs
    mod.wrote_alone = false;
  }
  // Node's peer lost (engine/node.cc), or the replica's peer dropped (replica_primary_stream.cc).
  if (text.find("continuing alone", colon) != std::string::npos) mod.wrote_alone = true;
}

void PromotedCopyChecker::OnWritable(absl::Time now, NodeIndex n, ModuleIndex m, bool writable) {
  PerModule& mod = modules_[n][m];
  if (!writable) {
    // A fence freezes writes first, then releases the VIP (DESIGN.md §6); a planned stop
    // releases the VIP first. A fence spends the force (engine/node_reconcile.cc FenceNow).
    if (mod.vip) mod.forced = false;
    return;
  }
  if (!cluster_.replication()) return;
  const NodeIndex peer = Peer(n);
  const Config& config = cluster_.config();
  if (cluster_.Writable(peer, m) || mod.losing_split || mod.forced) return;
  if (!config.witness && cluster_.NodeUp(peer) && !cluster_.ReplicationConnected()) return;
  // Without a witness a primary that dropped its peer acknowledges writes alone; if it then
  // goes down, the peer's takeover lacks them: a split brain the generations find when the
  // pair meets (DESIGN.md §5), its writes kept aside, not lost.
  if (!config.witness && modules_[peer][m].wrote_alone) return;
  const std::vector<std::string> missing = WritesOnlyThePeerHolds(
      cluster_.workload(), m, cluster_.store(n, m).live(), cluster_.store(peer, m).live());
  if (missing.empty()) return;
  std::string detail = absl::StrCat(
      config.nodes[n].name, " serves ", config.modules[m].name, " (",
      ModuleStateName(cluster_.Status(n, m).state), ", data ",
      DataStateName(cluster_.Status(n, m).data), ") with a copy that lacks ", missing.size(),
      " acknowledged write(s) that the copy on ", config.nodes[peer].name, " (",
      cluster_.NodeUp(peer) ? "up" : "down", ") holds, e.g. ", missing.front());
  Fail(now, std::move(detail));
}

}  // namespace duet::sim
