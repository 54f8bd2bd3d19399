// Stand-in for the replication engine's verdict on each copy of a module's data, until the
// replication engine drives the simulator itself. The rule it models: a node misses writes
// when the other node writes while it cannot receive them (down, or no link up); a node that
// is the only writer holds the reference copy; a node that missed writes becomes up to date
// again after running as secondary next to a writing peer for `resync_time`. A node learns
// that it missed writes only when it can talk to its peer again (as generation identifiers
// tell it), and a node that has just started knows nothing (unknown) until it sees its peer.
#ifndef DUET_SIM_DATA_ORACLE_H_
#define DUET_SIM_DATA_ORACLE_H_

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/data_state_source.h"
#include "engine/types.h"

namespace duet::sim {

class DataOracle {
 public:
  struct NodeView {
    bool up = false;
    bool writable = false;
    bool secondary = false;  // application running in the secondary role
  };

  // `default_primaries[m]` keeps its copy when both copies diverged (the default split-brain
  // policy, which the engine's ownership rule mirrors).
  DataOracle(std::vector<NodeIndex> default_primaries, absl::Duration resync_time);

  // The node (re)started: it reports unknown until it next sees its peer.
  void NodeStarted(NodeIndex n);
  // Advances the model for one module; `connected` means the nodes can exchange messages.
  void Observe(absl::Time now, ModuleIndex m, const std::array<NodeView, 2>& nodes, bool connected);
  // What the node's replication part would report now.
  DataState Reported(NodeIndex n, ModuleIndex m) const;
  uint8_t Percent(NodeIndex n, ModuleIndex m) const;

 private:
  struct Copy {
    bool missed = false;        // the truth
    bool knows_missed = false;  // what the node can know: learned when connected
    bool known = false;         // has seen the peer since it started
    absl::Time resync_started = absl::InfiniteFuture();
    uint8_t percent = 0;
  };
  std::vector<NodeIndex> default_primaries_;
  absl::Duration resync_time_;
  std::array<std::vector<Copy>, 2> copies_;
  std::array<bool, 2> fresh_boot_{true, true};
};

// One node's data-state source in failover mode: the verdicts the oracle last reported to it
// (set by the cluster, which then steps the node). Its replicas run no stream, so the peer's
// copy is taken to follow the primary, and there is no copy to discard. As when the verdict
// was an input: a change is not announced before the next heartbeat, and an up-to-date
// verdict ends an admin's force.
class OracleDataStates final : public DataStateSource {
 public:
  OracleDataStates() = default;
  explicit OracleDataStates(std::vector<std::string> module_names)
      : names_(std::move(module_names)), verdicts_(names_.size()) {}

  void Set(ModuleIndex m, DataVerdict verdict) { verdicts_[m] = verdict; }

  Rules rules() const override { return {.announce_change = false, .up_to_date_ends_force = true}; }
  DataVerdict Verdict(ModuleIndex m, const Replica& /*replica*/) const override {
    return verdicts_[m];
  }
  bool PeerFollows(ModuleIndex /*m*/, const Replica& /*replica*/) const override { return true; }
  absl::Status Discard(ModuleIndex m, Replica& /*replica*/, Actions& /*out*/) const override {
    return absl::FailedPreconditionError(absl::StrCat(names_[m], ": no replication engine here"));
  }

 private:
  std::vector<std::string> names_;
  std::vector<DataVerdict> verdicts_;
};

}  // namespace duet::sim

#endif  // DUET_SIM_DATA_ORACLE_H_
