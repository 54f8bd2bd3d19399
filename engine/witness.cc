#include "engine/witness.h"

namespace duet {

LeaseReply Witness::Handle(absl::Time now, const LeaseRequest& request) {
  LeaseReply reply;
  reply.module = request.module;
  reply.request_id = request.request_id;
  auto it = leases_.find(request.module);
  const bool held_by_other =
      it != leases_.end() && it->second.holder != request.from && now < it->second.expires;
  if (request.forced) outdated_.erase(request.module);
  auto outdated = outdated_.find(request.module);
  const bool requester_outdated = outdated != outdated_.end() && outdated->second == request.from;
  if (now < grants_from_ || held_by_other || requester_outdated) {
    reply.granted = false;
    reply.holder = it != leases_.end() ? it->second.holder : request.from;
    if (requester_outdated) {
      reply.holder = static_cast<NodeIndex>(1 - request.from);
      reply.outdate_recorded = true;
    }
    return reply;
  }
  leases_[request.module] = Lease{request.from, now + lease_};
  if (request.peer_outdated) {
    outdated_[request.module] = static_cast<NodeIndex>(1 - request.from);
  } else {
    outdated_.erase(request.module);
  }
  reply.granted = true;
  reply.holder = request.from;
  reply.duration_ns = absl::ToInt64Nanoseconds(lease_);
  reply.outdate_recorded = request.peer_outdated;
  return reply;
}

std::optional<NodeIndex> Witness::HolderAt(absl::Time now, const std::string& module) const {
  auto it = leases_.find(module);
  if (it == leases_.end() || now >= it->second.expires) return std::nullopt;
  return it->second.holder;
}

}  // namespace duet
