// A node's side of one module's witness lease. The lease is trusted only until
// (time the request was sent) + (granted duration) - drift_margin: the witness started the
// lease after we sent, so this end is never later than the witness's, even with clocks
// drifting apart within the margin.
#ifndef DUET_ENGINE_LEASE_CLIENT_H_
#define DUET_ENGINE_LEASE_CLIENT_H_

#include <array>
#include <cstdint>
#include <optional>

#include "absl/time/time.h"
#include "engine/messages.h"

namespace duet {

// Where the witness stood when it answered: its run and the grants it had made to our peer
// (LeaseReply). Run 0: no reply carried one.
struct WitnessMark {
  uint64_t run = 0;
  uint64_t peer_grants = 0;
  friend bool operator==(const WitnessMark&, const WitnessMark&) = default;
};

class LeaseClient {
 public:
  LeaseClient(absl::Duration renew_interval, absl::Duration drift_margin)
      : renew_interval_(renew_interval), drift_margin_(drift_margin) {}

  // Returns a request to send if one is due at `now` (ids come from `next_request_id`).
  // With `peer_outdated` (we write without the peer) a request goes at once until the
  // witness has recorded the outdate.
  std::optional<LeaseRequest> RequestIfDue(absl::Time now, NodeIndex self,
                                           const std::string& cluster, const std::string& module,
                                           uint64_t& next_request_id, bool peer_outdated = false,
                                           bool forced = false);
  // A release (LeaseRequest::release) if one is due: the witness may still record our peer as
  // outdated (we said so since our last release or clearing grant, or we do not know: a
  // restart). The caller sends it only when the peer lacks nothing we acknowledged alone.
  std::optional<LeaseRequest> ReleaseIfDue(absl::Time now, NodeIndex self,
                                           const std::string& cluster, const std::string& module,
                                           uint64_t& next_request_id);
  bool release_pending() const { return release_pending_; }
  // A witness reply for this module. Replies to requests we did not send recently are ignored.
  void OnReply(const LeaseReply& reply);

  bool Valid(absl::Time now) const { return now < valid_until_; }
  absl::Time valid_until() const { return valid_until_; }
  absl::Time next_request_at() const { return next_request_at_; }
  // The holder named by the witness's last refusal, if the last reply was one.
  std::optional<NodeIndex> refused_by() const { return refused_by_; }
  // The witness's last grant recorded our peer's copy as outdated.
  bool outdate_recorded() const { return outdate_recorded_; }
  // The witness's last refusal says our copy is the outdated one.
  bool refused_as_outdated() const { return refused_as_outdated_; }
  // The mark of the last reply heard.
  WitnessMark last_mark() const { return last_mark_; }
  // The last grant came from the same run of the witness as `mark`, with our peer granted
  // nothing since: it held no lease in between, so it never took the module over.
  bool PeerGrantedNothingSince(const WitnessMark& mark) const {
    return mark.run != 0 && grant_mark_.run == mark.run &&
           grant_mark_.peer_grants == mark.peer_grants;
  }
  // Forget the lease (we stopped needing it); renewal requests stop until asked again.
  void Drop();

 private:
  struct Sent {
    uint64_t id = 0;
    absl::Time at = absl::InfinitePast();
    bool peer_outdated = false;
    bool release = false;
  };

  absl::Duration renew_interval_;
  absl::Duration drift_margin_;
  absl::Time valid_until_ = absl::InfinitePast();
  absl::Time next_request_at_ = absl::InfinitePast();
  std::optional<NodeIndex> refused_by_;
  bool outdate_recorded_ = false;
  bool refused_as_outdated_ = false;
  bool last_sent_outdated_ = false;
  // Whether the witness may record our peer as outdated on our word. Unknown at start (a
  // restart forgets what we told it): true until a release or a clearing grant is answered.
  bool release_pending_ = true;
  absl::Time next_release_at_ = absl::InfinitePast();
  // The last few requests: a late reply to any of them is still a valid grant from its send.
  std::array<Sent, 4> sent_{};
  WitnessMark last_mark_;
  WitnessMark grant_mark_;  // of the last grant
  size_t next_slot_ = 0;
};

}  // namespace duet

#endif  // DUET_ENGINE_LEASE_CLIENT_H_
