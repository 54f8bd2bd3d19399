// One server of the pair, as a pure state machine (DESIGN.md §2, §3, §6).
//
// Node takes one input at a time with the monotonic time it happened at and returns the
// actions to carry out, in order. It ties together, per module:
//  - the ownership token (term, owner): who may be primary (engine/ownership.h);
//  - the role the application should have here, decided from facts (engine/role_decision.h)
//    and reached by a ModuleRunner (scripts never overlap);
//  - with a witness, the authority to write and when to fence (engine/write_authority.h);
//  - the admin verbs and their refusals (engine/admin_verbs.h);
//  - the verdict on the local copy of the data, from a DataStateSource
//    (engine/data_state_source.h): the module's Replica in production.
// A step has two halves: the input updates facts and marks modules dirty (node.cc), then
// Settle re-decides each dirty module and sends a heartbeat if one is due (node_reconcile.cc).
#ifndef DUET_ENGINE_NODE_H_
#define DUET_ENGINE_NODE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/actions.h"
#include "engine/admin_force.h"
#include "engine/config.h"
#include "engine/data_state_source.h"
#include "engine/deadline_queue.h"
#include "engine/heartbeats.h"
#include "engine/inputs.h"
#include "engine/module_runner.h"
#include "engine/peer_liveness.h"
#include "engine/replication/replica.h"
#include "engine/restart_budget.h"
#include "engine/rng.h"
#include "engine/write_authority.h"

namespace duet {

// Why a module failed over to this node.
enum class FailoverCause : uint8_t {
  kPeerLost,   // the peer was declared lost
  kAdminPrim,  // an admin's `prim` while the peer was lost
  kAppFailed,  // the peer handed the module over: its application failed beyond its budget
};
absl::string_view FailoverCauseName(
    FailoverCause cause);  // "peer lost", "admin prim", "app failed"

// The module's last failover to this node: an unplanned takeover (the peer declared lost, an
// admin `prim` while it was lost, or the peer's handover after its application failed), from
// the moment the takeover's cause arose here (the peer declared lost; the admin's request; the
// handover heard) to start_prim having succeeded here. Planned handovers (swap, failback) are
// not failovers. Times are the driver's `now` (its monotonic clock).
struct FailoverRecord {
  NodeIndex from = 0;  // the node that had the module
  FailoverCause cause = FailoverCause::kPeerLost;
  absl::Time began;
  absl::Time completed;
  absl::Duration duration() const { return completed - began; }
  bool operator==(const FailoverRecord&) const = default;
};

// A module as status shows it on this node.
struct ModuleStatus {
  ModuleState state = ModuleState::kWait;
  std::string reason;  // why WAIT (or anything unusual about another state)
  DataState data = DataState::kUnknown;
  uint8_t sync_percent = 0;
  uint64_t term = 0;
  NodeIndex owner = 0;
  AppRole app_role = AppRole::kNone;
  std::optional<ScriptKind> running_script;
  bool writable = false;
  bool vip_assigned = false;
  ResyncStatus resync;
  uint64_t replication_lag_bytes = 0;
  // Zones a crash of this node would have the pair compare by digest (its activity log's hot
  // zones): written lately, or not yet durable on both nodes.
  uint64_t activity_log_zones = 0;
  std::string replication_refused;              // why the peers do not replicate, if they refuse to
  std::optional<FailoverRecord> last_failover;  // since this node started; none before
};

class Node {
 public:
  // `config` must outlive the node. `persisted` is what earlier runs persisted (empty
  // modules on a first start). `seed` feeds the node's only source of randomness.
  // `data` says what each module's copy is worth; it must outlive the node. Production
  // keeps the default (the replicas); a driver without replication injects its own.
  Node(const Config& config, NodeIndex self, uint64_t seed, PersistedNode persisted, absl::Time now,
       const DataStateSource& data = ReplicaDataStates::Shared());
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // The first actions of a run (persisting the new incarnation, the first heartbeat).
  // `lost_unsynced`: the machine restarted, so what the node's disks had not synced is gone
  // (the default, the safe assumption); false if only the daemon restarted.
  // `took_in_existing`: the modules whose directories held data at this node's first start,
  // moved by the adapter into their backing directories (Replica::TakeInExistingData).
  Actions Start(absl::Time now, bool lost_unsynced = true,
                const std::vector<ModuleIndex>& took_in_existing = {});
  // Handles one input that happened at `now` (never earlier than a previous call's).
  Actions Step(absl::Time now, const Input& input);
  // When the node next needs a Tick, if nothing else happens before.
  absl::Time NextDeadline() const;

  ModuleStatus Status(ModuleIndex module) const;
  bool PeerAlive(absl::Time now) const { return liveness_.Alive(now); }
  // Per link to the peer (the heartbeat links in configuration order, then the replication
  // connection): heard within heartbeat.timeout. One silent link is a degraded pair, not a
  // lost peer.
  std::vector<bool> PeerLinksHeard(absl::Time now) const;
  NodeIndex self() const { return self_; }
  uint64_t incarnation() const { return incarnation_; }
  size_t module_count() const { return modules_.size(); }

 private:
  struct Module {
    Module(const ModuleConfig& c, ModuleIndex index, const Config& cluster, NodeIndex self,
           ReplicaDurableState durable, Rng& rng);
    const ModuleConfig* config;
    ModuleRunner runner;
    Replica replica;
    RestartBudget budget;
    WriteAuthority authority;
    PersistedModule token;  // term, owner, admin_stopped: persisted before acted on
    DataVerdict data;       // the source's verdict, as this node last took it
    bool failed = false;    // the application failed here beyond its budget
    std::string failed_reason;
    bool handoff = false;           // the owner is handing the module to the peer
    bool handoff_by_admin = false;  // ... because an admin asked (the peer keeps it: pinned)
    // The admin's handover waits for the peer to be an up-to-date secondary again (this node
    // serves meanwhile); handoff_by_admin stays set.
    bool handoff_deferred = false;
    bool leaving_for_peer_copy = false;  // ... because the peer's copy survived (logged once)
    AdminForce force;  // an admin forced promotion despite the data state (what ends it: there)
    bool awaiting_authority = false;  // the owner's decision: it waits for a lease to serve
    // Fenced for want of authority, at this mark of the witness: see FencedCopyPossiblyCurrent.
    std::optional<WitnessMark> authority_fence;
    bool admin_claim = false;  // admin asked to take over a lost peer's module (prim)
    std::optional<ModuleView> peer_view;
    ModuleState shown = ModuleState::kWait;
    std::string reason;
    // Its metadata could not be recovered (PersistedNode::problems): WAIT for the admin with
    // this reason; no script, replication, persist or token move ever happens for it.
    std::string problem;
    // A takeover in progress here (claimed, start_prim not yet succeeded), then the last one.
    std::optional<FailoverRecord> failover_pending;
    std::optional<FailoverRecord> last_failover;
  };

  // Inputs.
  void HandleTick(absl::Time now);
  void HandlePeer(absl::Time now, const PeerReceived& in);
  void HandleHeartbeat(absl::Time now, const Heartbeat& hb);
  void HandlePeerView(absl::Time now, ModuleIndex m, const ModuleView& view, absl::Time ack_until);
  void HandleSwapRequest(const SwapRequest& request);
  void HandleWitness(const WitnessReceived& in);
  void HandleScriptExited(absl::Time now, const ScriptExited& in);
  void HandleCheckerFailed(absl::Time now, const CheckerFailed& in);
  void HandleAdmin(absl::Time now, const AdminCommand& in);
  void HandleLocalMutation(absl::Time now, const LocalMutation& in);
  void HandleReplication(absl::Time now, const ReplMessage& message);
  void OnApplicationFailed(absl::Time now, ModuleIndex m, const std::string& what,
                           bool failover_now);

  // The data-state source's verdict. TakeVerdict: a change is news (logged, and acted on as
  // the source's rules say). AfterReplica: the replica acted; take its verdict, mark dirty.
  void TakeVerdict(ModuleIndex m);
  void AfterReplica(ModuleIndex m);

  // Re-decides the modules marked dirty, then sends a heartbeat if one is due.
  void Settle(absl::Time now);
  void Reconcile(absl::Time now, ModuleIndex m);
  AppRole DecideOwnerRole(absl::Time now, ModuleIndex m, Module& mod, std::string& reason);
  AppRole DecideNonOwnerRole(absl::Time now, ModuleIndex m, Module& mod, std::string& reason);
  // Token moves (engine/ownership.h), persisted at once.
  void Claim(absl::Time now, Module& mod, ModuleIndex m, const char* why);
  void PassToPeer(Module& mod, ModuleIndex m);
  // Stops this node writing the module at once (writes frozen, VIP released, unacknowledged
  // mutations failed); the application is stopped by the next plan.
  void FenceNow(ModuleIndex m, const std::string& why);
  // Whether this owner's copy, fenced for want of authority, may still be current (it waits
  // for authority to tell); confirms or gives it up once authority returns.
  bool FencedCopyPossiblyCurrent(absl::Time now, ModuleIndex m, Module& mod);
  void AnnounceVipsAgain(ModuleIndex m, absl::string_view why);
  void RequestLeaseIfDue(absl::Time now, Module& mod);
  // Clears a stale record naming the peer outdated at the witness (LeaseRequest::release).
  void ReleaseOutdateIfDue(absl::Time now, Module& mod);
  void UpdateShownState(absl::Time now, ModuleIndex m, const std::string& reason);
  void UpdateDeadline(absl::Time now, ModuleIndex m);

  bool PeerEligible(absl::Time now, const Module& mod) const;
  bool SelfEligible(const Module& mod) const;
  // Why the peer is not an up-to-date secondary now, for logs and status.
  std::string PeerNotEligibleWhy(absl::Time now, const Module& mod) const;
  ModuleView ViewOf(const Module& mod) const;
  void Persist(ModuleIndex m);
  void SendHeartbeat(absl::Time now);
  void MarkDirty(ModuleIndex m);
  void MarkAllDirty();
  void Log(std::optional<ModuleIndex> m, std::string text);

  const Config& config_;
  const NodeIndex self_;
  const DataStateSource& data_source_;
  Rng rng_;
  uint64_t incarnation_;
  PeerLiveness liveness_;
  Heartbeats heartbeats_;
  std::vector<Module> modules_;
  absl::flat_hash_map<std::string, ModuleIndex> by_name_;
  DeadlineQueue deadlines_;

  uint64_t next_run_id_ = 1;
  uint64_t next_request_id_ = 1;
  bool heartbeat_now_ = false;  // news for the peer: send a heartbeat when settled
  bool peer_was_alive_ = false;
  absl::Time peer_lost_at_ = absl::InfinitePast();  // when last declared lost, if ever

  absl::Time last_now_ = absl::InfinitePast();
  std::vector<ModuleIndex> dirty_;
  std::vector<bool> is_dirty_;
  Actions out_;
};

}  // namespace duet

#endif  // DUET_ENGINE_NODE_H_
