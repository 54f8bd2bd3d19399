// What an admin verb (`duetctl start|stop|restart|swap|prim|second|discard`) does to one
// module on this node, or why it is refused (DESIGN.md §7), from facts alone.
//  - start: runs the module here again (clears an admin stop and a failure).
//  - stop: stops it here (persisted); the peer may keep or take it.
//  - restart: restarts the application in place; refused while a script runs.
//  - swap / second / prim: move the module. Towards the peer: only to an up-to-date
//    secondary. Towards this node: as owner, only with up-to-date data (or --force); with
//    the peer alive, asked of the peer (a SwapRequest) if this node is an up-to-date
//    secondary; with the peer lost, claimed here (up-to-date data, or --force).
//  - discard: this copy gives up its divergent changes (the data-state source answers).
// A refusal changes nothing and says why, prefixed with the module's name.
#ifndef DUET_ENGINE_ADMIN_VERBS_H_
#define DUET_ENGINE_ADMIN_VERBS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/inputs.h"
#include "engine/types.h"

namespace duet {

struct AdminFacts {
  AdminVerb verb = AdminVerb::kStart;
  bool force = false;
  absl::string_view module = {};  // its name, for the replies
  bool owner = false;             // this node owns the module
  bool peer_alive = false;
  bool peer_eligible = false;  // the peer is an up-to-date secondary (see PeerEligible)
  bool self_eligible = false;  // this node is an up-to-date secondary (see SelfEligible)
  DataState data = DataState::kUnknown;
  bool data_allows_primary = false;  // up to date, or an earlier force
  bool busy = false;                 // a script is running
};

// What to do, in this order, then reply `status` (unless `discard`: the source replies).
struct AdminPlan {
  absl::Status status;        // the reply: OK, or the refusal (then nothing else is set)
  bool stop = false;          // admin stop: persisted; drops an admin claim
  bool run_here = false;      // clear an admin stop (persisted), the failure, the budget
  bool restart_app = false;   // restart the application in its role
  bool hand_to_peer = false;  // begin a handover to the peer, pinned there
  bool take_here = false;     // as owner: keep the module here, end a handover; force if asked
  bool ask_peer = false;      // send the peer a SwapRequest for the module
  bool claim = false;         // take over from the lost peer (with a witness: with the lease)
  bool discard = false;
};

AdminPlan PlanAdmin(const AdminFacts& facts);

}  // namespace duet

#endif  // DUET_ENGINE_ADMIN_VERBS_H_
