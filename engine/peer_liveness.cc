#include "engine/peer_liveness.h"

#include <algorithm>
#include <cassert>

namespace duet {

PeerLiveness::PeerLiveness(int links, absl::Duration timeout, absl::Time start)
    : timeout_(timeout), last_heard_(static_cast<size_t>(std::max(links, 1)), start) {}

void PeerLiveness::Heard(int link, absl::Time now) {
  if (link < 0 || link >= links()) return;
  last_heard_[link] = std::max(last_heard_[link], now);
}

absl::Time PeerLiveness::LostAt() const {
  return *std::max_element(last_heard_.begin(), last_heard_.end()) + timeout_;
}

}  // namespace duet
