// Mutation::make_parents: a resync block may reach the store before its directory's block, so
// the store makes the missing directories above its name (root's, kMadeParentMode) when the
// engine asks, and only then (adapter contract C13).
#include <sys/stat.h>

#include "adapters/store/backing_store.h"
#include "gtest/gtest.h"
#include "tests/adapters/store/store_test_util.h"

namespace duet::store::testing {
namespace {

Mutation WithParents(Mutation m) {
  m.make_parents = true;
  return m;
}

class MakeParentsTest : public StoreFixture {
 protected:
  void SetUp() override {
    old_umask_ = umask(022);
    StoreFixture::SetUp();
  }
  void TearDown() override { umask(old_umask_); }
  mode_t old_umask_ = 0;
};

TEST_F(MakeParentsTest, ABlocksWriteBeforeItsDirectoryMakesTheDirectoriesRootsAndClosed) {
  ASSERT_TRUE(Apply(WithParents(Write("e/g/f", 0, "data"))).ok());
  EXPECT_EQ(ReadFile(At("e/g/f")), "data");
  for (const char* dir : {"e", "e/g"}) {
    const struct stat st = Lstat(At(dir));
    EXPECT_TRUE(S_ISDIR(st.st_mode)) << dir;
    EXPECT_EQ(st.st_mode & 07777, kMadeParentMode) << dir;
    EXPECT_EQ(st.st_uid, 0u) << dir;
    EXPECT_EQ(st.st_gid, 0u) << dir;
  }
}

TEST_F(MakeParentsTest, TheDirectorysOwnBlockThenGivesItTheSourcesOwnerAndMode) {
  ASSERT_TRUE(Apply(WithParents(Write("e/f", 0, "data"))).ok());
  Mutation mkdir = WithParents(WithMode(MutationKind::kMkdir, "e", 0755));
  mkdir.uid = 70;
  mkdir.gid = 70;
  ASSERT_TRUE(Apply(mkdir).ok());  // there already: changes nothing
  Mutation attributes = WithParents(Chmod("e", 0755));
  attributes.attr_mask |= kAttrUid | kAttrGid;
  attributes.uid = 70;
  attributes.gid = 70;
  ASSERT_TRUE(Apply(attributes).ok());
  const struct stat st = Lstat(At("e"));
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(st.st_uid, 70u);
  EXPECT_EQ(ReadFile(At("e/f")), "data");
}

TEST_F(MakeParentsTest, EveryKindThatMakesANameMakesItsDirectories) {
  ASSERT_TRUE(Apply(WithParents(WithMode(MutationKind::kCreate, "a/file", 0600))).ok());
  ASSERT_TRUE(Apply(WithParents(WithMode(MutationKind::kMkdir, "b/dir", 0750))).ok());
  ASSERT_TRUE(Apply(WithParents(MakeMutation(MutationKind::kSymlink, "c/link", "target"))).ok());
  ASSERT_TRUE(Apply(WithParents(Truncate("d/sized", 10))).ok());
  ASSERT_TRUE(Apply(WithParents(MakeMutation(MutationKind::kLink, "a/file", "h/second"))).ok());
  Mutation fifo = WithParents(WithMode(MutationKind::kMknod, "p/fifo", 0644));
  fifo.node_kind = PathKind::kFifo;
  ASSERT_TRUE(Apply(fifo).ok());
  EXPECT_EQ(NamesUnder(root_),
            (std::set<std::string>{"a", "a/file", "b", "b/dir", "c", "c/link", "d", "d/sized", "h",
                                   "h/second", "p", "p/fifo"}));
  EXPECT_EQ(Lstat(At("h/second")).st_ino, Lstat(At("a/file")).st_ino);
}

TEST_F(MakeParentsTest, ADurableApplyMakesTheNewDirectoriesDurableToo) {
  // A new store's first sync is the whole file system's; this one starts the count clean.
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kFsync, "")).ok());
  const uint64_t before = store_->sync_counts().directory_fsyncs;
  ASSERT_TRUE(Apply(WithParents(Write("e/g/f", 0, "data")), /*durable=*/true).ok());
  const uint64_t after_write = store_->sync_counts().directory_fsyncs;
  EXPECT_GE(after_write - before, 3u);  // the root, e and e/g: each holds a new entry
  // Nothing left to sync: the directories made were synced with the write.
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kFsync, "e/g/f")).ok());
  EXPECT_EQ(store_->sync_counts().directory_fsyncs, after_write);
}

TEST_F(MakeParentsTest, WithoutItAMissingDirectoryIsStillNotFoundAndNothingIsMade) {
  const absl::Status status = Apply(Write("e/f", 0, "data"));
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_TRUE(IsRefusal(status));
  EXPECT_FALSE(Exists(At("e")));
}

TEST_F(MakeParentsTest, AFileWhereADirectoryShouldBeIsLeftAndRefusesTheName) {
  WriteFile(At("e"), "a file");
  const absl::Status status = Apply(WithParents(Write("e/f", 0, "data")));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_EQ(ReadFile(At("e")), "a file");
}

TEST_F(MakeParentsTest, ARemoveTreeUnderAMissingDirectoryMakesNothing) {
  ASSERT_TRUE(Apply(WithParents(MakeMutation(MutationKind::kRemoveTree, "e/f"))).ok());
  EXPECT_FALSE(Exists(At("e")));
}

}  // namespace
}  // namespace duet::store::testing
