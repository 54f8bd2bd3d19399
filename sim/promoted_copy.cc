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
  for (auto& losing : losing_split_) losing.assign(cluster.config().modules.size(), false);
  for (auto& forced : forced_) forced.assign(cluster.config().modules.size(), false);
  for (auto& alone : wrote_alone_) alone.assign(cluster.config().modules.size(), false);
}

void PromotedCopyChecker::OnNodeStarted(absl::Time, NodeIndex n) {
  forced_[n].assign(forced_[n].size(), false);
}

void PromotedCopyChecker::OnLog(absl::Time, NodeIndex n, const std::string& text) {
  // "<module>: ..." (engine/node.cc, engine/replication/replica.cc).
  const size_t colon = text.find(": ");
  if (colon == std::string::npos) return;
  const std::optional<ModuleIndex> m = cluster_.config().FindModule(text.substr(0, colon));
  if (!m) return;
  if (text.find(": admin: prim --force", colon) != std::string::npos) forced_[n][*m] = true;
  if (text.find(": handed over to ", colon) != std::string::npos) forced_[n][*m] = false;
  if (text.find("discards its changes", colon) != std::string::npos) {
    losing_split_[n][*m] = true;
  } else if (text.find(": connected: ", colon) != std::string::npos) {
    losing_split_[n][*m] = false;  // the data handshake decided: the loser resyncs
    wrote_alone_[n][*m] = false;
  }
  if (text.find("continuing alone", colon) != std::string::npos) wrote_alone_[n][*m] = true;
}

void PromotedCopyChecker::OnWritable(absl::Time now, NodeIndex n, ModuleIndex m, bool writable) {
  if (!writable || !cluster_.replication()) return;
  const NodeIndex peer = Peer(n);
  const Config& config = cluster_.config();
  if (cluster_.Writable(peer, m) || losing_split_[n][m] || forced_[n][m]) return;
  if (!config.witness && cluster_.NodeUp(peer) && !cluster_.ReplicationConnected()) return;
  // Without a witness a primary that dropped its peer acknowledges writes alone; if it then
  // goes down, the peer's takeover lacks them: a split brain the generations find when the
  // pair meets (DESIGN.md §5), its writes kept aside, not lost.
  if (!config.witness && wrote_alone_[peer][m]) return;
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
