// A simulated pair (two Node engines and optionally a Witness) on one thread with simulated
// time: a network per heartbeat link and direction (latency, loss, duplication, reordering,
// partitions), scripts with latency and failures, node and witness crashes, and the checks
// that must hold at every simulated instant (no two writers with a witness, and no lease
// granted while the peer writes; a module's scripts never overlap). Everything random comes
// from the seed: same seed, same run.
//
// The data state of each module comes from DataOracle, a stand-in for the replication engine,
// or, in replication mode, from the nodes' real replication engines: each node then has a
// MemStore per module as its backing directory (with disk latency, and crash losing what was
// not synced), a replication connection (ordered and reliable while heartbeat link 0 is up
// both ways and both nodes are, but for a stream-gap fault: one stream write lost or two
// swapped, the connection staying up), and an application workload writes on the writable
// node.
//
// Each node (and the witness) reads its own monotonic clock, which may run fast or slow by a
// bounded drift (DriftingClock): the engine's time inputs and deadlines are on that clock,
// while events are scheduled and invariants judged on the true simulated time.
#ifndef DUET_SIM_CLUSTER_H_
#define DUET_SIM_CLUSTER_H_

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <queue>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/actions.h"
#include "engine/adapter_contract.h"  // the rules this driver keeps, taking every freedom they leave
#include "engine/config.h"
#include "engine/node.h"
#include "engine/rng.h"
#include "engine/witness.h"
#include "sim/cluster_observer.h"
#include "sim/data_oracle.h"
#include "sim/drifting_clock.h"
#include "sim/invariants.h"
#include "sim/keep_aside_driver.h"
#include "sim/mem_store.h"
#include "sim/workload.h"

namespace duet::sim {

// Fault rates of one direction of one link.
struct LinkFaults {
  bool up = true;
  double loss = 0;
  double duplicate = 0;
  absl::Duration latency_min = absl::Microseconds(100);
  absl::Duration latency_max = absl::Microseconds(500);
};

// A replication-transport fault (replication mode), armed until the next stream write
// (ReplWrite) either node sends: that write is lost, or delivered right after the next
// message of its module in the same direction (two adjacent stream writes swapped). The
// connection stays up, as with a transport that drops a frame it failed to authenticate.
enum class StreamFault : uint8_t { kNone, kLose, kSwap };

struct ScriptBehaviour {
  absl::Duration latency_min = absl::Milliseconds(5);
  absl::Duration latency_max = absl::Milliseconds(50);
  double failure = 0;  // probability that a start script exits non-zero
  // Probability that a script hangs: it is killed and reported timed out after the module's
  // script_timeout (on the node's clock).
  double hang = 0;
};

// What happened during a run, for the summary.
struct SimStats {
  uint64_t ticks = 0;
  uint64_t peer_messages_sent = 0;
  uint64_t peer_messages_lost = 0;
  uint64_t peer_messages_duplicated = 0;
  uint64_t witness_messages_sent = 0;
  uint64_t witness_messages_lost = 0;
  uint64_t scripts_run = 0;
  uint64_t scripts_failed = 0;
  uint64_t scripts_timed_out = 0;
  uint64_t checker_failures = 0;
  uint64_t admin_commands = 0;
  uint64_t node_crashes = 0;
  uint64_t witness_crashes = 0;
  // Replication mode.
  uint64_t replication_messages = 0;
  uint64_t replication_connects = 0;
  uint64_t stream_writes_lost = 0;     // by stream-gap faults
  uint64_t stream_writes_swapped = 0;  // ... delivered after the write that followed them
  uint64_t disk_ops = 0;
  uint64_t disk_ops_overtaking = 0;  // done before an operation issued earlier (C7)
  uint64_t keep_asides_failed = 0;   // PreserveDivergent answered with an error
  uint64_t ops_not_carried_out = 0;  // ... and the module's operations answered NotCarriedOut
};

class SimCluster {
 public:
  // `replication`: the nodes run their replication engines on simulated disks, under an
  // application workload, instead of taking data states from the DataOracle.
  SimCluster(Config config, uint64_t seed, bool replication = false);
  SimCluster(const SimCluster&) = delete;
  SimCluster& operator=(const SimCluster&) = delete;

  // Boots both nodes (and the witness, if configured).
  void Start();
  void RunFor(absl::Duration d);
  absl::Time now() const { return now_; }

  // Faults.
  LinkFaults& link(int link, NodeIndex from) { return links_[from][link]; }
  // Between a node and the witness, both directions.
  LinkFaults& witness_link(NodeIndex node) { return witness_links_[node]; }
  // Witness -> node only, on top of witness_link (a reply needs both).
  LinkFaults& witness_reply_link(NodeIndex node) { return witness_reply_links_[node]; }
  void SetPartitioned(bool partitioned);  // every heartbeat link, both directions
  void HealNetwork();                     // every link up and clean
  ScriptBehaviour& scripts() { return scripts_; }
  // Arms a stream fault (replacing one armed and not yet fired); kNone disarms.
  void BreakStream(StreamFault fault) { stream_fault_ = fault; }
  // Disks of node n (replication mode): full (writes that need space fail), fsyncs failing.
  void SetDiskFull(NodeIndex n, bool full);
  // Module m's disk on both nodes (full: no room beyond what each copy uses now).
  void SetModuleDiskFull(ModuleIndex m, bool full);
  void SetDiskSyncFailure(NodeIndex n, bool fail);
  // Node n's keep-asides (PreserveDivergent) fail (sim/keep_aside_driver.h).
  void SetKeepAsideFailure(NodeIndex n, bool fail) { keep_aside_.SetFailing(n, fail); }
  // Node n crashes in the middle of its next engine step that has two actions or more: it
  // carries out a part of them, then crashes with torn writes (CrashNode's `torn`).
  void CrashMidStep(NodeIndex n) { crash_mid_step_[n] = true; }
  bool CrashMidStepArmed(NodeIndex n) const { return crash_mid_step_[n]; }
  void DisarmCrashMidStep(NodeIndex n) { crash_mid_step_[n] = false; }
  // A crash loses what the node's disks had not synced; a daemon restart
  // (`lose_unsynced` false) keeps it (the kernel's page cache survives the process).
  // `torn`: each page not yet synced survives or not at random (else all are lost).
  void CrashNode(NodeIndex n, bool lose_unsynced = true, bool torn = false);
  void RestartNode(NodeIndex n);
  // Crashes node n and replaces its disk: every module's files and replication metadata are
  // gone (RestartNode brings it back blank).
  void ReplaceDisk(NodeIndex n);
  // Whether the peer of node n (up) holds everything n acknowledged in module m.
  bool PeerHoldsAll(NodeIndex n, ModuleIndex m) const;
  bool NodeUp(NodeIndex n) const { return nodes_[n].has_value(); }
  // Whether node n (up) hears its peer now, as its engine judges it (Node::PeerAlive).
  bool PeerAlive(NodeIndex n) const { return nodes_[n] && nodes_[n]->PeerAlive(LocalNow(n)); }
  void CrashWitness();
  void RestartWitness();
  bool WitnessUp() const { return witness_.has_value(); }
  // Reports a checker failure to node n; false (nothing done) unless its checkers run.
  bool FailChecker(NodeIndex n, ModuleIndex m);
  // Clocks: node n's clock reads true time + `offset` at Start (set before Start); its rate
  // (and the witness's) may change at any time.
  void SetClockOffset(NodeIndex n, absl::Duration offset);
  void SetClockDrift(NodeIndex n, int64_t drift_ppm);
  void SetWitnessClockDrift(int64_t drift_ppm);
  int64_t ClockDrift(NodeIndex n) const { return clocks_[n].drift_ppm(); }
  int64_t WitnessClockDrift() const { return witness_clock_.drift_ppm(); }
  absl::Time LocalNow(NodeIndex n) const { return clocks_[n].Local(now_); }
  // Runs an admin command on node n; the reply comes back at once (nullopt if n is down).
  std::optional<absl::Status> Admin(NodeIndex n, AdminVerb verb, ModuleIndex m, bool force = false);

  // Observation.
  const Config& config() const { return config_; }
  // The node the admin last forced primary with a copy not known up to date, if any.
  std::optional<NodeIndex> LastForced(ModuleIndex m) const {
    auto it = last_forced_.find(m);
    return it == last_forced_.end() ? std::nullopt : std::optional<NodeIndex>(it->second);
  }
  ModuleStatus Status(NodeIndex n, ModuleIndex m) const;
  bool Writable(NodeIndex n, ModuleIndex m) const { return observed_[n][m].writable; }
  bool VipAssigned(NodeIndex n, ModuleIndex m) const { return observed_[n][m].vip; }
  // Every invariant violation seen, formatted "<time> <invariant>: <detail>".
  const std::vector<std::string>& violations() const { return violations_; }
  const std::vector<Violation>& violation_records() const { return violation_records_; }
  // The readable trace: "<time> <node or sim> <text>" lines.
  const std::vector<std::string>& log() const { return log_; }
  uint64_t trace_hash() const { return trace_hash_; }
  // Debugging one module: every replication message delivered, disk operation done and
  // record persisted for it goes to `sink` (outside the trace and its hash).
  void set_debug(std::string module, std::function<void(const std::string&)> sink) {
    debug_module_ = std::move(module);
    debug_sink_ = std::move(sink);
  }
  // Messages and completions delivered (node timer ticks are counted in stats()).
  uint64_t events_processed() const { return events_; }
  const SimStats& stats() const { return stats_; }
  // When Start ran (true time); simulated times are shown relative to it.
  absl::Time start_time() const { return start_time_; }
  absl::Duration elapsed() const { return now_ - start_time_; }
  // "00:01:05.123": true time `t` as shown in the trace.
  std::string FormatTime(absl::Time t) const;

  // Replication mode.
  bool replication() const { return replication_; }
  bool ReplicationConnected() const { return repl_connected_; }
  const MemStore& store(NodeIndex n, ModuleIndex m) const { return stores_[n][m]; }
  // The application workload (replication mode only).
  Workload& workload() { return *workload_; }
  const Workload& workload() const { return *workload_; }
  // Stops (or resumes) issuing application operations.
  void set_workload_running(bool running) { workload_running_ = running; }

  // Observers see everything that happens from now on; they must outlive the cluster's use.
  void AddObserver(ClusterObserver* observer) { observers_.push_back(observer); }
  // An invariant checker: an observer whose violations are recorded in violations().
  void AddChecker(InvariantChecker* checker);
  // Writes a simulator line (e.g. a fault injected) to the trace.
  void Note(const std::string& text);
  // Carries out SetWritable on node n as if its engine had asked: lets tests prove that the
  // invariant checkers catch a second writer.
  void ForceWritableForTest(NodeIndex n, ModuleIndex m, bool writable);
  // Called for every log line (time, node, text), e.g. to narrate a scenario.
  void set_log_sink(std::function<void(absl::Time, NodeIndex, const std::string&)> sink) {
    log_sink_ = std::move(sink);
  }

 private:
  struct DeliverPeer {
    NodeIndex to;
    int link;
    PeerMessage message;
  };
  struct DeliverToWitness {
    LeaseRequest request;
  };
  struct DeliverLeaseReply {
    NodeIndex to;
    LeaseReply reply;
  };
  struct ScriptDone {
    NodeIndex node;
    uint64_t boot;  // the node process that ran it
    ModuleIndex module;
    uint64_t run_id;
    int exit_code;
    bool timed_out;
  };
  struct OracleTick {};
  // Replication mode: a message on the replication connection of generation `epoch`.
  struct DeliverReplication {
    NodeIndex to;
    uint64_t epoch;
    ReplMessage message;
  };
  // Replication mode: a disk operation of node `node` (process `boot`) completes.
  struct DiskDone {
    NodeIndex node;
    uint64_t boot;
    ModuleIndex module;
    uint64_t id;  // DiskOp::id
  };
  using DiskOpBody = std::variant<ApplyMutation, ReadZone, ListTree, PreserveDivergent>;
  // A disk operation issued and not yet done, ordered as adapter contract C7 says: a barrier
  // after everything before it and before everything after it, a keyed one after the
  // earlier ones with its key (MemStore has no inodes, its links are copies: the path).
  struct DiskOp {
    uint64_t id;
    DiskOpBody body;
    uint64_t bytes;
    bool barrier;
    std::string key;
    bool started = false;
  };
  struct WorkloadTick {
    ModuleIndex module;
  };
  // Replication mode: a stream write held back by a kSwap fault goes on by itself if its
  // module sends nothing more in time.
  struct ReleaseHeld {
    NodeIndex from;
    uint64_t hold_id;
  };
  using EventBody =
      std::variant<DeliverPeer, DeliverToWitness, DeliverLeaseReply, ScriptDone, OracleTick,
                   DeliverReplication, DiskDone, WorkloadTick, ReleaseHeld>;
  // A stream write held back by a kSwap fault, on the connection of generation `epoch`.
  struct HeldWrite {
    uint64_t id;
    uint64_t epoch;
    ReplMessage message;
  };
  struct Event {
    absl::Time at;
    uint64_t seq;
    EventBody body;
    bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  struct Observed {
    bool writable = false;
    bool vip = false;
    bool checkers = false;
    ModuleState state = ModuleState::kStop;  // as last reported to observers
  };

  void Schedule(absl::Duration after, EventBody body);
  void Process(const Event& event);
  void StepNode(NodeIndex n, const Input& input);
  void Execute(NodeIndex n, const Actions& actions);
  void SendPeer(NodeIndex from, const duet::SendPeer& send);
  absl::Duration Latency(const LinkFaults& faults);
  bool Drop(const LinkFaults& faults);
  void RunScriptAction(NodeIndex n, const RunScript& run);
  void RecordViolation(const Violation& v);
  void FlagViolation(const std::string& invariant, const std::string& what);
  void Trace(NodeIndex n, const std::string& text);
  void Debug(NodeIndex n, const std::string& module, const std::string& text);
  void FeedOracle();
  // Replication mode.
  void UpdateReplicationLink();
  void SendReplicationAction(NodeIndex from, const duet::SendReplication& send);
  // Applies an armed stream fault to a stream write about to be sent; true if it took it.
  bool BreakWrite(NodeIndex from, const ReplMessage& message, absl::Time at);
  void ReleaseHeldWrite(NodeIndex from, uint64_t hold_id);
  void SubmitDisk(NodeIndex n, ModuleIndex m, DiskOpBody op, uint64_t bytes);
  // Starts every operation of node n's module m that C7 lets run now, each with its own
  // random latency: operations on different files complete in any order.
  void StartRunnableDisk(NodeIndex n, ModuleIndex m);
  void FinishDisk(const DiskDone& done);
  void IssueWorkload(ModuleIndex m);
  void CheckSplitBrain(NodeIndex n, ModuleIndex m);

  Config config_;
  Rng rng_;
  absl::Time now_;
  absl::Time start_time_;
  uint64_t next_seq_ = 0;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_queue_;
  // Each node's data verdicts in failover mode (declared first: they outlive the nodes).
  std::array<OracleDataStates, 2> oracle_states_;
  std::array<std::optional<Node>, 2> nodes_;
  std::array<PersistedNode, 2> persisted_;
  std::array<uint64_t, 2> boots_{0, 0};
  std::array<std::vector<LinkFaults>, 2> links_;
  std::array<LinkFaults, 2> witness_links_;
  std::array<LinkFaults, 2> witness_reply_links_;
  std::array<DriftingClock, 2> clocks_;
  DriftingClock witness_clock_;
  std::optional<Witness> witness_;
  WitnessDurableState witness_persisted_;  // what the witness made durable
  ScriptBehaviour scripts_;
  std::array<std::vector<Observed>, 2> observed_;
  DataOracle oracle_;
  std::map<uint64_t, absl::Status> admin_replies_;
  std::map<ModuleIndex, NodeIndex> last_forced_;  // see LastForced
  uint64_t next_admin_id_ = 1;
  std::vector<ClusterObserver*> observers_;
  NoTwoWritersChecker writers_checker_;
  LeaseGrantChecker lease_checker_;
  ScriptsNeverOverlapChecker scripts_checker_;
  std::vector<std::string> violations_;
  std::vector<Violation> violation_records_;
  std::vector<std::string> log_;
  std::function<void(absl::Time, NodeIndex, const std::string&)> log_sink_;
  uint64_t trace_hash_ = 1469598103934665603ull;
  std::array<bool, 2> lost_unsynced_ = {true, true};  // how each node went down last
  std::string debug_module_;
  std::function<void(const std::string&)> debug_sink_;
  uint64_t events_ = 0;
  SimStats stats_;

  // Replication mode.
  const bool replication_;
  std::array<std::vector<MemStore>, 2> stores_;
  std::array<std::vector<std::deque<DiskOp>>, 2> disk_ops_;  // per module, in issue order
  uint64_t next_disk_op_ = 1;
  KeepAsideDriver keep_aside_;
  bool repl_connected_ = false;
  uint64_t repl_epoch_ = 0;
  std::array<absl::Time, 2> repl_next_at_;  // per direction: keeps the stream in order
  StreamFault stream_fault_ = StreamFault::kNone;
  std::array<bool, 2> crash_mid_step_ = {false, false};
  std::array<std::optional<HeldWrite>, 2> held_;  // per direction
  uint64_t next_hold_id_ = 1;
  std::optional<Workload> workload_;
  bool workload_running_ = true;
  uint64_t next_op_id_ = 1;
  std::vector<bool> split_;  // per module: both nodes were writable since the last detection
  // Per node and module: it was ALONE (wrote without its peer) since it was last PRIM or
  // SECOND or finished a resync as the source, i.e. its peer may lack what it acknowledged.
  std::array<std::vector<bool>, 2> alone_since_synced_;
};

}  // namespace duet::sim

#endif  // DUET_SIM_CLUSTER_H_
