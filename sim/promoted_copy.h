// Replication mode: a node that starts serving a module serves a copy no older than its
// peer's (DESIGN.md §3: a node not known up to date never becomes primary by itself). The
// check is the simulator's own, from the workload's model of acknowledged writes and the
// bytes of the two copies, never from the engines' data states: when node n becomes
// writable for module m, every acknowledged write the peer's copy still holds (live if the
// peer is up, what its disk kept if it is down) must be in n's copy too.
//
// Allowed: a node the admin forced primary (`prim --force`), until it next hands the module
// over (the engine ends a force sooner, at a fence or once the peer owns the module; this
// check does not judge that) (the workload's model allows the loss only
// when the copy was not up to date at the command: Workload::LoseAll). Not judged: a promotion
// while the peer is writable too (two writers: NoTwoWritersChecker with a witness, the split-brain
// policy without); without a witness a takeover while the peer is up and cut off, or after it went
// on alone (having dropped this node) and then went down (the peer may have written alone since the
// cut, unseen: a split brain that the generations resolve once the pair meets, DESIGN.md §5); and
// the losing side of a split brain serving its own branch again until the survivor can take the
// module over (it logged that it discards its changes, and no data handshake decided since): the
// survivor keeps its writes, the loser's are kept aside.
#ifndef DUET_SIM_PROMOTED_COPY_H_
#define DUET_SIM_PROMOTED_COPY_H_

#include <string>
#include <vector>

#include "sim/invariants.h"
#include "sim/mem_store.h"
#include "sim/workload.h"

namespace duet::sim {

// The acknowledged writes of module m (as `model` judges them) that `peer` holds and
// `promoted` lacks, one line each. Takes the model by value: verifying counts writes.
std::vector<std::string> WritesOnlyThePeerHolds(Workload model, ModuleIndex m,
                                                const MemStore::Tree& promoted,
                                                const MemStore::Tree& peer);

class PromotedCopyChecker : public InvariantChecker {
 public:
  // Reads the cluster's stores and workload at each promotion; `cluster` outlives it.
  explicit PromotedCopyChecker(const SimCluster& cluster);
  void OnWritable(absl::Time now, NodeIndex n, ModuleIndex m, bool writable) override;
  void OnLog(absl::Time now, NodeIndex n, const std::string& text) override;
  // A new process has no force (Node does not persist it).
  void OnNodeStarted(absl::Time now, NodeIndex n) override;

 private:
  const SimCluster& cluster_;
  std::vector<bool> losing_split_[2];  // per node and module
  std::vector<bool> forced_[2];
  // The node went on alone after dropping its peer, since it last connected.
  std::vector<bool> wrote_alone_[2];
};

}  // namespace duet::sim

#endif  // DUET_SIM_PROMOTED_COPY_H_
