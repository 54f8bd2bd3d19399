#include "engine/lease_client.h"

#include <algorithm>

namespace duet {

std::optional<LeaseRequest> LeaseClient::RequestIfDue(absl::Time now, NodeIndex self,
                                                      const std::string& module,
                                                      uint64_t& next_request_id) {
  if (now < next_request_at_) return std::nullopt;
  LeaseRequest request{self, module, next_request_id++};
  sent_[next_slot_] = Sent{request.request_id, now};
  next_slot_ = (next_slot_ + 1) % sent_.size();
  next_request_at_ = now + renew_interval_;
  return request;
}

void LeaseClient::OnReply(const LeaseReply& reply) {
  auto it = std::find_if(sent_.begin(), sent_.end(),
                         [&](const Sent& s) { return s.id == reply.request_id && s.id != 0; });
  if (it == sent_.end()) return;
  if (!reply.granted) {
    refused_by_ = reply.holder;
    return;
  }
  refused_by_.reset();
  const absl::Time until = it->at + absl::Nanoseconds(reply.duration_ns) - drift_margin_;
  valid_until_ = std::max(valid_until_, until);
}

void LeaseClient::Drop() {
  valid_until_ = absl::InfinitePast();
  next_request_at_ = absl::InfinitePast();
  refused_by_.reset();
  sent_ = {};
}

}  // namespace duet
