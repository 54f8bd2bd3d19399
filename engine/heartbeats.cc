#include "engine/heartbeats.h"

#include <algorithm>

namespace duet {

int64_t Heartbeats::OwnEcho(int64_t echo_sent_at_ns) const {
  if (first_sent_at_ns_ < 0 || echo_sent_at_ns < first_sent_at_ns_ ||
      echo_sent_at_ns > last_sent_at_ns_) {
    return -1;
  }
  return echo_sent_at_ns;
}

Heartbeats::Received Heartbeats::Receive(const Heartbeat& hb) {
  Received received;
  const int64_t echo = OwnEcho(hb.echo_sent_at_ns);
  // Within a run echoes only grow: a same-incarnation heartbeat echoing less is a left run's.
  const bool newer =
      hb.incarnation > peer_incarnation_ ||
      (hb.incarnation == peer_incarnation_ && hb.seq > peer_seq_ && echo >= peer_echo_ns_);
  const bool proves_new_run = echo > std::max(peer_echo_ns_, run_floor_ns_);
  received.news = newer || proves_new_run;
  const bool same = hb.incarnation == peer_incarnation_ && hb.seq == peer_seq_;
  received.proves_link = received.news || same;
  if (!received.news) return received;
  // Not newer, yet news: a run that started over below the one followed (wiped state).
  const bool another_run = !newer || hb.incarnation != peer_incarnation_;
  received.peer_restarted = another_run && peer_incarnation_ != 0;
  if (another_run) run_floor_ns_ = last_sent_at_ns_;
  peer_incarnation_ = hb.incarnation;
  peer_seq_ = hb.seq;
  peer_sent_at_ns_ = hb.sent_at_ns;
  peer_echo_ns_ = echo;
  return received;
}

Heartbeat Heartbeats::Stamp(absl::Time now, Rng& rng) {
  Heartbeat hb;
  hb.from = self_;
  hb.incarnation = incarnation_;
  hb.seq = next_seq_++;
  hb.sent_at_ns = absl::ToUnixNanos(now);
  if (first_sent_at_ns_ < 0) first_sent_at_ns_ = hb.sent_at_ns;
  last_sent_at_ns_ = std::max(last_sent_at_ns_, hb.sent_at_ns);
  hb.echo_sent_at_ns = peer_sent_at_ns_;
  const int64_t interval_ns = absl::ToInt64Nanoseconds(interval_);
  next_at_ =
      now + absl::Nanoseconds(interval_ns - static_cast<int64_t>(rng.Below(
                                                static_cast<uint64_t>(interval_ns / 10 + 1))));
  return hb;
}

}  // namespace duet
