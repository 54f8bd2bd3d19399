// An admin's force and what ends it (engine/admin_force.h).
#include "engine/admin_force.h"

namespace duet {

void AdminForce::OnCommand(bool force) { counts_ = counts_ || force; }

void AdminForce::OnFence() { counts_ = false; }

void AdminForce::OnTokenNamingPeer() { counts_ = false; }

void AdminForce::OnVerdict(DataState state, bool up_to_date_ends_force) {
  if (up_to_date_ends_force && state == DataState::kUpToDate) counts_ = false;
}

}  // namespace duet
