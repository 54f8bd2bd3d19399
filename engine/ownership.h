// Ownership of a module: the token (term, owner) that says which node may be primary
// (DESIGN.md §3, §6). Only the owner at the highest term known may be primary.
//  - While the peers see each other the token moves only by handoff: the owner demotes fully,
//    then passes (term + 1, peer) (HandedTo).
//  - A node that lost its peer claims (term + 1, self) (Claimed); a primary that goes on alone
//    moves to term + 1 (ContinuedAlone), so that claims made on both sides of a partition meet
//    at one term and are seen as a split brain when the peers meet again.
//  - Tokens meet in heartbeats (Merge): the higher term wins; equal terms with different
//    owners mean both sides claimed, and the module's default primary keeps it. Both nodes
//    apply the same rule, so they agree without another round trip.
// Pure functions on PersistedModule: the caller persists a changed token before acting on it.
#ifndef DUET_ENGINE_OWNERSHIP_H_
#define DUET_ENGINE_OWNERSHIP_H_

#include <cstdint>

#include "engine/actions.h"
#include "engine/messages.h"
#include "engine/types.h"

namespace duet {

enum class TokenMerge : uint8_t {
  kKept,         // the peer's token is not newer than ours
  kPeerNewer,    // the peer's term is higher: its token is ours now
  kBothClaimed,  // same term, different owners: the default primary keeps the module
};

struct MergedToken {
  TokenMerge merge = TokenMerge::kKept;
  PersistedModule token;
};

// Our token after hearing the peer's view of the module.
MergedToken Merge(const PersistedModule& mine, const ModuleView& peer, NodeIndex default_primary);

// `self` takes the module over (the peer is lost, or an admin asked with `pinned`).
PersistedModule Claimed(PersistedModule token, NodeIndex self, bool pinned);
// The owner passes the module to `peer`, once demoted and drained (`pinned` if by the admin).
PersistedModule HandedTo(PersistedModule token, NodeIndex peer, bool pinned);
// The owner goes on as primary without its peer.
PersistedModule ContinuedAlone(PersistedModule token);

// Both nodes name the same owner at the same term.
bool Agree(const PersistedModule& mine, const ModuleView& peer);
// The peer acknowledges `self` as the owner at our term.
bool AcknowledgesOwner(const PersistedModule& mine, const ModuleView& peer, NodeIndex self);

}  // namespace duet

#endif  // DUET_ENGINE_OWNERSHIP_H_
