// Behaviour of one module's replication between two nodes (DESIGN.md §4, §5).
#include "engine/replication/replica.h"

#include <gtest/gtest.h>

#include "tests/engine/printers.h"
#include "tests/engine/replica_harness.h"

namespace duet {
namespace {

constexpr int kA = 0;
constexpr int kB = 1;
constexpr uint32_t kZone = 64 * 1024;

std::string Bytes(size_t n, char c) { return std::string(n, c); }

ReplicaOptions Options() {
  ReplicaOptions o;
  o.zone_size = kZone;
  o.timeout = absl::Seconds(5);
  return o;
}

// The options of ReplicaPropertyTest, for the cases it found.
ReplicaOptions PropertyOptions() {
  ReplicaOptions o = Options();
  o.zone_size = 4096;
  o.timeout = absl::Seconds(3);
  o.window_count = 8;
  return o;
}

// a primary, b secondary, connected and in sync.
void StartInSync(ReplicaPair& pair) {
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.Connect();
  pair.Pump();
  ASSERT_TRUE(pair.replica(kA).attached()) << pair.Log(kA);
}

TEST(ReplicaTest, StreamReplicatesEveryMutationKind) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  std::vector<uint64_t> ops;
  ops.push_back(pair.Submit(kA, MakeMutation(MutationKind::kMkdir, "d")));
  ops.push_back(pair.Submit(kA, MakeMutation(MutationKind::kCreate, "d/f")));
  ops.push_back(pair.Write(kA, "d/f", 0, "hello world"));
  ops.push_back(pair.Write(kA, "d/f", 6, "there"));
  ops.push_back(pair.Submit(kA, MakeMutation(MutationKind::kLink, "d/f", "d/g")));
  ops.push_back(pair.Submit(kA, MakeMutation(MutationKind::kSymlink, "s", "/etc/hosts")));
  ops.push_back(pair.Submit(kA, MakeMutation(MutationKind::kRename, "d/g", "h")));
  Mutation truncate = MakeMutation(MutationKind::kTruncate, "h");
  truncate.offset = 5;
  ops.push_back(pair.Submit(kA, truncate));
  Mutation chmod = MakeMutation(MutationKind::kSetattr, "h");
  chmod.mode = 0600;
  ops.push_back(pair.Submit(kA, chmod));
  ops.push_back(pair.Submit(kA, MakeMutation(MutationKind::kCreate, "gone")));
  ops.push_back(pair.Submit(kA, MakeMutation(MutationKind::kUnlink, "gone")));
  ops.push_back(pair.Submit(kA, MakeMutation(MutationKind::kFsync, "d/f")));
  pair.Pump();
  for (uint64_t op : ops) {
    ASSERT_TRUE(pair.Completed(kA, op)) << op;
    EXPECT_TRUE(pair.Result(kA, op).ok()) << pair.Result(kA, op);
  }
  EXPECT_EQ(pair.Difference(), "");
  EXPECT_EQ(pair.side(kB).store.live().at("d/f").data, "hello there");
  EXPECT_EQ(pair.side(kB).store.live().at("h").data, "hello");
  EXPECT_EQ(pair.side(kB).store.live().at("h").mode, 0600u);
  EXPECT_EQ(pair.side(kB).store.live().at("s").data, "/etc/hosts");
}

TEST(ReplicaTest, WriteCompletesOnlyAfterLocalApplyAndPeerAck) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Hold(kB, true);  // b's acknowledgements do not come back
  const uint64_t op = pair.Write(kA, "f", 0, "x");
  pair.Pump();
  EXPECT_FALSE(pair.Completed(kA, op));
  EXPECT_EQ(pair.side(kB).store.live().at("f").data, "x");  // b applied it
  pair.Hold(kB, false);
  pair.Pump();
  EXPECT_TRUE(pair.Completed(kA, op));
}

TEST(ReplicaTest, ReceivedModeAcksBeforeApplying) {
  ReplicaOptions o = Options();
  o.ack = AckMode::kReceived;
  ReplicaPair pair(o);
  StartInSync(pair);
  const uint64_t op = pair.Write(kA, "f", 0, "x");
  // Deliver the write to b (one step) and b's ack back (next steps), before b's apply
  // completion is processed: the queue is FIFO, so the ack is ahead of b's completion.
  pair.Pump();
  EXPECT_TRUE(pair.Completed(kA, op));
}

TEST(ReplicaTest, FsyncCompletesOnlyWhenDurableOnBoth) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, "data");
  const uint64_t sync = pair.Submit(kA, MakeMutation(MutationKind::kFsync, "f"));
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kA, sync));
  EXPECT_EQ(pair.side(kA).store.durable().at("f").data, "data");
  EXPECT_EQ(pair.side(kB).store.durable().at("f").data, "data");
}

TEST(ReplicaTest, DurableModeMakesEveryWriteDurableOnTheSecondary) {
  ReplicaOptions o = Options();
  o.ack = AckMode::kDurable;
  ReplicaPair pair(o);
  StartInSync(pair);
  const uint64_t op = pair.Write(kA, "f", 0, "data");
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kA, op));
  EXPECT_EQ(pair.side(kB).store.durable().at("f").data, "data");
}

TEST(ReplicaTest, WindowBoundsWritesInFlight) {
  ReplicaOptions o = Options();
  o.window_count = 2;
  ReplicaPair pair(o);
  StartInSync(pair);
  pair.Hold(kB, true);
  for (int i = 0; i < 5; ++i) pair.Write(kA, "f", static_cast<uint64_t>(i), "x");
  pair.Pump();
  EXPECT_EQ(pair.side(kA).writes_sent, 2u);
  pair.Hold(kB, false);
  pair.Pump();
  EXPECT_EQ(pair.side(kA).writes_sent, 5u);
  EXPECT_EQ(pair.Difference(), "");
}

TEST(ReplicaTest, SilentPeerIsDroppedAfterTimeoutAndWritesComplete) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Hold(kB, true);
  const uint64_t op = pair.Write(kA, "f", 3 * kZone, "x");
  pair.Pump();
  pair.Advance(absl::Seconds(4));
  EXPECT_FALSE(pair.Completed(kA, op));
  pair.Advance(absl::Seconds(2));
  pair.Pump();
  EXPECT_FALSE(pair.replica(kA).attached());
  // Dropped, but b may still believe its copy is current: nothing completes alone until b
  // is known outdated (Node learns it over the heartbeat links, or that b is gone).
  EXPECT_TRUE(pair.replica(kA).writing_alone());
  EXPECT_FALSE(pair.Completed(kA, op)) << pair.Log(kA) << pair.Log(kB);
  pair.MarkOutdated(kB);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kOutdated);
  EXPECT_TRUE(pair.side(kB).disk.outdated);  // survives a restart of b
  pair.PeerOutdated(kA);
  ASSERT_TRUE(pair.Completed(kA, op)) << pair.Log(kA);
  // The write the peer never acknowledged is tracked for the next resync.
  EXPECT_TRUE(pair.side(kA).disk.dirty.Contains("f", 3)) << pair.Log(kA);
  // a offered the stuck peer a new session; writes wait for its answer up to the timeout,
  // then complete alone, tracked as dirty before they complete.
  const uint64_t alone = pair.Write(kA, "g", 0, "y");
  pair.Pump();
  EXPECT_FALSE(pair.Completed(kA, alone));
  pair.Advance(absl::Seconds(6));
  pair.Pump();
  pair.PeerOutdated(kA);  // as Node does while b says its copy is outdated
  EXPECT_TRUE(pair.Completed(kA, alone)) << pair.Log(kA);
  EXPECT_TRUE(pair.side(kA).disk.dirty.Contains("g", 0));
  EXPECT_NE(pair.side(kA).disk.gens.bitmap, 0u);  // a new generation: a wrote alone
}

// Found by the simulator (seed 4414019431610648415, stream-gap fault): the secondary took
// the first write it received as the session's start, so a lost first write went unnoticed
// and its acknowledgement covered it. The Hello now names the session's first lsn.
TEST(ReplicaTest, LostFirstWriteOfASessionIsAGapNotANewStart) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.LoseStreamWrites(kA, 1);
  const uint64_t first = pair.Write(kA, "f", 0, "first");
  const uint64_t second = pair.Write(kA, "f", kZone, "second");
  pair.Pump();
  // b never acknowledges past the gap: neither write counts as replicated.
  EXPECT_FALSE(pair.Completed(kA, first)) << pair.Log(kB);
  EXPECT_FALSE(pair.Completed(kA, second));
  EXPECT_NE(pair.Log(kB).find("stream out of order"), std::string::npos) << pair.Log(kB);
  // a drops b for not acknowledging, offers a new session on the same connection, and
  // resyncs both writes' zones.
  pair.Settle();
  EXPECT_NE(pair.Log(kA).find("dropping the peer"), std::string::npos) << pair.Log(kA);
  EXPECT_TRUE(pair.replica(kA).attached()) << pair.Log(kA);
  EXPECT_TRUE(pair.Completed(kA, first)) << pair.Log(kA);
  EXPECT_TRUE(pair.Completed(kA, second));
  EXPECT_TRUE(pair.side(kB).zones_resynced.contains({"f", 0})) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "");
}

// Found by the simulator (seed 17154424833300063477, torn crash): a wrote f alone and synced
// it, then unlinked and recreated f (journaled, which dropped f's dirty zones) and crashed
// before those changes were synced. The crash undid them here, the journal replayed them on
// b, and f's bytes were never sent: b kept an empty f. A restart now sends each journaled
// name whole.
TEST(ReplicaTest, NamespaceChangesUndoneByACrashAreResyncedWhole) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(100, 'o'));
  pair.Settle();
  pair.Disconnect();
  pair.PeerOutdated(kA);
  pair.MarkOutdated(kB);
  pair.Write(kA, "f", 10, "X");
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Submit(kA, MakeMutation(MutationKind::kUnlink, "f"));
  pair.Submit(kA, MakeMutation(MutationKind::kCreate, "f"));
  pair.Pump();
  pair.Crash(kA);  // the unlink and the create were not synced: f is back with its bytes
  ASSERT_EQ(pair.side(kA).store.live().at("f").data.size(), 100u);
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("f").data, pair.side(kA).store.live().at("f").data);
}

// Found by the simulator (seed 10291423897686726235): the primary's disk failed (its hot
// zones can no longer cool), then the secondary's flush failed too (it counts itself
// inconsistent, though it holds every write), then the primary's machine restarted and lost
// what it had not synced. The inconsistent copy was never taken as the source, so the copy
// back from the crash overwrote the acknowledged write on the only side that still had it.
TEST(ReplicaTest, CopyBackFromACrashNeverOverwritesAPeerInconsistentOnlyFromAFailedFlush) {
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

// Found by the simulator (seeds 15124230024145932482, 14353316868584173566): the source forgot
// a zone (MarkClean) as soon as the target had it durably, but it had read the zone from its
// page cache, and its own flush then failed: the zone was lost here and named nowhere, so
// no resync ever sent it again. A zone now leaves the plan once our own copy is durable.
TEST(ReplicaTest, ResyncSourceForgetsAZoneOnlyOnceItsOwnCopyIsDurable) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Disconnect();
  pair.Write(kA, "f", 0, "new");  // alone: f's zone is dirty, not hot
  pair.PeerOutdated(kA);
  pair.Pump();
  pair.Connect();
  while (pair.side(kB).blocks_received == 0) ASSERT_TRUE(pair.Step()) << pair.Log(kA);
  pair.Hold(kB, true);  // b's block ack, then its durable ack, wait
  pair.Pump();
  pair.Advance(absl::Seconds(1));
  pair.Pump();
  pair.side(kA).store.set_sync_failure(true);  // a's own flush fails: "new" is not on its disk
  pair.Hold(kB, false);
  pair.Pump();
  pair.side(kA).store.set_sync_failure(false);
  // A new session finishes the resync: b holds "new", a only in its page cache.
  pair.Settle();
  ASSERT_EQ(pair.side(kB).store.live().at("f").data, "new");
  ASSERT_EQ(pair.side(kA).disk.gens.current, pair.side(kB).disk.gens.current) << pair.Log(kA);
  pair.Disconnect();
  pair.Crash(kA);  // back as a secondary: b, which did not crash, is the source
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

// Found by the simulator (seed 3173267267034970257, stream-gap): the source closed its dirty
// map and journal once every block was durable on the target, while a replayed journal entry
// had been lost on the way and never acknowledged: that change was lost for good. The plan
// now closes only after the target acknowledged the whole replay.
TEST(ReplicaTest, JournalReplayLostOnTheWayIsReplayedAgain) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Submit(kA, MakeMutation(MutationKind::kCreate, "f"));
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Settle(absl::Seconds(2));
  pair.Write(kA, "g", 0, "x");  // cools f's name: it is durable on both
  pair.Settle(absl::Seconds(2));
  ASSERT_TRUE(pair.side(kA).disk.hot_names.empty()) << pair.Log(kA);
  pair.Disconnect();
  pair.Submit(kA, MakeMutation(MutationKind::kUnlink, "f"));
  pair.PeerOutdated(kA);
  pair.Pump();
  pair.Connect();
  pair.LoseStreamWrites(kA, 1);  // the replayed unlink
  pair.Settle();
  EXPECT_FALSE(pair.side(kB).store.live().contains("f")) << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

// Found by the simulator (seeds 8920161429715685470, 14172199630865982552): a resync
// target's flush failed (its blocks' pages were forgotten, as Linux does), then a later flush
// in the same session succeeded and the target declared itself up to date: the source closed
// its plan and a crash of the target lost those zones for good.
TEST(ReplicaTest, TargetNeverFinishesAResyncInASessionWhereAFlushFailed) {
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
TEST(ReplicaTest, SecondaryWhoseFlushFailedGetsItsLostZonesBackAfterItsOwnCrash) {
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

// Found by the property test: after b (primary) crashed and reconnected, a sent an
// acknowledgement of the old session (lsn 1, durable) before the new session was decided;
// b, which starts again from lsn 1, counted its new write as durable on a, and a drop then
// left that write's second zone out of the plan: the copies ended with different sizes.
TEST(ReplicaTest, AcknowledgementsOfAnOldSessionNeverCountInTheNext) {
  ReplicaPair pair(PropertyOptions());
  int primary = 0;
  bool connected = true;
  auto heartbeat = [&] {  // what Node does over the heartbeat links after every input
    const int other = 1 - primary;
    if (pair.replica(primary).writing_alone()) {
      pair.MarkOutdated(other);
      if (pair.replica(other).data_state() != DataState::kUpToDate) pair.PeerOutdated(primary);
    }
  };
  auto swap = [&] {
    pair.Pump();
    if (connected && pair.replica(primary).drained() &&
        pair.replica(1 - primary).data_state() == DataState::kUpToDate &&
        pair.replica(primary).attached()) {
      pair.SetRole(primary, ReplRole::kSecondary);
      primary = 1 - primary;
      pair.SetRole(primary, ReplRole::kPrimary);
    }
    heartbeat();
  };
  pair.SetRole(0, ReplRole::kPrimary);
  pair.Connect();
  pair.Pump();
  pair.side(kB).store.set_sync_failure(true);
  heartbeat();
  pair.Write(primary, "f0", 0, "a");
  heartbeat();
  swap();
  pair.Write(primary, "f0", 0, "a");
  heartbeat();
  swap();
  pair.Advance(absl::Milliseconds(1000));
  heartbeat();
  pair.Disconnect();  // b crashes
  connected = false;
  pair.Crash(kB);
  if (primary == kB) {
    if (pair.replica(kA).data_state() == DataState::kUpToDate) {
      primary = kA;
      pair.SetRole(kA, ReplRole::kPrimary);
    } else {
      pair.SetRole(kB, ReplRole::kPrimary);
    }
  }
  heartbeat();
  pair.Connect();
  connected = true;
  heartbeat();
  pair.Pump(5);
  heartbeat();
  pair.Write(primary, "f0", 3261, std::string(836, 'm'));
  heartbeat();
  pair.Disconnect();
  heartbeat();
  pair.side(kB).store.set_sync_failure(false);
  pair.Connect();
  for (int i = 0; i < 300; ++i) {
    pair.Pump();
    pair.Advance(absl::Milliseconds(100));
    if (pair.replica(primary).writing_alone()) {
      pair.MarkOutdated(1 - primary);
      pair.PeerOutdated(primary);
    }
  }
  pair.Pump();
  EXPECT_EQ(pair.Difference(), "") << "primary " << primary << "\n" << pair.Log(kA) << pair.Log(kB);
}

// Found by the simulator (seed 2141412961155543499, torn crash): a, target of a new session,
// asked for its hot zones the peer had not made durable, but the peer crashed before it got
// the request; at the next session the watermark said those zones were durable there, and a
// never asked again. Zones in a target's plan are now of unknown age until it is done.
TEST(ReplicaTest, TargetAsksAgainForZonesOfAnInterruptedPlan) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, "old");
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, "f"));
  pair.Pump();
  pair.Write(kA, "f", 0, "new");  // b applies it, not durable there: f's zone stays hot on a
  pair.Pump();
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.SetRole(kB, ReplRole::kPrimary);
  ASSERT_TRUE(pair.Step());  // b gets a's Hello, answers it and decides
  pair.Hold(kA, true);       // a decides too, but its request for f's zone never reaches b
  pair.Pump();
  ASSERT_NE(pair.Log(kA).find("this node is the target"), std::string::npos) << pair.Log(kA);
  pair.Disconnect();
  pair.Crash(kB);  // b loses "new"
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

// Found by the simulator (seed 14361417856231424987): in a split brain where only the
// secondary had acknowledged writes made alone, the secondary was made the source and the
// serving primary the target: its blocks landed under the running application, and the
// primary ignored the secondary's journal replay, so the resync never ended. The serving
// primary is never a target: it waits, says the peer's copy survives (Node hands the module
// over), and only once it is secondary does it take the peer's copy.
TEST(ReplicaTest, ServingPrimaryIsNeverTheTargetOfASplitBrain) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Disconnect();
  pair.Write(kA, "x", 0, "x");  // made alone, never acknowledged (b is never outdated)
  pair.Pump();
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Submit(kB, MakeMutation(MutationKind::kCreate, "n"));
  const uint64_t acked = pair.Write(kB, "y", 0, "y");
  pair.PeerOutdated(kB);  // b's writes made alone are acknowledged
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kB, acked) && pair.Result(kB, acked).ok());
  pair.SetRole(kB, ReplRole::kSecondary);
  pair.SetRole(kA, ReplRole::kPrimary);  // the module went back to a meanwhile
  pair.Connect();
  pair.Settle();
  EXPECT_TRUE(pair.replica(kA).peer_copy_survives()) << pair.Log(kA);
  EXPECT_FALSE(pair.replica(kB).peer_copy_survives());
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
  EXPECT_EQ(pair.side(kA).store.live().at("x").data, "x");  // nothing landed under a's app
  EXPECT_FALSE(pair.side(kA).store.live().contains("y"));
  pair.SetRole(kA, ReplRole::kSecondary);  // a hands the module over
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Settle();
  EXPECT_EQ(pair.Log(kB).find("ignored a stream write"), std::string::npos) << pair.Log(kB);
  EXPECT_FALSE(pair.replica(kA).peer_copy_survives());
  EXPECT_EQ(pair.side(kA).store.live().at("y").data, "y");
  EXPECT_FALSE(pair.side(kA).preserved.empty());  // a's tentative change is kept aside
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

// Found by the simulator (seed 2062956919809420545): a write issued while the handshake was
// deciding waited for it; the handshake then made the primary wait (the peer's copy
// survives), and the write was never submitted nor answered.
TEST(ReplicaTest, WriteIssuedDuringAHandshakeThatWaitsGoesAlone) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Disconnect();
  pair.Write(kA, "f", 0, "A");
  pair.PeerOutdated(kA);
  pair.Pump();
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.PeerOutdated(kB);
  pair.Write(kB, "f", 0, "B");
  pair.Pump();
  pair.Connect();
  const uint64_t during = pair.Write(kB, "g", 0, "during the handshake");
  pair.Settle();
  ASSERT_TRUE(pair.replica(kB).peer_copy_survives()) << pair.Log(kB);
  EXPECT_TRUE(pair.Completed(kB, during)) << pair.Log(kB);
}

// The default policy: whichever node serves when the pair meets again, the default
// primary's copy survives a split brain. The other node, serving, waits for the handover.
TEST(ReplicaTest, SplitBrainKeepsTheDefaultPrimarysCopyEvenIfThePeerServes) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Disconnect();
  const uint64_t mine = pair.Write(kA, "f", 0, "A");  // a is the default primary
  pair.PeerOutdated(kA);
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kA, mine) && pair.Result(kA, mine).ok());
  pair.SetRole(kA, ReplRole::kSecondary);  // a crashed or was fenced; b took over
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.PeerOutdated(kB);
  pair.Write(kB, "f", 0, "B");
  pair.Submit(kB, MakeMutation(MutationKind::kCreate, "only-b"));
  pair.Pump();
  pair.Connect();
  pair.Settle();
  EXPECT_TRUE(pair.replica(kB).peer_copy_survives()) << pair.Log(kB);
  EXPECT_NE(pair.replica(kA).refused_reason().find("this copy survives"), std::string::npos)
      << pair.Log(kA);
  // a may serve (the Node of b hands over when a is an up-to-date secondary) ...
  EXPECT_EQ(pair.replica(kA).data_state(), DataState::kUpToDate) << pair.Log(kA);
  // ... and stays so when b's heartbeats say it writes alone.
  pair.MarkOutdated(kA);
  EXPECT_EQ(pair.replica(kA).data_state(), DataState::kUpToDate) << pair.Log(kA);
  EXPECT_EQ(pair.side(kB).store.live().at("f").data, "B");  // b's app still sees its data
  pair.SetRole(kB, ReplRole::kSecondary);
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("f").data, "A");
  EXPECT_FALSE(pair.side(kB).store.live().contains("only-b"));
  EXPECT_NE(std::find(pair.side(kB).preserved.begin(), pair.side(kB).preserved.end(), "only-b"),
            pair.side(kB).preserved.end());
}

// Writes a acknowledged alone (b was declared lost) win against b, which took over later and
// serves without having written: b waits to hand over. If a cannot serve, the admin's discard
// on a gives the serving copy the win instead, and a takes it (its changes kept aside).
TEST(ReplicaTest, AdminDiscardOnTheWaitingSurvivorKeepsTheServingCopy) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, "o");
  pair.Settle();
  pair.Disconnect();
  const uint64_t mine = pair.Write(kA, "f", 0, "A");
  pair.PeerOutdated(kA);
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kA, mine) && pair.Result(kA, mine).ok());
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.SetRole(kB, ReplRole::kPrimary);  // b took over and has not written yet
  pair.Connect();
  pair.Settle();
  EXPECT_TRUE(pair.replica(kB).peer_copy_survives()) << pair.Log(kB);
  EXPECT_NE(pair.replica(kA).refused_reason().find("duetctl discard here"), std::string::npos)
      << pair.Log(kA);
  pair.Discard(kA);
  pair.Settle();
  EXPECT_FALSE(pair.replica(kB).peer_copy_survives()) << pair.Log(kB);
  EXPECT_EQ(pair.replica(kA).refused_reason(), "") << pair.Log(kA);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kA).store.live().at("f").data, "o");
  EXPECT_NE(std::find(pair.side(kA).preserved.begin(), pair.side(kA).preserved.end(), "f"),
            pair.side(kA).preserved.end());
}

// Found by the simulator (seed 11111384631500926259): a's flush failed (EIO: the failed
// pages are readable until the next restart), then a handed the module over. With both
// secondary and the generations equal, a, the default primary, was the source: its copy was
// never repaired from b. After a machine crash a's copy lacked the write, and a split brain
// that a won by policy overwrote b's good copy with it.
TEST(ReplicaTest, HandoverAfterALocalFlushFailureResyncsTheFailedCopyFromThePeer) {
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
TEST(ReplicaTest, DaemonRestartKeepsACopyInconsistentOnlyFromAFailedFlushNonPartial) {
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
TEST(ReplicaTest, SourceWhoseFlushFailedIsNeverUpToDateUntilRepaired) {
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

// Found by the simulator (seed 14353316868584173566): a secondary source (no application to
// promote it) replayed its journal on the stream, and the transport lost the first write:
// the target ignored the rest, nothing timed out, and the resync never ended. A replay
// unacknowledged for the replication timeout starts a new session.
TEST(ReplicaTest, SecondarySourceWhoseJournalReplayIsLostStartsANewSession) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Disconnect();
  pair.Submit(kA, MakeMutation(MutationKind::kCreate, "made-alone"));
  pair.Write(kA, "made-alone", 0, "x");
  pair.Submit(kA, MakeMutation(MutationKind::kRename, "made-alone", "renamed"));
  pair.PeerOutdated(kA);
  pair.Pump();
  pair.SetRole(kA, ReplRole::kSecondary);  // neither serves: a is the source as a secondary
  pair.LoseStreamWrites(kA, 1);
  pair.Connect();
  pair.Settle(absl::Seconds(20));
  EXPECT_NE(pair.Log(kA).find("no acknowledgement of the journal replay"), std::string::npos)
      << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
}

// Found by the simulator (seed 6777578866526207955): b's periodic flush, issued as secondary,
// failed after b had been promoted; b, now the writer, marked its copy inconsistent, and after
// a daemon restart the handshake made the outdated peer the source over b's acknowledged
// writes made alone.
TEST(ReplicaTest, FlushFailingAfterPromotionNeverMakesThePrimaryInconsistent) {
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

// A tree of every kind of name: a directory with a file, a symlink, a file of several zones.
void WriteTree(ReplicaPair& pair, int side) {
  pair.Submit(side, MakeMutation(MutationKind::kMkdir, "d"));
  pair.Write(side, "d/f", 0, "in a directory");
  pair.Submit(side, MakeMutation(MutationKind::kSymlink, "link", "d/f"));
  pair.Write(side, "vm.img", 0, Bytes(3 * kZone + 10, 'v'));
  pair.Write(side, "old", 0, "renamed");
  pair.Submit(side, MakeMutation(MutationKind::kRename, "old", "new"));
  pair.Settle();
}

// A node back with a new disk (no files, no metadata) is blank: it takes the whole tree from
// its peer, whatever the generations say (both may still hold the initial one), and what it
// held anyway is kept aside, then removed.
TEST(ReplicaTest, BlankCopyTakesTheWholeTreeFromThePeer) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  WriteTree(pair, kA);
  ASSERT_EQ(pair.Difference(), "");
  pair.Disconnect();
  pair.ReplaceDisk(kB, {"stale"});
  pair.Connect();
  pair.Settle();
  EXPECT_NE(pair.Log(kB).find("connected: full resync; this node is the target"), std::string::npos)
      << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_FALSE(pair.side(kB).store.live().contains("stale"));
  EXPECT_NE(std::find(pair.side(kB).preserved.begin(), pair.side(kB).preserved.end(), "stale"),
            pair.side(kB).preserved.end());
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
  EXPECT_TRUE(pair.side(kB).disk.joined);
  // Joined now: the next return is incremental again.
  pair.Disconnect();
  pair.Write(kA, "vm.img", 0, "x");
  pair.PeerOutdated(kA);
  pair.Pump();
  const uint64_t before = pair.side(kB).blocks_received;
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).blocks_received - before, 1u) << pair.Log(kB);
}

// Interrupted, a full resync starts over (the blank copy is still blank) and completes, with
// what the source changed meanwhile, removals included.
TEST(ReplicaTest, InterruptedFullResyncCompletesLater) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  WriteTree(pair, kA);
  pair.Disconnect();
  pair.ReplaceDisk(kB);
  pair.Connect();
  for (int i = 0; i < 12; ++i) pair.Step();
  ASSERT_GT(pair.side(kB).blocks_received, 0u) << pair.Log(kB);
  pair.Disconnect();
  EXPECT_FALSE(pair.side(kB).disk.joined);
  EXPECT_NE(pair.replica(kB).data_state(), DataState::kUpToDate);
  pair.Submit(kA, MakeMutation(MutationKind::kUnlink, "d/f"));
  pair.Write(kA, "later", 0, "written alone");
  pair.PeerOutdated(kA);
  pair.Pump();
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
  const std::string log = pair.Log(kB);
  const size_t first = log.find("connected: full resync");
  ASSERT_NE(first, std::string::npos) << log;
  EXPECT_NE(log.find("connected: full resync", first + 1), std::string::npos) << log;
}

// Found by the simulator (seed 14390970481312806728): a full resync into b was cut short,
// b was forced primary, and a's disk was replaced. Both unjoined, b still naming the initial
// generation, the pair resynced only b's dirty zones into blank a: what b had received whole
// before the cut never reached a. A forced copy that was mid-way through a full resync holds
// the module's data under a lineage of its own: a blank peer takes it whole.
TEST(ReplicaTest, ForcedPartialFullResyncTargetIsTakenWholeByABlankPeer) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  WriteTree(pair, kA);
  pair.Disconnect();
  pair.ReplaceDisk(kB);
  pair.Connect();
  for (int i = 0; i < 200 && pair.side(kB).blocks_received < 2; ++i) pair.Step();
  ASSERT_GE(pair.side(kB).blocks_received, 2u) << pair.Log(kB);
  pair.Disconnect();
  ASSERT_FALSE(pair.side(kB).disk.joined);
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.ReplaceDisk(kA);
  pair.SetRole(kB, ReplRole::kPrimary);  // forced: the reference now
  pair.Write(kB, "vm.img", 2 * kZone, "alone");
  pair.PeerOutdated(kB);
  pair.Pump();
  pair.Connect();
  pair.Settle();
  EXPECT_NE(pair.Log(kA).find("connected: full resync; this node is the target"), std::string::npos)
      << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

// A copy that wrote before it ever met its peer holds other data: refused, until the admin
// discards one side, which then takes the other's whole tree (its own kept aside), even if
// the first attempt is interrupted.
TEST(ReplicaTest, UnrelatedDataWaitsForTheAdminThenResyncsInFull) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  WriteTree(pair, kA);
  pair.Disconnect();
  pair.ReplaceDisk(kB);
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Write(kB, "other", 0, "b's own data");
  pair.PeerOutdated(kB);
  pair.Pump();
  pair.SetRole(kB, ReplRole::kSecondary);
  pair.Connect();
  pair.Settle();
  EXPECT_NE(pair.replica(kB).refused_reason().find("unrelated data"), std::string::npos)
      << pair.Log(kB);
  EXPECT_TRUE(pair.side(kB).store.live().contains("other"));
  pair.Discard(kB);
  for (int i = 0; i < 200 && pair.side(kB).blocks_received == 0; ++i) pair.Step();
  ASSERT_GT(pair.side(kB).blocks_received, 0u) << pair.Log(kB);
  ASSERT_FALSE(pair.side(kB).disk.joined);
  // Interrupted: it starts over without asking the admin again.
  pair.Disconnect();
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.replica(kB).refused_reason(), "") << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_FALSE(pair.side(kB).store.live().contains("other"));
  EXPECT_NE(std::find(pair.side(kB).preserved.begin(), pair.side(kB).preserved.end(), "other"),
            pair.side(kB).preserved.end());
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
}

TEST(ReplicaTest, ResyncSendsOnlyDirtyZones) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  // A large file, replicated.
  for (uint64_t z = 0; z < 64; ++z) pair.Write(kA, "disk.img", z * kZone, Bytes(kZone, 'a'));
  pair.Settle(absl::Seconds(2));  // b flushes: everything is durable there
  ASSERT_EQ(pair.Difference(), "");
  pair.Disconnect();
  // Alone, a writes into three zones (one write spans two).
  pair.Write(kA, "disk.img", 5 * kZone + 10, "new");
  pair.Write(kA, "disk.img", 40 * kZone - 2, "span");
  pair.Pump();
  const uint64_t before = pair.side(kB).block_bytes_received;
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).blocks_received, 3u) << pair.Log(kA);
  EXPECT_EQ(pair.side(kB).block_bytes_received - before, 3 * kZone);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate);
  EXPECT_TRUE(pair.side(kA).disk.dirty.empty());
  EXPECT_EQ(pair.side(kA).disk.gens.bitmap, 0u);
  EXPECT_EQ(pair.side(kA).disk.gens.current, pair.side(kB).disk.gens.current);
}

TEST(ReplicaTest, NamespaceJournalReplaysChangesMadeAlone) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "keep", 0, "k");
  pair.Write(kA, "old", 0, "o");
  pair.Pump();
  pair.Disconnect();
  pair.Submit(kA, MakeMutation(MutationKind::kMkdir, "dir"));
  pair.Write(kA, "dir/new", 0, "n");
  pair.Submit(kA, MakeMutation(MutationKind::kRename, "old", "dir/moved"));
  pair.Submit(kA, MakeMutation(MutationKind::kUnlink, "keep"));
  pair.Pump();
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

TEST(ReplicaTest, ResyncNeverOverwritesNewerWrite) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(2 * kZone, 'a'));
  pair.Pump();
  pair.Disconnect();
  pair.Write(kA, "f", 0, Bytes(kZone, 'b'));  // zone 0 dirty
  pair.Pump();
  pair.Connect();
  // Run until a's zone read is issued, then write newer data into that zone live, so the
  // block read before it reaches b after the live write.
  bool wrote = false;
  while (pair.Step()) {
    if (!wrote && pair.replica(kA).resync_status(pair.now()).active) {
      pair.Write(kA, "f", 100, "LIVE");
      wrote = true;
    }
  }
  ASSERT_TRUE(wrote);
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("f").data.substr(100, 4), "LIVE");
}

TEST(ReplicaTest, ActivityLogRollsBackUnackedWrites) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(kZone, 'a'));
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Pump();
  // a writes; the write reaches its own disk durably but never the peer; then a crashes.
  pair.Hold(kA, true);
  pair.Write(kA, "f", 10, "UNACKED");
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, "f"));
  pair.Pump();
  ASSERT_EQ(pair.side(kA).store.durable().at("f").data.substr(10, 7), "UNACKED");
  pair.Disconnect();
  pair.Crash(kA);
  // b takes over and writes elsewhere; then a returns as secondary.
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Write(kB, "g", 0, "from b");
  pair.Pump();
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kA).store.live().at("f").data.substr(10, 7), Bytes(7, 'a'));
  // Incremental: only the hot zone and b's dirty zone, not the whole file.
  EXPECT_LE(pair.side(kA).blocks_received, 2u);
}

TEST(ReplicaTest, HotSpotWritesPersistTheActivityLogOnce) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  const uint64_t before = pair.side(kA).hot_adds;
  for (int i = 0; i < 1000; ++i) pair.Write(kA, "f", static_cast<uint64_t>(i % 100), "x");
  pair.Pump();
  EXPECT_EQ(pair.side(kA).hot_adds - before, 1u);
}

TEST(ReplicaTest, ResyncResumesAfterInterrupt) {
  ReplicaOptions o = Options();
  o.resync_reads = 1;
  ReplicaPair pair(o);
  StartInSync(pair);
  pair.Disconnect();
  for (uint64_t z = 0; z < 40; ++z) pair.Write(kA, "big", z * kZone, Bytes(kZone, 'z'));
  pair.Pump();
  pair.Connect();
  // Part of the resync, with b's periodic flush making the blocks so far durable.
  for (int i = 0; i < 3; ++i) {
    pair.Pump(20);
    pair.Advance(absl::Seconds(1));
  }
  pair.Pump(5);
  const uint64_t left = pair.side(kA).disk.dirty.zones();
  ASSERT_GT(left, 0u);
  ASSERT_LT(left, 40u);
  pair.Disconnect();
  pair.Crash(kB);  // b loses what it had not flushed
  const uint64_t sent_before = pair.side(kB).blocks_received;
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  // Resumed: the second session sent only what was left, not all 40 zones again.
  EXPECT_LE(pair.side(kB).blocks_received - sent_before, left) << "left " << left;
}

TEST(ReplicaTest, SplitBrainKeepsDiscardedCopy) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "shared", 0, "v1");
  pair.Pump();
  pair.Disconnect();
  // Both write alone: a (default primary) and b.
  pair.Write(kA, "shared", 0, "A2");
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Write(kB, "shared", 0, "B2");
  pair.Submit(kB, MakeMutation(MutationKind::kCreate, "only-b"));
  pair.Pump();
  pair.SetRole(kB, ReplRole::kSecondary);
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.Connect();
  pair.Settle();
  EXPECT_NE(pair.Log(kB).find("split brain"), std::string::npos) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("shared").data, "A2");
  EXPECT_FALSE(pair.side(kB).store.live().contains("only-b"));
  // b's divergent paths were handed to the preserving action before being overwritten.
  EXPECT_NE(std::find(pair.side(kB).preserved.begin(), pair.side(kB).preserved.end(), "shared"),
            pair.side(kB).preserved.end());
  EXPECT_NE(std::find(pair.side(kB).preserved.begin(), pair.side(kB).preserved.end(), "only-b"),
            pair.side(kB).preserved.end());
}

TEST(ReplicaTest, ManualSplitBrainPolicyWaitsForAdmin) {
  ReplicaOptions o = Options();
  o.split_brain = SplitBrainPolicy::kManual;
  ReplicaPair pair(o);
  StartInSync(pair);
  pair.Disconnect();
  pair.Write(kA, "f", 0, "A");
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Write(kB, "f", 0, "B");
  pair.Pump();
  pair.SetRole(kB, ReplRole::kSecondary);
  pair.Connect();
  pair.Settle();
  EXPECT_NE(pair.replica(kA).refused_reason().find("split brain"), std::string::npos);
  EXPECT_EQ(pair.side(kA).store.live().at("f").data, "A");
  EXPECT_EQ(pair.side(kB).store.live().at("f").data, "B");
}

// The admin resolves it: b discards (its changes kept aside), the pair connects and b takes
// a's copy. Refused on a primary.
TEST(ReplicaTest, AdminDiscardResolvesASplitBrainThatWaits) {
  ReplicaOptions o = Options();
  o.split_brain = SplitBrainPolicy::kManual;
  ReplicaPair pair(o);
  StartInSync(pair);
  pair.Disconnect();
  pair.Write(kA, "f", 0, "A");
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Write(kB, "f", 0, "B");
  pair.Submit(kB, MakeMutation(MutationKind::kCreate, "only-b"));
  pair.Pump();
  {
    Actions out;
    EXPECT_EQ(pair.replica(kB).DiscardMyData(out).code(), absl::StatusCode::kFailedPrecondition);
  }
  pair.SetRole(kB, ReplRole::kSecondary);
  pair.Connect();
  pair.Settle();
  ASSERT_NE(pair.replica(kB).refused_reason().find("duetctl discard"), std::string::npos);
  pair.Discard(kB);
  pair.Settle();
  EXPECT_EQ(pair.replica(kB).refused_reason(), "");
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("f").data, "A");
  EXPECT_NE(std::find(pair.side(kB).preserved.begin(), pair.side(kB).preserved.end(), "only-b"),
            pair.side(kB).preserved.end());
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate);
}

TEST(ReplicaTest, SecondaryRejectsLocalWrites) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  const uint64_t op = pair.Write(kB, "f", 0, "x");
  ASSERT_TRUE(pair.Completed(kB, op));
  EXPECT_EQ(pair.Result(kB, op).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ReplicaTest, PlannedSwapNeedsNoResync) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  for (int i = 0; i < 20; ++i) pair.Write(kA, "f", static_cast<uint64_t>(i) * kZone, "x");
  pair.Pump();
  pair.Advance(absl::Seconds(2));  // b flushes: everything durable there
  pair.Pump();
  ASSERT_TRUE(pair.replica(kA).drained());
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Settle();
  ASSERT_TRUE(pair.replica(kB).attached()) << pair.Log(kB);
  EXPECT_EQ(pair.side(kA).blocks_received + pair.side(kB).blocks_received, 0u);
  const uint64_t op = pair.Write(kB, "f", 1, "y");
  pair.Pump();
  EXPECT_TRUE(pair.Completed(kB, op));
  EXPECT_EQ(pair.Difference(), "");
}

// Found by ReplicaPropertyTest: fsync, write, swap, crash of the new primary.
TEST(ReplicaTest, CrashOfNewPrimaryAfterSwapKeepsEarlierWrites) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, "f0"));
  pair.Write(kA, "f0", 0, "x");
  pair.Pump();
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Disconnect();  // before the two agree on the new direction
  pair.Crash(kB);
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.Connect();
  pair.Settle();
  ASSERT_TRUE(pair.side(kA).store.live().contains("f0")) << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

// Found by ReplicaPropertyTest: a write, then time passes before anything is delivered.
TEST(ReplicaTest, WriteThenTimePassesBeforeDelivery) {
  ReplicaPair pair(PropertyOptions());
  StartInSync(pair);
  const uint64_t op = pair.Write(kA, "f0", 0, "a");
  pair.Advance(absl::Milliseconds(790));
  pair.Advance(absl::Milliseconds(2210));
  pair.Settle(absl::Seconds(30));
  EXPECT_TRUE(pair.Completed(kA, op)) << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
}

// Found by ReplicaPropertyTest: a write made alone, then, during the next handshake, a live
// write to the same zone.
TEST(ReplicaTest, LiveWriteDuringHandshakeAfterWritingAlone) {
  ReplicaPair pair(PropertyOptions());
  StartInSync(pair);
  pair.Disconnect();
  pair.Write(kA, "f0", 0, "a");
  pair.MarkOutdated(kB);
  pair.PeerOutdated(kA);
  pair.Connect();
  pair.Pump(262);
  pair.Disconnect();
  pair.Write(kA, "f2", 0, "a");
  pair.MarkOutdated(kB);
  pair.PeerOutdated(kA);
  pair.Connect();
  pair.Write(kA, "f2", 1, "a");
  pair.Settle(absl::Seconds(30));
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

// Found by ReplicaPropertyTest: a planned swap, writes on the new primary while the stream
// is being re-established, a reconnect, and one more write.
TEST(ReplicaTest, WritesAcrossReconnectRightAfterSwap) {
  ReplicaPair pair(PropertyOptions());
  StartInSync(pair);
  ASSERT_TRUE(pair.replica(kA).drained());
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Pump(6);
  pair.Write(kB, "f0", 0, "a");
  pair.Write(kB, "f1", 0, "a");
  pair.Disconnect();
  if (pair.replica(kB).writing_alone()) {
    pair.MarkOutdated(kA);
    pair.PeerOutdated(kB);
  }
  pair.Connect();
  pair.Write(kB, "f0", 1, "a");
  pair.Settle(absl::Seconds(30));
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << "--\n" << pair.Log(kB);
}

// Found by ReplicaPropertyTest: an fsync, a planned swap, a write made alone by the new
// primary, then its crash with no up-to-date peer to take over.
TEST(ReplicaTest, CrashOfLonePrimaryAfterSwapKeepsFsyncedData) {
  ReplicaPair pair(PropertyOptions());
  StartInSync(pair);
  const uint64_t w1 = pair.Write(kA, "f2", 0, Bytes(11, 'k'));
  pair.Pump(4);
  const uint64_t fsync = pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  const uint64_t w2 = pair.Write(kA, "f2", 0, "a");
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kA, w1) && pair.Completed(kA, fsync) && pair.Completed(kA, w2));
  ASSERT_TRUE(pair.replica(kA).drained());
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Advance(absl::Milliseconds(1000));
  pair.Disconnect();
  const uint64_t w3 = pair.Write(kB, "f2", 0, Bytes(5, 'u'));
  if (pair.replica(kB).writing_alone()) {
    pair.MarkOutdated(kA);
    pair.PeerOutdated(kB);
  }
  pair.Pump();
  EXPECT_TRUE(pair.Completed(kB, w3));
  pair.Crash(kB);
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Connect();
  pair.Settle(absl::Seconds(30));
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << "--\n" << pair.Log(kB);
  // The fsync covered "akkkkkkkkkk"; the write made alone may be lost with the crash.
  const std::string data = pair.side(kB).store.live().at("f2").data.ToString();
  EXPECT_EQ(data.substr(5), Bytes(6, 'k')) << data;
  EXPECT_TRUE(data.substr(0, 5) == "akkkk" || data.substr(0, 5) == "uuuuu") << data;
}

// Found by the simulator (seed 16753576447339095367): writes made alone to a file that an
// earlier rename made alone had replaced; replaying the journal must not move the dirty
// zones again (the rename's old name has none by then, and would wipe the new name's).
TEST(ReplicaTest, JournalReplayKeepsDirtyZonesOfRenamedOverFile) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "s1", 0, Bytes(100, 'o'));
  pair.Write(kA, "s2", 0, Bytes(100, 'p'));
  pair.Pump();
  pair.Disconnect();
  pair.Submit(kA, MakeMutation(MutationKind::kRename, "s1", "s2"));
  pair.Submit(kA, MakeMutation(MutationKind::kTruncate, "s2"));  // to 0
  pair.Write(kA, "s2", 10, Bytes(kZone + 5, 'n'));
  pair.Submit(kA, MakeMutation(MutationKind::kCreate, "s1"));
  pair.Pump();
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("s2").data.size(), kZone + 15);
}

// Found by the simulator (seed 16753576447339095367): the primary crashes right after a
// write its peer acknowledged, and returns before the peer took over. The peer's copy is the
// complete one: the returning node's hot zones come from the peer, not the other way round.
TEST(ReplicaTest, PrimaryReturningFromCrashTakesItsHotZonesFromThePeer) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "vm.img", 0, Bytes(1000, 'o'));
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Settle();
  const uint64_t op = pair.Write(kA, "vm.img", 5 * kZone, Bytes(34, 'n'));
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kA, op));
  pair.Disconnect();
  pair.Crash(kA);  // its write was never synced there
  pair.SetRole(kB, ReplRole::kSecondary);
  pair.Connect();  // neither is primary yet
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kA).store.live().at("vm.img").data.substr(5 * kZone), Bytes(34, 'n'));
  EXPECT_EQ(pair.replica(kA).data_state(), DataState::kUpToDate);
}

// Found by the simulator (seed 8338466758792026901): the target has received ResyncDone and
// is flushing when a stream rename moves one of its requests to the new name; the request
// goes out again. The target must not finish on the old ResyncDone: the source serves the
// late request and waits for its block acks, forever if the target finished meanwhile.
TEST(ReplicaTest, RequestMovedByRenameDuringFinalFlushIsServedBeforeFinishing) {
  bool hit = false;
  for (int k = 0; k < 60; ++k) {
    ReplicaPair pair(Options());
    StartInSync(pair);
    pair.Write(kA, "s3", 0, Bytes(1000, 'o'));
    pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
    pair.Settle();
    pair.Write(kA, "s3", 0, Bytes(500, 'n'));  // hot on a, never synced there
    pair.Pump();
    pair.Disconnect();
    pair.Crash(kA);
    pair.SetRole(kB, ReplRole::kPrimary);
    pair.Connect();
    for (int i = 0; i < k && pair.Step(); ++i) {
    }
    pair.Submit(kB, MakeMutation(MutationKind::kRename, "s3", "s1"));
    pair.Settle();
    bool finished_once = false;
    for (const std::string& l : pair.side(kA).log) {
      finished_once |= l.find("resync done") != std::string::npos;
    }
    if (!finished_once) continue;
    hit = true;
    EXPECT_FALSE(pair.replica(kB).resync_status(pair.now()).active) << "k=" << k << pair.Log(kB);
    EXPECT_FALSE(pair.replica(kA).resync_status(pair.now()).active) << "k=" << k << pair.Log(kA);
    EXPECT_EQ(pair.Difference(), "") << "k=" << k;
  }
  EXPECT_TRUE(hit);
}

// A stream mutation that fails only on the secondary (its copy lost the file): the secondary
// is inconsistent at once and asks for what the mutation touched in a new session.
TEST(ReplicaTest, StreamApplyFailureOnSecondaryIsResynced) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(3 * kZone, 'f'));
  pair.Settle();
  ASSERT_TRUE(pair.side(kB).store.Apply(MakeMutation(MutationKind::kUnlink, "f")).ok());
  const uint64_t op = pair.Submit(kA, MakeMutation(MutationKind::kRename, "f", "g"));
  pair.Step();
  pair.Step();
  pair.Step();
  EXPECT_NE(pair.replica(kB).data_state(), DataState::kUpToDate);
  pair.Settle();
  EXPECT_TRUE(pair.Completed(kA, op) && pair.Result(kA, op).ok());
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
  EXPECT_FALSE(pair.replica(kB).durable().inconsistent);
}

// Found by the simulator (seed 1988111358474182198): the application renames a name that
// does not exist; the rename fails on both nodes alike, and the pair goes on in sync.
TEST(ReplicaTest, MutationFailingOnBothNodesLeavesThePairInSync) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  const uint64_t op = pair.Submit(kA, MakeMutation(MutationKind::kRename, "missing", "g"));
  pair.Settle();
  ASSERT_TRUE(pair.Completed(kA, op));
  EXPECT_FALSE(pair.Result(kA, op).ok());
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
  const uint64_t after = pair.Write(kA, "h", 0, "x");
  pair.Settle();
  EXPECT_TRUE(pair.Completed(kA, after) && pair.Result(kA, after).ok());
  EXPECT_EQ(pair.Difference(), "");
  EXPECT_TRUE(pair.replica(kA).attached());
}

// Found by the simulator (seed 16105962857814088967): the primary loses its peer, writes
// alone (nothing acknowledged: the peer is never outdated) and crashes; the peer takes over
// and acknowledges writes. Both branches moved on, but only one is real: no split brain,
// and the acknowledged writes survive under every policy.
TEST(ReplicaTest, TentativeBranchLosesAgainstAcknowledgedOne) {
  for (SplitBrainPolicy policy :
       {SplitBrainPolicy::kDiscardNonDefault, SplitBrainPolicy::kManual}) {
    ReplicaOptions o = Options();
    o.split_brain = policy;
    ReplicaPair pair(o);
    StartInSync(pair);
    pair.Disconnect();
    const uint64_t tentative = pair.Write(kA, "f", 0, "tentative");
    pair.Pump();
    EXPECT_FALSE(pair.Completed(kA, tentative));  // waits for b to be outdated
    pair.Crash(kA);
    pair.SetRole(kB, ReplRole::kPrimary);
    const uint64_t real = pair.Write(kB, "f", 0, "acked");
    pair.PeerOutdated(kB);  // a is declared lost
    pair.Pump();
    ASSERT_TRUE(pair.Completed(kB, real) && pair.Result(kB, real).ok());
    pair.Connect();
    pair.Settle();
    EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
    EXPECT_EQ(pair.side(kA).store.live().at("f").data, "acked");
    EXPECT_EQ(pair.replica(kA).data_state(), DataState::kUpToDate) << pair.Log(kA);
    EXPECT_FALSE(pair.side(kA).preserved.empty());  // the tentative write is kept aside
  }
}

// Found by the simulator (seed 14806081795291850919): the primary loses its peer, writes
// alone (held: the peer is never outdated), and crashes, losing an acknowledged write it had
// not synced. It comes back: its branch was never acknowledged, so it rolls back to the
// peer's copy, which holds the acknowledged write.
TEST(ReplicaTest, ReturningNodeRollsBackWritesItMadeAloneUnacknowledged) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  const uint64_t acked = pair.Write(kA, "vm.img", 2 * kZone, Bytes(100, 'a'));
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kA, acked));
  pair.Disconnect();
  const uint64_t held = pair.Write(kA, "vm.img", 0, Bytes(10, 'h'));
  pair.Pump();
  ASSERT_FALSE(pair.Completed(kA, held));
  pair.Crash(kA);
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kA).store.live().at("vm.img").data.substr(2 * kZone), Bytes(100, 'a'));
  EXPECT_EQ(pair.replica(kA).data_state(), DataState::kUpToDate) << pair.Log(kA);
  EXPECT_FALSE(pair.side(kA).preserved.empty());
}

// Found by the simulator (seed 6990105509223669465): a node is the resync source at start
// (its peer's copy counts as outdated during that session), loses the connection, then
// becomes primary and writes alone. Those writes must wait for a new outdate of the peer,
// which may have finished the resync and could take over.
TEST(ReplicaTest, OutdateFromAnEarlierSessionDoesNotReleaseWritesMadeAlone) {
  ReplicaPair pair(Options());
  pair.Connect();  // neither is primary: a (default primary) is the source
  pair.Pump();
  pair.Disconnect();
  pair.SetRole(kA, ReplRole::kPrimary);
  const uint64_t op = pair.Write(kA, "f", 0, "alone");
  pair.Pump();
  EXPECT_FALSE(pair.Completed(kA, op));
  EXPECT_TRUE(pair.replica(kA).writing_alone());
  pair.PeerOutdated(kA);
  EXPECT_TRUE(pair.Completed(kA, op));
  EXPECT_TRUE(pair.replica(kA).durable().alone_acked);
}

// Found by the simulator (seed 4401879083083963507): the secondary crashes, losing stream
// writes it had not synced; the primary tracks them as dirty, writes alone (never
// acknowledged) and its daemon restarts. Both restarted: the primary's copy, which holds the
// acknowledged writes, stays the source.
TEST(ReplicaTest, NoRollBackToAPeerThatRestartedToo) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  const uint64_t acked = pair.Write(kA, "vm.img", 9 * kZone, Bytes(100, 'w'));
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kA, acked));
  pair.Disconnect();
  pair.Crash(kB);
  pair.Write(kA, "vm.img", 0, "tentative");
  pair.Pump();
  pair.Restart(kA);
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("vm.img").data.substr(9 * kZone), Bytes(100, 'w'))
      << pair.Log(kA) << pair.Log(kB);
}

// Found by the simulator (seed 5281401260566177518): a heartbeat saying "the primary writes
// alone", sent before the resync finished, arrives after it: the secondary, attached and in
// sync, stays up to date (else it would stay outdated in a session that never resyncs it).
TEST(ReplicaTest, StaleOutdateAfterResyncLeavesTheSecondaryUpToDate) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Disconnect();
  pair.Write(kA, "f", 0, "alone");
  pair.Connect();
  pair.Settle();
  ASSERT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
  pair.MarkOutdated(kB);  // the stale heartbeat
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
  EXPECT_FALSE(pair.replica(kB).durable().outdated);
  // A real drop still outdates it.
  pair.Disconnect();
  pair.Write(kA, "f", 0, "again");
  pair.MarkOutdated(kB);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kOutdated);
}

// Found by the simulator (seed 11408519688572848982): the primary answered the secondary's
// Hello and started the new session at "the beginning of time", so its next tick dropped the
// peer for not acknowledging for replication.timeout.
TEST(ReplicaTest, PrimaryAnsweringAHelloDoesNotDropThePeer) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(100, 'f'));
  pair.Settle();
  ASSERT_TRUE(pair.side(kB).store.Apply(MakeMutation(MutationKind::kUnlink, "f")).ok());
  pair.Submit(kA, MakeMutation(MutationKind::kRename, "f", "g"));  // fails on b: b asks again
  for (int i = 0; i < 20; ++i) {
    pair.Write(kA, "h", static_cast<uint64_t>(i), "x");
    pair.Step();
    pair.Step();
    pair.Advance(absl::Milliseconds(10));
  }
  pair.Settle();
  EXPECT_EQ(pair.Log(kA).find("dropping the peer"), std::string::npos) << pair.Log(kA);
  EXPECT_EQ(pair.Difference(), "");
}

// Found by the simulator (seed 11227253341359767568): a rename in flight when the primary's
// daemon restarts. The peer never got it and the primary's in-memory list of unacknowledged
// namespace changes died with the process; the names were hot in the activity log, so the
// resync sends both whole.
TEST(ReplicaTest, NamespaceChangeInFlightAtDaemonRestartIsResynced) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(3 * kZone, 'f'));
  pair.Settle();
  pair.Hold(kA, true);
  pair.Submit(kA, MakeMutation(MutationKind::kRename, "f", "g"));
  pair.Pump();
  pair.Disconnect();
  pair.Restart(kA);  // files intact: a has g, b still f
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_FALSE(pair.side(kB).store.live().contains("f"));
  EXPECT_TRUE(pair.side(kB).store.live().contains("g"));
  EXPECT_TRUE(pair.replica(kA).durable().hot_names.empty());
}

// The other way: the peer applied a rename that the primary's crash lost (never synced
// there). The returning node rolls back to the peer, asking for both names whole.
TEST(ReplicaTest, NamespaceChangeLostInAPrimaryCrashIsTakenFromThePeer) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(3 * kZone, 'f'));
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Settle();
  const uint64_t op = pair.Submit(kA, MakeMutation(MutationKind::kRename, "f", "g"));
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kA, op));
  pair.Disconnect();
  pair.Crash(kA);  // a lost the rename: it has f, b has g
  ASSERT_TRUE(pair.side(kA).store.live().contains("f"));
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_TRUE(pair.side(kA).store.live().contains("g"));
  EXPECT_FALSE(pair.side(kA).store.live().contains("f"));
}

// Hot names cool once the peer and this node hold the change durably: a later crash does not
// resend a renamed file whole.
TEST(ReplicaTest, HotNamesCoolOnceDurableOnBoth) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(3 * kZone, 'f'));
  pair.Submit(kA, MakeMutation(MutationKind::kRename, "f", "g"));
  pair.Settle();
  EXPECT_EQ(pair.replica(kA).durable().hot_names.size(), 2u);
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Settle();
  pair.Write(kA, "h", 0, "x");  // the next mutation cools them
  pair.Settle();
  EXPECT_TRUE(pair.replica(kA).durable().hot_names.empty());
  EXPECT_TRUE(pair.side(kA).disk.hot_names.empty());
}

// Disk faults. A secondary whose flush fails (EIO) never acknowledges the data as durable:
// the application's fsync completes only once that copy is known inconsistent (not
// promotable), and the copies converge once its disk works again.
TEST(ReplicaTest, SecondaryFlushFailureIsNeverAcknowledgedAsDurable) {
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
TEST(ReplicaTest, PrimaryWriteFailureIsUndoneOnThePeer) {
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
TEST(ReplicaTest, ResyncIntoAFullDiskWaitsForRoom) {
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

// Found by the simulator (seed 1170428617534984921): a split brain is resolved towards the
// serving node b (here by the admin), and a's copy starts to be overwritten (inconsistent).
// Then b stops serving and the next handshake would, by the default policy, have kept a's
// half-overwritten copy as the source; later a, promoted, became a resync target while
// writing, and b's blocks overwrote a's newer writes. The interrupted resync resumes instead.
TEST(ReplicaTest, InterruptedResyncResumesEvenIfThePolicyWouldNowKeepThisCopy) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(3 * kZone, 'o'));
  pair.Settle();
  pair.Disconnect();
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.PeerOutdated(kA);
  pair.PeerOutdated(kB);
  pair.Write(kA, "f", 0, Bytes(3 * kZone, 'a'));
  pair.Write(kB, "f", 0, Bytes(3 * kZone, 'b'));
  pair.Settle();
  pair.SetRole(kA, ReplRole::kSecondary);  // a stops; b serves
  pair.Discard(kA);
  pair.Connect();
  for (int i = 0; i < 50 && !pair.side(kA).disk.inconsistent; ++i) pair.Step();
  ASSERT_TRUE(pair.side(kA).disk.inconsistent) << pair.Log(kA);
  pair.SetRole(kB, ReplRole::kSecondary);  // b stops serving before the resync ends
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kA).store.live().at("f").data, Bytes(3 * kZone, 'b'));
  EXPECT_EQ(pair.replica(kA).data_state(), DataState::kUpToDate) << pair.Log(kA);
  pair.SetRole(kA, ReplRole::kPrimary);
  const uint64_t op = pair.Write(kA, "f", 0, Bytes(10, 'z'));
  pair.Settle();
  ASSERT_TRUE(pair.Completed(kA, op));
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kA).store.live().at("f").data.substr(0, 12), Bytes(10, 'z') + "bb");
}

// Found by the simulator (seed 17245535296541348078): the primary (not the default one) loses
// its peer with a write in flight that the peer never got; the peer restarts and says its copy
// is not up to date, so the write completes by the outdate rule. Acknowledged without the
// peer, it is a write made alone: the generation must have moved on first. Else, after the
// primary's daemon restarts, the handshake finds the generations equal, the default primary
// becomes the source and overwrites the acknowledged write.
TEST(ReplicaTest, WriteInFlightAcknowledgedAfterTheOutdateMovesTheGenerationOn) {
  ReplicaPair pair(Options());
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Connect();
  pair.Pump();
  ASSERT_TRUE(pair.replica(kB).attached()) << pair.Log(kB);
  pair.Write(kB, "log", 0, Bytes(100, 'o'));
  pair.Settle();
  pair.Hold(kB, true);  // a never gets the next write
  const uint64_t op = pair.Write(kB, "log", 100, Bytes(50, 'n'));
  pair.Pump();
  ASSERT_FALSE(pair.Completed(kB, op));
  pair.Disconnect();
  pair.Restart(kA);
  pair.Pump();
  ASSERT_FALSE(pair.Completed(kB, op));  // waits for a to be outdated
  pair.PeerOutdated(kB);                 // a restarted: its copy is not known up to date
  ASSERT_TRUE(pair.Completed(kB, op) && pair.Result(kB, op).ok()) << pair.Log(kB);
  pair.Restart(kB);  // a daemon restart: b's files are intact, b is no longer primary
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  const std::string expected = Bytes(100, 'o') + Bytes(50, 'n');
  EXPECT_EQ(pair.side(kA).store.live().at("log").data, expected) << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("log").data, expected) << pair.Log(kA) << pair.Log(kB);
}

// The primary's own flush fails (EIO). Linux forgets the failed pages, so a later fsync
// that succeeds proves nothing: fsyncs keep failing until this copy is resynced from the
// peer, and meanwhile its zones stay hot, so a crash takes them back from the peer.
TEST(ReplicaTest, FsyncsFailAfterALocalFlushFailureUntilResyncedFromThePeer) {
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
TEST(ReplicaTest, FsyncMadeAloneAfterAFailedFlushFails) {
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

// Found by the simulator (seed 15433891304905425880): a resync from a, which had written
// alone, ends on b (it takes a's generation) but the connection drops before a hears it, so
// a's dirty map stays open. b is promoted, writes alone (never acknowledged) and stops; then
// a takes over and writes alone, acknowledged. Its generation must move on for those writes
// even though its dirty map was open already: else b's tentative branch looks newer than
// a's at the next handshake and overwrites the acknowledged writes.
TEST(ReplicaTest, WritesAloneAfterAResyncWhoseEndWasLostMoveTheGenerationOn) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Disconnect();
  pair.Write(kA, "f", 0, Bytes(100, 'o'));
  pair.PeerOutdated(kA);
  pair.MarkOutdated(kB);
  pair.Pump();
  pair.Connect();  // a resyncs b; b ends it, a never hears so
  for (int i = 0; i < 1000 && pair.side(kB).disk.gens.current != pair.side(kA).disk.gens.current;
       ++i) {
    ASSERT_TRUE(pair.Step());
  }
  pair.Disconnect();
  ASSERT_NE(pair.side(kA).disk.gens.bitmap, 0u);
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.SetRole(kB, ReplRole::kPrimary);
  const uint64_t tentative = pair.Write(kB, "f", 0, Bytes(100, 't'));
  pair.Pump();
  ASSERT_FALSE(pair.Completed(kB, tentative));  // a is never outdated
  pair.SetRole(kB, ReplRole::kSecondary);
  pair.SetRole(kA, ReplRole::kPrimary);  // a takes over
  const uint64_t acked = pair.Write(kA, "f", 0, Bytes(100, 'a'));
  const uint64_t fsync = pair.Submit(kA, MakeMutation(MutationKind::kFsync, "f"));
  pair.MarkOutdated(kB);
  pair.PeerOutdated(kA);
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kA, acked) && pair.Result(kA, acked).ok()) << pair.Log(kA);
  ASSERT_TRUE(pair.Completed(kA, fsync) && pair.Result(kA, fsync).ok()) << pair.Log(kA);
  pair.Restart(kA);  // a daemon restart: a is no longer primary
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kA).store.live().at("f").data, Bytes(100, 'a'))
      << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("f").data, Bytes(100, 'a'))
      << pair.Log(kA) << pair.Log(kB);
  EXPECT_FALSE(pair.side(kB).preserved.empty());  // b's tentative write is kept aside
}

// Found by the property test: mid-resync, a live write fails on the target (a full disk)
// to a zone whose block it already received; its request for the zone must send it again.
TEST(ReplicaTest, LiveWriteFailingOnTheTargetMidResyncIsSentAgain) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Disconnect();
  pair.PeerOutdated(kA);
  pair.Write(kA, "f", 0, "a");
  pair.Pump();
  pair.side(kA).store.set_sync_failure(true);  // the source's flush fails: the resync waits
  pair.Connect();
  pair.Pump();  // the block went and was applied, not yet durable on b
  pair.side(kB).fail_writes = true;
  const uint64_t op = pair.Write(kA, "f", 0, "bb");
  pair.side(kA).store.set_sync_failure(false);
  for (int i = 0; i < 50 && pair.Log(kB).find("applying the stream failed") == std::string::npos;
       ++i) {
    pair.Step();
  }
  pair.side(kB).fail_writes = false;
  pair.Pump();  // no time passes: no later session repairs it
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  pair.Settle();
  ASSERT_TRUE(pair.Completed(kA, op));
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("f").data, "bb");
}

// Found by the replica property test (CI seed): the secondary's fsync fails, so it asks for a
// new session and never acknowledges the writes in flight; they complete by the outdate rule
// once the new session's target is inconsistent, and the writes that waited for room in the
// window must go then (they waited forever).
TEST(ReplicaTest, WritesWaitingForTheWindowGoWhenTheOutdateCompletesThoseInFlight) {
  ReplicaPair pair(PropertyOptions());  // window of 8
  StartInSync(pair);
  std::vector<uint64_t> ops;
  ops.push_back(pair.Submit(kA, MakeMutation(MutationKind::kFsync, "f0")));
  pair.side(kB).store.set_sync_failure(true);
  for (int i = 0; i < 8; ++i) ops.push_back(pair.Write(kA, "f0", 0, "a"));
  pair.Pump();
  pair.side(kB).store.set_sync_failure(false);
  pair.Settle();
  for (uint64_t op : ops) EXPECT_TRUE(pair.Completed(kA, op)) << op << pair.Log(kA);
  EXPECT_EQ(pair.Difference(), "");
}

// Found by the simulator (seed 1740528645335966999): a node back from a restart asks for
// the zones it may hold that the new primary lacks, under the names they had here. The
// source renamed that file alone; its journal replay moves the zone to the new name here
// before the source reads the old name (absent there). The request follows the rename.
TEST(ReplicaTest, TargetZonesRequestedFollowAStreamRename) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(100, 'o'));
  pair.Settle();
  pair.Hold(kA, true);
  pair.Write(kA, "f", 0, Bytes(100, 'n'));  // never reaches b
  pair.Pump();
  pair.Disconnect();
  pair.Restart(kA);  // files intact: a's f holds the write b never got
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Submit(kB, MakeMutation(MutationKind::kRename, "f", "g"));
  pair.Pump();
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kA).store.live().at("g").data, Bytes(100, 'o'));
  EXPECT_FALSE(pair.side(kA).store.live().contains("f"));
}

// Found by the simulator (seed 4754048624591268332): writes made alone wait for the peer's
// outdate; the primary handed the module over before it came (the peer took over with its
// older copy, and a resync later discarded them here). They fail when this node stops being
// primary: an outdate heard in a later role (here, as a resync source) must not acknowledge
// them.
TEST(ReplicaTest, WritesHeldAloneFailWhenThePrimaryStepsDown) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Disconnect();
  const uint64_t op = pair.Write(kA, "f", 0, Bytes(100, 'n'));
  pair.Pump();
  ASSERT_FALSE(pair.Completed(kA, op));  // waits for b's outdate
  pair.SetRole(kA, ReplRole::kSecondary);
  ASSERT_TRUE(pair.Completed(kA, op));
  EXPECT_FALSE(pair.Result(kA, op).ok());
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.PeerOutdated(kA);
  pair.Connect();
  pair.Settle();
  EXPECT_FALSE(pair.Result(kA, op).ok());
}

}  // namespace
}  // namespace duet
