// Replica, the primary's stream: window, in-flight, in-order completion, dropping the peer, the
// outdate gate (engine/replication/replica_primary_stream.cc).
#include <gtest/gtest.h>

#include "engine/replication/replica.h"
#include "tests/engine/printers.h"
#include "tests/engine/replication/replica_fixtures.h"

namespace duet {
namespace {

TEST(ReplicaPrimaryStreamTest, StreamReplicatesEveryMutationKind) {
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
  chmod.attr_mask = kAttrMode;
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

TEST(ReplicaPrimaryStreamTest, WriteCompletesOnlyAfterLocalApplyAndPeerAck) {
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

TEST(ReplicaPrimaryStreamTest, FsyncCompletesOnlyWhenDurableOnBoth) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, "data");
  const uint64_t sync = pair.Submit(kA, MakeMutation(MutationKind::kFsync, "f"));
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kA, sync));
  EXPECT_EQ(pair.side(kA).store.durable().at("f").data, "data");
  EXPECT_EQ(pair.side(kB).store.durable().at("f").data, "data");
}

TEST(ReplicaPrimaryStreamTest, WindowBoundsWritesInFlight) {
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

TEST(ReplicaPrimaryStreamTest, SilentPeerIsDroppedAfterTimeoutAndWritesComplete) {
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

// Found by the simulator (seed 2062956919809420545): a write issued while the handshake was
// deciding waited for it; the handshake then made the primary wait (the peer's copy
// survives), and the write was never submitted nor answered.
TEST(ReplicaPrimaryStreamTest, WriteIssuedDuringAHandshakeThatWaitsGoesAlone) {
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

TEST(ReplicaPrimaryStreamTest, HotSpotWritesPersistTheActivityLogOnce) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  const uint64_t before = pair.side(kA).hot_adds;
  for (int i = 0; i < 1000; ++i) pair.Write(kA, "f", static_cast<uint64_t>(i % 100), "x");
  pair.Pump();
  EXPECT_EQ(pair.side(kA).hot_adds - before, 1u);
}

TEST(ReplicaPrimaryStreamTest, SecondaryRejectsLocalWrites) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  const uint64_t op = pair.Write(kB, "f", 0, "x");
  ASSERT_TRUE(pair.Completed(kB, op));
  EXPECT_EQ(pair.Result(kB, op).code(), absl::StatusCode::kFailedPrecondition);
}

// Found by ReplicaPropertyTest: a write, then time passes before anything is delivered.
TEST(ReplicaPrimaryStreamTest, WriteThenTimePassesBeforeDelivery) {
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
TEST(ReplicaPrimaryStreamTest, LiveWriteDuringHandshakeAfterWritingAlone) {
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
TEST(ReplicaPrimaryStreamTest, WritesAcrossReconnectRightAfterSwap) {
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

// Found by the simulator (seed 6990105509223669465): a node is the resync source at start
// (its peer's copy counts as outdated during that session), loses the connection, then
// becomes primary and writes alone. Those writes must wait for a new outdate of the peer,
// which may have finished the resync and could take over.
TEST(ReplicaPrimaryStreamTest, OutdateFromAnEarlierSessionDoesNotReleaseWritesMadeAlone) {
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

// Found by the simulator (seed 11408519688572848982): the primary answered the secondary's
// Hello and started the new session at "the beginning of time", so its next tick dropped the
// peer for not acknowledging for replication.timeout.
TEST(ReplicaPrimaryStreamTest, PrimaryAnsweringAHelloDoesNotDropThePeer) {
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

// Hot names cool once the peer and this node hold the change durably: a later crash does not
// resend a renamed file whole.
TEST(ReplicaPrimaryStreamTest, HotNamesCoolOnceDurableOnBothAndIdleForTheDelay) {
  ReplicaOptions options = Options();
  options.activity_log_cooling = absl::Minutes(1);
  ReplicaPair pair(options);
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(3 * kZone, 'f'));
  pair.Submit(kA, MakeMutation(MutationKind::kRename, "f", "g"));
  pair.Settle();
  EXPECT_EQ(pair.replica(kA).durable().hot_names.size(), 2u);
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Settle();
  pair.Write(kA, "h", 0, "x");  // a later mutation does not cool them: the delay does
  pair.Settle();
  EXPECT_EQ(pair.replica(kA).durable().hot_names.size(), 2u);
  pair.Settle(absl::Minutes(3));
  EXPECT_TRUE(pair.replica(kA).durable().hot_names.empty());
  EXPECT_TRUE(pair.side(kA).disk.hot_names.empty());
}

// Found by the simulator (seed 17245535296541348078): the primary (not the default one) loses
// its peer with a write in flight that the peer never got; the peer restarts and says its copy
// is not up to date, so the write completes by the outdate rule. Acknowledged without the
// peer, it is a write made alone: the generation must have moved on first. Else, after the
// primary's daemon restarts, the handshake finds the generations equal, the default primary
// becomes the source and overwrites the acknowledged write.
TEST(ReplicaPrimaryStreamTest, WriteInFlightAcknowledgedAfterTheOutdateMovesTheGenerationOn) {
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

// Found by the simulator (seed 15433891304905425880): a resync from a, which had written
// alone, ends on b (it takes a's generation) but the connection drops before a hears it, so
// a's dirty map stays open. b is promoted, writes alone (never acknowledged) and stops; then
// a takes over and writes alone, acknowledged. Its generation must move on for those writes
// even though its dirty map was open already: else b's tentative branch looks newer than
// a's at the next handshake and overwrites the acknowledged writes.
TEST(ReplicaPrimaryStreamTest, WritesAloneAfterAResyncWhoseEndWasLostMoveTheGenerationOn) {
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

// Found by the replica property test (CI seed): the secondary's fsync fails, so it asks for a
// new session and never acknowledges the writes in flight; they complete by the outdate rule
// once the new session's target is inconsistent, and the writes that waited for room in the
// window must go then (they waited forever).
TEST(ReplicaPrimaryStreamTest, WritesWaitingForTheWindowGoWhenTheOutdateCompletesThoseInFlight) {
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

// Found by the simulator (seed 4754048624591268332): writes made alone wait for the peer's
// outdate; the primary handed the module over before it came (the peer took over with its
// older copy, and a resync later discarded them here). They fail when this node stops being
// primary: an outdate heard in a later role (here, as a resync source) must not acknowledge
// them.
TEST(ReplicaPrimaryStreamTest, WritesHeldAloneFailWhenThePrimaryStepsDown) {
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

// Found by the simulator (seed 6122431381503578142, with the data model): a write made alone
// was still on its way to the disk when the primary handed the module over. Its apply came
// back to a secondary, was held for an outdate, and was acknowledged when this node became
// primary again, long after a resync from the peer had replaced it here.
TEST(ReplicaPrimaryStreamTest, AWriteMadeAloneWhoseApplyReturnsAfterAHandoverFails) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Disconnect();
  const uint64_t op = pair.Write(kA, "f", 0, Bytes(100, 'n'));  // its apply not back yet
  ASSERT_FALSE(pair.Completed(kA, op));
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kA, op));
  EXPECT_FALSE(pair.Result(kA, op).ok());
  EXPECT_EQ(pair.CompletionCount(kA, op), 1u);
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.PeerOutdated(kA);
  pair.Pump();
  EXPECT_EQ(pair.CompletionCount(kA, op), 1u);  // never acknowledged later
  EXPECT_FALSE(pair.Result(kA, op).ok());
}

// Found by the end-to-end partition test in network namespaces: through a silent partition
// the connection still looks up. The primary drops the peer when the heartbeats declare it
// lost; the write in flight at the cut, completed without the peer, moved the generation on,
// which offered the peer a new Hello on that connection, and every later write waited
// replication.timeout for an answer.
TEST(ReplicaPrimaryStreamTest, WritesGoOnAloneThroughASilentPartitionWithoutWaitingForAHello) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Hold(kA, true);  // nothing gets through, the connection stays up
  pair.Hold(kB, true);
  std::vector<uint64_t> ops;
  ops.push_back(pair.Write(kA, "f", 100, "in flight at the cut"));
  pair.Pump();
  pair.PeerReachable(kA, false);
  pair.PeerOutdated(kA);  // what the witness or the peer's loss says
  pair.Pump();
  for (int i = 0; i < 3; ++i) {
    ops.push_back(pair.Write(kA, "f", static_cast<uint64_t>(i) * 10, "alone"));
    pair.Pump();
  }
  for (uint64_t op : ops) {
    ASSERT_TRUE(pair.Completed(kA, op)) << op << "\n" << pair.Log(kA);
    EXPECT_TRUE(pair.Result(kA, op).ok()) << pair.Result(kA, op);
  }
  EXPECT_EQ(pair.Log(kA).find("no handshake answer"), std::string::npos) << pair.Log(kA);
  // The peer is heard again: a session is offered, and it resyncs what it missed.
  pair.PeerReachable(kA, true);
  pair.Hold(kA, false);
  pair.Hold(kB, false);
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

// A write the peer never acknowledged, still in flight at a drop (its own disk is slow), went
// alone; a new session starts its lsns past it (the watermark then covers it) and drops too.
// The second drop must not take it for one the peer has: it completes only once the peer is
// known outdated, like any write made alone.
TEST(ReplicaPrimaryStreamTest, AWriteLeftAloneByADropStaysAloneAtTheNextSessionsDrop) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.HoldApplies(kA, true);  // a's own disk holds the write: it stays in flight
  pair.Hold(kA, true);         // and it never reaches b
  const uint64_t write = pair.Write(kA, "f", 0, "never on b");
  pair.Pump();
  pair.Disconnect();  // the first drop: the write went alone
  pair.Connect();
  pair.Pump();
  ASSERT_TRUE(pair.replica(kA).attached()) << pair.Log(kA);
  pair.Disconnect();  // the second drop
  pair.HoldApplies(kA, false);
  pair.Pump();
  EXPECT_FALSE(pair.Completed(kA, write)) << pair.Log(kA);  // b may still take over without it
  pair.PeerOutdated(kA);
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kA, write)) << pair.Log(kA);
  EXPECT_TRUE(pair.Result(kA, write).ok());
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

}  // namespace
}  // namespace duet
