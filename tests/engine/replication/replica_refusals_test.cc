// Replica, refusals: a mutation the file system refuses having changed nothing (a full disk,
// a truncate past the largest file) on one copy or both (engine/replication/replica_refusals.cc).
// The stores are sim::MemStore, whose failed changes are refusals as the real store's are.
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/replication/replica.h"
#include "tests/engine/printers.h"
#include "tests/engine/replication/replica_fixtures.h"

namespace duet {
namespace {

// Sessions side i decided so far (each new one follows a divergence or a reconnection).
size_t Sessions(ReplicaPair& pair, int i) {
  const std::string log = pair.Log(i);
  size_t count = 0;
  for (size_t at = log.find("connected: "); at != std::string::npos;
       at = log.find("connected: ", at + 1)) {
    ++count;
  }
  return count;
}

void FillDisk(ReplicaPair& pair, int i) {
  pair.side(i).store.set_capacity(pair.side(i).store.used_bytes());
}

void FreeDisk(ReplicaPair& pair, int i) {
  pair.side(i).store.set_capacity(sim::MemStore::kUnlimited);
}

TEST(ReplicaRefusalTest, AWriteBothDisksRefuseFailsWithItsErrnoAndThePairStaysInSync) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(100, 'a'));
  pair.Settle();
  const size_t sessions = Sessions(pair, kA);
  FillDisk(pair, kA);
  FillDisk(pair, kB);
  const uint64_t refused = pair.Write(kA, "f", 4 * kZone, Bytes(100, 'b'));  // needs a page
  pair.Settle();
  ASSERT_TRUE(pair.Completed(kA, refused));
  const absl::Status status = pair.Result(kA, refused);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_NE(status.message().find("ENOSPC"), std::string::npos) << status;
  EXPECT_TRUE(pair.replica(kA).attached()) << pair.Log(kA);
  EXPECT_EQ(Sessions(pair, kA), sessions) << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate);
  EXPECT_FALSE(pair.side(kB).disk.inconsistent);
  EXPECT_EQ(pair.side(kB).blocks_received, 0u);
  EXPECT_EQ(pair.side(kA).store.live().at("f").data, Bytes(100, 'a'));
  EXPECT_EQ(pair.Difference(), "");
  // The pair goes on: an overwrite needs no new space.
  const uint64_t next = pair.Write(kA, "f", 0, Bytes(10, 'c'));
  pair.Settle();
  ASSERT_TRUE(pair.Completed(kA, next));
  EXPECT_TRUE(pair.Result(kA, next).ok());
  EXPECT_EQ(pair.side(kB).store.live().at("f").data.substr(0, 10), Bytes(10, 'c'));
  EXPECT_EQ(Sessions(pair, kA), sessions);
}

TEST(ReplicaRefusalTest, ATruncatePastTheLargestFileFailsWithEfbigAndThePairStaysInSync) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, "abc");
  pair.Settle();
  const size_t sessions = Sessions(pair, kA);
  Mutation huge = MakeMutation(MutationKind::kTruncate, "f");
  huge.offset = sim::MemStore::kMaxFileSize + 1;
  const uint64_t op = pair.Submit(kA, huge);
  pair.Settle();
  ASSERT_TRUE(pair.Completed(kA, op));
  EXPECT_EQ(pair.Result(kA, op).code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(pair.replica(kA).attached());
  EXPECT_EQ(Sessions(pair, kA), sessions) << pair.Log(kA) << pair.Log(kB);
  EXPECT_FALSE(pair.side(kB).disk.inconsistent);
  EXPECT_EQ(pair.Difference(), "");
}

// In a durable ack mode the secondary's apply is a sync write: a refusal there is still no
// failed flush (it changed nothing).
TEST(ReplicaRefusalTest, BothRefusingInDurableAckModeKeepsThePairInSync) {
  ReplicaOptions options = Options();
  options.ack = AckMode::kDurable;
  ReplicaPair pair(options);
  StartInSync(pair);
  pair.Write(kA, "f", 0, "abc");
  pair.Settle();
  const size_t sessions = Sessions(pair, kA);
  FillDisk(pair, kA);
  FillDisk(pair, kB);
  const uint64_t op = pair.Write(kA, "g", 0, "new file");
  pair.Settle();
  ASSERT_TRUE(pair.Completed(kA, op));
  EXPECT_EQ(pair.Result(kA, op).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Sessions(pair, kA), sessions) << pair.Log(kA) << pair.Log(kB);
  EXPECT_FALSE(pair.side(kB).disk.inconsistent);
  EXPECT_FALSE(pair.side(kB).disk.disk_failed);
  EXPECT_EQ(pair.Difference(), "");
}

// Later writes are already on their way when the refusal is known: they complete in order
// after it, with their own status, and nothing is resynced.
TEST(ReplicaRefusalTest, WritesSentAfterARefusedOneCompleteInOrderWithTheirOwnStatus) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(kZone, 'a'));
  pair.Settle();
  const size_t sessions = Sessions(pair, kA);
  FillDisk(pair, kA);
  FillDisk(pair, kB);
  const uint64_t first = pair.Write(kA, "f", 0, Bytes(10, 'b'));
  const uint64_t refused = pair.Write(kA, "f", 8 * kZone, "x");
  const uint64_t after = pair.Write(kA, "f", 100, Bytes(10, 'c'));
  pair.Settle();
  ASSERT_TRUE(pair.Completed(kA, first) && pair.Completed(kA, refused) &&
              pair.Completed(kA, after));
  EXPECT_TRUE(pair.Result(kA, first).ok());
  EXPECT_TRUE(IsRefusal(pair.Result(kA, refused))) << pair.Result(kA, refused);
  EXPECT_TRUE(pair.Result(kA, after).ok());
  EXPECT_EQ(Sessions(pair, kA), sessions) << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "");
  EXPECT_EQ(pair.side(kB).store.live().at("f").data.substr(100, 10), Bytes(10, 'c'));
}

// Only the primary's disk is full: the secondary applied what the application was refused.
// Nothing was acknowledged, so the primary's copy is the reference: the secondary's is set
// back (never the other way round).
TEST(ReplicaRefusalTest, PrimaryRefusedSecondaryAppliedTheSecondaryIsSetBackToThePrimary) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(100, 'a'));
  pair.Settle();
  FillDisk(pair, kA);
  const uint64_t op = pair.Write(kA, "f", 2 * kZone, Bytes(100, 'b'));
  pair.Settle();
  ASSERT_TRUE(pair.Completed(kA, op));
  EXPECT_EQ(pair.Result(kA, op).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(pair.side(kA).store.live().at("f").data, Bytes(100, 'a'));
  EXPECT_EQ(pair.side(kB).store.live().at("f").data, Bytes(100, 'a')) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "");
  EXPECT_TRUE(pair.replica(kA).attached());
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate);
}

// Only the secondary's disk is full: it refused what the primary applied and acknowledged
// nothing until it knew; then it is inconsistent (not promotable) until the resync brings
// the write, once there is room.
TEST(ReplicaRefusalTest, SecondaryRefusedPrimaryAppliedTheSecondaryIsResyncedOnceThereIsRoom) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(100, 'a'));
  pair.Settle();
  FillDisk(pair, kB);
  const uint64_t op = pair.Write(kA, "f", 2 * kZone, Bytes(100, 'b'));
  pair.Settle(absl::Seconds(2));
  EXPECT_TRUE(pair.side(kB).disk.inconsistent) << pair.Log(kB);
  EXPECT_NE(pair.replica(kB).data_state(), DataState::kUpToDate);
  FreeDisk(pair, kB);
  pair.Settle();
  ASSERT_TRUE(pair.Completed(kA, op));
  EXPECT_TRUE(pair.Result(kA, op).ok()) << pair.Result(kA, op);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
}

// The connection breaks while the secondary waits for the primary's outcome: its refusal
// left nothing behind, and the next session brings the write as any write in flight.
TEST(ReplicaRefusalTest, ARefusalWaitingWhenTheConnectionBreaksIsResyncedInTheNextSession) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(100, 'a'));
  pair.Settle();
  FillDisk(pair, kB);
  const uint64_t op = pair.Write(kA, "f", 2 * kZone, Bytes(100, 'b'));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(pair.Step());  // a applies, b refuses and says so
  pair.Hold(kA, true);  // the primary's answer does not get through
  pair.Pump();
  ASSERT_FALSE(pair.Completed(kA, op)) << pair.Log(kA);
  ASSERT_FALSE(pair.side(kB).disk.inconsistent);
  pair.Disconnect();
  pair.Hold(kA, false);
  FreeDisk(pair, kB);
  pair.PeerOutdated(kA);
  pair.Connect();
  pair.Settle();
  ASSERT_TRUE(pair.Completed(kA, op));
  EXPECT_TRUE(pair.Result(kA, op).ok());
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
}

// Found by the simulator (regression seed 5790358893619741759): during a resync from a (the
// peer outdated, so a's writes need no acknowledgement to complete), a's full disk refused two
// writes that b applied. The first one's acknowledgement set b back and ended the session (a
// new Hello); the second then completed detached, before b's acknowledgement of it came, and
// that late durable acknowledgement cooled its zone: no session sent it, and b kept bytes a
// never had. A write refused here that completes without the peer's acknowledgement now goes
// to the peer again too.
TEST(ReplicaRefusalTest, AWriteRefusedHereThatCompletesDetachedIsSetBackOnThePeer) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  // A sparse file: writes into its holes need new blocks, and a block of a zone inside it
  // does not set its size (which would hide a zone left behind).
  pair.Write(kA, "f", 0, Bytes(100, 'a'));
  pair.Write(kA, "f", 6 * kZone, Bytes(100, 'z'));
  pair.Settle();
  const std::string before = pair.side(kA).store.live().at("f").data.ToString();
  pair.Disconnect();
  pair.Write(kA, "g", 0, "written alone");
  pair.PeerOutdated(kA);
  pair.Connect();
  for (int guard = 0; guard < 1000 && !pair.replica(kA).resync_status(pair.now()).active; ++guard) {
    ASSERT_TRUE(pair.Step());
  }
  ASSERT_TRUE(pair.replica(kA).attached()) << pair.Log(kA);
  pair.Hold(kB, true);  // the resync stays open; b's acknowledgements arrive together later
  FillDisk(pair, kA);
  const uint64_t first = pair.Write(kA, "f", 2 * kZone, Bytes(100, 'b'));
  const uint64_t second = pair.Write(kA, "f", 4 * kZone, Bytes(100, 'c'));
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));  // b's acknowledgement: durable
  pair.Pump();
  ASSERT_EQ(pair.side(kB).store.live().at("f").data.ToString().substr(4 * kZone, 100),
            Bytes(100, 'c'))
      << pair.Log(kB);
  FreeDisk(pair, kA);
  pair.Hold(kB, false);
  pair.Settle();
  ASSERT_TRUE(pair.Completed(kA, first) && pair.Completed(kA, second));
  EXPECT_TRUE(IsRefusal(pair.Result(kA, first))) << pair.Result(kA, first);
  EXPECT_TRUE(IsRefusal(pair.Result(kA, second))) << pair.Result(kA, second);
  EXPECT_EQ(pair.side(kA).store.live().at("f").data.ToString(), before);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
}

// Found by the simulator (seed 12833409253259242232 with every fault, at 156b94b): a, the
// primary, sent a rename whose source was already gone (refused on a) and its machine crashed
// before b's own refusal of it completed. b, its peer gone, counted that late refusal as a
// failed apply: its copy inconsistent, so a, back without the writes it had not synced (b
// had acknowledged them, durably), became the source and its older bytes overwrote them. A
// refusal changed nothing, and b never acknowledged the rename: whenever it completes, its
// copy is as if the rename never reached it, whatever a did with it (its names are hot in
// a's activity log until b acknowledges it). b stays consistent, and it is the copy that lost
// least: it sends the zones and names a's crash left hot.
TEST(ReplicaRefusalTest, ARefusalCompletingAfterThePrimaryCrashedKeepsTheAcknowledgedWrites) {
  ReplicaPair pair(Options());
  StartInSyncHolding(pair, "f", Bytes(100, 'a'));
  const uint64_t acked = pair.Write(kA, "f", 0, Bytes(100, 'b'));
  pair.Pump();
  pair.Advance(Options().flush_interval);  // b flushes; a's own flush is not due yet
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kA, acked));
  ASSERT_TRUE(pair.Result(kA, acked).ok()) << pair.Result(kA, acked);
  ASSERT_EQ(pair.side(kB).store.durable().at("f").data, Bytes(100, 'b')) << pair.Log(kB);
  ASSERT_EQ(pair.side(kA).store.durable().at("f").data, Bytes(100, 'a'));
  pair.HoldApplies(kB, true);  // b's refusal completes after a is gone
  const uint64_t rename = pair.Submit(kA, MakeMutation(MutationKind::kRename, "gone", "y"));
  pair.Pump();
  ASSERT_FALSE(pair.Completed(kA, rename));  // refused on a, waiting for b's outcome
  ASSERT_FALSE(pair.side(kA).store.live().contains("y"));
  ASSERT_EQ(pair.HeldApplies(kB), std::vector<std::string>{"gone"});
  pair.Crash(kA);  // loses the write it had not synced
  ASSERT_EQ(pair.side(kA).store.live().at("f").data, Bytes(100, 'a'));
  pair.Disconnect();
  pair.HoldApplies(kB, false);
  pair.Pump();
  EXPECT_FALSE(pair.side(kB).disk.inconsistent) << pair.Log(kB);
  EXPECT_NE(pair.Log(kB).find("rename gone (lsn"), std::string::npos) << pair.Log(kB);
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.side(kB).store.live().at("f").data, Bytes(100, 'b')) << pair.Log(kB);
  EXPECT_EQ(pair.side(kA).store.live().at("f").data, Bytes(100, 'b')) << pair.Log(kA);
  EXPECT_FALSE(pair.side(kA).store.live().contains("y"));
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.replica(kA).data_state(), DataState::kUpToDate) << pair.Log(kA);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
}

// Makes top/d/f (a first zone of 'a's) on both copies, in sync.
void MakeFileInSync(ReplicaPair& pair) {
  pair.Submit(kA, MakeMutation(MutationKind::kMkdir, "top"));
  pair.Submit(kA, MakeMutation(MutationKind::kMkdir, "top/d"));
  pair.Write(kA, "top/d/f", 0, Bytes(100, 'a'));
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Settle();
}

// Found by the simulator (seed 7766101509935132617 of the 20261125 swarm, with names hot by
// directory): mid-resync, b's full disk refused a write that a applied, and a's outcome
// ("applied") reached b only after b had taken a's next stream write, a rename of the file's
// directory. b asked for the zones under the old name (absent on a: b removed it there) and
// the file under its new name kept b's old bytes. The zones are asked for where the rename
// moved them.
TEST(ReplicaRefusalTest, AWriteRefusedHereIsAskedForWhereALaterRenameMovedIt) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  MakeFileInSync(pair);
  pair.Disconnect();
  pair.PeerOutdated(kA);
  pair.Write(kA, "g", 0, "written alone");
  pair.Settle(absl::Seconds(1));
  // The next session is a resync, held open by its blocks.
  pair.HoldMatching(kA,
                    [](const ReplMessage& m) { return std::holds_alternative<ResyncBlock>(m); });
  pair.Connect();
  pair.Pump();
  ASSERT_EQ(pair.side(kB).blocks_received, 0u);
  FillDisk(pair, kB);
  pair.HoldApplies(kA, true);  // a's outcome of the write waits for its own apply
  const uint64_t op = pair.Write(kA, "top/d/f", 2 * kZone, Bytes(100, 'b'));
  pair.Pump();  // b refuses it and says so
  pair.Submit(kA, MakeMutation(MutationKind::kRename, "top/d", "top/e"));
  pair.Pump();  // b takes the rename
  ASSERT_TRUE(pair.side(kB).store.live().contains("top/e/f")) << pair.Log(kB);
  FreeDisk(pair, kB);
  pair.HoldApplies(kA, false);  // "applied" reaches b now
  pair.ReleaseHeldFirst(kA, [](const ReplMessage&) { return false; });
  pair.Settle();
  ASSERT_TRUE(pair.Completed(kA, op));
  EXPECT_TRUE(pair.Result(kA, op).ok()) << pair.Result(kA, op);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
}

// The mirror on the primary: a's full disk refused a write b applied, and b's acknowledgement
// (which settles the refusal) came after a renamed the file's directory. a sets b back where
// the file is now, not under its old name.
TEST(ReplicaRefusalTest, AWriteRefusedOnThePrimaryIsSetBackWhereALaterRenameMovedIt) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  MakeFileInSync(pair);
  const std::string before = pair.side(kA).store.live().at("top/d/f").data.ToString();
  pair.Hold(kB, true);  // b's acknowledgements arrive together later
  FillDisk(pair, kA);
  const uint64_t op = pair.Write(kA, "top/d/f", 2 * kZone, Bytes(100, 'b'));
  pair.Pump();
  pair.Submit(kA, MakeMutation(MutationKind::kRename, "top/d", "top/e"));
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));  // b's acknowledgement: durable
  pair.Pump();
  ASSERT_EQ(pair.side(kB).store.live().at("top/e/f").data.ToString().substr(2 * kZone, 100),
            Bytes(100, 'b'))
      << pair.Log(kB);
  FreeDisk(pair, kA);
  pair.Hold(kB, false);
  pair.Settle();
  ASSERT_TRUE(pair.Completed(kA, op));
  EXPECT_TRUE(IsRefusal(pair.Result(kA, op))) << pair.Result(kA, op);
  EXPECT_EQ(pair.side(kA).store.live().at("top/e/f").data.ToString(), before);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

}  // namespace
}  // namespace duet
