// Accuracy: the simulator knows its own fault schedule (FaultLedger), so it judges not only
// that the pair stays safe but that it acts only when a fault explains it (DESIGN.md §6, §8).
// Without a witness a premature failover passes every safety invariant (the split brain it
// makes is detected and resolved), so this checker is what catches a node that declares its
// peer lost too early or fails over for no reason. It watches the engine through what the
// cluster shows (its log lines, writability, the messages delivered to it), never through
// hooks in the engine:
//  - "peer X lost" on node n: n heard nothing from X that its engine counts (a heartbeat newer
//    than, or a copy of, the newest one it had; anything on the replication connection) for
//    the heartbeat timeout, as short as it may run on n's clock at the drift bound, since it
//    last heard or booted; and every heartbeat link X -> n carried a fault that drops
//    messages (down, lossy) in that silence, or X was down.
//  - "taking over (peer lost)": n's peer is lost (an episode above explains it); "(admin prim
//    with the peer lost)": also an admin prim of that module on n.
//    "continuing alone, term N" (a primary's new term when its peer is lost) likewise needs
//    the episode, and counts as a claim below.
//  - "...; failing over" (the application failed): a checker failure injected there and then,
//    a script-fail window (a start script failed), or a script-timeout window (one hung).
//  - "fencing: split brain: the peer took over at term N ...": the peer claimed term N (that
//    claim's faults); "...: yielding" follows "both nodes claimed term N", below;
//    "fencing: neither the peer's acknowledgement nor the witness lease is current": a fault
//    cut n from its peer (a link either way dropping messages or delaying them by half the
//    acknowledgement's span, or the peer down) within a heartbeat timeout, and
//    either a fault cut n from the witness (witness down, n's path to it) within two leases,
//    or the witness granted the peer the lease within one (a handover leaves the old
//    primary's lease running, and the new one holds only the peer's acknowledgement).
//  - "handed over to X" (the owner passes the module on): planned when a failback, an admin
//    command or the split brain's verdict asked for it; an application failover when a
//    prestart or start_second script failed (in a script-fail or script-timeout window);
//    otherwise this copy cannot serve (its data is not up to date after a restart, a disk
//    fault...), and a fault within kHandoverWindow explains it: a node down, a disk fault on
//    this node, a link fault, or an admin command on the module.
//  - "split brain: both nodes claimed term N": each node claimed term N (their faults).
//  - any other split brain (without a witness: the module writable on both nodes, or the
//    engine logging one): some node claimed the module since it was last PRIM (with a
//    secondary in sync; the detections the engine repeats of one split brain, until both
//    sides have heard of it, stay with it), and that claim's faults explain it; or,
//    for the replicas' own verdict (both copies wrote alone), a node went ALONE since the
//    module was last PRIM with a fault touching the pair then (a node down, a link fault, a
//    disk fault, an admin command or a failure of that module), which explains it.
// Each failover and split brain is recorded with the faults that caused it (events()).
#ifndef DUET_SIM_ACCURACY_H_
#define DUET_SIM_ACCURACY_H_

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "engine/config.h"
#include "sim/fault_ledger.h"
#include "sim/invariants.h"

namespace duet::sim {

// A failover or split brain and the faults that explain it.
struct AccountedEvent {
  enum class Kind : uint8_t { kFailover, kApplicationFailover, kSplitBrain };
  absl::Time at;
  Kind kind = Kind::kFailover;
  ModuleIndex module = 0;
  NodeIndex node = 0;  // the node that took over, whose application failed, or that detected
  std::string what;
  std::vector<uint64_t> causes;  // FaultRecord ids, ascending
  bool explained = true;         // false: the checker reported it as a violation
};

class AccuracyChecker : public InvariantChecker {
 public:
  // `config` and `ledger` must outlive the checker. `drift_bound_ppm`: how fast any node's
  // clock may run (RunOptions::drift_bound_ppm).
  AccuracyChecker(const Config& config, const FaultLedger& ledger, int64_t drift_bound_ppm);

  void OnNodeStarted(absl::Time now, NodeIndex n) override;
  void OnNodeDown(absl::Time now, NodeIndex n) override;
  void OnPeerMessageDelivered(absl::Time now, NodeIndex n, int link,
                              const PeerMessage& message) override;
  void OnReplicationDelivered(absl::Time now, NodeIndex n) override;
  void OnWritable(absl::Time now, NodeIndex n, ModuleIndex m, bool writable) override;
  void OnLog(absl::Time now, NodeIndex n, const std::string& text) override;
  void OnLeaseGranted(absl::Time now, NodeIndex n, ModuleIndex m) override;
  void OnModuleState(absl::Time now, NodeIndex n, ModuleIndex m, ModuleState from,
                     ModuleState to) override;

  const std::vector<AccountedEvent>& events() const { return events_; }
  // The failovers and split brains that faults explain.
  int failovers() const;
  int split_brains() const;
  int peer_losses_checked() const { return peer_losses_; }
  int fences_checked() const { return fences_; }
  // "00:00:12.345 failover: b takes m1 over (peer lost); caused by partition#3 at ... (...)"
  std::string Describe(const AccountedEvent& event) const;
  // The shortest silence after which a node may declare its peer lost, in true time.
  absl::Duration MinimumSilence() const { return min_silence_; }

 private:
  struct Episode {
    bool active = false;
    absl::Time at;
    std::vector<uint64_t> causes;
  };
  struct Claim {
    absl::Time at;
    std::vector<uint64_t> causes;
  };
  // "... term N" at the end of an engine log line: N, or 0.
  static uint64_t TermOf(const std::string& text);
  // Records node n's claim of module m at the term its log line names.
  void Claimed(absl::Time now, NodeIndex n, ModuleIndex m, const std::string& body,
               std::vector<uint64_t> causes);

  void PeerLost(absl::Time now, NodeIndex n);
  void ModuleLog(absl::Time now, NodeIndex n, ModuleIndex m, const std::string& body);
  // A split brain seen now; `explained`: the faults of the claims the engine's detection
  // names (else those of the module's current claims and ALONE spell).
  void SplitBrain(absl::Time now, NodeIndex n, ModuleIndex m, const std::string& what,
                  std::optional<std::vector<uint64_t>> explained = std::nullopt);
  void HandedOver(absl::Time now, NodeIndex n, ModuleIndex m, const std::string& body);
  // Node n's last claim of module m, unless the module was PRIM since (and has been a while).
  std::optional<Claim> Current(absl::Time now, ModuleIndex m, NodeIndex n) const;
  // Which split brain the module's claims (or ALONE spell) make, and whether the one last
  // recorded is still being seen (the engine repeats its detection).
  std::array<absl::Time, 3> EpisodeKey(ModuleIndex m) const;
  bool Continuing(absl::Time now, ModuleIndex m) const;
  // The faults of the script windows that explain a script's failure logged now, or none.
  std::vector<uint64_t> ScriptCauses(absl::Time now, ModuleIndex m, const std::string& body) const;
  // Fault ids of the effects matching `match` that overlap [from, to].
  template <typename Match>
  std::vector<uint64_t> Causes(absl::Time from, absl::Time to, Match match) const;
  std::string Names(const std::vector<uint64_t>& causes) const;
  void Record(absl::Time at, AccountedEvent::Kind kind, ModuleIndex m, NodeIndex n,
              std::string what, std::vector<uint64_t> causes);

  const Config& config_;
  const FaultLedger& ledger_;
  absl::Duration min_silence_;
  std::array<bool, 2> up_{};
  std::array<absl::Time, 2> boot_{};
  std::array<absl::Time, 2> last_heard_{};  // a message n's engine counts as proof of life
  std::array<uint64_t, 2> newest_incarnation_{};
  std::array<uint64_t, 2> newest_seq_{};
  std::array<Episode, 2> episode_;
  std::array<std::vector<std::optional<Claim>>, 2> last_claim_;  // per node and module
  // Per node and module: every claim by the term it claimed (a split brain the engine
  // detects names the term both sides claimed, or the term the peer took over at).
  std::array<std::vector<std::map<uint64_t, Claim>>, 2> claims_by_term_;
  std::array<std::vector<uint64_t>, 2> both_claimed_;  // the term of n's last "both claimed"
  std::array<std::vector<bool>, 2> writable_;
  // Per node and module: why the module would leave this node (since it last did), and the
  // faults behind it when it is a failure.
  struct Reason {
    enum Kind : uint8_t { kNone, kPlanned, kFailoverRecorded, kScriptFailure } kind = kNone;
    std::string what;
    std::vector<uint64_t> causes;
  };
  std::array<std::vector<Reason>, 2> reason_;
  std::array<std::vector<absl::Time>, 2> last_grant_;  // per node and module: the witness's
  // Per module, since it was last PRIM: when a node first went ALONE, and the faults then.
  std::vector<absl::Time> alone_since_;
  std::vector<std::vector<uint64_t>> alone_causes_;
  std::vector<absl::Time> prim_at_;     // per module: when a node last showed it PRIM
  std::vector<absl::Time> split_seen_;  // per module: when a split brain was last seen
  // Per module: the claims (their times) and the ALONE spell the last split brain recorded
  // was explained by.
  std::vector<std::optional<std::array<absl::Time, 3>>> split_key_;
  std::vector<AccountedEvent> events_;
  int failures_before_ = 0;  // failures() when the event being handled arrived
  int peer_losses_ = 0;
  int fences_ = 0;
};

}  // namespace duet::sim

#endif  // DUET_SIM_ACCURACY_H_
