// The heartbeat exchange's stamps, acceptance and schedule (engine/heartbeats.h).
#include "engine/heartbeats.h"

#include <gtest/gtest.h>

namespace duet {
namespace {

const absl::Time kT = absl::UnixEpoch() + absl::Hours(1);
constexpr absl::Duration kInterval = absl::Milliseconds(200);

Heartbeat From(uint64_t incarnation, uint64_t seq, int64_t sent_at_ns = 0,
               int64_t echo_sent_at_ns = -1) {
  Heartbeat hb;
  hb.from = 1;
  hb.incarnation = incarnation;
  hb.seq = seq;
  hb.sent_at_ns = sent_at_ns;
  hb.echo_sent_at_ns = echo_sent_at_ns;
  return hb;
}

int64_t Ns(absl::Time t) { return absl::ToUnixNanos(t); }

TEST(HeartbeatsTest, OnlyANewerHeartbeatIsNewsAndACopyStillProvesItsLink) {
  Heartbeats beats(0, 1, kInterval);
  Heartbeats::Received r = beats.Receive(From(3, 5));
  EXPECT_TRUE(r.news);
  EXPECT_TRUE(r.proves_link);
  EXPECT_FALSE(r.peer_restarted);  // the first heard: nothing to compare with

  r = beats.Receive(From(3, 5));  // the same heartbeat on another link
  EXPECT_FALSE(r.news);
  EXPECT_TRUE(r.proves_link);

  r = beats.Receive(From(3, 4));  // late, reordered
  EXPECT_FALSE(r.news);
  EXPECT_FALSE(r.proves_link);

  r = beats.Receive(From(2, 9));  // from an older incarnation
  EXPECT_FALSE(r.proves_link);
}

TEST(HeartbeatsTest, ANewIncarnationIsNewsWhateverItsSequence) {
  Heartbeats beats(0, 1, kInterval);
  beats.Receive(From(3, 50));
  const Heartbeats::Received r = beats.Receive(From(4, 1));
  EXPECT_TRUE(r.news);
  EXPECT_TRUE(r.peer_restarted);
}

// A replaced machine: the peer's state was wiped, so it starts over at incarnation 1, seq 1.
TEST(HeartbeatsTest, APeerWhoseStateWasWipedIsNewsOnceItEchoesAHeartbeatOfOurs) {
  Heartbeats beats(0, 4, kInterval);
  Rng rng(1);
  beats.Stamp(kT, rng);
  ASSERT_TRUE(beats.Receive(From(1, 50, 0, Ns(kT))).news);
  beats.Stamp(kT + kInterval, rng);
  ASSERT_TRUE(beats.Receive(From(1, 51, 0, Ns(kT + kInterval))).news);

  // The new run has not heard us yet: nothing shows it is not a late heartbeat of the old.
  Heartbeats::Received r = beats.Receive(From(1, 1, 0, -1));
  EXPECT_FALSE(r.news);
  EXPECT_FALSE(r.proves_link);
  beats.Stamp(kT + 2 * kInterval, rng);
  r = beats.Receive(From(1, 2, 0, Ns(kT + 2 * kInterval)));
  EXPECT_TRUE(r.news);
  EXPECT_TRUE(r.proves_link);
  EXPECT_TRUE(r.peer_restarted);
  EXPECT_TRUE(beats.Receive(From(1, 3, 0, Ns(kT + 2 * kInterval))).news);  // followed on
}

TEST(HeartbeatsTest, ALateHeartbeatOfTheRunLeftDoesNotWinThePeerBack) {
  Heartbeats beats(0, 4, kInterval);
  Rng rng(1);
  beats.Stamp(kT, rng);
  beats.Receive(From(1, 50, 0, Ns(kT)));
  beats.Stamp(kT + kInterval, rng);
  // Sent by the old run just before the wipe, delivered late: newer than anything accepted.
  const Heartbeat late = From(1, 52, 0, Ns(kT + kInterval));
  beats.Stamp(kT + 2 * kInterval, rng);
  ASSERT_TRUE(beats.Receive(From(1, 1, 0, Ns(kT + 2 * kInterval))).peer_restarted);
  // Newer by its numbers, but it echoes less than the run followed: a left run's.
  Heartbeats::Received r = beats.Receive(late);
  EXPECT_FALSE(r.news);
  EXPECT_FALSE(r.proves_link);
  beats.Stamp(kT + 3 * kInterval, rng);
  r = beats.Receive(From(1, 2, 0, Ns(kT + 3 * kInterval)));
  EXPECT_TRUE(r.news);
  EXPECT_FALSE(r.peer_restarted);
}

TEST(HeartbeatsTest, AnEchoOfATimeNotSentInThisRunShowsNothing) {
  Heartbeats beats(0, 4, kInterval);
  Rng rng(1);
  beats.Stamp(kT, rng);
  beats.Receive(From(1, 50, 0, Ns(kT)));
  // Echoes from our previous run (before our first heartbeat) or of the future.
  EXPECT_FALSE(beats.Receive(From(1, 1, 0, Ns(kT - absl::Seconds(1)))).news);
  EXPECT_FALSE(beats.Receive(From(1, 1, 0, Ns(kT + absl::Seconds(1)))).news);
}

TEST(HeartbeatsTest, StampsCountUpAndEchoTheNewestHeard) {
  Heartbeats beats(0, 7, kInterval);
  Rng rng(1);
  Heartbeat first = beats.Stamp(kT, rng);
  EXPECT_EQ(first.from, 0);
  EXPECT_EQ(first.incarnation, 7u);
  EXPECT_EQ(first.seq, 1u);
  EXPECT_EQ(first.sent_at_ns, absl::ToUnixNanos(kT));
  EXPECT_EQ(first.echo_sent_at_ns, -1);  // nothing heard yet

  beats.Receive(From(3, 1, /*sent_at_ns=*/12345));
  beats.Receive(From(3, 0, /*sent_at_ns=*/99));  // older: not echoed
  const Heartbeat second = beats.Stamp(kT + kInterval, rng);
  EXPECT_EQ(second.seq, 2u);
  EXPECT_EQ(second.echo_sent_at_ns, 12345);
}

TEST(HeartbeatsTest, NextIsDueAnIntervalLessAtMostATenthOfJitter) {
  Heartbeats beats(0, 1, kInterval);
  EXPECT_EQ(beats.next_at(), absl::InfinitePast());  // the first goes at once
  Rng rng(99);
  for (int i = 0; i < 100; ++i) {
    const absl::Time now = kT + i * kInterval;
    beats.Stamp(now, rng);
    EXPECT_LE(beats.next_at(), now + kInterval);
    EXPECT_GE(beats.next_at(), now + kInterval - kInterval / 10);
  }
}

}  // namespace
}  // namespace duet
