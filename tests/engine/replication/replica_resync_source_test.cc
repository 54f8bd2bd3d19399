// Replica, the resync source: the plan, the journal replay, forgetting zones only once durable on
// both (engine/replication/replica_resync_source.cc).
#include <gtest/gtest.h>

#include <algorithm>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/replication/replica.h"
#include "tests/engine/printers.h"
#include "tests/engine/replication/replica_fixtures.h"

namespace duet {
namespace {

// Found by the simulator (seeds 15124230024145932482, 14353316868584173566): the source forgot
// a zone (MarkClean) as soon as the target had it durably, but it had read the zone from its
// page cache, and its own flush then failed: the zone was lost here and named nowhere, so
// no resync ever sent it again. A zone now leaves the plan once our own copy is durable.
TEST(ReplicaResyncSourceTest, ResyncSourceForgetsAZoneOnlyOnceItsOwnCopyIsDurable) {
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
TEST(ReplicaResyncSourceTest, JournalReplayLostOnTheWayIsReplayedAgain) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Submit(kA, MakeMutation(MutationKind::kCreate, "f"));
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Settle(absl::Seconds(2));
  pair.Settle(absl::Seconds(12));  // f's name cools: durable on both and idle for the delay
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

// Found by the simulator (seed 14353316868584173566): a secondary source (no application to
// promote it) replayed its journal on the stream, and the transport lost the first write:
// the target ignored the rest, nothing timed out, and the resync never ended. A replay
// unacknowledged for the replication timeout starts a new session.
TEST(ReplicaResyncSourceTest, SecondarySourceWhoseJournalReplayIsLostStartsANewSession) {
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

TEST(ReplicaResyncSourceTest, ResyncSendsOnlyDirtyZones) {
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

TEST(ReplicaResyncSourceTest, NamespaceJournalReplaysChangesMadeAlone) {
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

TEST(ReplicaResyncSourceTest, ResyncResumesAfterInterrupt) {
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

// The source keeps a window of bytes in flight, not a count of zones: zones of data fill it
// (a zone each while read, then the block's bytes until acknowledged), and zones that carry
// nothing (holes) let many more go before the first acknowledgement.
TEST(ReplicaResyncSourceTest, TheResyncKeepsAWindowOfBytesInFlight) {
  ReplicaOptions o = Options();
  o.resync_window_bytes = 16 * kZone;
  ReplicaPair pair(o);
  StartInSync(pair);
  // Sends up to what the window holds with the target's answers held: how many zones went.
  auto zones_sent_unacknowledged = [&] {
    const uint64_t before = pair.side(kB).block_zones_received;
    pair.Connect();
    while (pair.side(kB).block_zones_received == before) EXPECT_TRUE(pair.Step()) << pair.Log(kA);
    pair.Hold(kB, true);
    pair.Pump();
    const uint64_t sent = pair.side(kB).block_zones_received - before;
    pair.Hold(kB, false);
    pair.Settle();
    EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
    pair.Disconnect();
    return sent;
  };

  pair.Disconnect();
  for (uint64_t z = 0; z < 64; ++z) pair.Write(kA, "data", z * kZone, Bytes(kZone, 'd'));
  pair.Pump();
  EXPECT_EQ(zones_sent_unacknowledged(), 16u) << "a zone of data takes its size of the window";

  Mutation punch = MakeMutation(MutationKind::kFallocate, "data");
  punch.length = 64 * kZone;
  punch.fallocate_mode = kFallocatePunchHole | kFallocateKeepSize;
  pair.Submit(kA, punch);
  pair.Pump();
  EXPECT_EQ(zones_sent_unacknowledged(), 64u) << "holes carry no data: all of them fit";
}

// Found by the simulator (seed 16753576447339095367): writes made alone to a file that an
// earlier rename made alone had replaced; replaying the journal must not move the dirty
// zones again (the rename's old name has none by then, and would wipe the new name's).
TEST(ReplicaResyncSourceTest, JournalReplayKeepsDirtyZonesOfRenamedOverFile) {
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

// The highest progress a resync source shows (duetctl status) while `pair` runs to quiet,
// against its total then; a step at a time, so that no figure in between is missed.
std::pair<uint64_t, uint64_t> MostDoneOfTotal(ReplicaPair& pair, int source) {
  std::pair<uint64_t, uint64_t> most = {0, 0};
  while (pair.Step()) {
    const ResyncStatus s = pair.replica(source).resync_status(pair.now());
    if (s.bytes_done > most.first) most = {s.bytes_done, s.bytes_total};
  }
  return most;
}

// A split brain a's copy wins: b asks for "a-shared"'s zone, which both wrote alone, while a
// reads it for its own plan, and for "c-file" whole (b renamed another file over it alone), a
// file of two zones here. The source read the shared zone twice (the second read while the
// first was in flight) and counted both acknowledgements among the zones sent; with the
// bandwidth cap holding back c-file's second zone, planned once its first was read, the
// count matched the plan, the resync ended, and b was declared up to date without it.
TEST(ReplicaResyncSourceTest, AZoneAskedForWhileItsReadIsInFlightGoesOnceAndTheResyncWaitsForIt) {
  ReplicaOptions o = Options();
  o.resync_bandwidth = kZone;  // a zone a second: the plan's later zones wait
  ReplicaPair pair(o);
  StartInSync(pair);
  pair.Write(kA, "a-shared", 0, "v1");
  pair.Write(kA, "c-file", 0, Bytes(2 * kZone, 'c'));
  pair.Write(kA, "x", 0, Bytes(kZone, 'x'));
  pair.Settle();
  pair.Disconnect();
  pair.Write(kA, "a-shared", 0, "A2");
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Write(kB, "a-shared", 0, "B2");
  pair.Submit(kB, MakeMutation(MutationKind::kRename, "x", "c-file"));
  pair.Pump();
  pair.SetRole(kB, ReplRole::kSecondary);
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.Connect();
  const auto [done, total] = MostDoneOfTotal(pair, kA);
  EXPECT_LE(done, total) << pair.Log(kA);
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
}

// A live write fails on the target while the zone's block, read before it, is on its way: the
// target asks for the zone again before the block (stale there) arrives. The source read it
// again, then again when the stale acknowledgement came: two new blocks, both counted. The
// block in flight is now answered for nothing: the zone goes once more.
TEST(ReplicaResyncSourceTest, ABlockInFlightOfAZoneAskedForAgainIsAnsweredForNothing) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Disconnect();
  pair.Write(kA, "f", 0, "alone");
  pair.PeerOutdated(kA);
  pair.Pump();
  pair.Connect();
  while (!pair.ZoneReadPending(kA)) ASSERT_TRUE(pair.Step()) << pair.Log(kA);
  // The block read now waits on the way (a slow link) until b's request reached a.
  pair.HoldMatching(kA,
                    [](const ReplMessage& m) { return std::holds_alternative<ResyncBlock>(m); });
  pair.side(kB).fail_writes = true;  // ENOSPC for the live write
  pair.Write(kA, "f", 0, "live");
  while (pair.replica(kB).stream_failure().empty()) ASSERT_TRUE(pair.Step()) << pair.Log(kB);
  pair.side(kB).fail_writes = false;
  pair.Pump();
  ASSERT_EQ(pair.side(kA).zones_requested, std::vector<uint64_t>{0}) << pair.Log(kB);
  pair.Hold(kA, false);
  pair.HoldMatching(kA, nullptr);
  const auto [done, total] = MostDoneOfTotal(pair, kA);
  EXPECT_LE(done, total) << pair.Log(kA);
  pair.Settle();
  EXPECT_EQ(pair.side(kB).blocks_received, 2u) << "the stale one, then one more";
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

// A zone acknowledged, then asked for again (a live write to it failed on the target) while
// the resync runs: it went twice, and the progress counted it twice (above 100%: duetctl
// status showed 150%, and "resync done" 3 zones sent of a plan of 2). Forgotten as sent, it
// leaves the progress until its new block is acknowledged: each zone counts once.
TEST(ReplicaResyncSourceTest, ResyncProgressCountsAZoneAskedForAgainAfterItsAcknowledgementOnce) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Disconnect();
  pair.Write(kA, "f", 0, Bytes(2 * kZone, 'a'));  // two zones planned
  pair.PeerOutdated(kA);
  pair.Pump();
  pair.HoldApplies(kB, true);  // b's disk answers when the test says
  pair.Connect();
  pair.Pump();
  // The first block's steps complete: a has it acknowledged; the second's wait.
  while (pair.replica(kA).resync_status(pair.now()).bytes_done == 0) {
    ASSERT_FALSE(pair.HeldApplies(kB).empty()) << pair.Log(kA) << pair.Log(kB);
    pair.ReleaseAppliedAndPump(kB, "f");
  }
  ASSERT_EQ(pair.replica(kA).resync_status(pair.now()).bytes_done, kZone);
  pair.side(kB).fail_writes = true;  // ENOSPC: the live write fails on b
  pair.Write(kA, "f", 0, "live");
  pair.Pump();
  pair.side(kB).fail_writes = false;
  pair.HoldApplies(kB, false);
  const auto [done, total] = MostDoneOfTotal(pair, kA);
  EXPECT_LE(done, total) << pair.Log(kA);
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  ASSERT_GE(pair.side(kA).zones_requested.size(), 1u) << "b asked for the zone again";
  EXPECT_NE(pair.Log(kA).find(absl::StrCat("resync done: ", 2 * kZone, " bytes sent")),
            std::string::npos)
      << pair.Log(kA);
}

}  // namespace
}  // namespace duet
