// A node's authority to write one module, and when it must fence (DESIGN.md §6).
//
// With a witness, the owner writes only while it has authority: its peer acknowledges it as
// owner at the current term, or it holds an unexpired witness lease. The peer's
// acknowledgement lasts until (our heartbeat it echoed) + heartbeat.timeout - drift margin:
// the peer cannot declare us lost before that. A writer whose authority ends fences at once
// (writes frozen, VIP released), so it has stopped before the lease can expire at the
// witness and the peer take over. A secondary takes over only with the lease. Without a
// witness every owner has authority: a partition is then the split brain generations catch.
#ifndef DUET_ENGINE_WRITE_AUTHORITY_H_
#define DUET_ENGINE_WRITE_AUTHORITY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "engine/config.h"
#include "engine/lease_client.h"
#include "engine/types.h"

namespace duet {

// How far the peer's acknowledgement in a heartbeat carries, on our clock: `echo_sent_at_ns`
// is our heartbeat the peer had heard (-1: none), `now` when its answer arrived.
absl::Time PeerAckUntil(absl::Time now, int64_t echo_sent_at_ns, absl::Duration heartbeat_timeout,
                        absl::Duration drift_margin);

// Whether the node keeps a module's lease fresh: as its primary owner (to outlive a
// partition), as an owner that waits for authority to serve (a fenced owner whose copy is
// still current serves again once granted), or as a non-owner whose peer is lost (to take
// over).
bool WantsLease(bool owner, bool primary, bool awaiting_authority, bool peer_alive);

class WriteAuthority {
 public:
  explicit WriteAuthority(const std::optional<WitnessConfig>& witness);

  // Whether authority is needed at all: a witness is configured.
  bool required() const { return required_; }
  // Whether this node may write now (always, without a witness).
  bool Has(absl::Time now) const;
  // Whether the peer's acknowledgement (not the lease) gives it.
  bool AcknowledgedAt(absl::Time now) const { return required_ && now < peer_ack_until_; }
  // A writer without authority must fence now.
  bool MustFence(absl::Time now, bool writable) const { return writable && !Has(now); }
  // The peer acknowledged us as owner until `until`. Returns whether a fencing deadline moved
  // (never, without a witness).
  bool Acknowledged(absl::Time until);
  // The acknowledgement no longer holds (the term or owner changed).
  void ForgetAck() { peer_ack_until_ = absl::InfinitePast(); }
  // When the node must look again: the fence while it writes as owner, the next lease request
  // if it wants one. InfiniteFuture without a witness.
  absl::Time NextDeadline(bool writing_as_owner, bool wants_lease) const;

  LeaseClient& lease() { return lease_; }
  const LeaseClient& lease() const { return lease_; }

  // Why an owner waits without authority. `nodes` names the nodes.
  std::string OwnerWaitReason(NodeIndex self, const std::vector<NodeConfig>& nodes) const;
  // Why a secondary whose peer is lost waits without the lease.
  std::string TakeoverWaitReason(NodeIndex self, const std::vector<NodeConfig>& nodes) const;

 private:
  // Why the witness refused the last request (it did: lease().refused_by() is set).
  std::string Refusal(NodeIndex self, const std::vector<NodeConfig>& nodes) const;

  bool required_;
  LeaseClient lease_;
  absl::Time peer_ack_until_ = absl::InfinitePast();
};

}  // namespace duet

#endif  // DUET_ENGINE_WRITE_AUTHORITY_H_
