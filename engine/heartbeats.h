// The heartbeat exchange with the peer (DESIGN.md §6), apart from what the heartbeats carry.
//  - Each heartbeat is stamped (incarnation, seq): only one newer than the newest accepted is
//    news. The same heartbeat arrives once per link, and each copy proves its link works.
//  - Each heartbeat echoes the send time of the newest one heard from the peer (the peer's
//    clock), so the peer can bound how long our acknowledgement lets it write.
//  - One goes every heartbeat.interval less a random jitter of up to a tenth of it, which
//    keeps the two nodes' heartbeats from falling into lockstep; the caller sends one sooner
//    when it has news.
#ifndef DUET_ENGINE_HEARTBEATS_H_
#define DUET_ENGINE_HEARTBEATS_H_

#include <cstdint>

#include "absl/time/time.h"
#include "engine/messages.h"
#include "engine/rng.h"
#include "engine/types.h"

namespace duet {

class Heartbeats {
 public:
  Heartbeats(NodeIndex self, uint64_t incarnation, absl::Duration interval)
      : self_(self), incarnation_(incarnation), interval_(interval) {}

  struct Received {
    bool proves_link = false;     // newer, or a copy of the newest on another link
    bool news = false;            // newer than any accepted: act on it
    bool peer_restarted = false;  // ... and from a new incarnation of a peer heard before
  };
  // A heartbeat from the peer; a newer one is accepted (its send time is echoed from now on).
  Received Receive(const Heartbeat& hb);

  // A heartbeat to send at `now`, stamped, without modules; the next is due an interval less
  // jitter (drawn from `rng`) later.
  Heartbeat Stamp(absl::Time now, Rng& rng);
  // When the next heartbeat is due (InfinitePast before the first).
  absl::Time next_at() const { return next_at_; }

 private:
  const NodeIndex self_;
  const uint64_t incarnation_;
  const absl::Duration interval_;
  uint64_t next_seq_ = 1;
  absl::Time next_at_ = absl::InfinitePast();
  // The peer's newest accepted heartbeat.
  uint64_t peer_incarnation_ = 0;
  uint64_t peer_seq_ = 0;
  int64_t peer_sent_at_ns_ = -1;
};

}  // namespace duet

#endif  // DUET_ENGINE_HEARTBEATS_H_
