// Replica, the secondary's stream: apply in order, acknowledgements per ack mode, flushes
// (engine/replication/replica_secondary_stream.cc).
#include <gtest/gtest.h>

#include "engine/replication/replica.h"
#include "tests/engine/printers.h"
#include "tests/engine/replication/replica_fixtures.h"

namespace duet {
namespace {

TEST(ReplicaSecondaryStreamTest, ReceivedModeAcksBeforeApplying) {
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

TEST(ReplicaSecondaryStreamTest, DurableModeMakesEveryWriteDurableOnTheSecondary) {
  ReplicaOptions o = Options();
  o.ack = AckMode::kDurable;
  ReplicaPair pair(o);
  StartInSync(pair);
  const uint64_t op = pair.Write(kA, "f", 0, "data");
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kA, op));
  EXPECT_EQ(pair.side(kB).store.durable().at("f").data, "data");
}

// Found by the simulator (seed 4414019431610648415, stream-gap fault): the secondary took
// the first write it received as the session's start, so a lost first write went unnoticed
// and its acknowledgement covered it. The Hello now names the session's first lsn.
TEST(ReplicaSecondaryStreamTest, LostFirstWriteOfASessionIsAGapNotANewStart) {
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

// Found by the property test: after b (primary) crashed and reconnected, a sent an
// acknowledgement of the old session (lsn 1, durable) before the new session was decided;
// b, which starts again from lsn 1, counted its new write as durable on a, and a drop then
// left that write's second zone out of the plan: the copies ended with different sizes.
TEST(ReplicaSecondaryStreamTest, AcknowledgementsOfAnOldSessionNeverCountInTheNext) {
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

// A stream mutation that fails only on the secondary (its copy lost the file): the secondary
// refuses it (it changed nothing), learns that the primary applied it, and is then
// inconsistent and asks for what the mutation touched in a new session.
TEST(ReplicaSecondaryStreamTest, StreamApplyFailureOnSecondaryIsResynced) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(3 * kZone, 'f'));
  pair.Settle();
  ASSERT_TRUE(pair.side(kB).store.Apply(MakeMutation(MutationKind::kUnlink, "f")).ok());
  const uint64_t op = pair.Submit(kA, MakeMutation(MutationKind::kRename, "f", "g"));
  while (!pair.side(kB).disk.inconsistent) ASSERT_TRUE(pair.Step()) << pair.Log(kB);
  EXPECT_NE(pair.replica(kB).data_state(), DataState::kUpToDate);
  pair.Settle();
  EXPECT_TRUE(pair.Completed(kA, op) && pair.Result(kA, op).ok());
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
  EXPECT_FALSE(pair.replica(kB).durable().inconsistent);
}

// Found by the simulator (seed 1988111358474182198): the application renames a name that
// does not exist; the rename fails on both nodes alike, and the pair goes on in sync.
TEST(ReplicaSecondaryStreamTest, MutationFailingOnBothNodesLeavesThePairInSync) {
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

// Found by the simulator (seed 5281401260566177518): a heartbeat saying "the primary writes
// alone", sent before the resync finished, arrives after it: the secondary, attached and in
// sync, stays up to date (else it would stay outdated in a session that never resyncs it).
TEST(ReplicaSecondaryStreamTest, StaleOutdateAfterResyncLeavesTheSecondaryUpToDate) {
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

// Found by the end-to-end test of a full secondary disk: every 4 KiB write of the stream
// failed with ENOSPC and logged its own line (766 lines for 3 MiB), and nothing in the status
// said why the copy was behind.
TEST(ReplicaSecondaryStreamTest, AFullDiskIsLoggedOnceAndNamedUntilTheResyncEnds) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.side(kB).fail_writes = true;
  for (int i = 0; i < 30; ++i) pair.Write(kA, "f", static_cast<uint64_t>(i) * 4096, "x");
  pair.Pump();
  const std::string log = pair.Log(kB);
  size_t lines = 0;
  for (size_t at = log.find("applying the stream failed"); at != std::string::npos;
       at = log.find("applying the stream failed", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 1u) << log;
  EXPECT_NE(pair.replica(kB).stream_failure().find("ENOSPC"), std::string::npos)
      << pair.replica(kB).stream_failure();
  pair.side(kB).fail_writes = false;  // space returns
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).stream_failure(), "");
}

}  // namespace
}  // namespace duet
