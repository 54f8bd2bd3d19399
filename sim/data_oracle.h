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
#include <vector>

#include "absl/time/time.h"
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

}  // namespace duet::sim

#endif  // DUET_SIM_DATA_ORACLE_H_
