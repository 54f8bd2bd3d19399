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

// Whether `later` must wait, the mutations in `open` issued before it (lsns 1, 2, ...) and
// still open.
bool Waits(const std::vector<Mutation>& open, const Mutation& later) {
  CompletionOrder order;
  uint64_t lsn = 0;
  for (const Mutation& m : open) order.Open(++lsn, CompletionKey::Of(m));
  const CompletionKey key = CompletionKey::Of(later);
  order.Open(++lsn, key);
  return order.MustWait(lsn, key);
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
    order.Open(1, CompletionKey::Of(barrier));
    const CompletionKey later = CompletionKey::Of(Write("unrelated"));
    order.Open(2, later);
    EXPECT_TRUE(order.BarrierOpenBefore(2));
    EXPECT_TRUE(order.MustWait(2, later));
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

// The order is kept as mutations open and close, not rebuilt per pass: what follows pins that
// bookkeeping (each answer counts only what is open and issued before the one asked about).

TEST(CompletionOrderTest, AClosedMutationNoLongerHoldsALaterOne) {
  CompletionOrder order;
  const CompletionKey write = CompletionKey::Of(Write("a"));
  const CompletionKey fsync = CompletionKey::Of(Fsync("a"));
  order.Open(1, write);
  order.Open(2, fsync);
  EXPECT_TRUE(order.MustWait(2, fsync));
  order.Close(1, write);
  EXPECT_FALSE(order.MustWait(2, fsync));
}

TEST(CompletionOrderTest, AnOpenMutationHoldsOnlyThoseIssuedAfterIt) {
  CompletionOrder order;
  const CompletionKey first = CompletionKey::Of(Write("a"));
  const CompletionKey rename = CompletionKey::Of(MakeMutation(MutationKind::kRename, "x", "y"));
  const CompletionKey dir_fsync = CompletionKey::Of(Fsync("d"));
  const CompletionKey beneath = CompletionKey::Of(Write("d/f"));
  order.Open(1, first);
  order.Open(2, rename);
  order.Open(3, dir_fsync);
  order.Open(4, beneath);
  EXPECT_FALSE(order.MustWait(1, first));  // a later write to its file, a later barrier
  EXPECT_FALSE(order.BarrierOpenBefore(2));
  EXPECT_TRUE(order.BarrierOpenBefore(3));
  order.Close(1, first);
  order.Close(2, rename);
  EXPECT_FALSE(order.MustWait(3, dir_fsync));  // the write beneath it came after it
  EXPECT_FALSE(order.MustWait(4, beneath));
}

TEST(CompletionOrderTest, ClosingOutOfOrderKeepsTheOthersOpen) {
  CompletionOrder order;
  const CompletionKey a = CompletionKey::Of(Write("a"));
  const CompletionKey b = CompletionKey::Of(Write("d/b"));
  const CompletionKey dir_fsync = CompletionKey::Of(Fsync("d"));
  const CompletionKey syncfs = CompletionKey::Of(Fsync(""));
  order.Open(1, a);
  order.Open(2, b);
  order.Open(3, a);
  order.Open(4, dir_fsync);
  order.Open(5, syncfs);
  order.Close(3, a);  // completed out of lsn order: 1 and 2 still open before it
  EXPECT_TRUE(order.MustWait(4, dir_fsync));
  EXPECT_TRUE(order.MustWait(5, syncfs));
  order.Close(2, b);
  EXPECT_FALSE(order.MustWait(4, dir_fsync));  // "a" is not beneath "d"
  EXPECT_TRUE(order.MustWait(5, syncfs));
  order.Close(1, a);
  order.Close(4, dir_fsync);
  EXPECT_FALSE(order.MustWait(5, syncfs));
  order.Close(5, syncfs);
  EXPECT_TRUE(order.empty());
}

TEST(CompletionOrderTest, NextOpenSkipsTheClosedOnes) {
  CompletionOrder order;
  const CompletionKey key = CompletionKey::Of(Write("a"));
  for (uint64_t lsn = 1; lsn <= 5; ++lsn) order.Open(lsn, key);
  order.Close(2, key);
  order.Close(3, key);
  EXPECT_EQ(order.NextOpen(0), 1u);
  EXPECT_EQ(order.NextOpen(2), 4u);
  order.Close(5, key);
  EXPECT_EQ(order.NextOpen(5), std::nullopt);
}

}  // namespace
}  // namespace duet
