// Where Node learns what each module's local copy is worth (DESIGN.md §3: a node whose data
// is not known up to date never becomes primary by itself).
//
// In production the module's own Replica is the verdict: ReplicaDataStates, the default
// argument of Node's constructor, so production code never names a source. Node reads the
// source at the start of every step, after every call into a replica, and (quietly) at the
// end of each module's reconcile. Without a replication stream (the simulator's failover
// mode, tests of the state machine alone), the driver injects its own source, sets a verdict
// by hand and then steps the node (a Tick will do): the node takes the new verdict before
// anything else in that step. Node never asks which source it has; where the sources differ
// (Rules, PeerFollows, Discard), each source says so for itself.
//
// A source must outlive the nodes that use it. ReplicaDataStates is stateless and shared.
#ifndef DUET_ENGINE_DATA_STATE_SOURCE_H_
#define DUET_ENGINE_DATA_STATE_SOURCE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "engine/actions.h"
#include "engine/replication/replica.h"
#include "engine/types.h"

namespace duet {

struct DataVerdict {
  DataState state = DataState::kUnknown;
  uint8_t sync_percent = 0;
  friend bool operator==(const DataVerdict&, const DataVerdict&) = default;
};

class DataStateSource {
 public:
  // How Node takes a verdict that changed.
  struct Rules {
    // The peer hears of it at once (a heartbeat goes now), not at the next beat.
    bool announce_change = true;
    // An up-to-date verdict ends an admin's force (`prim --force`) that promoted the copy.
    bool up_to_date_ends_force = false;
  };

  virtual ~DataStateSource() = default;

  virtual Rules rules() const = 0;
  // The verdict now on module `m`'s copy; `replica` is that module's replication engine.
  virtual DataVerdict Verdict(ModuleIndex m, const Replica& replica) const = 0;
  // The peer's copy receives this node's writes as they are made (PRIM, not ALONE).
  virtual bool PeerFollows(ModuleIndex m, const Replica& replica) const = 0;
  // `duetctl discard`: this copy gives up its divergent changes (see Replica::DiscardMyData).
  virtual absl::Status Discard(ModuleIndex m, Replica& replica, Actions& out) const = 0;
};

// The replica is the verdict: what production runs.
class ReplicaDataStates final : public DataStateSource {
 public:
  // A stateless source every node may share.
  static const ReplicaDataStates& Shared();

  Rules rules() const override { return {.announce_change = true, .up_to_date_ends_force = false}; }
  DataVerdict Verdict(ModuleIndex m, const Replica& replica) const override;
  bool PeerFollows(ModuleIndex m, const Replica& replica) const override;
  absl::Status Discard(ModuleIndex m, Replica& replica, Actions& out) const override;
};

}  // namespace duet

#endif  // DUET_ENGINE_DATA_STATE_SOURCE_H_
