#include "engine/write_authority.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace duet {

absl::Time PeerAckUntil(absl::Time now, int64_t echo_sent_at_ns, absl::Duration heartbeat_timeout,
                        absl::Duration drift_margin) {
  // The peer heard us at or after `echo` (our clock): it will not declare us lost before
  // echo + timeout, so its acknowledgement lets us write until then, less the drift margin.
  const absl::Time echo =
      echo_sent_at_ns >= 0 ? absl::FromUnixNanos(echo_sent_at_ns) : absl::InfinitePast();
  return echo <= now ? echo + heartbeat_timeout - drift_margin : absl::InfinitePast();
}

bool WantsLease(bool owner, bool primary, bool awaiting_authority, bool peer_alive) {
  return (owner && (primary || awaiting_authority)) || (!owner && !peer_alive);
}

WriteAuthority::WriteAuthority(const std::optional<WitnessConfig>& witness)
    : required_(witness.has_value()),
      lease_(witness ? witness->renew_interval : absl::Seconds(1),
             witness ? witness->drift_margin : absl::ZeroDuration()) {}

bool WriteAuthority::Has(absl::Time now) const {
  if (!required_) return true;
  return now < peer_ack_until_ || lease_.Valid(now);
}

bool WriteAuthority::Acknowledged(absl::Time until) {
  if (until <= peer_ack_until_) return false;
  peer_ack_until_ = until;
  return required_;
}

absl::Time WriteAuthority::NextDeadline(bool writing_as_owner, bool wants_lease) const {
  absl::Time next = absl::InfiniteFuture();
  if (!required_) return next;
  if (writing_as_owner) next = std::max(peer_ack_until_, lease_.valid_until());  // fence then
  if (wants_lease) next = std::min(next, lease_.next_request_at());
  return next;
}

std::string WriteAuthority::OwnerWaitReason(NodeIndex self,
                                            const std::vector<NodeConfig>& nodes) const {
  if (lease_.refused_as_outdated()) {
    // Not a lease the peer holds: a record that this copy lacks what the peer wrote alone.
    return absl::StrCat("the witness records this copy as outdated (",
                        nodes[*lease_.refused_by()].name, " wrote without it)");
  }
  return lease_.refused_by() ? Refusal(self, nodes)
                             : "waiting for the peer's acknowledgement or the witness lease";
}

std::string WriteAuthority::TakeoverWaitReason(NodeIndex self,
                                               const std::vector<NodeConfig>& nodes) const {
  if (lease_.refused_as_outdated()) {
    return absl::StrCat("peer lost; the witness records this copy as outdated (",
                        nodes[*lease_.refused_by()].name,
                        " wrote without it); duetctl prim --force takes over anyway");
  }
  return lease_.refused_by() ? "peer lost; " + Refusal(self, nodes)
                             : "peer lost; waiting for the witness lease";
}

std::string WriteAuthority::Refusal(NodeIndex self, const std::vector<NodeConfig>& nodes) const {
  // The witness names the requester itself only while it grants nothing: it restarted and
  // waits out any lease it may have granted before.
  if (*lease_.refused_by() == self) {
    return "the witness grants no lease yet (it restarted and waits out the leases it may "
           "have granted)";
  }
  return absl::StrCat("lost arbitration: the witness lease is held by ",
                      nodes[*lease_.refused_by()].name);
}

}  // namespace duet
