#include "engine/ownership.h"

namespace duet {

MergedToken Merge(const PersistedModule& mine, const ModuleView& peer, NodeIndex default_primary) {
  MergedToken merged{TokenMerge::kKept, mine};
  if (peer.term > mine.term) {
    merged.merge = TokenMerge::kPeerNewer;
    merged.token.term = peer.term;
    merged.token.owner = peer.owner;
    merged.token.pinned = peer.pinned;
    merged.token.wrote_alone = false;  // the peer's term is the module's now
  } else if (peer.term == mine.term && peer.owner != mine.owner) {
    merged.merge = TokenMerge::kBothClaimed;
    merged.token.owner = default_primary;
    merged.token.wrote_alone = false;
  }
  return merged;
}

PersistedModule Claimed(PersistedModule token, NodeIndex self, bool pinned) {
  token.term += 1;
  token.owner = self;
  token.pinned = pinned;
  return token;
}

PersistedModule HandedTo(PersistedModule token, NodeIndex peer, bool pinned) {
  token.term += 1;
  token.owner = peer;
  token.pinned = pinned;
  return token;
}

PersistedModule ContinuedAlone(PersistedModule token) {
  token.term += 1;
  return token;
}

bool Agree(const PersistedModule& mine, const ModuleView& peer) {
  return peer.term == mine.term && peer.owner == mine.owner;
}

bool AcknowledgesOwner(const PersistedModule& mine, const ModuleView& peer, NodeIndex self) {
  return mine.owner == self && Agree(mine, peer);
}

}  // namespace duet
