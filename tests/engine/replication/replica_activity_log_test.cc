// The activity log as the replica keeps it (engine/replication/activity_log.h, the cooling
// pass in replica_primary_stream.cc, the comparisons in replica_resync_source.cc and
// replica_resync_target.cc): a zone whose writes are durable on both nodes and that had no
// write for the cooling delay leaves the log in a batch; after a primary's crash only the
// zones still hot are compared, by digest, whichever node is the resync source.
#include <gtest/gtest.h>

#include <string>

#include "absl/container/btree_set.h"
#include "engine/replication/replica.h"
#include "tests/engine/printers.h"
#include "tests/engine/replication/replica_fixtures.h"

namespace duet {
namespace {

constexpr absl::Duration kCooling = absl::Seconds(5);

ReplicaOptions CoolingOptions() {
  ReplicaOptions o = Options();
  o.activity_log_cooling = kCooling;
  o.timeout = absl::Seconds(60);  // a held peer is not dropped while the test waits
  return o;
}

bool Hot(ReplicaPair& pair, int side, const std::string& path, uint64_t zone) {
  return pair.side(side).disk.hot.Contains(path, zone) &&
         pair.replica(side).durable().hot.Contains(path, zone);
}

bool Resynced(ReplicaPair& pair, int side, const std::string& path, uint64_t zone) {
  return pair.side(side).zones_resynced.contains({path, zone});
}

TEST(ReplicaActivityLogTest, ZoneAcknowledgedDurableAndIdleCoolsInOneBatch) {
  ReplicaPair pair(CoolingOptions());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(4 * kZone, 'x'));
  pair.Write(kA, "g", 0, "small");
  pair.Settle(absl::Seconds(2));  // acknowledged, and durable on both (each flushes every 1 s)
  ASSERT_TRUE(Hot(pair, kA, "f", 3));
  const uint64_t persists = pair.side(kA).persists;
  pair.Settle(2 * kCooling);
  for (uint64_t zone = 0; zone < 4; ++zone) EXPECT_FALSE(Hot(pair, kA, "f", zone)) << zone;
  EXPECT_FALSE(Hot(pair, kA, "g", 0));
  EXPECT_TRUE(pair.side(kA).disk.hot.empty());
  // Both files' zones went in one PersistReplica: one metadata append (and fdatasync).
  EXPECT_EQ(pair.side(kA).persists, persists + 1);
  // Nothing left to cool: no pass is due.
  EXPECT_EQ(pair.replica(kA).NextDeadline(), absl::InfiniteFuture());
}

TEST(ReplicaActivityLogTest, ZoneWithAWriteInFlightNeverCools) {
  ReplicaPair pair(CoolingOptions());
  StartInSync(pair);
  pair.Hold(kB, true);  // b applies the write; its acknowledgements do not come back
  const uint64_t op = pair.Write(kA, "f", 0, "in flight");
  pair.Settle(6 * kCooling);
  ASSERT_FALSE(pair.Completed(kA, op));
  EXPECT_TRUE(Hot(pair, kA, "f", 0));
  pair.Hold(kB, false);
  pair.Settle(3 * kCooling);
  EXPECT_TRUE(pair.Completed(kA, op));
  EXPECT_FALSE(Hot(pair, kA, "f", 0));
}

// Cooling takes the peer's durable watermark (ReplAck::durable_lsn), never its per-mutation
// acknowledgements past the watermark (ReplAck::done_after): even in durable mode, where such
// an ack says the mutation is durable there, its zone stays hot until the watermark passes it.
TEST(ReplicaActivityLogTest, AZoneAckedDurablePastTheWatermarkStaysHotUntilTheWatermarkPassesIt) {
  ReplicaOptions o = CoolingOptions();
  o.ack = AckMode::kDurable;
  ReplicaPair pair(o);
  StartInSync(pair);
  pair.HoldApplies(kB, true);  // b's disk: the write to a is slow, the one to b is not
  const uint64_t first = pair.Write(kA, "a", 0, "slow there");
  const uint64_t second = pair.Write(kA, "b", 0, "acknowledged on its own");
  pair.Pump();
  pair.ReleaseApplied(kB, "b");
  pair.Settle(6 * kCooling);
  ASSERT_TRUE(pair.Completed(kA, second)) << pair.Log(kA);  // acked past the watermark
  ASSERT_FALSE(pair.Completed(kA, first));
  EXPECT_TRUE(Hot(pair, kA, "b", 0));
  EXPECT_TRUE(Hot(pair, kA, "a", 0));
  pair.HoldApplies(kB, false);
  pair.Settle(3 * kCooling);
  ASSERT_TRUE(pair.Completed(kA, first));
  EXPECT_FALSE(Hot(pair, kA, "b", 0));
  EXPECT_FALSE(Hot(pair, kA, "a", 0));
}

TEST(ReplicaActivityLogTest, ZoneRewrittenMoreOftenThanTheDelayStaysHotWithoutRecords) {
  ReplicaPair pair(CoolingOptions());
  StartInSync(pair);
  pair.Write(kA, "db", 0, "page");
  pair.Settle(absl::Seconds(1));
  const uint64_t hot_adds = pair.side(kA).hot_adds;
  const uint64_t persists = pair.side(kA).persists;
  for (int i = 0; i < 30; ++i) {
    pair.Write(kA, "db", 0, "page " + std::to_string(i));
    pair.Settle(absl::Seconds(2));
    ASSERT_TRUE(Hot(pair, kA, "db", 0)) << i;
  }
  EXPECT_EQ(pair.side(kA).hot_adds, hot_adds);
  EXPECT_EQ(pair.side(kA).persists, persists);  // no cooling, no re-heating
}

TEST(ReplicaActivityLogTest, CooledZoneIsHotAgainBeforeItsNextWriteIsSent) {
  ReplicaPair pair(CoolingOptions());
  StartInSync(pair);
  pair.Write(kA, "f", 0, "first");
  pair.Settle(3 * kCooling);
  ASSERT_FALSE(Hot(pair, kA, "f", 0));
  const uint64_t hot_adds = pair.side(kA).hot_adds;
  pair.Hold(kA, true);  // the write is sent, and held on the way
  pair.Write(kA, "f", 0, "again");
  EXPECT_EQ(pair.side(kA).hot_adds, hot_adds + 1);
  EXPECT_TRUE(Hot(pair, kA, "f", 0));
}

// a, primary, wrote `old` long ago (it cooled) and `new` just before its machine died; b takes
// over, a returns as its target: only `new`'s zone is compared, not `old`'s four.
TEST(ReplicaActivityLogTest, AfterAPrimarysCrashOnlyTheZonesStillHotAreCompared) {
  ReplicaPair pair(CoolingOptions());
  StartInSync(pair);
  pair.Write(kA, "old", 0, Bytes(4 * kZone, 'o'));
  pair.Settle(3 * kCooling);
  ASSERT_TRUE(pair.side(kA).disk.hot.empty());
  pair.Write(kA, "new", 0, "written last");
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Pump();
  ASSERT_TRUE(Hot(pair, kA, "new", 0));
  pair.Disconnect();
  pair.Crash(kA);
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.PeerOutdated(kB);
  pair.Write(kB, "old", kZone, "b wrote alone");
  pair.Settle(absl::Seconds(1));
  pair.Connect();
  pair.Settle(absl::Seconds(10));
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kA).sames_received, 1u) << pair.Log(kB);  // new:0
  EXPECT_TRUE(Resynced(pair, kA, "old", 1));                    // b's own change
  EXPECT_EQ(pair.side(kA).blocks_received, 1u) << pair.Log(kB);
  EXPECT_EQ(pair.replica(kA).data_state(), DataState::kUpToDate) << pair.Log(kA);
}

// Found by the simulator (a swarm seed, 13921486592676002 with base 20261125): a's crash left
// the name n hot (of unknown age), so a's next session as the source sent it whole; during
// that session a removed n, and the transport lost the rmdir. The session's end forgot n, a's
// daemon restarted before the peer's silence dropped it, and b kept n. Changed again during
// the resync, n stays hot after it until that change is durable on b.
TEST(ReplicaActivityLogTest, ANameChangedAgainDuringTheResyncThatTookItIsNotForgottenAtItsEnd) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Submit(kA, MakeMutation(MutationKind::kMkdir, "n"));
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Pump();
  ASSERT_TRUE(pair.side(kB).store.live().contains("n"));
  pair.Disconnect();
  pair.Crash(kA);  // n, made durable, is hot of unknown age now
  ASSERT_TRUE(pair.side(kA).disk.hot_names.contains("n"));
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.Connect();
  for (int guard = 0; guard < 1000 && !pair.replica(kA).resync_status(pair.now()).active; ++guard) {
    ASSERT_TRUE(pair.Step());
  }
  pair.LoseStreamWrites(kA, 1);
  pair.Submit(kA, MakeMutation(MutationKind::kRmdir, "n"));
  for (int i = 0; i < 30 && pair.replica(kA).resync_status(pair.now()).active; ++i) {
    pair.Pump();
    pair.Advance(absl::Milliseconds(100));  // the target's flushes; not the peer's timeout
  }
  ASSERT_FALSE(pair.replica(kA).resync_status(pair.now()).active) << pair.Log(kA);
  ASSERT_FALSE(pair.side(kA).store.live().contains("n"));
  ASSERT_TRUE(pair.side(kB).store.live().contains("n"));
  pair.Restart(kA);  // before the silence drops the peer (which would journal the rmdir)
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

// a's daemon restarts while it is primary (its files intact); b never took over, and a comes
// back as the source. The zones a's log names may differ either way: b reads their digests and
// only the zone a wrote without b ever getting it is sent.
TEST(ReplicaActivityLogTest, RestartedPrimaryAsTheSourceSendsOnlyItsHotZonesThatDiffer) {
  ReplicaPair pair(CoolingOptions());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(4 * kZone, 'x'));
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Pump();
  pair.Hold(kA, true);  // b never gets the late write
  pair.Write(kA, "f", 2 * kZone + 7, "late");
  pair.Pump();
  pair.Restart(kA);
  pair.Disconnect();
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.Connect();
  pair.Settle(absl::Seconds(10));
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("f").data.substr(2 * kZone + 7, 4), "late");
  EXPECT_EQ(pair.side(kB).blocks_received, 1u) << pair.Log(kA) << pair.Log(kB);
  EXPECT_TRUE(Resynced(pair, kB, "f", 2));
  EXPECT_EQ(pair.side(kB).sames_received, 3u) << pair.Log(kA) << pair.Log(kB);
  EXPECT_NE(pair.Log(kA).find(absl::StrCat("; ", 3 * kZone,
                                           " bytes the same on both copies by digest, not sent")),
            std::string::npos)
      << pair.Log(kA);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
  // Resynced, the zones the restart left hot cool like any other.
  pair.Settle(3 * kCooling);
  EXPECT_TRUE(pair.side(kA).disk.hot.empty()) << pair.Log(kA);
}

// The same after a's machine restarts (it lost nothing it had synced) and it is made primary
// again before the pair reconnects: its hot zones equal on b are not sent.
TEST(ReplicaActivityLogTest, CrashedPrimaryThatStaysTheSourceComparesItsHotZones) {
  ReplicaPair pair(CoolingOptions());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(3 * kZone, 'x'));
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Pump();
  ASSERT_TRUE(Hot(pair, kA, "f", 2));
  pair.Crash(kA);
  pair.Disconnect();
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.Connect();
  pair.Settle(absl::Seconds(10));
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).blocks_received, 0u) << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).sames_received, 3u) << pair.Log(kA) << pair.Log(kB);
}

// The target cannot read a digest (EIO): that zone is asked for plainly, and sent.
TEST(ReplicaActivityLogTest, SourcesHotZoneWhoseDigestTheTargetCannotReadIsSentWhole) {
  ReplicaPair pair(CoolingOptions());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(2 * kZone, 'x'));
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Pump();
  pair.Restart(kA);
  pair.Disconnect();
  pair.side(kB).fail_digest_reads = true;
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.Connect();
  pair.Settle(absl::Seconds(10));
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).blocks_received, 2u) << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).sames_received, 0u);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
}

// The source writes and renames while b still reads the digests it asked for: the copies end
// the same.
TEST(ReplicaActivityLogTest, SourcesLiveWritesAndRenamesDuringTheComparisonEndTheSame) {
  ReplicaPair pair(CoolingOptions());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(3 * kZone, 'x'));
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Pump();
  pair.Restart(kA);
  pair.Disconnect();
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.Connect();
  for (int i = 0; i < 100 && pair.Log(kA).find("this node is the source") == std::string::npos;
       ++i) {
    ASSERT_TRUE(pair.Step());
  }
  pair.Write(kA, "f", kZone + 3, "live");
  pair.Submit(kA, MakeMutation(MutationKind::kRename, "f", "g"));
  pair.Write(kA, "g", 2 * kZone, "after the rename");
  pair.Settle(absl::Seconds(10));
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("g").data.substr(kZone + 3, 4), "live");
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
}

// --- Hot directories: a small file's create, rename and unlink persist nothing while their
// directory stays hot; after a crash the directory's names are resynced by listing.

Mutation Named(MutationKind kind, const std::string& path, const std::string& path2 = {}) {
  return MakeMutation(kind, path, path2);
}

// Creates, writes (its first zone), renames and unlinks `name` in `dir` as a mail spool does.
void SmallFileCycle(ReplicaPair& pair, const std::string& dir, const std::string& name) {
  const std::string path = dir + "/" + name;
  pair.Submit(kA, Named(MutationKind::kCreate, path));
  pair.Write(kA, path, 0, "a small file");
  pair.Submit(kA, Named(MutationKind::kRename, path, path + ".done"));
  pair.Submit(kA, Named(MutationKind::kUnlink, path + ".done"));
  pair.Pump();
}

TEST(ReplicaActivityLogTest, SmallFilesCreatedRenamedAndRemovedInAHotDirectoryPersistNothing) {
  ReplicaPair pair(CoolingOptions());
  StartInSync(pair);
  pair.Submit(kA, Named(MutationKind::kMkdir, "spool"));    // under the root: hot itself
  pair.Submit(kA, Named(MutationKind::kMkdir, "spool/d"));  // spool hot: nothing more
  pair.Pump();
  const uint64_t persists = pair.side(kA).persists;
  SmallFileCycle(pair, "spool/d", "f1");  // spool/d becomes hot: one record
  EXPECT_EQ(pair.side(kA).persists, persists + 1);
  for (int i = 2; i <= 20; ++i) SmallFileCycle(pair, "spool/d", "f" + std::to_string(i));
  EXPECT_EQ(pair.side(kA).persists, persists + 1);
  EXPECT_TRUE(pair.side(kA).disk.hot.empty());
  EXPECT_EQ(pair.side(kA).disk.hot_names, (absl::btree_set<std::string>{"spool", "spool/d"}));
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  // Idle for the delay and durable on both, the directories cool in one batch.
  pair.Submit(kA, Named(MutationKind::kFsync, ""));
  pair.Settle(3 * kCooling);
  EXPECT_TRUE(pair.side(kA).disk.hot_names.empty());
}

// Leaves b without a's last create and unlink in `dir` (the stream writes lost), with a's
// copy holding both durably; returns once a's hot names say only `dir`.
void LoseACreateAndAnUnlink(ReplicaPair& pair) {
  pair.Submit(kA, Named(MutationKind::kMkdir, "spool"));
  pair.Submit(kA, Named(MutationKind::kCreate, "spool/old"));
  pair.Write(kA, "spool/old", 0, "delivered long ago");
  pair.Submit(kA, Named(MutationKind::kFsync, ""));
  pair.Settle(3 * kCooling);
  ASSERT_TRUE(pair.side(kA).disk.hot_names.empty());
  pair.Submit(kA, Named(MutationKind::kCreate, "spool/kept"));  // reaches b: spool is hot
  pair.Pump();
  pair.LoseStreamWrites(kA, 4);
  pair.Submit(kA, Named(MutationKind::kCreate, "spool/new"));
  pair.Write(kA, "spool/new", 0, "delivered at the crash");
  pair.Submit(kA, Named(MutationKind::kUnlink, "spool/old"));
  pair.Submit(kA, Named(MutationKind::kFsync, ""));  // durable here, never there
  pair.Pump();
  ASSERT_TRUE(pair.side(kA).store.live().contains("spool/new"));
  ASSERT_FALSE(pair.side(kA).store.live().contains("spool/old"));
  ASSERT_FALSE(pair.side(kB).store.live().contains("spool/new"));
  ASSERT_TRUE(pair.side(kB).store.live().contains("spool/old"));
  // Neither the new file's name nor its zone is hot: its directory covers both.
  ASSERT_EQ(pair.side(kA).disk.hot_names, absl::btree_set<std::string>{"spool"});
  ASSERT_TRUE(pair.side(kA).disk.hot.empty());
}

TEST(ReplicaActivityLogTest, ARestartedPrimaryResyncsTheNamesOfADirectoryHotAtItsCrash) {
  ReplicaPair pair(CoolingOptions());
  StartInSync(pair);
  LoseACreateAndAnUnlink(pair);
  pair.Disconnect();
  pair.Crash(kA);  // a's copy keeps what it made durable; a comes back as the source
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_FALSE(pair.side(kB).store.live().contains("spool/old"));
  EXPECT_TRUE(pair.side(kB).store.live().contains("spool/new"));
}

TEST(ReplicaActivityLogTest, ACrashedPrimaryThatBecomesTheTargetDropsTheNamesThePeerLacks) {
  ReplicaPair pair(CoolingOptions());
  StartInSync(pair);
  LoseACreateAndAnUnlink(pair);
  pair.Disconnect();
  pair.Crash(kA);
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.PeerOutdated(kB);
  pair.Settle(absl::Seconds(1));
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_TRUE(pair.side(kA).store.live().contains("spool/old"));
  EXPECT_FALSE(pair.side(kA).store.live().contains("spool/new"));
}

}  // namespace
}  // namespace duet
