// A node's authority to write a module with a witness, and when it must fence
// (engine/write_authority.h, DESIGN.md §6).
#include "engine/write_authority.h"

#include <gtest/gtest.h>

namespace duet {
namespace {

constexpr NodeIndex kA = 0;
constexpr NodeIndex kB = 1;
const absl::Time kT = absl::UnixEpoch() + absl::Hours(1);

WitnessConfig Witness() {
  WitnessConfig w;
  w.renew_interval = absl::Seconds(1);
  w.drift_margin = absl::Milliseconds(500);
  return w;
}

std::vector<NodeConfig> Nodes() {
  std::vector<NodeConfig> nodes(2);
  nodes[kA].name = "a";
  nodes[kB].name = "b";
  return nodes;
}

// Sends a lease request at `at` and answers it.
void Answer(WriteAuthority& auth, absl::Time at, bool granted, NodeIndex holder = kA,
            bool outdate_recorded = false) {
  uint64_t next_id = 1;
  const auto request = auth.lease().RequestIfDue(at, kA, "shop", "db", next_id);
  ASSERT_TRUE(request.has_value());
  LeaseReply reply;
  reply.module = "db";
  reply.request_id = request->request_id;
  reply.granted = granted;
  reply.duration_ns = absl::ToInt64Nanoseconds(absl::Seconds(6));
  reply.holder = holder;
  reply.outdate_recorded = outdate_recorded;
  auth.lease().OnReply(reply);
}

TEST(WriteAuthorityTest, WithoutAWitnessEveryOwnerMayWriteAndNothingFences) {
  WriteAuthority auth(std::nullopt);
  EXPECT_FALSE(auth.required());
  EXPECT_TRUE(auth.Has(kT));
  EXPECT_FALSE(auth.MustFence(kT, /*writable=*/true));
  EXPECT_FALSE(auth.Acknowledged(kT + absl::Seconds(2)));  // no fencing deadline to move
  EXPECT_EQ(auth.NextDeadline(true, true), absl::InfiniteFuture());
}

TEST(WriteAuthorityTest, WithAWitnessAWriterWithNeitherAcknowledgementNorLeaseFences) {
  WriteAuthority auth(Witness());
  EXPECT_TRUE(auth.required());
  EXPECT_FALSE(auth.Has(kT));
  EXPECT_TRUE(auth.MustFence(kT, /*writable=*/true));
  EXPECT_FALSE(auth.MustFence(kT, /*writable=*/false));
}

TEST(WriteAuthorityTest, ThePeersAcknowledgementHoldsUntilItsEnd) {
  WriteAuthority auth(Witness());
  EXPECT_TRUE(auth.Acknowledged(kT + absl::Seconds(2)));
  EXPECT_TRUE(auth.Has(kT + absl::Seconds(1)));
  EXPECT_FALSE(auth.Has(kT + absl::Seconds(2)));
  // Only a later end moves the deadline.
  EXPECT_FALSE(auth.Acknowledged(kT + absl::Seconds(1)));
  EXPECT_EQ(auth.NextDeadline(/*writing_as_owner=*/true, false), kT + absl::Seconds(2));
  auth.ForgetAck();
  EXPECT_FALSE(auth.Has(kT));
}

TEST(WriteAuthorityTest, ALeaseGivesAuthorityUntilItsTrustedEnd) {
  WriteAuthority auth(Witness());
  Answer(auth, kT, /*granted=*/true);
  // Trusted until send + 6 s - drift margin.
  EXPECT_TRUE(auth.Has(kT + absl::Milliseconds(5499)));
  EXPECT_FALSE(auth.Has(kT + absl::Milliseconds(5500)));
  // The writer looks again when it must fence, or earlier to renew if it wants the lease.
  EXPECT_EQ(auth.NextDeadline(true, false), kT + absl::Milliseconds(5500));
  EXPECT_EQ(auth.NextDeadline(true, true), kT + absl::Seconds(1));
  EXPECT_EQ(auth.NextDeadline(false, false), absl::InfiniteFuture());
}

TEST(WriteAuthorityTest, AcknowledgementCarriesFromTheEchoedHeartbeatLessTheMargin) {
  const absl::Duration timeout = absl::Seconds(2);
  const absl::Duration margin = absl::Milliseconds(500);
  const absl::Time echo = kT - absl::Milliseconds(300);
  EXPECT_EQ(PeerAckUntil(kT, absl::ToUnixNanos(echo), timeout, margin),
            echo + absl::Milliseconds(1500));
  // No echo yet, or one from our future (not ours to trust): no acknowledgement.
  EXPECT_EQ(PeerAckUntil(kT, -1, timeout, margin), absl::InfinitePast());
  EXPECT_EQ(PeerAckUntil(kT, absl::ToUnixNanos(kT + absl::Seconds(1)), timeout, margin),
            absl::InfinitePast());
}

TEST(WriteAuthorityTest, PrimaryOwnersOwnersAwaitingAuthorityAndOrphanedSecondariesWantTheLease) {
  EXPECT_TRUE(WantsLease(/*owner=*/true, /*primary=*/true, /*awaiting_authority=*/false,
                         /*peer_alive=*/true));
  EXPECT_FALSE(WantsLease(true, false, false, false));
  // A fenced owner whose copy is current: it serves again once the witness grants.
  EXPECT_TRUE(WantsLease(true, false, /*awaiting_authority=*/true, false));
  EXPECT_TRUE(WantsLease(false, false, false, /*peer_alive=*/false));
  EXPECT_FALSE(WantsLease(false, false, false, true));
}

TEST(WriteAuthorityTest, ReasonsNameWhoHoldsTheLease) {
  WriteAuthority auth(Witness());
  EXPECT_EQ(auth.OwnerWaitReason(kA, Nodes()),
            "waiting for the peer's acknowledgement or the witness lease");
  EXPECT_EQ(auth.TakeoverWaitReason(kA, Nodes()), "peer lost; waiting for the witness lease");

  Answer(auth, kT, /*granted=*/false, /*holder=*/kB);
  EXPECT_EQ(auth.OwnerWaitReason(kA, Nodes()), "lost arbitration: the witness lease is held by b");
  EXPECT_EQ(auth.TakeoverWaitReason(kA, Nodes()),
            "peer lost; lost arbitration: the witness lease is held by b");
}

TEST(WriteAuthorityTest, ReasonsSayWhenTheWitnessGrantsNothingYet) {
  WriteAuthority auth(Witness());
  Answer(auth, kT, /*granted=*/false, /*holder=*/kA);  // names the requester: it restarted
  EXPECT_EQ(auth.OwnerWaitReason(kA, Nodes()),
            "the witness grants no lease yet (it restarted and waits out the leases it may "
            "have granted)");
}

TEST(WriteAuthorityTest, ReasonsSayWhenTheWitnessRecordsThisCopyOutdated) {
  WriteAuthority auth(Witness());
  Answer(auth, kT, /*granted=*/false, /*holder=*/kB, /*outdate_recorded=*/true);
  // An owner refused for that reason is told so, not that b holds the lease (seed
  // 1185811962174136001 showed "lost arbitration: the witness lease is held by a" there).
  EXPECT_EQ(auth.OwnerWaitReason(kA, Nodes()),
            "the witness records this copy as outdated (b wrote without it)");
  EXPECT_EQ(auth.TakeoverWaitReason(kA, Nodes()),
            "peer lost; the witness records this copy as outdated (b wrote without it); "
            "duetctl prim --force takes over anyway");
}

}  // namespace
}  // namespace duet
