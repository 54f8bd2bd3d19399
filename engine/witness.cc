#include "engine/witness.h"

namespace duet {

LeaseReply Witness::Handle(absl::Time now, const LeaseRequest& request) {
  LeaseReply reply;
  reply.module = request.module;
  reply.request_id = request.request_id;
  auto it = leases_.find(request.module);
  const bool held_by_other =
      it != leases_.end() && it->second.holder != request.from && now < it->second.expires;
  if (now < grants_from_ || held_by_other) {
    reply.granted = false;
    reply.holder = it != leases_.end() ? it->second.holder : request.from;
    return reply;
  }
  leases_[request.module] = Lease{request.from, now + lease_};
  reply.granted = true;
  reply.holder = request.from;
  reply.duration_ns = absl::ToInt64Nanoseconds(lease_);
  return reply;
}

std::optional<NodeIndex> Witness::HolderAt(absl::Time now, const std::string& module) const {
  auto it = leases_.find(module);
  if (it == leases_.end() || now >= it->second.expires) return std::nullopt;
  return it->second.holder;
}

}  // namespace duet
