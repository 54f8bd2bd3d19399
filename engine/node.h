// One server of the pair, as a pure state machine (DESIGN.md §2, §3, §6).
//
// Node takes one input at a time with the monotonic time it happened at and returns the
// actions to carry out, in order. It owns, per module:
//  - the ownership token (term, owner): only the owner at the highest term known may be
//    primary. While the peers see each other the token moves only by handoff: the owner
//    demotes fully, then passes (term + 1, peer). A node that loses its peer on every link
//    for heartbeat.timeout claims (term + 1, self) if it is an up-to-date secondary (with a
//    witness: only once it holds the lease). Equal terms with different owners mean both
//    sides claimed during a partition: the default primary keeps the module.
//  - the desired application role, reached by a ModuleRunner (scripts never overlap).
//  - with a witness, the authority to write: the peer acknowledging us as owner
//    (bounded by the heartbeat echo) or an unexpired lease; without either, it fences.
// The data state of each module is an input (DataStateChanged) owned by replication.
#ifndef DUET_ENGINE_NODE_H_
#define DUET_ENGINE_NODE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "engine/actions.h"
#include "engine/config.h"
#include "engine/deadline_queue.h"
#include "engine/inputs.h"
#include "engine/lease_client.h"
#include "engine/module_runner.h"
#include "engine/peer_liveness.h"
#include "engine/replication/replica.h"
#include "engine/restart_budget.h"
#include "engine/rng.h"

namespace duet {

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
  std::string replication_refused;  // why the peers do not replicate, if they refuse to
};

// Where a node's per-module data state comes from: its replication engine (always, in
// production), or DataStateChanged inputs (to test the state machine alone).
enum class DataStateSource : uint8_t { kReplication, kExternal };

class Node {
 public:
  // `config` must outlive the node. `persisted` is what earlier runs persisted (empty
  // modules on a first start). `seed` feeds the node's only source of randomness.
  Node(const Config& config, NodeIndex self, uint64_t seed, PersistedNode persisted, absl::Time now,
       DataStateSource data_source = DataStateSource::kReplication);
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // The first actions of a run (persisting the new incarnation, the first heartbeat).
  // `lost_unsynced`: the machine restarted, so what the node's disks had not synced is gone
  // (the default, the safe assumption); false if only the daemon restarted.
  Actions Start(absl::Time now, bool lost_unsynced = true);
  // Handles one input that happened at `now` (never earlier than a previous call's).
  Actions Step(absl::Time now, const Input& input);
  // When the node next needs a Tick, if nothing else happens before.
  absl::Time NextDeadline() const;

  ModuleStatus Status(ModuleIndex module) const;
  bool PeerAlive(absl::Time now) const { return liveness_.Alive(now); }
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
    LeaseClient lease;
    PersistedModule token;  // term, owner, admin_stopped: persisted before acted on
    DataState data = DataState::kUnknown;
    uint8_t sync_percent = 0;
    bool failed = false;  // the application failed here beyond its budget
    std::string failed_reason;
    bool handoff = false;                // the owner is handing the module to the peer
    bool handoff_by_admin = false;       // ... because an admin asked (the peer keeps it: pinned)
    bool leaving_for_peer_copy = false;  // ... because the peer's copy survived (logged once)
    bool forced = false;                 // admin forced promotion despite the data state
    bool admin_claim = false;            // admin asked to take over a lost peer's module (prim)
    std::optional<ModuleView> peer_view;
    absl::Time peer_ack_until = absl::InfinitePast();
    ModuleState shown = ModuleState::kWait;
    std::string reason;
  };

  void HandleTick(absl::Time now);
  void HandlePeer(absl::Time now, const PeerReceived& in);
  void HandleHeartbeat(absl::Time now, const Heartbeat& hb);
  void HandleSwapRequest(const SwapRequest& request);
  void HandleWitness(const WitnessReceived& in);
  void HandleScriptExited(absl::Time now, const ScriptExited& in);
  void HandleCheckerFailed(absl::Time now, const CheckerFailed& in);
  void HandleAdmin(absl::Time now, const AdminCommand& in);
  void HandleDataState(const DataStateChanged& in);
  void HandleLocalMutation(absl::Time now, const LocalMutation& in);
  void HandleReplication(absl::Time now, const ReplMessage& message);
  // After the replica acted: take over its data state (replication mode), mark dirty.
  void AfterReplica(ModuleIndex m);

  // Re-decides the modules marked dirty, then sends a heartbeat if one is due.
  void Settle(absl::Time now);
  void Reconcile(absl::Time now, ModuleIndex m);
  AppRole DecideOwnerRole(absl::Time now, ModuleIndex m, Module& mod, std::string& reason);
  AppRole DecideNonOwnerRole(absl::Time now, ModuleIndex m, Module& mod, std::string& reason);
  void Claim(Module& mod, ModuleIndex m, const char* why);
  // Why the witness refused the last lease request (it did: refused_by() is set).
  std::string LeaseRefusal(const Module& mod) const;
  // Stops this node writing the module at once (writes frozen, VIP released, unacknowledged
  // mutations failed); the application is stopped by the next plan.
  void FenceNow(ModuleIndex m, const std::string& why);
  void PassToPeer(Module& mod, ModuleIndex m);
  void OnApplicationFailed(absl::Time now, ModuleIndex m, const std::string& what,
                           bool failover_now);
  void UpdateShownState(absl::Time now, ModuleIndex m, const std::string& reason);
  void UpdateDeadline(absl::Time now, ModuleIndex m);
  void RequestLeaseIfDue(absl::Time now, Module& mod);

  bool HasAuthority(absl::Time now, const Module& mod) const;
  bool PeerEligible(absl::Time now, const Module& mod) const;
  bool SelfEligible(const Module& mod) const;
  bool DataAllowsPrimary(const Module& mod) const {
    return mod.data == DataState::kUpToDate || mod.forced;
  }
  ModuleView ViewOf(const Module& mod) const;
  void Persist(ModuleIndex m);
  void SendHeartbeat(absl::Time now);
  void MarkDirty(ModuleIndex m);
  void MarkAllDirty();
  void Log(std::optional<ModuleIndex> m, std::string text);

  const Config& config_;
  const NodeIndex self_;
  const DataStateSource data_source_;
  Rng rng_;
  uint64_t incarnation_;
  PeerLiveness liveness_;
  std::vector<Module> modules_;
  absl::flat_hash_map<std::string, ModuleIndex> by_name_;
  DeadlineQueue deadlines_;

  uint64_t next_seq_ = 1;
  uint64_t next_run_id_ = 1;
  uint64_t next_request_id_ = 1;
  absl::Time next_heartbeat_at_ = absl::InfinitePast();
  bool heartbeat_now_ = false;
  bool peer_was_alive_ = false;
  // The peer's newest accepted heartbeat.
  uint64_t peer_incarnation_ = 0;
  uint64_t peer_seq_ = 0;
  int64_t peer_sent_at_ns_ = -1;

  absl::Time last_now_ = absl::InfinitePast();
  std::vector<ModuleIndex> dirty_;
  std::vector<bool> is_dirty_;
  Actions out_;
};

}  // namespace duet

#endif  // DUET_ENGINE_NODE_H_
