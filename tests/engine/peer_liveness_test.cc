// PeerLiveness: the peer is lost only when every heartbeat link has been silent for the
// timeout; a link never heard counts as heard at start-up (engine/peer_liveness.h). Node
// fails over on !Alive(now) and sleeps until LostAt().
#include "engine/peer_liveness.h"

#include <gtest/gtest.h>

namespace duet {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1000);
const absl::Duration kTimeout = absl::Seconds(2);

TEST(PeerLivenessTest, FreshNodeGivesThePeerOneFullTimeout) {
  PeerLiveness l(2, kTimeout, kStart);
  EXPECT_EQ(l.LostAt(), kStart + kTimeout);
  EXPECT_TRUE(l.Alive(kStart));
  EXPECT_TRUE(l.Alive(kStart + kTimeout - absl::Nanoseconds(1)));
}

TEST(PeerLivenessTest, PeerIsLostExactlyAtTheTimeout) {
  PeerLiveness l(1, kTimeout, kStart);
  l.Heard(0, kStart + absl::Seconds(1));
  EXPECT_TRUE(l.Alive(kStart + absl::Seconds(3) - absl::Nanoseconds(1)));
  EXPECT_FALSE(l.Alive(kStart + absl::Seconds(3)));
  EXPECT_FALSE(l.Alive(kStart + absl::Seconds(30)));
}

TEST(PeerLivenessTest, AnyLinkHeardKeepsThePeerAlive) {
  PeerLiveness l(3, kTimeout, kStart);
  // Links 0 and 1 go silent after start-up; only link 2 carries heartbeats.
  for (int i = 1; i <= 10; ++i) {
    const absl::Time now = kStart + i * absl::Seconds(1);
    l.Heard(2, now);
    EXPECT_TRUE(l.Alive(now)) << i;
    EXPECT_EQ(l.LostAt(), now + kTimeout);
  }
}

TEST(PeerLivenessTest, LostOnlyWhenEveryLinkIsSilent) {
  PeerLiveness l(2, kTimeout, kStart);
  l.Heard(0, kStart + absl::Seconds(1));
  l.Heard(1, kStart + absl::Seconds(4));
  EXPECT_EQ(l.LostAt(), kStart + absl::Seconds(6));  // the most recently heard link decides
  EXPECT_TRUE(l.Alive(kStart + absl::Seconds(5)));
  EXPECT_FALSE(l.Alive(kStart + absl::Seconds(6)));
}

TEST(PeerLivenessTest, LateHeardNeverMovesALinkBackInTime) {
  PeerLiveness l(1, kTimeout, kStart);
  l.Heard(0, kStart + absl::Seconds(5));
  l.Heard(0, kStart + absl::Seconds(3));  // a delayed input reported out of order
  EXPECT_EQ(l.LastHeard(0), kStart + absl::Seconds(5));
  EXPECT_EQ(l.LostAt(), kStart + absl::Seconds(7));
}

TEST(PeerLivenessTest, HeardRecordsPerLink) {
  PeerLiveness l(3, kTimeout, kStart);
  l.Heard(1, kStart + absl::Seconds(1));
  EXPECT_EQ(l.LastHeard(0), kStart);  // never heard: start-up
  EXPECT_EQ(l.LastHeard(1), kStart + absl::Seconds(1));
  EXPECT_EQ(l.LastHeard(2), kStart);
  EXPECT_EQ(l.links(), 3);
}

TEST(PeerLivenessTest, OutOfRangeLinksAreIgnored) {
  PeerLiveness l(2, kTimeout, kStart);
  l.Heard(-1, kStart + absl::Seconds(10));
  l.Heard(2, kStart + absl::Seconds(10));
  l.Heard(1000, kStart + absl::Seconds(10));
  EXPECT_EQ(l.LostAt(), kStart + kTimeout);
  EXPECT_FALSE(l.Alive(kStart + kTimeout));
}

TEST(PeerLivenessTest, NoLinksConfiguredStillHasOneLink) {
  PeerLiveness l(0, kTimeout, kStart);
  EXPECT_EQ(l.links(), 1);
  l.Heard(0, kStart + absl::Seconds(1));
  EXPECT_EQ(l.LostAt(), kStart + absl::Seconds(3));
}

TEST(PeerLivenessTest, PeerHeardAgainAfterLossIsAliveAgain) {
  PeerLiveness l(1, kTimeout, kStart);
  EXPECT_FALSE(l.Alive(kStart + absl::Seconds(10)));
  l.Heard(0, kStart + absl::Seconds(10));
  EXPECT_TRUE(l.Alive(kStart + absl::Seconds(10)));
  EXPECT_EQ(l.LostAt(), kStart + absl::Seconds(12));
}

}  // namespace
}  // namespace duet
