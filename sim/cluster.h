// A simulated pair (two Node engines and optionally a Witness) on one thread with simulated
// time: a network per heartbeat link and direction (latency, loss, duplication, reordering,
// partitions), scripts with latency and failures, node and witness crashes, and the checks
// that must hold at every simulated instant (no two writers with a witness; a module's
// scripts never overlap). Everything random comes from the seed: same seed, same run.
//
// The data state of each module comes from DataOracle, a stand-in for the replication engine.
#ifndef DUET_SIM_CLUSTER_H_
#define DUET_SIM_CLUSTER_H_

#include <array>
#include <cstdint>
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
#include "engine/config.h"
#include "engine/node.h"
#include "engine/rng.h"
#include "engine/witness.h"
#include "sim/data_oracle.h"

namespace duet::sim {

// Fault rates of one direction of one link.
struct LinkFaults {
  bool up = true;
  double loss = 0;
  double duplicate = 0;
  absl::Duration latency_min = absl::Microseconds(100);
  absl::Duration latency_max = absl::Microseconds(500);
};

struct ScriptBehaviour {
  absl::Duration latency_min = absl::Milliseconds(5);
  absl::Duration latency_max = absl::Milliseconds(50);
  double failure = 0;  // probability that a start script exits non-zero
};

class SimCluster {
 public:
  SimCluster(Config config, uint64_t seed);

  // Boots both nodes (and the witness, if configured).
  void Start();
  void RunFor(absl::Duration d);
  absl::Time now() const { return now_; }

  // Faults.
  LinkFaults& link(int link, NodeIndex from) { return links_[from][link]; }
  LinkFaults& witness_link(NodeIndex node) { return witness_links_[node]; }
  void SetPartitioned(bool partitioned);  // every heartbeat link, both directions
  void HealNetwork();                     // every link up and clean
  ScriptBehaviour& scripts() { return scripts_; }
  void CrashNode(NodeIndex n);
  void RestartNode(NodeIndex n);
  bool NodeUp(NodeIndex n) const { return nodes_[n].has_value(); }
  void CrashWitness();
  void RestartWitness();
  void FailChecker(NodeIndex n, ModuleIndex m);
  // Runs an admin command on node n; the reply comes back at once (nullopt if n is down).
  std::optional<absl::Status> Admin(NodeIndex n, AdminVerb verb, ModuleIndex m, bool force = false);

  // Observation.
  const Config& config() const { return config_; }
  ModuleStatus Status(NodeIndex n, ModuleIndex m) const;
  bool Writable(NodeIndex n, ModuleIndex m) const { return observed_[n][m].writable; }
  bool VipAssigned(NodeIndex n, ModuleIndex m) const { return observed_[n][m].vip; }
  const std::vector<std::string>& violations() const { return violations_; }
  const std::vector<std::string>& log() const { return log_; }
  uint64_t trace_hash() const { return trace_hash_; }
  uint64_t events_processed() const { return events_; }
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
  };
  struct OracleTick {};
  using EventBody =
      std::variant<DeliverPeer, DeliverToWitness, DeliverLeaseReply, ScriptDone, OracleTick>;
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
    bool script_running = false;
  };

  void Schedule(absl::Duration after, EventBody body);
  void Process(const Event& event);
  void StepNode(NodeIndex n, const Input& input);
  void Execute(NodeIndex n, const Actions& actions);
  void SendPeer(NodeIndex from, const duet::SendPeer& send);
  absl::Duration Latency(const LinkFaults& faults);
  void CheckWriters(ModuleIndex m);
  void Violation(const std::string& what);
  void Trace(NodeIndex n, const std::string& text);
  void FeedOracle();

  Config config_;
  Rng rng_;
  absl::Time now_;
  uint64_t next_seq_ = 0;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_queue_;
  std::array<std::optional<Node>, 2> nodes_;
  std::array<PersistedNode, 2> persisted_;
  std::array<uint64_t, 2> boots_{0, 0};
  std::array<std::vector<LinkFaults>, 2> links_;
  std::array<LinkFaults, 2> witness_links_;
  std::optional<Witness> witness_;
  ScriptBehaviour scripts_;
  std::array<std::vector<Observed>, 2> observed_;
  DataOracle oracle_;
  std::map<uint64_t, absl::Status> admin_replies_;
  uint64_t next_admin_id_ = 1;
  std::vector<std::string> violations_;
  std::vector<std::string> log_;
  std::function<void(absl::Time, NodeIndex, const std::string&)> log_sink_;
  uint64_t trace_hash_ = 1469598103934665603ull;
  uint64_t events_ = 0;
};

}  // namespace duet::sim

#endif  // DUET_SIM_CLUSTER_H_
