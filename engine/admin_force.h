// An admin's force (`duetctl prim --force`) on one module, on this node: the copy may serve
// though it is not known up to date (DataAllowsPrimary in engine/role_decision.h), and this
// node's lease requests say so to the witness (which may then clear its record that this copy
// is outdated).
//
// A force is for the copy as it stood at the command, in this process. It counts from a
// command the admin verbs carried out with --force (the owner keeping the module here, or a
// claim with the peer lost) until the first of:
//  - the process ends: a force is never persisted, so a new Node starts without one;
//  - a fence: once this node stops writing, the peer may take over and acknowledge writes
//    this copy lacks, and a force kept would let a later lease request clear the witness's
//    record of exactly that;
//  - a newer ownership token naming the peer (this node handed the module over, or heard that
//    the peer took it): the peer owns the module, the force here is spent;
//  - an up-to-date verdict, where the data-state source's rules say so
//    (DataStateSource::Rules::up_to_date_ends_force): nothing is left to force.
// The simulator judges promotions by the same rule (sim/promoted_copy.h).
#ifndef DUET_ENGINE_ADMIN_FORCE_H_
#define DUET_ENGINE_ADMIN_FORCE_H_

#include "engine/types.h"

namespace duet {

class AdminForce {
 public:
  // An admin command carried out (the owner keeps the module here, or claims it): with
  // `force` it starts a force; without, an earlier force counts on.
  void OnCommand(bool force);
  void OnFence();
  // The token, newer than the one held, names the peer as owner.
  void OnTokenNamingPeer();
  // The data-state source's verdict on this copy, and whether its rules end a force at an
  // up-to-date one.
  void OnVerdict(DataState state, bool up_to_date_ends_force);

  bool counts() const { return counts_; }

 private:
  bool counts_ = false;
};

}  // namespace duet

#endif  // DUET_ENGINE_ADMIN_FORCE_H_
