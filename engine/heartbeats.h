// The heartbeat exchange with the peer (DESIGN.md §6), apart from what the heartbeats carry.
//  - Each heartbeat is stamped (incarnation, seq): only one newer than the newest accepted is
//    news. The same heartbeat arrives once per link, and each copy proves its link works.
//  - A peer whose state was wiped (a replaced machine) starts over at incarnation 1, seq 1,
//    below what was accepted from its earlier run. Its heartbeat is news all the same once it
//    echoes a send time of ours later than both the newest echo accepted and our newest send
//    time when we began to follow the run we follow: no run we left can have heard that.
//    Within a run echoes only grow, so a heartbeat of the incarnation followed that echoes
//    less than the newest accepted is a left run's, whatever its seq, and is not news. (A
//    left run of a higher incarnation, one from before a wipe, would still be: the transport
//    must not deliver a run's heartbeats after a newer run's, which the daemon's datagram
//    authentication ensures and the simulator, which wipes no state, never does.) An echo of
//    a time we never sent in this run (before our first heartbeat, after our newest) is none.
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
  // `echo_sent_at_ns` if it names a time we sent in this run, else -1.
  int64_t OwnEcho(int64_t echo_sent_at_ns) const;

  const NodeIndex self_;
  const uint64_t incarnation_;
  const absl::Duration interval_;
  uint64_t next_seq_ = 1;
  absl::Time next_at_ = absl::InfinitePast();
  int64_t first_sent_at_ns_ = -1;
  int64_t last_sent_at_ns_ = -1;
  // The peer's newest accepted heartbeat.
  uint64_t peer_incarnation_ = 0;
  uint64_t peer_seq_ = 0;
  int64_t peer_sent_at_ns_ = -1;
  int64_t peer_echo_ns_ = -1;  // OwnEcho of the peer's newest accepted heartbeat
  int64_t run_floor_ns_ = -1;  // last_sent_at_ns_ when we began to follow the peer's run
};

}  // namespace duet

#endif  // DUET_ENGINE_HEARTBEATS_H_
