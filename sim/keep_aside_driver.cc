#include "sim/keep_aside_driver.h"

#include "absl/strings/str_cat.h"
#include "engine/replication/mutation.h"

namespace duet::sim {

absl::Status KeepAsideDriver::Preserve(NodeIndex n, const PreserveDivergent& keep, bool disk_full) {
  if (keep.paths.empty()) {  // the engine's mark after a failure: the stop ends
    stopped_[n].erase(keep.module);
    return absl::OkStatus();
  }
  absl::Status status;
  if (failing_[n]) {
    status = absl::PermissionDeniedError("EACCES: permission denied (preserve (mkdir) divergent)");
  } else if (disk_full) {
    status = absl::ResourceExhaustedError("ENOSPC: no space left on device (preserve (copy))");
  }
  if (status.ok()) {
    stopped_[n].erase(keep.module);
    unkept_[n].erase(keep.module);
  } else {
    ++failures_;
    stopped_[n].insert(keep.module);
    unkept_[n].insert(keep.module);
  }
  return status;
}

std::optional<std::string> KeepAsideDriver::CheckApply(NodeIndex n, ModuleIndex m,
                                                       const ApplyMutation& apply,
                                                       bool writable) const {
  if (!unkept_[n].contains(m) || writable || apply.mutation.kind == MutationKind::kFsync) {
    return std::nullopt;
  }
  return absl::StrCat(MutationKindName(apply.mutation.kind), " ", apply.mutation.path,
                      " carried out on a copy whose divergent branch could not be kept aside");
}

}  // namespace duet::sim
