// Replica, the resync target: a block may come before the block of its name's directory
// (the source sends each block once its read completes, and reads complete in any order:
// adapter contract C7), so a block's steps ask the store to make the missing directories
// (Mutation::make_parents, adapter contract C13) instead of failing and restarting the
// session; the directory's own block then gives it the source's owner and mode.
#include <gtest/gtest.h>

#include "engine/replication/replica.h"
#include "tests/engine/printers.h"
#include "tests/engine/replication/replica_fixtures.h"

namespace duet {
namespace {

bool IsBlockFor(const ReplMessage& m, const std::string& path) {
  const auto* block = std::get_if<ResyncBlock>(&m);
  return block != nullptr && block->path == path;
}

// A blank copy takes the whole tree by blocks alone (no journal replays a mkdir first); b's
// resync gets f's block before those of e and e/g above it.
TEST(ReplicaResyncParentsTest, ABlockBeforeItsDirectorysBlockLandsWithoutRestartingTheSession) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  Mutation e = MakeMutation(MutationKind::kMkdir, "e");
  e.mode = 0750;
  e.uid = 70;
  e.gid = 1000;
  pair.Submit(kA, e);
  Mutation g = MakeMutation(MutationKind::kMkdir, "e/g");
  g.mode = 0705;
  pair.Submit(kA, g);
  pair.Write(kA, "e/g/f", 0, "data");
  pair.Settle();
  pair.Disconnect();
  pair.ReplaceDisk(kB);
  pair.HoldMatching(kA,
                    [](const ReplMessage& m) { return std::holds_alternative<ResyncBlock>(m); });
  pair.Connect();
  pair.Pump();
  ASSERT_EQ(pair.side(kB).blocks_received, 0u);  // every block held
  pair.ReleaseHeldFirst(kA, [](const ReplMessage& m) { return IsBlockFor(m, "e/g/f"); });
  pair.Pump();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.Log(kB).find("applying a resync block failed"), std::string::npos) << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
  const sim::MemStore::Entry& made = pair.side(kB).store.live().at("e");
  EXPECT_EQ(made.mode, 0750u);
  EXPECT_EQ(made.uid, 70u);
  EXPECT_EQ(made.gid, 1000u);
  EXPECT_EQ(pair.side(kB).store.live().at("e/g").mode, 0705u);
}

}  // namespace
}  // namespace duet
