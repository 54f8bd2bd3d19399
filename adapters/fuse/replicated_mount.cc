#include "adapters/fuse/replicated_mount.h"

#include "adapters/fuse/mount_core.h"

namespace duet {

ReplicatedMount::ReplicatedMount(ReplicatedMountOptions options, MutationSink on_mutation)
    : core_(std::make_unique<MountCore>(std::move(options), std::move(on_mutation))) {}

ReplicatedMount::~ReplicatedMount() { core_->Unmount(); }

absl::Status ReplicatedMount::Mount() { return core_->Mount(); }
void ReplicatedMount::Unmount() { core_->Unmount(); }
bool ReplicatedMount::mounted() const { return core_->mounted(); }
void ReplicatedMount::SetWritable(bool writable) { core_->SetWritable(writable); }
bool ReplicatedMount::writable() const { return core_->writable(); }

absl::Status ReplicatedMount::Complete(uint64_t op_id, absl::Status status) {
  return core_->Complete(op_id, std::move(status));
}

}  // namespace duet
