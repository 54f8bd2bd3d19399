// Replica, the resync target: its requests, blocks against live writes, full resyncs, the end of a
// resync (engine/replication/replica_resync_target.cc).
#include <gtest/gtest.h>

#include "engine/replication/replica.h"
#include "tests/engine/printers.h"
#include "tests/engine/replication/replica_fixtures.h"

namespace duet {
namespace {

// Found by the simulator (seed 2141412961155543499, torn crash): a, target of a new session,
// asked for its hot zones the peer had not made durable, but the peer crashed before it got
// the request; at the next session the watermark said those zones were durable there, and a
// never asked again. Zones in a target's plan are now of unknown age until it is done.
TEST(ReplicaResyncTargetTest, TargetAsksAgainForZonesOfAnInterruptedPlan) {
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

// A node back with a new disk (no files, no metadata) is blank: it takes the whole tree from
// its peer, whatever the generations say (both may still hold the initial one), and what it
// held anyway is kept aside, then removed.
TEST(ReplicaResyncTargetTest, BlankCopyTakesTheWholeTreeFromThePeer) {
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
TEST(ReplicaResyncTargetTest, InterruptedFullResyncCompletesLater) {
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
TEST(ReplicaResyncTargetTest, ForcedPartialFullResyncTargetIsTakenWholeByABlankPeer) {
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

TEST(ReplicaResyncTargetTest, ResyncNeverOverwritesNewerWrite) {
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

// A block read before a live write to another zone of its file is not stale (its bytes are
// current), but its mtime is older than the one the live write stamped (StampsChangeTime): the
// target keeps the live write's, as the source has it.
TEST(ReplicaResyncTargetTest, ABlockReadBeforeALiveWriteToItsFileLeavesTheWritesMtime) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(2 * kZone, 'a'));
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));  // durable: no zone stays hot
  pair.Settle();
  pair.Disconnect();
  pair.Write(kA, "f", 0, Bytes(kZone, 'b'));  // zone 0 dirty
  pair.Pump();
  pair.Connect();
  constexpr int64_t kLiveStamp = 1'700'000'000'000'000'001;
  bool wrote = false;
  while (pair.Step()) {
    if (!wrote && pair.ZoneReadPending(kA)) {
      Mutation live = MakeMutation(MutationKind::kWrite, "f");
      live.offset = kZone + 100;  // zone 1: the block of zone 0 stays current
      live.data = MakePayload("LIVE");
      live.mtime_ns = kLiveStamp;
      pair.Submit(kA, live);
      wrote = true;
    }
  }
  ASSERT_TRUE(wrote);
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("f").mtime_ns, kLiveStamp);
}

// Found by the simulator (seed 8338466758792026901): the target has received ResyncDone and
// is flushing when a stream rename moves one of its requests to the new name; the request
// goes out again. The target must not finish on the old ResyncDone: the source serves the
// late request and waits for its block acks, forever if the target finished meanwhile.
TEST(ReplicaResyncTargetTest, RequestMovedByRenameDuringFinalFlushIsServedBeforeFinishing) {
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

// Found by the property test: mid-resync, a live write fails on the target (a full disk)
// to a zone whose block it already received; its request for the zone must send it again.
TEST(ReplicaResyncTargetTest, LiveWriteFailingOnTheTargetMidResyncIsSentAgain) {
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

// Found by the simulator (seed 1740528645335966999): a node back from a restart asks for
// the zones it may hold that the new primary lacks, under the names they had here. The
// source renamed that file alone; its journal replay moves the zone to the new name here
// before the source reads the old name (absent there). The request follows the rename.
TEST(ReplicaResyncTargetTest, TargetZonesRequestedFollowAStreamRename) {
  ReplicaPair pair(Options());
  StartInSyncHolding(pair, "f", Bytes(100, 'o'));
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

// Runs the pair one event at a time until side i logs `text` (at most `limit` events); true
// if it did.
bool StepUntilLogged(ReplicaPair& pair, int i, const std::string& text, int limit = 200) {
  for (int n = 0; n < limit && pair.Log(i).find(text) == std::string::npos; ++n) {
    if (!pair.Step()) break;
  }
  return pair.Log(i).find(text) != std::string::npos;
}

// Cluster seed 17 of
// NodeSeedBehaviourTest.ForcedPrimarysHandoverWaitsForThePeersRepairAfterTheResync (its m1, issue
// 11): the source, alone, wrote a new file "n" (a write creates it: dirty zones, not a journal
// entry) and renamed it to "m" (a journal entry). The replay, which goes before the zones, meets a
// target that never had "n": the rename is refused there. The target takes both names whole from
// the source, and this is no failure of its copy: it shows none (before, "cannot apply the stream
// here (rename source missing: n)").
TEST(ReplicaResyncTargetTest, AJournalRenameWhoseSourceTheTargetNeverHadFetchesTheNameWhole) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Disconnect();
  pair.PeerOutdated(kA);
  pair.Write(kA, "n", 0, Bytes(kZone + 5, 'n'));
  pair.Submit(kA, MakeMutation(MutationKind::kRename, "n", "m"));
  pair.Pump();
  ASSERT_FALSE(pair.side(kA).disk.journal.empty());
  pair.Connect();
  ASSERT_TRUE(StepUntilLogged(pair, kB, "rename source missing: n")) << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).stream_failure(), "") << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kSyncing) << pair.Log(kB);
  pair.Settle();
  EXPECT_EQ(pair.Log(kB).find("applying the stream failed"), std::string::npos) << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("m").data, Bytes(kZone + 5, 'n'));
  EXPECT_FALSE(pair.side(kB).store.live().contains("n"));
}

// Cluster seed 17's m0 (issue 11): in a split brain the survivor a, alone, exchanged two
// directories; b, serving a copy that loses, removed one of them. b's branch is kept aside by
// copy (PreserveDivergent), not undone, so a's journal replay meets b's names: the exchange
// is refused there (as the setattr and xattr changes of the removed name after it). b takes
// the names whole from a and shows no failure; its copy ends as a's.
TEST(ReplicaResyncTargetTest, AJournalExchangeWhoseNameTheDiscardedBranchRemovedFetchesItWhole) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  for (const char* dir : {"d0", "d1"}) pair.Submit(kA, MakeMutation(MutationKind::kMkdir, dir));
  pair.Settle();
  pair.Disconnect();
  Mutation exchange = MakeMutation(MutationKind::kRename, "d0", "d1");
  exchange.rename_flags = kRenameExchange;
  pair.Submit(kA, exchange);
  Mutation chmod = MakeMutation(MutationKind::kSetattr, "d1");
  chmod.attr_mask = kAttrMode;
  chmod.mode = 0700;
  pair.Submit(kA, chmod);
  pair.Pump();
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Submit(kB, MakeMutation(MutationKind::kRmdir, "d1"));
  pair.Pump();
  pair.SetRole(kB, ReplRole::kSecondary);
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.Connect();
  ASSERT_TRUE(StepUntilLogged(pair, kB, "exchange target missing: d1")) << pair.Log(kB);
  EXPECT_NE(pair.Log(kB).find("split brain; this node is the target"), std::string::npos)
      << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).stream_failure(), "") << pair.Log(kB);
  pair.Settle();
  EXPECT_EQ(pair.Log(kB).find("applying the stream failed"), std::string::npos) << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("d1").mode & 0777, 0700u);
}

}  // namespace
}  // namespace duet
