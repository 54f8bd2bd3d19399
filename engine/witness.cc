#include "engine/witness.h"

#include <algorithm>

namespace duet {

void ApplyOutdateRecord(WitnessDurableState& state, const OutdateRecord& record) {
  if (record.outdated) {
    state[record.key] = *record.outdated;
  } else {
    state.erase(record.key);
  }
}

Witness::Witness(absl::Duration lease, absl::Time started_at, WitnessDurableState outdated)
    : lease_(lease),
      grants_from_(started_at + lease),
      // Distinct for each start of the witness (its clock moves on); never 0, which a reply
      // from an older build reads as.
      run_(std::max<uint64_t>(1, static_cast<uint64_t>(absl::ToUnixNanos(started_at)))),
      outdated_(std::move(outdated)) {}

WitnessAnswer Witness::Handle(absl::Time now, const LeaseRequest& request) {
  WitnessAnswer answer;
  LeaseReply& reply = answer.reply;
  reply.module = request.module;
  reply.cluster = request.cluster;
  reply.request_id = request.request_id;
  reply.witness_run = run_;
  const WitnessKey key{request.cluster, request.module};
  auto it = leases_.find(key);
  if (it != leases_.end()) reply.peer_grants = it->second.grants_to[1 - request.from];
  const bool held_by_other =
      it != leases_.end() && it->second.holder != request.from && now < it->second.expires;
  // Every change of the outdate record goes into the answer, to be persisted.
  auto set_outdated = [&](std::optional<NodeIndex> node) {
    auto current = outdated_.find(key);
    const std::optional<NodeIndex> before =
        current == outdated_.end() ? std::nullopt : std::optional<NodeIndex>(current->second);
    if (before == node) return;
    answer.persist = OutdateRecord{key, node};
    ApplyOutdateRecord(outdated_, *answer.persist);
  };
  if (request.release) {
    // Only the record naming the sender's peer is the sender's to clear. The lease stays as
    // it is: a late release must never end a lease its sender was granted after sending it.
    auto current = outdated_.find(key);
    if (current != outdated_.end() && current->second != request.from) set_outdated(std::nullopt);
    reply.granted = false;
    reply.holder = held_by_other ? it->second.holder : request.from;
    return answer;
  }
  if (request.forced) set_outdated(std::nullopt);
  auto outdated = outdated_.find(key);
  const bool requester_outdated = outdated != outdated_.end() && outdated->second == request.from;
  if (now < grants_from_ || held_by_other || requester_outdated) {
    reply.granted = false;
    reply.holder = it != leases_.end() ? it->second.holder : request.from;
    if (requester_outdated) {
      reply.holder = static_cast<NodeIndex>(1 - request.from);
      reply.outdate_recorded = true;
    }
    return answer;
  }
  Lease& lease = leases_[key];
  lease.holder = request.from;
  lease.expires = now + lease_;
  ++lease.grants_to[request.from];
  set_outdated(request.peer_outdated ? std::optional<NodeIndex>(1 - request.from) : std::nullopt);
  reply.granted = true;
  reply.holder = request.from;
  reply.duration_ns = absl::ToInt64Nanoseconds(lease_);
  reply.outdate_recorded = request.peer_outdated;
  return answer;
}

std::optional<NodeIndex> Witness::HolderAt(absl::Time now, const WitnessKey& key) const {
  auto it = leases_.find(key);
  if (it == leases_.end() || now >= it->second.expires) return std::nullopt;
  return it->second.holder;
}

}  // namespace duet
