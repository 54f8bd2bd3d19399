#include "engine/replication/generations.h"

#include <algorithm>

namespace duet {

const char* SyncDecisionName(SyncDecision decision) {
  switch (decision) {
    case SyncDecision::kInSync:
      return "in sync";
    case SyncDecision::kSelfIsSource:
      return "resync to the peer";
    case SyncDecision::kPeerIsSource:
      return "resync from the peer";
    case SyncDecision::kSplitBrain:
      return "split brain";
    case SyncDecision::kUnrelated:
      return "unrelated data";
  }
  return "?";
}

SyncDecision Decide(const Generations& self, const Generations& peer) {
  if (self.current == peer.current) return SyncDecision::kInSync;
  const bool self_from_peer = self.bitmap != 0 && self.bitmap == peer.current;
  const bool peer_from_self = peer.bitmap != 0 && peer.bitmap == self.current;
  if (self_from_peer && !peer_from_self) return SyncDecision::kSelfIsSource;
  if (peer_from_self && !self_from_peer) return SyncDecision::kPeerIsSource;
  if (self.bitmap != 0 && self.bitmap == peer.bitmap) return SyncDecision::kSplitBrain;
  // One side wrote alone more than once (its bitmap still open from an older generation
  // that the peer holds as current or in its history).
  for (uint64_t old : self.history) {
    if (old != 0 && old == peer.current && self.bitmap != 0) return SyncDecision::kSelfIsSource;
  }
  for (uint64_t old : peer.history) {
    if (old != 0 && old == self.current && peer.bitmap != 0) return SyncDecision::kPeerIsSource;
  }
  // The ends of resyncs were lost to a source: the peer took some of our currents (it holds
  // the generation our open dirty map starts from in its history) and never wrote alone
  // since (no bitmap), while we moved on past what our history keeps. Everything the peer
  // holds came from us after our map opened, so our map covers what it lacks. (It left our
  // bitmap only by taking one of our currents: its own map would close only once we had
  // taken its current, which would have closed ours.)
  const auto holds = [](const Generations& g, uint64_t gen) {
    return std::find(g.history.begin(), g.history.end(), gen) != g.history.end();
  };
  if (self.bitmap != 0 && peer.bitmap == 0 && holds(peer, self.bitmap)) {
    return SyncDecision::kSelfIsSource;
  }
  if (peer.bitmap != 0 && self.bitmap == 0 && holds(self, peer.bitmap)) {
    return SyncDecision::kPeerIsSource;
  }
  // Both wrote alone since a generation both held, one of them with a dirty map opened
  // earlier (a resync's end never reached it, so it kept its older bitmap and moved on again
  // from there): the peer's bitmap is in our history, or ours in its history.
  if (self.bitmap != 0 && peer.bitmap != 0) {
    for (uint64_t old : self.history) {
      if (old != 0 && old == peer.bitmap) return SyncDecision::kSplitBrain;
    }
    for (uint64_t old : peer.history) {
      if (old != 0 && old == self.bitmap) return SyncDecision::kSplitBrain;
    }
  }
  return SyncDecision::kUnrelated;
}

void StartTracking(Generations& gens, uint64_t new_current) {
  if (gens.bitmap == 0) gens.bitmap = gens.current;
  gens.history[1] = gens.history[0];
  gens.history[0] = gens.current;
  gens.current = new_current;
}

}  // namespace duet
