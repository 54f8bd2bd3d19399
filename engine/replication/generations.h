// Generation identifiers of one module's data on one node (DRBD's data UUIDs) and the
// decision table the two nodes apply when they connect.
//  - current: names the data as it is now. A primary that starts writing without its peer
//    moves `current` to `bitmap` (if no bitmap is open yet) and draws a new `current`:
//    from then on the dirty-zone map holds every change since `bitmap`.
//  - bitmap: the generation the dirty-zone map starts from (0: no map open).
//  - history: older currents, newest first.
// 0 means "none". A node that never held data has current 0.
#ifndef DUET_ENGINE_REPLICATION_GENERATIONS_H_
#define DUET_ENGINE_REPLICATION_GENERATIONS_H_

#include <array>
#include <cstdint>

namespace duet {

struct Generations {
  uint64_t current = 0;
  uint64_t bitmap = 0;
  std::array<uint64_t, 2> history{};
  friend bool operator==(const Generations&, const Generations&) = default;
};

enum class SyncDecision : uint8_t {
  kInSync,        // same current: nothing to copy (beyond crash leftovers in activity logs)
  kSelfIsSource,  // the peer's data is where ours was when our dirty map opened
  kPeerIsSource,
  kSplitBrain,  // both wrote alone since a generation both held
  kUnrelated,   // no common generation this side can prove: an admin must decide
};

const char* SyncDecisionName(SyncDecision decision);

// Pure and symmetric: Decide(a, b) mirrors Decide(b, a).
SyncDecision Decide(const Generations& self, const Generations& peer);

// A primary starts writing without its peer: open the dirty map (if not open) and move on.
void StartTracking(Generations& gens, uint64_t new_current);

}  // namespace duet

#endif  // DUET_ENGINE_REPLICATION_GENERATIONS_H_
