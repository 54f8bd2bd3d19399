// Replica, per-mutation completion: the secondary acknowledges each mutation as it reaches
// the ack level (ReplAck::done_after past the watermark), and the primary answers each call
// once it is done on both, keeping only the order completion_order.h asks for
// (engine/replication/replica_primary_stream.cc, replica_secondary_stream.cc).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/replication/replica.h"
#include "tests/engine/printers.h"
#include "tests/engine/replication/replica_fixtures.h"

namespace duet {
namespace {

Mutation Fsync(std::string path) { return MakeMutation(MutationKind::kFsync, std::move(path)); }

TEST(ReplicaCompletionTest, AWriteToAnotherFileCompletesBeforeAnEarlierSlowFsync) {
  ReplicaPair pair(Options());
  StartInSyncHolding(pair, "a", "written before");
  pair.HoldApplies(kB, true);  // the secondary's disk: the fsync of a is slow
  const uint64_t fsync = pair.Submit(kA, Fsync("a"));
  const uint64_t write = pair.Write(kA, "b", 0, "another file");
  pair.Pump();
  ASSERT_EQ(pair.HeldApplies(kB), (std::vector<std::string>{"a", "b"}));
  pair.ReleaseAppliedAndPump(kB, "b");
  // The fsync is not durable on the secondary yet.
  ASSERT_EQ(pair.CompletedAmong(kA, {fsync, write}), Ops({write})) << pair.Log(kA);
  EXPECT_TRUE(pair.Result(kA, write).ok());
  pair.ReleaseAppliedAndPump(kB, "a");
  ASSERT_TRUE(pair.Completed(kA, fsync));
  EXPECT_TRUE(pair.Result(kA, fsync).ok());
  EXPECT_EQ(pair.side(kB).store.durable().at("a").data, "written before");
  EXPECT_EQ(pair.Difference(), "");
}

// The order is kept as mutations open and close (completion_order.h): those completed behind
// an open one stay in the window but hold nothing after them.
TEST(ReplicaCompletionTest, MutationsCompletedBehindAnOpenOneHoldNothingAfterThem) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.HoldApplies(kB, true);
  const uint64_t slow = pair.Submit(kA, Fsync("a"));
  std::vector<uint64_t> behind;
  for (int i = 0; i < 3; ++i) behind.push_back(pair.Write(kA, "b", i, "x"));
  behind.push_back(pair.Submit(kA, Fsync("b")));
  pair.Pump();
  for (int i = 0; i < 4; ++i) {
    pair.ReleaseApplied(kB, "b");
    pair.Pump();
    ASSERT_TRUE(pair.Completed(kA, behind[i])) << i << "\n" << pair.Log(kA);
  }
  EXPECT_FALSE(pair.Completed(kA, slow));
  pair.ReleaseApplied(kB, "a");
  pair.Pump();
  EXPECT_TRUE(pair.Completed(kA, slow));
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "");
}

TEST(ReplicaCompletionTest, AWriteToAnotherFileCompletesBeforeAnEarlierSlowLocalApply) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.HoldApplies(kA, true);  // this node's own disk is slow for a
  const uint64_t first = pair.Write(kA, "a", 0, "first");
  const uint64_t second = pair.Write(kA, "b", 0, "second");
  pair.Pump();
  pair.ReleaseAppliedAndPump(kA, "b");
  // The first is acknowledged there, not applied here.
  EXPECT_EQ(pair.CompletedAmong(kA, {first, second}), Ops({second}));
  pair.ReleaseAppliedAndPump(kA, "a");
  EXPECT_TRUE(pair.Completed(kA, first));
}

TEST(ReplicaCompletionTest, AnFsyncWaitsForEveryEarlierWriteToItsFile) {
  ReplicaPair pair(Options());
  StartInSyncWithASlowSecondaryDisk(pair);
  const uint64_t first = pair.Write(kA, "a", 0, "one");
  const uint64_t other = pair.Write(kA, "b", 0, "other");
  const uint64_t second = pair.Write(kA, "a", 3, "two");
  const uint64_t fsync = pair.Submit(kA, Fsync("a"));
  const Ops all = {first, other, second, fsync};
  pair.Pump();
  ASSERT_EQ(pair.HeldApplies(kB), (std::vector<std::string>{"a", "b", "a", "a"}));
  pair.ReleaseAppliedAndPump(kB, "b");
  EXPECT_EQ(pair.CompletedAmong(kA, all), Ops({other}));
  pair.ReleaseAppliedAndPump(kB, "a");
  EXPECT_EQ(pair.CompletedAmong(kA, all), Ops({first, other}));
  pair.ReleaseAppliedAndPump(kB, "a");
  EXPECT_EQ(pair.CompletedAmong(kA, all), Ops({first, other, second}));
  pair.ReleaseAppliedAndPump(kB, "a");
  ASSERT_TRUE(pair.Completed(kA, fsync));
  EXPECT_EQ(pair.side(kB).store.durable().at("a").data, "onetwo");
}

// The secondary refused a write (its disk is full) and holds its acknowledgement until the
// primary's outcome arrives (replica_refusals.cc), while its disk, done with the write, ran
// the syncfs after it: acknowledged past the watermark, the syncfs still waits for the write.
TEST(ReplicaCompletionTest, ASyncfsWaitsForEverything) {
  ReplicaPair pair(Options());
  StartInSyncHolding(pair, "f", Bytes(100, 'a'));
  pair.side(kB).store.set_capacity(pair.side(kB).store.used_bytes());
  const uint64_t write = pair.Write(kA, "f", 4 * kZone, "needs space there");
  const uint64_t syncfs = pair.Submit(kA, Fsync(""));
  pair.Hold(kA, true);  // the primary's outcome ("applied here") waits
  pair.Pump();
  EXPECT_FALSE(pair.Completed(kA, write));
  EXPECT_FALSE(pair.Completed(kA, syncfs)) << pair.Log(kA);
  pair.side(kB).store.set_capacity(sim::MemStore::kUnlimited);
  pair.Hold(kA, false);
  pair.Pump();
  EXPECT_TRUE(pair.Completed(kA, write));
  EXPECT_TRUE(pair.Completed(kA, syncfs));
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "");
}

TEST(ReplicaCompletionTest, ANamespaceChangeWaitsForEveryEarlierMutation) {
  ReplicaPair pair(Options());
  StartInSyncWithASlowSecondaryDisk(pair);
  const uint64_t write = pair.Write(kA, "a", 0, "slow");
  const uint64_t create = pair.Submit(kA, MakeMutation(MutationKind::kCreate, "c"));
  pair.Pump();
  ASSERT_EQ(pair.HeldApplies(kB), (std::vector<std::string>{"a", "c"}));
  pair.ReleaseApplied(kB, "a");
  pair.ReleaseApplied(kB, "c");
  pair.Pump();
  EXPECT_TRUE(pair.Completed(kA, write));
  EXPECT_TRUE(pair.Completed(kA, create));
  EXPECT_EQ(pair.Difference(), "");
}

// A secondary of an earlier build acknowledges the watermark only: calls complete in lsn
// order, as they did then.
TEST(ReplicaCompletionTest, ASecondaryAckingOnlyTheWatermarkHasCallsCompleteInOrder) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.AckWatermarksOnly(kB, true);
  pair.HoldApplies(kB, true);
  const uint64_t fsync = pair.Submit(kA, Fsync("a"));
  const uint64_t write = pair.Write(kA, "b", 0, "another file");
  pair.Pump();
  pair.ReleaseAppliedAndPump(kB, "b");
  EXPECT_EQ(pair.CompletedAmong(kA, {fsync, write}), Ops());
  pair.ReleaseAppliedAndPump(kB, "a");
  EXPECT_EQ(pair.CompletedAmong(kA, {fsync, write}), Ops({fsync, write}));
}

// The peer acknowledged the later write, not the earlier one, when it went silent: the
// earlier write's zones turn dirty (what the peer may lack) and it completes only once the
// peer is known outdated; the later one was answered already. Both are resynced, since
// neither is durable on the peer by its watermark.
TEST(ReplicaCompletionTest, APeerDroppedAfterAckingALaterWriteResyncsTheEarlierOne) {
  ReplicaPair pair(Options());
  StartInSyncWithASlowSecondaryDisk(pair);
  const uint64_t earlier = pair.Write(kA, "a", 3 * kZone, "earlier");
  const uint64_t later = pair.Write(kA, "b", 0, "later");
  pair.Pump();
  pair.ReleaseAppliedAndPump(kB, "b");
  ASSERT_TRUE(pair.Completed(kA, later));
  pair.Advance(absl::Seconds(6));  // no progress of the watermark: the peer is dropped
  ASSERT_FALSE(pair.replica(kA).attached());
  EXPECT_FALSE(pair.Completed(kA, earlier));
  EXPECT_TRUE(pair.side(kA).disk.dirty.Contains("a", 3)) << pair.Log(kA);
  EXPECT_TRUE(pair.side(kA).disk.dirty.Contains("b", 0)) << pair.Log(kA);
  pair.PeerOutdated(kA);
  EXPECT_TRUE(pair.Completed(kA, earlier)) << pair.Log(kA);
  pair.HoldApplies(kB, false);
  pair.Settle();  // the new session offered to the stuck peer resyncs both
  EXPECT_EQ(pair.Difference(), "");
}

// A write refused here and acknowledged by the peer past its watermark (the peer applied
// it): the peer is still set back (a new session), although the call completed before the
// watermark passed.
TEST(ReplicaCompletionTest, AWriteRefusedHereAndAckedPastTheWatermarkStillSetsThePeerBack) {
  ReplicaPair pair(Options());
  StartInSyncHolding(pair, "a", "before");
  pair.HoldApplies(kB, true);
  pair.side(kA).store.set_capacity(pair.side(kA).store.used_bytes());  // a's disk is full
  const uint64_t slow = pair.Write(kA, "a", 0, "slow there");          // an overwrite: no new space
  const uint64_t refused = pair.Write(kA, "b", 0, "refused here");
  pair.Pump();
  pair.ReleaseAppliedAndPump(kB, "b");
  ASSERT_TRUE(pair.Completed(kA, refused)) << pair.Log(kA);
  EXPECT_TRUE(IsRefusal(pair.Result(kA, refused))) << pair.Result(kA, refused);
  pair.side(kA).store.set_capacity(sim::MemStore::kUnlimited);
  pair.HoldApplies(kB, false);
  pair.Settle();
  EXPECT_TRUE(pair.Completed(kA, slow));
  EXPECT_EQ(pair.side(kB).store.live().count("b"), 0u) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

}  // namespace
}  // namespace duet
