// Replica under adapter contract C7's freedom: operations on different files complete in any
// order, barriers after everything before them. Acknowledgements, application completions,
// flush watermarks and resync blocks must hold whatever order the completions come in.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/replication/replica.h"
#include "tests/engine/printers.h"
#include "tests/engine/replication/replica_fixtures.h"

namespace duet {
namespace {

// Releases every held completion of side i, each time the latest one C7 allows, pumping
// between them, until nothing is held any more (what the releases cause may be held too).
void ReleaseAllLatestFirst(ReplicaPair& pair, int i) {
  for (int guard = 0; guard < 100000 && pair.ReleaseLatestAllowed(i); ++guard) pair.Pump();
}

TEST(ReplicaOutOfOrderTest, AStreamWriteCompletingBeforeAnEarlierOneToAnotherFileIsAckedAlone) {
  ReplicaPair pair(Options());
  StartInSyncWithASlowSecondaryDisk(pair);
  const uint64_t first = pair.Write(kA, "a", 0, "first");
  const uint64_t second = pair.Write(kA, "b", 0, "second");
  pair.Pump();
  ASSERT_EQ(pair.HeldApplies(kB), (std::vector<std::string>{"a", "b"}));
  pair.ReleaseAppliedAndPump(kB, "b");
  // Lsn 2 is done there, lsn 1 is not: the ack says so past its watermark (done_after).
  EXPECT_EQ(pair.CompletedAmong(kA, {first, second}), Ops({second}));
  pair.ReleaseAppliedAndPump(kB, "a");
  ASSERT_EQ(pair.CompletedAmong(kA, {first, second}), Ops({first, second}));
  EXPECT_TRUE(pair.Result(kA, first).ok());
  EXPECT_TRUE(pair.Result(kA, second).ok());
  EXPECT_EQ(pair.Difference(), "");
}

TEST(ReplicaOutOfOrderTest, ALocalApplyCompletingBeforeAnEarlierOneToTheSameFileWaitsForIt) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.HoldApplies(kA, true);
  const uint64_t first = pair.Write(kA, "a", 0, "first");
  const uint64_t other = pair.Write(kA, "b", 0, "other");
  const uint64_t second = pair.Write(kA, "a", 10, "second");
  const Ops all = {first, other, second};
  pair.Pump();
  ASSERT_EQ(pair.HeldApplies(kA), (std::vector<std::string>{"a", "b", "a"}));
  pair.ReleaseAppliedAndPump(kA, "b");
  // Acknowledged by the peer and applied here, another file's write completes alone.
  EXPECT_EQ(pair.CompletedAmong(kA, all), Ops({other}));
  pair.ReleaseAppliedAndPump(kA, "a");
  EXPECT_EQ(pair.CompletedAmong(kA, all), Ops({first, other}));
  pair.ReleaseAppliedAndPump(kA, "a");
  EXPECT_EQ(pair.CompletedAmong(kA, all), all);
}

TEST(ReplicaOutOfOrderTest, InDurableModeAFsyncCompletesOnceItsFileIsDurableOnBoth) {
  ReplicaOptions o = Options();
  o.ack = AckMode::kDurable;
  ReplicaPair pair(o);
  StartInSync(pair);
  pair.HoldApplies(kB, true);
  const uint64_t first = pair.Write(kA, "a", 0, "first");
  const uint64_t second = pair.Write(kA, "b", 0, "second");
  Mutation sync = MakeMutation(MutationKind::kFsync, "b");
  const uint64_t fsync = pair.Submit(kA, std::move(sync));
  pair.Pump();
  ASSERT_EQ(pair.HeldApplies(kB), (std::vector<std::string>{"a", "b", "b"}));
  pair.ReleaseApplied(kB, "b");
  pair.ReleaseAppliedAndPump(kB, "b");
  ASSERT_EQ(pair.CompletedAmong(kA, {first, second, fsync}), Ops({second, fsync}));
  EXPECT_TRUE(pair.Result(kA, fsync).ok());
  EXPECT_EQ(pair.side(kB).store.durable().at("b").data, "second");
  pair.ReleaseAppliedAndPump(kB, "a");
  EXPECT_TRUE(pair.Completed(kA, first));
  EXPECT_EQ(pair.side(kB).store.durable().at("a").data, "first");
}

TEST(ReplicaOutOfOrderTest, StreamWritesToManyFilesCompletingLatestFirstLeaveTheCopiesEqual) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  WriteTree(pair, kA);
  pair.HoldApplies(kA, true);
  pair.HoldApplies(kB, true);
  std::vector<uint64_t> ops;
  for (int round = 0; round < 3; ++round) {
    for (const char* path : {"a", "b", "d/f", "vm.img"}) {
      ops.push_back(
          pair.Write(kA, path, round * 10, std::string(5, static_cast<char>('p' + round))));
    }
    ops.push_back(pair.Submit(kA, MakeMutation(MutationKind::kRename, "new", "newer")));
    ops.push_back(pair.Submit(kA, MakeMutation(MutationKind::kRename, "newer", "new")));
  }
  ops.push_back(pair.Submit(kA, MakeMutation(MutationKind::kFsync, "")));
  pair.Pump();
  for (int guard = 0; guard < 1000; ++guard) {
    const bool a = pair.ReleaseLatestAllowed(kA);
    const bool b = pair.ReleaseLatestAllowed(kB);
    pair.Pump();
    if (!a && !b) break;
  }
  for (uint64_t op : ops) {
    ASSERT_TRUE(pair.Completed(kA, op)) << op;
    EXPECT_TRUE(pair.Result(kA, op).ok()) << op;
  }
  EXPECT_EQ(pair.Difference(), "");
  // The whole-tree fsync completed last on both: everything is durable on the secondary.
  EXPECT_EQ(sim::DescribeDifference(pair.side(kB).store.durable(), pair.side(kA).store.live()), "");
}

TEST(ReplicaOutOfOrderTest, ResyncBlocksAppliedLatestFirstAreAllAcknowledgedAndTheCopiesEndEqual) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  WriteTree(pair, kA);
  WriteAlone(pair, [&] {
    for (const char* path : {"a", "b", "c", "d/f"}) pair.Write(kA, path, 0, Bytes(2 * kZone, 'z'));
    pair.Write(kA, "vm.img", kZone, "rewritten alone");
  });
  pair.HoldApplies(kB, true);
  pair.Connect();
  pair.Pump();
  for (int round = 0; round < 50; ++round) {
    ReleaseAllLatestFirst(pair, kB);
    pair.Advance(absl::Milliseconds(200));
    pair.Pump();
  }
  pair.HoldApplies(kB, false);
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "");
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
  EXPECT_GT(pair.side(kB).blocks_received, 0u);
}

// Found by the simulator once its workload put files in directories (regression seed
// 3173267267034970257): the source read d/f for the target, then the application removed d.
// The live rmdir reached the target before the block, which was applied after it: d/f came
// back there without d (on a real disk the write fails for its missing directory, and the
// session starts over). A block is stale after a live change to any directory above it; with
// the stricter store (rmdir refuses a directory with names) the change here is a rename of d,
// and a stale block must not make d again (Mutation::make_parents).
TEST(ReplicaOutOfOrderTest, ABlockReadBeforeALiveRenameOfItsDirectoryIsStale) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  WriteAlone(pair, [&] {
    pair.Submit(kA, MakeMutation(MutationKind::kMkdir, "d"));
    pair.Write(kA, "d/f", 0, Bytes(kZone + 100, 'f'));
  });
  pair.Connect();
  // The source has read nothing yet: its reads of d/f are queued before the removal.
  for (int guard = 0; guard < 1000 && !pair.replica(kA).resync_status(pair.now()).active; ++guard) {
    ASSERT_TRUE(pair.Step());
  }
  ASSERT_TRUE(pair.replica(kA).resync_status(pair.now()).source) << pair.Log(kA);
  ASSERT_TRUE(pair.side(kB).zones_resynced.empty());
  // (A directory with names is renamed, never removed: rmdir refuses it, ENOTEMPTY.)
  const uint64_t op = pair.Submit(kA, MakeMutation(MutationKind::kRename, "d", "e"));
  pair.Settle();
  ASSERT_TRUE(pair.Completed(kA, op));
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_FALSE(pair.side(kB).store.live().contains("d/f"));
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
}

}  // namespace
}  // namespace duet
