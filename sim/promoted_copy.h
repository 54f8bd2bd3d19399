// Replication mode: a node that starts serving a module serves a copy no older than its
// peer's (DESIGN.md §3: a node not known up to date never becomes primary by itself). The
// check is the simulator's own, from the workload's model of acknowledged writes and the
// bytes of the two copies, never from the engines' data states: when node n becomes
// writable for module m, every acknowledged write the peer's copy still holds (live if the
// peer is up, what its disk kept if it is down) must be in n's copy too.
//
// Allowed: a node the admin forced primary (`prim --force`, where the engine records a force:
// on the owner, or with the peer lost), for as long as the engine keeps that force (the
// workload's model allows the loss only when the copy was not up to date at the command:
// Workload::LoseAll). The force ends, as in engine/admin_force.h, when the node's process ends,
// when it fences (writes frozen while its VIP is still up: a planned stop takes the clients
// away first, DESIGN.md §6, module_runner.cc), and when it persists a newer ownership token
// naming the peer (it handed the module over, or heard that the peer took it). The engine
// also ends a force at an up-to-date verdict, but only from the simulator's oracle of data
// states (failover mode, which this check does not judge); the replicas' verdicts keep it.
// Not judged: a promotion while the peer is writable too (two writers: NoTwoWritersChecker
// with a witness, the split-brain policy without); without a witness a takeover while the
// peer is up and cut off, or after the peer went on alone and then went down (it logged that
// it continues alone since its last data handshake: the peer may have written alone since the
// cut, unseen, a split brain that the generations resolve once the pair meets, DESIGN.md §5);
// and the losing side of a split brain serving its own branch again until the survivor can
// take the module over (it logged that it discards its changes, and no data handshake decided
// since): the survivor keeps its writes, the loser's are kept aside. These two are read from
// log text: no status or persisted record says them (the ownership token's `wrote_alone`
// misses a primary that dropped its peer on the replication connection while heartbeats still
// came, regression seed 14814890090794812417; the state ALONE lasts through the resync that
// follows the handshake).
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
  // Reads the cluster's stores, workload and node status at each event; `cluster` outlives it.
  explicit PromotedCopyChecker(const SimCluster& cluster);
  void OnWritable(absl::Time now, NodeIndex n, ModuleIndex m, bool writable) override;
  void OnVip(absl::Time now, NodeIndex n, ModuleIndex m, bool assigned) override;
  void OnAdminCommand(absl::Time now, NodeIndex n, ModuleIndex m, AdminVerb verb,
                      bool force) override;
  void OnTokenPersisted(absl::Time now, NodeIndex n, ModuleIndex m,
                        const PersistedModule& token) override;
  void OnLog(absl::Time now, NodeIndex n, const std::string& text) override;
  // A new process has no force (Node does not persist it); a node down holds no VIP.
  void OnNodeStarted(absl::Time now, NodeIndex n) override;
  void OnNodeDown(absl::Time now, NodeIndex n) override;

 private:
  struct PerModule {
    bool forced = false;
    bool losing_split = false;  // discards its changes once the survivor takes over
    bool vip = false;
    // Went on alone having dropped its peer, since its last data handshake.
    bool wrote_alone = false;
    // The ownership token as last persisted here (or shown, at a force).
    uint64_t term = 0;
    NodeIndex owner = 0;
  };
  const SimCluster& cluster_;
  std::vector<PerModule> modules_[2];
};

}  // namespace duet::sim

#endif  // DUET_SIM_PROMOTED_COPY_H_
