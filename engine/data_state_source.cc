#include "engine/data_state_source.h"

namespace duet {

const ReplicaDataStates& ReplicaDataStates::Shared() {
  static const ReplicaDataStates source;
  return source;
}

DataVerdict ReplicaDataStates::Verdict(ModuleIndex /*m*/, const Replica& replica) const {
  return {replica.data_state(), replica.sync_percent()};
}

bool ReplicaDataStates::PeerFollows(ModuleIndex /*m*/, const Replica& replica) const {
  return replica.attached();
}

absl::Status ReplicaDataStates::Discard(ModuleIndex /*m*/, Replica& replica, Actions& out) const {
  return replica.DiscardMyData(out);
}

}  // namespace duet
