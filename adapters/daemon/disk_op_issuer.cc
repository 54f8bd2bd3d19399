#include "adapters/daemon/disk_op_issuer.h"

#include <utility>

#include "adapters/daemon/module_layout.h"
#include "engine/inputs.h"

namespace duet::daemon {

absl::Status DiskOpIssuer::Apply(const ApplyMutation& apply, size_t directory_count) {
  // The mounts name only paths beneath the module's directories; the peer must too.
  absl::Status refused = CheckMutationWithinDirectories(apply.mutation, directory_count);
  if (refused.ok()) {
    HandOn(apply);
  } else {
    // Not carried out, so nothing changed: a refusal (engine/inputs.h).
    HandOn(store::RefusedApply{apply.module, apply.apply_id, AsRefusal(refused)});
  }
  return refused;
}

void DiskOpIssuer::HandOn(store::DiskOp op) {
  if (held_.empty() && !store::ModuleIoQueue::IsQuick(op)) {
    queue_.Submit(std::move(op));
  } else {
    held_.push_back(std::move(op));
  }
}

void DiskOpIssuer::EndStep() {
  std::vector<store::DiskOp> held;
  held.swap(held_);
  for (store::DiskOp& op : held) queue_.RunHereOrSubmit(std::move(op));
}

}  // namespace duet::daemon
