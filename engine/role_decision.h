// Which role a module's application should take on this node, from facts alone (DESIGN.md §3).
// Node gathers the facts, carries the decision out (logs, token moves, fences) and drives
// the ModuleRunner toward the target role.
//  - Owner: primary while its data allows (up to date, or an admin forced it), it is neither
//    stopped nor failed, and with a witness it has authority. It hands the module over to an
//    eligible peer when it must leave (stopped, failed, data not up to date, the peer's copy
//    survived a split brain), when an admin asks, or for automatic failback. It demotes
//    fully first and passes the token only once its stream is drained: never two writers.
//    An admin's handover whose peer stops being eligible before the token passes waits
//    (this node serving meanwhile) and goes on once the peer is eligible again.
//  - Non-owner: secondary while the peer lives. With the peer lost it claims the module if
//    failover is on (or an admin asked), its data allows, and with a witness it holds the lease.
// Also here: the eligibility each side sees in the other, and the state status shows.
#ifndef DUET_ENGINE_ROLE_DECISION_H_
#define DUET_ENGINE_ROLE_DECISION_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "engine/messages.h"
#include "engine/module_runner.h"
#include "engine/types.h"

namespace duet {

// A copy may serve as primary: known up to date, or an admin forced it.
inline bool DataAllowsPrimary(DataState data, bool forced) {
  return data == DataState::kUpToDate || forced;
}

// This node could take the module over: it runs as an up-to-date secondary, idle.
bool SelfEligible(bool admin_stopped, bool failed, DataState data, AppRole role, bool busy);

// The peer could take the module over from us: alive, eligible, up to date, at our term.
// Not if this copy acknowledged writes alone since the pair was last in sync (`alone_acked`):
// the peer lacks them whatever it says; unless the handshake chose the peer's copy
// (`peer_copy_chosen`: it survives a split brain, or a resync from it into ours runs).
bool PeerEligible(bool peer_alive, const std::optional<ModuleView>& peer, uint64_t term,
                  bool alone_acked, bool peer_copy_chosen);

struct OwnerFacts {
  AppRole role = AppRole::kNone;  // the role the application holds now
  bool busy = false;              // the runner is between roles
  bool admin_stopped = false;
  bool failed = false;  // the application failed here beyond its budget
  absl::string_view failed_reason = {};
  DataState data = DataState::kUnknown;
  bool forced = false;  // an admin forced promotion despite the data
  bool pinned = false;  // an admin placed the module here: no automatic failback
  bool failback_auto = false;
  bool default_primary_here = false;
  bool peer_eligible = false;
  bool peer_copy_survives = false;  // the handshake chose the peer's copy (split brain)
  bool resync_target = false;       // a resync overwrites this copy
  bool peer_alive = false;
  // A heartbeat has told this node the peer's view of the module since this node started:
  // until then a live peer may hold the module at a newer term than the persisted token.
  bool peer_view_known = false;
  bool handoff = false;           // a handover to the peer is in progress
  bool handoff_by_admin = false;  // ... because an admin asked for it
  // An admin's handover waits for the peer to be an up-to-date secondary again; this node
  // serves meanwhile.
  bool handoff_deferred = false;
  bool peer_stopped = false;  // the peer shows the module stopped by its admin
  // This copy's data handshake with the peer is under way (connected, Hellos not decided):
  // a copy still unknown then is not known bad, only not decided yet.
  bool handshake_pending = false;
  bool leaving_for_peer_copy = false;
  bool witness = false;
  bool has_authority = true;
  // This copy stepped down fenced for want of authority: it is current unless the peer took
  // over meanwhile, which the returning authority tells (engine/node.h). It waits for that
  // rather than hand the module to a peer it may not reach.
  bool fenced_possibly_current = false;
};

struct OwnerDecision {
  AppRole target = AppRole::kNone;
  std::string reason;                   // why not primary
  bool awaiting_authority = false;      // ... because neither acknowledgement nor lease holds
  bool begin_failback = false;          // start a handover: the default primary is back
  bool begin_leaving_for_peer = false;  // first seen: the peer's copy survives, go to it
  bool cancel_handoff = false;          // the peer is no longer an up-to-date secondary
  // An admin's handover whose peer is no longer an up-to-date secondary (its copy needs a
  // resync, it is changing roles) is not dropped: it waits, this node serving meanwhile, and
  // resumes once the peer is eligible again. Only the peer's loss or its admin stop drop it.
  bool defer_handoff = false;
  bool resume_handoff = false;
  bool drop_deferred_handoff = false;
  bool handoff_waits = false;      // a deferred handover still waits after this decision
  bool fail_held_writes = false;   // writes held for an outdate die with this copy
  bool pass_when_drained = false;  // demoted: pass the token once the stream drained
  bool request_lease = false;      // keep the lease fresh to outlive a partition
};

OwnerDecision DecideAsOwner(const OwnerFacts& facts);

struct NonOwnerFacts {
  bool admin_stopped = false;
  bool failed = false;
  absl::string_view failed_reason = {};
  bool peer_alive = false;
  bool failover = true;      // the module's failover setting
  bool admin_claim = false;  // an admin asked to take over from a lost peer
  DataState data = DataState::kUnknown;
  bool forced = false;
  bool witness = false;
  bool lease_valid = false;
};

struct NonOwnerDecision {
  AppRole target = AppRole::kNone;
  std::string reason;
  bool awaiting_lease = false;  // waits for the witness lease to take over
  bool request_lease = false;
  bool claim = false;  // take the module over, then decide as its owner
};

NonOwnerDecision DecideAsNonOwner(const NonOwnerFacts& facts);

// The state status shows for a module, and its reason (filled in for WAIT).
struct ShownState {
  ModuleState state = ModuleState::kWait;
  std::string reason;
};

// `replicated`: the peer is alive, an up-to-date SECOND, and follows our writes.
ShownState ShowState(AppRole role, bool writable, bool replicated, bool admin_stopped, bool busy,
                     std::string reason);

}  // namespace duet

#endif  // DUET_ENGINE_ROLE_DECISION_H_
