// Replica: a write of an O_SYNC/O_DSYNC file (Mutation::sync) completes only once durable on
// both nodes, and fails as an fsync of its file would.
#include <gtest/gtest.h>

#include "engine/replication/replica.h"
#include "tests/engine/printers.h"
#include "tests/engine/replication/replica_fixtures.h"

namespace duet {
namespace {

uint64_t SyncWrite(ReplicaPair& pair, int side, const std::string& path, std::string bytes) {
  Mutation m = MakeMutation(MutationKind::kWrite, path);
  m.data = MakePayload(std::move(bytes));
  m.sync = true;
  return pair.Submit(side, m);
}

TEST(ReplicaSyncWriteTest, SyncWriteCompletesDurableOnBothWhereAPlainWriteNeedNot) {
  ReplicaPair pair(Options());  // ack mode applied: a plain write completes once applied
  StartInSync(pair);
  const uint64_t plain = pair.Write(kA, "plain", 0, "p");
  const uint64_t sync = SyncWrite(pair, kA, "wal", "commit record");
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kA, plain));
  ASSERT_TRUE(pair.Completed(kA, sync));
  EXPECT_TRUE(pair.Result(kA, sync).ok()) << pair.Result(kA, sync);
  EXPECT_FALSE(pair.side(kB).store.durable().contains("plain"));
  EXPECT_EQ(pair.side(kA).store.durable().at("wal").data, "commit record");
  EXPECT_EQ(pair.side(kB).store.durable().at("wal").data, "commit record");
}

TEST(ReplicaSyncWriteTest, SyncWriteWaitsForThePeersFlush) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Hold(kB, true);  // b applies and flushes, but its acknowledgement does not come back
  const uint64_t sync = SyncWrite(pair, kA, "wal", "x");
  pair.Pump();
  EXPECT_FALSE(pair.Completed(kA, sync));
  EXPECT_EQ(pair.side(kB).store.durable().at("wal").data, "x");
  pair.Hold(kB, false);
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kA, sync));
  EXPECT_TRUE(pair.Result(kA, sync).ok());
}

TEST(ReplicaSyncWriteTest, SyncWriteWhoseLocalFlushFailsFailsLikeAnFsync) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.side(kA).store.set_sync_failure(true);
  const uint64_t sync = SyncWrite(pair, kA, "wal", "x");
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kA, sync));
  EXPECT_FALSE(pair.Result(kA, sync).ok());
  EXPECT_NE(pair.Log(kA).find("fsyncs fail here until this copy is resynced"), std::string::npos)
      << pair.Log(kA);
}

}  // namespace
}  // namespace duet
