// Heartbeat failure detection over several links: the peer is lost only when every link has
// been silent for heartbeat.timeout. Until a link is first heard, it counts as heard at
// start-up, so a node that just booted gives its peer one full timeout before failing over.
#ifndef DUET_ENGINE_PEER_LIVENESS_H_
#define DUET_ENGINE_PEER_LIVENESS_H_

#include <vector>

#include "absl/time/time.h"

namespace duet {

class PeerLiveness {
 public:
  PeerLiveness(int links, absl::Duration timeout, absl::Time start);

  // Traffic from the peer arrived on `link` (out-of-range links are ignored).
  void Heard(int link, absl::Time now);
  bool Alive(absl::Time now) const { return now < LostAt(); }
  // When the peer will be declared lost if nothing more is heard.
  absl::Time LostAt() const;
  absl::Time LastHeard(int link) const { return last_heard_[link]; }
  // Traffic came on `link` within the timeout (a silent link of a live peer: a degraded pair).
  bool LinkHeard(int link, absl::Time now) const { return now - last_heard_[link] < timeout_; }
  int links() const { return static_cast<int>(last_heard_.size()); }

 private:
  absl::Duration timeout_;
  std::vector<absl::Time> last_heard_;
};

}  // namespace duet

#endif  // DUET_ENGINE_PEER_LIVENESS_H_
