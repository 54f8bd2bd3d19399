#include "engine/heartbeats.h"

namespace duet {

Heartbeats::Received Heartbeats::Receive(const Heartbeat& hb) {
  Received received;
  received.news = hb.incarnation > peer_incarnation_ ||
                  (hb.incarnation == peer_incarnation_ && hb.seq > peer_seq_);
  const bool same = hb.incarnation == peer_incarnation_ && hb.seq == peer_seq_;
  received.proves_link = received.news || same;
  if (!received.news) return received;
  received.peer_restarted = hb.incarnation != peer_incarnation_ && peer_incarnation_ != 0;
  peer_incarnation_ = hb.incarnation;
  peer_seq_ = hb.seq;
  peer_sent_at_ns_ = hb.sent_at_ns;
  return received;
}

Heartbeat Heartbeats::Stamp(absl::Time now, Rng& rng) {
  Heartbeat hb;
  hb.from = self_;
  hb.incarnation = incarnation_;
  hb.seq = next_seq_++;
  hb.sent_at_ns = absl::ToUnixNanos(now);
  hb.echo_sent_at_ns = peer_sent_at_ns_;
  const int64_t interval_ns = absl::ToInt64Nanoseconds(interval_);
  next_at_ =
      now + absl::Nanoseconds(interval_ns - static_cast<int64_t>(rng.Below(
                                                static_cast<uint64_t>(interval_ns / 10 + 1))));
  return hb;
}

}  // namespace duet
