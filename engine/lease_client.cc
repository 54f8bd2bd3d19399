#include "engine/lease_client.h"

#include <algorithm>

namespace duet {

std::optional<LeaseRequest> LeaseClient::RequestIfDue(absl::Time now, NodeIndex self,
                                                      const std::string& cluster,
                                                      const std::string& module,
                                                      uint64_t& next_request_id, bool peer_outdated,
                                                      bool forced) {
  // News for the witness goes at once: writes made alone wait for its record.
  const bool news = peer_outdated != last_sent_outdated_;
  if (now < next_request_at_ && !news) return std::nullopt;
  if (!peer_outdated) outdate_recorded_ = false;
  if (peer_outdated) release_pending_ = true;
  last_sent_outdated_ = peer_outdated;
  LeaseRequest request{self, module, next_request_id++, peer_outdated, forced, cluster};
  sent_[next_slot_] = Sent{request.request_id, now, peer_outdated};
  next_slot_ = (next_slot_ + 1) % sent_.size();
  next_request_at_ = now + renew_interval_;
  return request;
}

std::optional<LeaseRequest> LeaseClient::ReleaseIfDue(absl::Time now, NodeIndex self,
                                                      const std::string& cluster,
                                                      const std::string& module,
                                                      uint64_t& next_request_id) {
  if (!release_pending_ || now < next_release_at_) return std::nullopt;
  LeaseRequest request{self, module, next_request_id++, false, false, cluster, /*release=*/true};
  sent_[next_slot_] = Sent{request.request_id, now, false, /*release=*/true};
  next_slot_ = (next_slot_ + 1) % sent_.size();
  next_release_at_ = now + renew_interval_;
  return request;
}

void LeaseClient::OnReply(const LeaseReply& reply) {
  auto it = std::find_if(sent_.begin(), sent_.end(),
                         [&](const Sent& s) { return s.id == reply.request_id && s.id != 0; });
  if (it == sent_.end()) return;
  last_mark_ = WitnessMark{reply.witness_run, reply.peer_grants};
  if (it->release) {
    // Answered only once the witness's record is cleared (it persists before replying), or
    // it named no stale record. Unless we said "outdated" again since.
    if (!last_sent_outdated_) release_pending_ = false;
    return;
  }
  if (!reply.granted) {
    refused_by_ = reply.holder;
    refused_as_outdated_ = reply.outdate_recorded;
    return;
  }
  refused_by_.reset();
  refused_as_outdated_ = false;
  grant_mark_ = last_mark_;
  if (!it->peer_outdated && !last_sent_outdated_) release_pending_ = false;  // cleared on grant
  // Only a grant of a request that carried the outdate (the latest news) records it.
  if (it->peer_outdated && last_sent_outdated_) outdate_recorded_ = reply.outdate_recorded;
  const absl::Time until = it->at + absl::Nanoseconds(reply.duration_ns) - drift_margin_;
  valid_until_ = std::max(valid_until_, until);
}

void LeaseClient::Drop() {
  valid_until_ = absl::InfinitePast();
  next_request_at_ = absl::InfinitePast();
  refused_by_.reset();
  outdate_recorded_ = false;
  refused_as_outdated_ = false;
  last_sent_outdated_ = false;
  sent_ = {};
  grant_mark_ = {};
}

}  // namespace duet
