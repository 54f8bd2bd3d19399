// The witness's lease arbitration and its record of an outdated copy (DESIGN.md §6).
#include "engine/witness.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace duet {
namespace {

constexpr absl::Duration kLease = absl::Seconds(6);
const absl::Time kStart = absl::UnixEpoch() + absl::Hours(1);

LeaseRequest Request(NodeIndex from, uint64_t id, bool peer_outdated = false, bool forced = false,
                     std::string cluster = "shop") {
  LeaseRequest r;
  r.from = from;
  r.cluster = std::move(cluster);
  r.module = "db";
  r.request_id = id;
  r.peer_outdated = peer_outdated;
  r.forced = forced;
  return r;
}

TEST(WitnessTest, GrantsNothingDuringTheBlackoutAfterStart) {
  Witness w(kLease, kStart);
  EXPECT_FALSE(w.Handle(kStart + absl::Seconds(1), Request(0, 1)).reply.granted);
  EXPECT_TRUE(w.Handle(kStart + kLease, Request(0, 2)).reply.granted);
}

TEST(WitnessTest, LeaseGoesToTheOtherNodeOnlyAfterItExpires) {
  Witness w(kLease, kStart);
  const absl::Time t = kStart + kLease;
  ASSERT_TRUE(w.Handle(t, Request(0, 1)).reply.granted);
  const LeaseReply refused = w.Handle(t + absl::Seconds(5), Request(1, 2)).reply;
  EXPECT_FALSE(refused.granted);
  EXPECT_EQ(refused.holder, 0);
  EXPECT_TRUE(w.Handle(t + kLease, Request(1, 3)).reply.granted);
}

TEST(WitnessTest, OutdatedCopyIsRefusedTheLeaseEvenAfterTheHolderDies) {
  Witness w(kLease, kStart);
  const absl::Time t = kStart + kLease;
  const LeaseReply recorded = w.Handle(t, Request(0, 1, /*peer_outdated=*/true)).reply;
  ASSERT_TRUE(recorded.granted);
  EXPECT_TRUE(recorded.outdate_recorded);
  // Node 0 dies; its lease runs out; node 1 (cut off from node 0, not from us) asks.
  const LeaseReply refused = w.Handle(t + 10 * kLease, Request(1, 2)).reply;
  EXPECT_FALSE(refused.granted);
  EXPECT_TRUE(refused.outdate_recorded);
  EXPECT_EQ(refused.holder, 0);
}

TEST(WitnessTest, HolderInSyncAgainClearsTheRecord) {
  Witness w(kLease, kStart);
  const absl::Time t = kStart + kLease;
  ASSERT_TRUE(w.Handle(t, Request(0, 1, true)).reply.granted);
  const LeaseReply cleared = w.Handle(t + absl::Seconds(1), Request(0, 2, false)).reply;
  ASSERT_TRUE(cleared.granted);
  EXPECT_FALSE(cleared.outdate_recorded);
  EXPECT_TRUE(w.Handle(t + absl::Seconds(1) + kLease, Request(1, 3)).reply.granted);
}

TEST(WitnessTest, ForcedRequestOverridesTheRecord) {
  Witness w(kLease, kStart);
  const absl::Time t = kStart + kLease;
  ASSERT_TRUE(w.Handle(t, Request(0, 1, true)).reply.granted);
  EXPECT_FALSE(w.Handle(t + kLease, Request(1, 2)).reply.granted);
  EXPECT_TRUE(w.Handle(t + kLease, Request(1, 3, false, /*forced=*/true)).reply.granted);
}

LeaseRequest Release(NodeIndex from, uint64_t id) {
  LeaseRequest r = Request(from, id);
  r.release = true;
  return r;
}

TEST(WitnessTest, ReleaseClearsTheRecordNamingTheSendersPeerAndGrantsNothing) {
  Witness w(kLease, kStart);
  const absl::Time t = kStart + kLease;
  ASSERT_TRUE(w.Handle(t, Request(0, 1, /*peer_outdated=*/true)).reply.granted);
  const WitnessAnswer released = w.Handle(t + absl::Seconds(1), Release(0, 2));
  EXPECT_FALSE(released.reply.granted);
  ASSERT_TRUE(released.persist.has_value());  // cleared durably before the reply goes
  EXPECT_EQ(released.persist->outdated, std::nullopt);
  // Node 0's lease is untouched: node 1 gets one only once it expires, and is not refused
  // as outdated meanwhile.
  const LeaseReply early = w.Handle(t + absl::Seconds(2), Request(1, 3)).reply;
  EXPECT_FALSE(early.granted);
  EXPECT_FALSE(early.outdate_recorded);
  EXPECT_EQ(early.holder, 0);
  EXPECT_TRUE(w.Handle(t + kLease, Request(1, 4)).reply.granted);
}

TEST(WitnessTest, ReleaseNeverClearsTheRecordNamingTheSender) {
  Witness w(kLease, kStart);
  const absl::Time t = kStart + kLease;
  ASSERT_TRUE(w.Handle(t, Request(0, 1, /*peer_outdated=*/true)).reply.granted);
  EXPECT_FALSE(w.Handle(t + absl::Seconds(1), Release(1, 2)).persist.has_value());
  const LeaseReply refused = w.Handle(t + 10 * kLease, Request(1, 3)).reply;
  EXPECT_FALSE(refused.granted);
  EXPECT_TRUE(refused.outdate_recorded);
}

TEST(WitnessTest, RepliesNameTheRunAndCountTheGrantsMadeToTheRequestersPeer) {
  Witness w(kLease, kStart);
  const absl::Time t = kStart + kLease;
  const LeaseReply first = w.Handle(t, Request(0, 1)).reply;
  ASSERT_TRUE(first.granted);
  EXPECT_NE(first.witness_run, 0u);
  EXPECT_EQ(first.peer_grants, 0u);
  ASSERT_TRUE(w.Handle(t + absl::Seconds(1), Request(0, 2)).reply.granted);  // a renewal
  // Node 1 hears how often node 0 was granted, renewals included.
  EXPECT_EQ(w.Handle(t + absl::Seconds(2), Request(1, 3)).reply.peer_grants, 2u);
  ASSERT_TRUE(w.Handle(t + absl::Seconds(8), Request(1, 4)).reply.granted);
  EXPECT_EQ(w.Handle(t + absl::Seconds(9), Request(0, 5)).reply.peer_grants, 1u);
  // Another run of the witness names itself differently and has granted nothing yet.
  Witness restarted(kLease, kStart + absl::Seconds(30));
  const LeaseReply other = restarted.Handle(kStart + absl::Seconds(31), Request(1, 6)).reply;
  EXPECT_NE(other.witness_run, first.witness_run);
  EXPECT_EQ(other.peer_grants, 0u);
}

// The record survives a witness restart: the writer crashes inside the blackout, and the
// outdated copy is still refused the lease when the blackout ends.
TEST(WitnessTest, OutdateRecordSurvivesAWitnessRestart) {
  WitnessDurableState disk;
  const absl::Time t = kStart + kLease;
  {
    Witness w(kLease, kStart, disk);
    const WitnessAnswer answer = w.Handle(t, Request(0, 1, /*peer_outdated=*/true));
    ASSERT_TRUE(answer.reply.granted);
    ASSERT_TRUE(answer.persist.has_value());
    ApplyOutdateRecord(disk, *answer.persist);
    // A renewal that says the same persists nothing.
    EXPECT_FALSE(w.Handle(t + absl::Seconds(1), Request(0, 2, true)).persist.has_value());
  }
  const absl::Time restart = t + absl::Seconds(2);
  Witness again(kLease, restart, disk);  // node 0 crashed meanwhile and never renews
  const LeaseReply refused = again.Handle(restart + 2 * kLease, Request(1, 3)).reply;
  EXPECT_FALSE(refused.granted);
  EXPECT_TRUE(refused.outdate_recorded);
  // Forcing clears the record, durably.
  const WitnessAnswer forced = again.Handle(restart + 2 * kLease, Request(1, 4, false, true));
  EXPECT_TRUE(forced.reply.granted);
  ASSERT_TRUE(forced.persist.has_value());
  ApplyOutdateRecord(disk, *forced.persist);
  EXPECT_TRUE(disk.empty());
}

// One witness serves two pairs whose modules share a name: each pair's lease and outdate
// record are its own.
TEST(WitnessTest, TwoClustersWithTheSameModuleNameHoldSeparateLeases) {
  Witness w(kLease, kStart);
  const absl::Time t = kStart + kLease;
  const WitnessAnswer shop = w.Handle(t, Request(0, 1, /*peer_outdated=*/true, false, "shop"));
  ASSERT_TRUE(shop.reply.granted);
  EXPECT_EQ(shop.reply.cluster, "shop");
  // Node 1 of the other cluster is neither refused by shop's lease nor by its outdate record.
  const LeaseReply other = w.Handle(t, Request(1, 1, false, false, "office")).reply;
  EXPECT_TRUE(other.granted);
  EXPECT_EQ(other.cluster, "office");
  EXPECT_EQ(w.HolderAt(t, WitnessKey{"shop", "db"}), 0);
  EXPECT_EQ(w.HolderAt(t, WitnessKey{"office", "db"}), 1);
  // And shop's node 1 is still refused: its copy is the outdated one.
  const LeaseReply refused = w.Handle(t + 2 * kLease, Request(1, 2, false, false, "shop")).reply;
  EXPECT_FALSE(refused.granted);
  EXPECT_TRUE(refused.outdate_recorded);
}

}  // namespace
}  // namespace duet
