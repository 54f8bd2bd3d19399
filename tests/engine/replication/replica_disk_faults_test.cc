// Replica, disk faults: a full disk and failed flushes (EIO) on either side
// (engine/replication/replica_disk_faults.cc).
#include <gtest/gtest.h>

#include "engine/replication/replica.h"
#include "tests/engine/printers.h"
#include "tests/engine/replication/replica_fixtures.h"

namespace duet {
namespace {

// Found by the simulator (seed 10291423897686726235): the primary's disk failed (its hot
// zones can no longer cool), then the secondary's flush failed too (it counts itself
// inconsistent, though it holds every write), then the primary's machine restarted and lost
// what it had not synced. The inconsistent copy was never taken as the source, so the copy
// back from the crash overwrote the acknowledged write on the only side that still had it.
TEST(ReplicaDiskFaultTest, CopyBackFromACrashNeverOverwritesAPeerInconsistentOnlyFromAFailedFlush) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.side(kA).store.set_sync_failure(true);
  const uint64_t op = pair.Write(kA, "vm.img", 0, Bytes(1000, 'n'));
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kA, op) && pair.Result(kA, op).ok()) << pair.Log(kA);
  pair.Settle(absl::Seconds(2));
  pair.side(kA).store.set_sync_failure(false);
  pair.Settle(absl::Seconds(2));
  pair.side(kB).store.set_sync_failure(true);
  pair.Write(kA, "g", 0, "y");
  pair.Pump();
  pair.Settle(absl::Seconds(2));
  pair.Disconnect();
  pair.Crash(kA);
  pair.Advance(absl::Milliseconds(1100));
  pair.Pump();
  ASSERT_TRUE(pair.side(kB).disk.inconsistent) << pair.Log(kB);
  pair.side(kB).store.set_sync_failure(false);
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.side(kB).store.live().at("vm.img").data, Bytes(1000, 'n'))
      << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

// Found by the simulator (seeds 8920161429715685470, 14172199630865982552): a resync
// target's flush failed (its blocks' pages were forgotten, as Linux does), then a later flush
// in the same session succeeded and the target declared itself up to date: the source closed
// its plan and a crash of the target lost those zones for good.
TEST(ReplicaDiskFaultTest, TargetNeverFinishesAResyncInASessionWhereAFlushFailed) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Disconnect();
  pair.Write(kA, "f", 0, "new");  // made alone: dirty, not hot
  pair.PeerOutdated(kA);
  pair.Pump();
  pair.Connect();
  while (pair.side(kB).blocks_received == 0) ASSERT_TRUE(pair.Step()) << pair.Log(kA);
  pair.Hold(kA, true);  // a's ResyncDone waits
  pair.Pump();
  pair.side(kB).store.set_sync_failure(true);
  pair.Advance(absl::Seconds(1));  // b's periodic flush fails
  pair.Pump();
  pair.side(kB).store.set_sync_failure(false);
  pair.Hold(kA, false);  // the final flush succeeds, but proves nothing
  pair.Pump();
  EXPECT_TRUE(pair.side(kB).disk.inconsistent) << pair.Log(kB);
  EXPECT_NE(pair.side(kA).disk.gens.bitmap, 0u) << pair.Log(kA);  // a's plan is still open
  pair.Disconnect();
  pair.Crash(kB);
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.side(kB).store.live().at("f").data, "new") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "");
}

// Found by the simulator (seeds 2928365095957566260, 10974832941456489880, 18423888231806828104,
// 2365332904185383366): b's flush failed, so its disk lacked the last stream writes and only
// a's activity log named them; a crashed, b (holding them in its page cache) was the source,
// and nothing ever rewrote b's own disk: b's crash then lost them. A secondary now makes what
// it applied since its last good flush hot when a flush fails.
TEST(ReplicaDiskFaultTest, SecondaryWhoseFlushFailedGetsItsLostZonesBackAfterItsOwnCrash) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, "old");
  pair.Settle(absl::Seconds(2));
  pair.side(kB).store.set_sync_failure(true);
  const uint64_t op = pair.Write(kA, "f", 0, "new");
  pair.Pump();
  pair.Advance(absl::Seconds(1));  // b's flush fails: "new" is only in its page cache
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kA, op) && pair.Result(kA, op).ok()) << pair.Log(kA);
  pair.side(kB).store.set_sync_failure(false);
  pair.Disconnect();
  pair.Crash(kA);
  pair.Connect();
  pair.Settle();  // b, which did not crash, is the source: a gets "new" back
  ASSERT_EQ(pair.side(kA).store.live().at("f").data, "new") << pair.Log(kA) << pair.Log(kB);
  pair.Disconnect();
  pair.Crash(kB);
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.side(kB).store.live().at("f").data, "new") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "");
}

// Found by the simulator (seed 11111384631500926259): a's flush failed (EIO: the failed
// pages are readable until the next restart), then a handed the module over. With both
// secondary and the generations equal, a, the default primary, was the source: its copy was
// never repaired from b. After a machine crash a's copy lacked the write, and a split brain
// that a won by policy overwrote b's good copy with it.
TEST(ReplicaDiskFaultTest, HandoverAfterALocalFlushFailureResyncsTheFailedCopyFromThePeer) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.side(kA).store.set_sync_failure(true);
  pair.Write(kA, "f", 0, Bytes(100, 'f'));
  pair.Settle();  // b holds f durably; a's periodic flush fails
  ASSERT_TRUE(pair.side(kA).disk.disk_failed) << pair.Log(kA);
  pair.side(kA).store.set_sync_failure(false);
  pair.SetRole(kA, ReplRole::kSecondary);  // handover: both secondary, generations equal
  pair.Settle();
  EXPECT_NE(pair.Log(kA).find("this node is the target"), std::string::npos) << pair.Log(kA);
  EXPECT_FALSE(pair.side(kA).disk.disk_failed) << pair.Log(kA);
  pair.Disconnect();
  pair.Crash(kA);  // failed pages that were not written again are gone
  ASSERT_TRUE(pair.side(kA).store.live().contains("f"));
  EXPECT_EQ(pair.side(kA).store.live().at("f").data, Bytes(100, 'f'));
  // A split brain that the default primary a wins keeps f.
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.PeerOutdated(kA);
  pair.Write(kA, "g", 0, "a");
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.PeerOutdated(kB);
  pair.Write(kB, "h", 0, "b");
  pair.Settle();
  pair.SetRole(kB, ReplRole::kSecondary);
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.side(kB).store.live().at("f").data, Bytes(100, 'f')) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

// Found by the simulator (seed 7257398079044258101): b's flush failed (its copy inconsistent
// only from that: everything applied still reads there), then b's daemon restarted, which
// forgot that: b counted as partial, and a, back from a machine crash without the last
// acknowledged write, became the source over the only copy that held it.
TEST(ReplicaDiskFaultTest, DaemonRestartKeepsACopyInconsistentOnlyFromAFailedFlushNonPartial) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(100, 'o'));
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Settle();
  const uint64_t op = pair.Write(kA, "f", 0, Bytes(100, 'n'));  // acknowledged, synced nowhere
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kA, op) && pair.Result(kA, op).ok()) << pair.Log(kA);
  pair.side(kB).store.set_sync_failure(true);
  pair.Disconnect();
  pair.Crash(kA);                          // a machine restart: 'n' is gone on a
  pair.Advance(absl::Milliseconds(1100));  // b's periodic flush fails
  pair.Pump();
  ASSERT_TRUE(pair.side(kB).disk.inconsistent) << pair.Log(kB);
  pair.side(kB).store.set_sync_failure(false);
  pair.Restart(kB);  // a daemon restart: the page cache keeps 'n'
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.side(kB).store.live().at("f").data, Bytes(100, 'n'))
      << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

// Found by the simulator (seed 3922009428896545681): b's flush failed, a crashed; b, which
// still reads everything, was the source, and was then counted up to date: promoted when a
// was lost again, it wrote alone, lost its failed pages in a crash, and overwrote a's durable
// copy of an acknowledged write. A copy whose flush failed is never promotable until a
// resync from the peer rewrote it.
TEST(ReplicaDiskFaultTest, SourceWhoseFlushFailedIsNeverUpToDateUntilRepaired) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, "old");
  pair.Settle(absl::Seconds(2));
  pair.side(kB).store.set_sync_failure(true);
  pair.Write(kA, "f", 0, "new");
  pair.Pump();
  pair.Advance(absl::Seconds(1));  // b's flush fails: "new" only in its page cache
  pair.Pump();
  pair.side(kB).store.set_sync_failure(false);
  const uint64_t fsync = pair.Submit(kA, MakeMutation(MutationKind::kFsync, "f"));
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kA, fsync) && pair.Result(kA, fsync).ok()) << pair.Log(kA);
  pair.Disconnect();
  pair.Crash(kA);  // crashed ranks below a failed flush: b is the source
  pair.Connect();
  for (int i = 0; i < 200 && pair.side(kA).blocks_received == 0; ++i) pair.Step();
  ASSERT_GT(pair.side(kA).blocks_received, 0u) << pair.Log(kA) << pair.Log(kB);
  EXPECT_NE(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
  pair.Disconnect();
  pair.Crash(kA);
  pair.Crash(kB);  // b's failed page is gone
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.side(kA).store.live().at("f").data, "new") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

// Found by the simulator (seed 6777578866526207955): b's periodic flush, issued as secondary,
// failed after b had been promoted; b, now the writer, marked its copy inconsistent, and after
// a daemon restart the handshake made the outdated peer the source over b's acknowledged
// writes made alone.
TEST(ReplicaDiskFaultTest, FlushFailingAfterPromotionNeverMakesThePrimaryInconsistent) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, "aaaa");
  pair.Pump();
  pair.side(kB).fail_flushes = true;
  pair.Advance(absl::Seconds(2));  // b issues its periodic flush; its failure waits in the queue
  pair.Disconnect();
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Pump();  // the failure lands on the new primary
  EXPECT_FALSE(pair.side(kB).disk.inconsistent) << pair.Log(kB);
  pair.MarkOutdated(kA);
  pair.PeerOutdated(kB);
  const uint64_t op = pair.Write(kB, "f", 0, "bbbb");
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kB, op) && pair.Result(kB, op).ok()) << pair.Log(kB);
  pair.side(kB).fail_flushes = false;
  pair.Restart(kB);  // a daemon restart: the page cache (and "bbbb") survives
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.side(kA).store.live().at("f").data, "bbbb") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "");
}

// Disk faults. A secondary whose flush fails (EIO) never acknowledges the data as durable:
// the application's fsync completes only once that copy is known inconsistent (not
// promotable), and the copies converge once its disk works again.
TEST(ReplicaDiskFaultTest, SecondaryFlushFailureIsNeverAcknowledgedAsDurable) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.side(kB).fail_flushes = true;
  pair.Write(kA, "f", 0, Bytes(100, 'f'));
  const uint64_t fsync = pair.Submit(kA, MakeMutation(MutationKind::kFsync, "f"));
  for (int i = 0; i < 100 && !pair.Completed(kA, fsync); ++i) {
    pair.Pump();
    pair.Advance(absl::Milliseconds(100));
  }
  ASSERT_TRUE(pair.Completed(kA, fsync)) << pair.Log(kA) << pair.Log(kB);
  EXPECT_TRUE(pair.side(kB).disk.inconsistent) << pair.Log(kB);
  EXPECT_NE(pair.replica(kB).data_state(), DataState::kUpToDate);
  EXPECT_NE(pair.Log(kB).find("disk: a flush failed"), std::string::npos) << pair.Log(kB);
  pair.side(kB).fail_flushes = false;
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "");
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
  EXPECT_FALSE(pair.side(kB).disk.inconsistent);
  EXPECT_EQ(pair.side(kB).store.durable().at("f").data, Bytes(100, 'f'));
}

// A write that fails on the primary (a full disk) but was applied by the secondary: the
// application gets the error, and the secondary's copy is set back to the primary's.
TEST(ReplicaDiskFaultTest, PrimaryWriteFailureIsUndoneOnThePeer) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(100, 'a'));
  pair.Settle();
  pair.side(kA).fail_writes = true;
  const uint64_t op = pair.Write(kA, "f", 10, Bytes(20, 'b'));
  pair.Pump();
  pair.side(kA).fail_writes = false;
  pair.Settle();
  ASSERT_TRUE(pair.Completed(kA, op));
  EXPECT_EQ(pair.Result(kA, op).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("f").data, Bytes(100, 'a'));
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate);
  EXPECT_TRUE(pair.replica(kA).attached());
}

// A resync target whose disk is full: blocks that fail are never acknowledged, the resync
// starts again (not in a tight loop) and ends once there is room.
TEST(ReplicaDiskFaultTest, ResyncIntoAFullDiskWaitsForRoom) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Disconnect();
  pair.PeerOutdated(kA);
  pair.Write(kA, "f", 0, Bytes(3 * kZone, 'x'));
  pair.Settle();
  pair.side(kB).fail_writes = true;
  pair.Connect();
  pair.Settle(absl::Seconds(5));
  EXPECT_NE(pair.replica(kB).data_state(), DataState::kUpToDate);
  EXPECT_TRUE(pair.side(kB).disk.inconsistent);
  EXPECT_LT(pair.side(kB).blocks_received, 30u);  // one try per flush interval, no spin
  pair.side(kB).fail_writes = false;
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
}

// The primary's own flush fails (EIO). Linux forgets the failed pages, so a later fsync
// that succeeds proves nothing: fsyncs keep failing until this copy is resynced from the
// peer, and meanwhile its zones stay hot, so a crash takes them back from the peer.
TEST(ReplicaDiskFaultTest, FsyncsFailAfterALocalFlushFailureUntilResyncedFromThePeer) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.side(kA).store.set_sync_failure(true);
  pair.Write(kA, "f", 0, Bytes(100, 'f'));
  const uint64_t first = pair.Submit(kA, MakeMutation(MutationKind::kFsync, "f"));
  pair.Settle();
  ASSERT_TRUE(pair.Completed(kA, first));
  EXPECT_EQ(pair.Result(kA, first).code(), absl::StatusCode::kDataLoss);
  pair.side(kA).store.set_sync_failure(false);
  const uint64_t second = pair.Submit(kA, MakeMutation(MutationKind::kFsync, "f"));
  pair.Settle();
  ASSERT_TRUE(pair.Completed(kA, second));
  EXPECT_EQ(pair.Result(kA, second).code(), absl::StatusCode::kDataLoss) << pair.Log(kA);
  EXPECT_TRUE(pair.side(kA).disk.disk_failed);
  // Planned swap: a becomes the target of a resync that rewrites its hot zones.
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Settle();
  EXPECT_FALSE(pair.side(kA).disk.disk_failed) << pair.Log(kA);
  pair.Crash(kA);  // what it holds now is durable
  EXPECT_EQ(pair.side(kA).store.live().at("f").data, Bytes(100, 'f'));
  pair.Connect();
  pair.Settle();
  pair.SetRole(kB, ReplRole::kSecondary);
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.Settle();
  const uint64_t third = pair.Submit(kA, MakeMutation(MutationKind::kFsync, "f"));
  pair.Settle();
  ASSERT_TRUE(pair.Completed(kA, third));
  EXPECT_TRUE(pair.Result(kA, third).ok()) << pair.Log(kA);
  EXPECT_EQ(pair.Difference(), "");
}

// Found by the property test: as above, for fsyncs made alone (tracked writes): the second
// fsync, after the disk came back, still fails.
TEST(ReplicaDiskFaultTest, FsyncMadeAloneAfterAFailedFlushFails) {
  ReplicaPair pair(PropertyOptions());
  StartInSync(pair);
  pair.Write(kA, "f0", 0, "a");
  pair.Pump();
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.side(kB).store.set_sync_failure(true);
  const uint64_t first = pair.Submit(kB, MakeMutation(MutationKind::kFsync, "f0"));
  pair.Disconnect();
  pair.PeerOutdated(kB);
  pair.side(kB).store.set_sync_failure(false);
  const uint64_t second = pair.Submit(kB, MakeMutation(MutationKind::kFsync, "f0"));
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kB, first) && pair.Completed(kB, second));
  EXPECT_EQ(pair.Result(kB, first).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(pair.Result(kB, second).code(), absl::StatusCode::kDataLoss);
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "");
}

}  // namespace
}  // namespace duet
