// CompletionOrder: which mutations in flight must complete after an earlier open one
// (engine/replication/completion_order.h).
#include "engine/replication/completion_order.h"

#include <gtest/gtest.h>

#include <vector>

namespace duet {
namespace {

Mutation Write(std::string path) {
  Mutation m = MakeMutation(MutationKind::kWrite, std::move(path));
  m.data = MakePayload("x");
  return m;
}

Mutation Fsync(std::string path) { return MakeMutation(MutationKind::kFsync, std::move(path)); }

// Whether `later` must wait, the mutations in `open` passed before it and left open.
bool Waits(const std::vector<Mutation>& open, const Mutation& later) {
  std::vector<CompletionKey> keys;
  for (const Mutation& m : open) keys.push_back(CompletionKey::Of(m));
  CompletionOrder order;
  for (const CompletionKey& key : keys) order.KeepOpen(key);
  return order.MustWait(CompletionKey::Of(later));
}

TEST(CompletionOrderTest, AWriteToAnotherFileDoesNotWaitForAnOpenFsync) {
  EXPECT_FALSE(Waits({Fsync("a")}, Write("b")));
  EXPECT_FALSE(Waits({Write("a"), Fsync("a")}, Fsync("b")));
}

TEST(CompletionOrderTest, OneFilesMutationsCompleteInTheOrderIssued) {
  EXPECT_TRUE(Waits({Write("a")}, Write("a")));
  EXPECT_TRUE(Waits({Fsync("a")}, Write("a")));
  Mutation chmod = MakeMutation(MutationKind::kSetattr, "a");
  EXPECT_TRUE(Waits({chmod}, Write("a")));
}

TEST(CompletionOrderTest, AnFsyncWaitsForEveryEarlierWriteToItsFile) {
  EXPECT_TRUE(Waits({Write("a")}, Fsync("a")));
  EXPECT_TRUE(Waits({Write("a"), Write("b")}, Fsync("a")));
  EXPECT_FALSE(Waits({Write("b")}, Fsync("a")));
  Mutation sync_write = Write("a");
  sync_write.sync = true;
  EXPECT_TRUE(Waits({Write("a")}, sync_write));
}

TEST(CompletionOrderTest, ADirectoryFsyncWaitsForWhatIsBeneathItOnly) {
  EXPECT_TRUE(Waits({Write("d/f")}, Fsync("d")));
  EXPECT_TRUE(Waits({Write("d/e/f")}, Fsync("d")));
  EXPECT_FALSE(Waits({Write("d-f"), Write("d.f"), Write("dd/f")}, Fsync("d")));
  // A write beneath it does not wait for the directory's fsync: it is not the same file.
  EXPECT_FALSE(Waits({Fsync("d")}, Write("d/f")));
}

TEST(CompletionOrderTest, ASyncfsWaitsForEverything) {
  EXPECT_TRUE(Waits({Write("a")}, Fsync("")));
  EXPECT_TRUE(Waits({Fsync("d")}, Fsync("")));
  EXPECT_FALSE(Waits({}, Fsync("")));
}

TEST(CompletionOrderTest, EverythingWaitsForAnOpenBarrier) {
  for (const Mutation& barrier :
       {Fsync(""), MakeMutation(MutationKind::kCreate, "c"),
        MakeMutation(MutationKind::kRename, "x", "y"), MakeMutation(MutationKind::kUnlink, "z")}) {
    CompletionOrder order;
    const CompletionKey key = CompletionKey::Of(barrier);
    order.KeepOpen(key);
    EXPECT_TRUE(order.all_wait());
    EXPECT_TRUE(order.MustWait(CompletionKey::Of(Write("unrelated"))));
  }
}

TEST(CompletionOrderTest, ANamespaceChangeWaitsForEverythingBeforeIt) {
  EXPECT_TRUE(Waits({Write("a")}, MakeMutation(MutationKind::kRename, "b", "c")));
  EXPECT_TRUE(Waits({Fsync("a")}, MakeMutation(MutationKind::kMkdir, "d")));
  EXPECT_FALSE(Waits({}, MakeMutation(MutationKind::kMkdir, "d")));
}

// Two names of one file are two paths here; each node's disk keeps them in order (C7).
TEST(CompletionOrderTest, TwoNamesOfOneFileAreOrderedByTheDiskNotHere) {
  EXPECT_FALSE(Waits({Write("name1")}, Fsync("name2")));
}

}  // namespace
}  // namespace duet
