// Replica, the session state machine end to end: handshakes after swaps, crashes, split brains and
// the admin's choices (engine/replication/replica.cc; the decision table alone:
// session_decision_test.cc).
#include <gtest/gtest.h>

#include "engine/replication/replica.h"
#include "tests/engine/printers.h"
#include "tests/engine/replication/replica_fixtures.h"

namespace duet {
namespace {

// Found by the simulator (seed 17154424833300063477, torn crash): a wrote f alone and synced
// it, then unlinked and recreated f (journaled, which dropped f's dirty zones) and crashed
// before those changes were synced. The crash undid them here, the journal replayed them on
// b, and f's bytes were never sent: b kept an empty f. A restart now sends each journaled
// name whole.
TEST(ReplicaSessionTest, NamespaceChangesUndoneByACrashAreResyncedWhole) {
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

// Found by the simulator (seed 14361417856231424987): in a split brain where only the
// secondary had acknowledged writes made alone, the secondary was made the source and the
// serving primary the target: its blocks landed under the running application, and the
// primary ignored the secondary's journal replay, so the resync never ended. The serving
// primary is never a target: it waits, says the peer's copy survives (Node hands the module
// over), and only once it is secondary does it take the peer's copy.
TEST(ReplicaSessionTest, ServingPrimaryIsNeverTheTargetOfASplitBrain) {
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

// The default policy: whichever node serves when the pair meets again, the default
// primary's copy survives a split brain. The other node, serving, waits for the handover.
TEST(ReplicaSessionTest, SplitBrainKeepsTheDefaultPrimarysCopyEvenIfThePeerServes) {
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
TEST(ReplicaSessionTest, AdminDiscardOnTheWaitingSurvivorKeepsTheServingCopy) {
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

// A copy that wrote before it ever met its peer holds other data: refused, until the admin
// discards one side, which then takes the other's whole tree (its own kept aside), even if
// the first attempt is interrupted.
// Data the directories held before Duet's first start (moved by the adapter into the backing
// directory, outside the engine).
void PutExistingData(ReplicaPair& pair, int side, const std::string& path) {
  Mutation m = MakeMutation(MutationKind::kWrite, path);
  m.data = MakePayload("held before duet: " + path);
  m.make_parents = true;  // with the directories that held it
  ASSERT_TRUE(pair.side(side).store.Apply(m).ok());
  ASSERT_TRUE(pair.side(side).store.Sync("").ok());
}

// Both copies used to look blank at the first start (the initial generation): the pair
// decided "in sync" and the data one node's directory held never reached the other.
TEST(ReplicaSessionTest, DataTakenInAtTheFirstStartGoesWholeToABlankPeer) {
  ReplicaPair pair(Options());
  PutExistingData(pair, kA, "db/table");
  pair.TakeInExistingData(kA);
  StartInSync(pair);
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_TRUE(pair.side(kB).store.live().contains("db/table"));
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
}

TEST(ReplicaSessionTest, DataTakenInOnBothNodesIsUnrelatedAndWaitsForTheAdmin) {
  ReplicaPair pair(Options());
  PutExistingData(pair, kA, "a-only");
  PutExistingData(pair, kB, "b-only");
  pair.TakeInExistingData(kA);
  pair.TakeInExistingData(kB);
  pair.Connect();
  pair.Settle();
  EXPECT_NE(pair.replica(kA).refused_reason().find("unrelated data"), std::string::npos)
      << pair.Log(kA);
  EXPECT_TRUE(pair.side(kA).store.live().contains("a-only"));
  EXPECT_TRUE(pair.side(kB).store.live().contains("b-only"));
}

// A restart (or any start after the copy joined) never takes in again.
TEST(ReplicaSessionTest, TakingInExistingDataIsIgnoredOnceTheCopyJoined) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, "x");
  pair.Settle();
  const Generations before = pair.side(kB).disk.gens;
  pair.TakeInExistingData(kB);
  EXPECT_EQ(pair.side(kB).disk.gens, before);
}

TEST(ReplicaSessionTest, UnrelatedDataWaitsForTheAdminThenResyncsInFull) {
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

TEST(ReplicaSessionTest, ActivityLogRollsBackUnackedWrites) {
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

// A split brain: in sync on "shared", then disconnected, a (the default primary) writes A2
// alone, and b, taking over, writes B2 alone (b still primary, not reconnected).
void BothWriteAloneThenADefaultPrimaryServes(ReplicaPair& pair) {
  StartInSync(pair);
  pair.Write(kA, "shared", 0, "v1");
  pair.Pump();
  pair.Disconnect();
  pair.Write(kA, "shared", 0, "A2");
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Write(kB, "shared", 0, "B2");
  pair.Pump();
}

TEST(ReplicaSessionTest, SplitBrainKeepsDiscardedCopy) {
  ReplicaPair pair(Options());
  BothWriteAloneThenADefaultPrimaryServes(pair);
  pair.Submit(kB, MakeMutation(MutationKind::kCreate, "only-b"));  // b's, made alone too
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

// Found by the end-to-end split-brain test in network namespaces: the peers met twice (the
// yielding side changed role right after the first handshake), each verdict kept b's branch
// aside again, and the second copy held what the first resync had already overwritten.
TEST(ReplicaSessionTest, ADiscardedBranchIsKeptAsideOnceWhateverTheSessions) {
  ReplicaPair pair(Options());
  BothWriteAloneThenADefaultPrimaryServes(pair);
  pair.SetRole(kB, ReplRole::kSecondary);
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.Connect();
  while (pair.side(kB).disk.preserved_for == 0 && pair.Step()) {  // the copy is done
  }
  ASSERT_EQ(pair.side(kB).preserve_actions, 1u) << pair.Log(kB);
  pair.Disconnect();  // before the resync is done
  pair.Restart(kB);   // and across a daemon restart
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.side(kB).preserve_actions, 1u) << pair.Log(kB);
  EXPECT_NE(pair.Log(kB).find("kept aside by an earlier session already"), std::string::npos)
      << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("shared").data, "A2");
}

// The branch is recorded as kept aside only once the copy is answered done: a copy that
// failed (or a crash before its answer) keeps it aside again at the next session, rather than
// let that session's resync overwrite what was never kept.
TEST(ReplicaSessionTest, ADiscardedBranchWhoseCopyFailedIsKeptAsideAgainNextSession) {
  ReplicaPair pair(Options());
  BothWriteAloneThenADefaultPrimaryServes(pair);
  pair.SetRole(kB, ReplRole::kSecondary);
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.side(kB).fail_preserve = true;
  pair.Connect();
  while (pair.side(kB).preserve_actions == 0 && pair.Step()) {
  }
  ASSERT_EQ(pair.side(kB).preserve_actions, 1u) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).disk.preserved_for, 0u);  // issued, not yet answered
  auto failure_logged = [&] {
    return pair.Log(kB).find("keeping the divergent branch aside failed: ENOSPC") !=
           std::string::npos;
  };
  while (!failure_logged() && pair.Step()) {  // up to the failure's answer
  }
  EXPECT_TRUE(failure_logged()) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).disk.preserved_for, 0u);
  pair.Disconnect();
  pair.Restart(kB);
  pair.side(kB).fail_preserve = false;
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.side(kB).preserve_actions, 2u) << pair.Log(kB);
  EXPECT_NE(pair.side(kB).disk.preserved_for, 0u);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

TEST(ReplicaSessionTest, ManualSplitBrainPolicyWaitsForAdmin) {
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
TEST(ReplicaSessionTest, AdminDiscardResolvesASplitBrainThatWaits) {
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

TEST(ReplicaSessionTest, PlannedSwapNeedsNoResync) {
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

// Found by the real cluster (duetctl swap): the step-down came before b's periodic flush, so
// the in-sync session made a resend b every zone not yet durable there, and b, promoted
// while that session ran, logged a forced promotion and then resent a's plan back to it.
TEST(ReplicaSessionTest, PlannedHandoverFlushesThePeerFirstAndResendsNothing) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  for (int i = 0; i < 20; ++i) pair.Write(kA, "f", static_cast<uint64_t>(i) * kZone, "x");
  pair.Pump();  // acknowledged (applied on b), not yet flushed there
  ASSERT_TRUE(pair.replica(kA).drained());
  EXPECT_FALSE(pair.ReadyToStepDown(kA));  // asks b for the flush first
  // Node asks again after every input: the first acknowledgement that drains a must also
  // say b's copy is durable (in the real cluster a second one came a moment later).
  while (!pair.ReadyToStepDown(kA)) ASSERT_TRUE(pair.Step());
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.Pump(3);  // b promoted while the step-down's session may still run
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Write(kB, "g", 0, "y");  // its application writes at once
  pair.Settle();
  ASSERT_TRUE(pair.replica(kB).attached()) << pair.Log(kB);
  EXPECT_EQ(pair.side(kA).blocks_received + pair.side(kB).blocks_received, 0u)
      << "a:\n"
      << pair.Log(kA) << "b:\n"
      << pair.Log(kB);
  EXPECT_EQ(pair.Log(kB).find("(forced)"), std::string::npos) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "");
}

// The handover flush is asked for once: a peer whose flush fails does not hold the module.
TEST(ReplicaSessionTest, PlannedHandoverGoesOnWhenThePeersFlushFails) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, "x");
  pair.Pump();
  pair.side(kB).fail_flushes = true;
  EXPECT_FALSE(pair.ReadyToStepDown(kA));
  pair.Settle();
  EXPECT_TRUE(pair.ReadyToStepDown(kA)) << pair.Log(kA);
}

// Found by ReplicaPropertyTest: fsync, write, swap, crash of the new primary.
TEST(ReplicaSessionTest, CrashOfNewPrimaryAfterSwapKeepsEarlierWrites) {
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

// Found by ReplicaPropertyTest: an fsync, a planned swap, a write made alone by the new
// primary, then its crash with no up-to-date peer to take over.
TEST(ReplicaSessionTest, CrashOfLonePrimaryAfterSwapKeepsFsyncedData) {
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

// Found by the simulator (seed 16753576447339095367): the primary crashes right after a
// write its peer acknowledged, and returns before the peer took over. The peer's copy is the
// complete one: the returning node's hot zones come from the peer, not the other way round.
TEST(ReplicaSessionTest, PrimaryReturningFromCrashTakesItsHotZonesFromThePeer) {
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

// Found by the simulator (seed 16105962857814088967): the primary loses its peer, writes
// alone (nothing acknowledged: the peer is never outdated) and crashes; the peer takes over
// and acknowledges writes. Both branches moved on, but only one is real: no split brain,
// and the acknowledged writes survive under every policy.
TEST(ReplicaSessionTest, TentativeBranchLosesAgainstAcknowledgedOne) {
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
TEST(ReplicaSessionTest, ReturningNodeRollsBackWritesItMadeAloneUnacknowledged) {
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

// Found by the simulator (seed 4401879083083963507): the secondary crashes, losing stream
// writes it had not synced; the primary tracks them as dirty, writes alone (never
// acknowledged) and its daemon restarts. Both restarted: the primary's copy, which holds the
// acknowledged writes, stays the source.
TEST(ReplicaSessionTest, NoRollBackToAPeerThatRestartedToo) {
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

// Found by the simulator (seed 11227253341359767568): a rename in flight when the primary's
// daemon restarts. The peer never got it and the primary's in-memory list of unacknowledged
// namespace changes died with the process; the names were hot in the activity log, so the
// resync sends both whole.
TEST(ReplicaSessionTest, NamespaceChangeInFlightAtDaemonRestartIsResynced) {
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
TEST(ReplicaSessionTest, NamespaceChangeLostInAPrimaryCrashIsTakenFromThePeer) {
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

// Found by the simulator (seed 1170428617534984921): a split brain is resolved towards the
// serving node b (here by the admin), and a's copy starts to be overwritten (inconsistent).
// Then b stops serving and the next handshake would, by the default policy, have kept a's
// half-overwritten copy as the source; later a, promoted, became a resync target while
// writing, and b's blocks overwrote a's newer writes. The interrupted resync resumes instead.
TEST(ReplicaSessionTest, InterruptedResyncResumesEvenIfThePolicyWouldNowKeepThisCopy) {
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

// Zone numbers in target requests and blocks would point at other bytes on a peer that
// counts in another zone size: the handshake refuses, both sides, and says why.
TEST(ReplicaSessionTest, NodesWithDifferentZoneSizesRefuseWithTheReason) {
  ReplicaPair pair(Options());
  pair.ConfigureZoneSize(kB, 2 * kZone);
  pair.Restart(kB);  // nothing tracked: the new size takes effect at once
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.Connect();
  pair.Pump();
  EXPECT_FALSE(pair.replica(kA).attached());
  for (int side : {kA, kB}) {
    EXPECT_NE(pair.replica(side).refused_reason().find("same zone_size"), std::string::npos)
        << pair.Log(side);
  }
  EXPECT_NE(pair.replica(kA).refused_reason().find("the peer 131072"), std::string::npos)
      << pair.replica(kA).refused_reason();
}

// A dirty map counted in 64 KiB zones stays in 64 KiB zones after the configuration changes
// to 128 KiB (read in the new size, it would name other bytes); the resync still sends them.
TEST(ReplicaSessionTest, ChangedZoneSizeWaitsUntilNothingIsTracked) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Disconnect();
  pair.Write(kA, "vm.img", 3 * kZone + 5, "written alone");
  pair.PeerOutdated(kA);
  pair.Pump();
  ASSERT_FALSE(pair.side(kA).disk.dirty.empty());
  pair.ConfigureZoneSize(kA, 2 * kZone);
  pair.Restart(kA);
  pair.SetRole(kA, ReplRole::kPrimary);
  EXPECT_NE(pair.Log(kA).find("zone_size 131072 takes effect once nothing is tracked"),
            std::string::npos)
      << pair.Log(kA);
  EXPECT_EQ(pair.side(kA).disk.zone_size, kZone);
  pair.Connect();
  pair.Settle();
  EXPECT_TRUE(pair.replica(kA).attached()) << pair.Log(kA);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

// Both sides decide from the two Hellos as they were sent. a's writes made alone become
// acknowledged (the outdate arrives) after a's Hello went out and before the peer's answer
// came back: b decided on "only b's branch was acknowledged"; had a decided on its new state
// ("both acknowledged: the default primary a keeps its data"), both would have claimed to be
// the source, a sending a stream b ignores (seed 15750718464844495007's disagreement).
TEST(ReplicaSessionTest, AckOfWritesAloneAfterTheHelloWentOutDoesNotChangeThisHandshake) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Disconnect();
  pair.Write(kA, "f", 0, "a wrote alone, not yet acknowledged");  // held for the outdate
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Write(kB, "f", 0, "b wrote alone, acknowledged");
  pair.PeerOutdated(kB);
  pair.Pump();
  pair.SetRole(kB, ReplRole::kSecondary);
  ASSERT_TRUE(pair.side(kB).disk.alone_acked);
  ASSERT_FALSE(pair.side(kA).disk.alone_acked);
  pair.Hold(kB, true);  // b's answer is on its way
  pair.Connect();
  pair.Pump();
  pair.PeerOutdated(kA);  // a's writes alone are acknowledged now
  pair.Pump();
  ASSERT_TRUE(pair.side(kA).disk.alone_acked);
  pair.Hold(kB, false);
  pair.Pump();
  // Mirror verdicts: b's copy survives, a serves until it hands the module over.
  EXPECT_TRUE(pair.replica(kA).peer_copy_survives()) << pair.Log(kA);
  EXPECT_FALSE(pair.replica(kA).attached()) << pair.Log(kA);
  EXPECT_NE(pair.replica(kB).refused_reason().find("this copy survives"), std::string::npos)
      << pair.Log(kB);
}

}  // namespace
}  // namespace duet
