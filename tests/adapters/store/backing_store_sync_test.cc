// Which syncs a durable mutation or an fsync costs: a directory is fsync'ed only when its
// entries changed since it was last synced, and every such change is durable after the next
// sync (BackingStore::sync_counts shows what was issued).
#include "adapters/store/backing_store.h"
#include "gtest/gtest.h"
#include "tests/adapters/store/store_test_util.h"

namespace duet::store::testing {
namespace {

Mutation FsyncOf(std::string path) { return MakeMutation(MutationKind::kFsync, std::move(path)); }

class SyncTest : public StoreFixture {
 protected:
  // A store starts not knowing what an earlier process left unsynced: its first sync is one
  // of the whole file system. The tests start after it.
  void SetUp() override {
    StoreFixture::SetUp();
    ASSERT_TRUE(Apply(FsyncOf("")).ok());
    ASSERT_EQ(Syncs().file_system_syncs, 1u);
  }
  UnsyncedDirs::Counts Syncs() const { return store_->sync_counts(); }
  uint64_t DirFsyncsDuring(const Mutation& m, bool durable = false) {
    const uint64_t before = Syncs().directory_fsyncs;
    EXPECT_TRUE(Apply(m, durable).ok()) << MutationKindName(m.kind) << " " << m.path;
    return Syncs().directory_fsyncs - before;
  }
};

TEST(NewStoreSyncTest, FirstFsyncOfAFileSyncsTheWholeFileSystemThenOnlyTheFile) {
  TempDir tmp;
  WriteFile(tmp / "f", "left by an earlier process");
  absl::StatusOr<BackingStore> store = BackingStore::Open(tmp.path());
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE(store->Apply(FsyncOf("f"), false).ok());
  EXPECT_EQ(store->sync_counts().file_system_syncs, 1u);
  ASSERT_TRUE(store->Apply(FsyncOf("f"), false).ok());
  EXPECT_EQ(store->sync_counts().file_system_syncs, 1u);
  EXPECT_EQ(store->sync_counts().directory_fsyncs, 0u);
}

TEST_F(SyncTest, FsyncAfterCreateSyncsTheParentOnceAndNotAgain) {
  ASSERT_TRUE(Apply(WithMode(MutationKind::kCreate, "f", 0644)).ok());
  EXPECT_EQ(DirFsyncsDuring(FsyncOf("f")), 1u);
  EXPECT_EQ(DirFsyncsDuring(Write("f", 0, "more")), 0u);
  EXPECT_EQ(DirFsyncsDuring(FsyncOf("f")), 0u);  // nothing named changed since
  EXPECT_EQ(Syncs().file_system_syncs, 1u);
}

TEST_F(SyncTest, WriteThatCreatesTheFileMakesTheNextFsyncSyncItsDirectory) {
  EXPECT_EQ(DirFsyncsDuring(Write("f", 0, "new")), 0u);
  EXPECT_EQ(DirFsyncsDuring(FsyncOf("f")), 1u);
  EXPECT_EQ(DirFsyncsDuring(Write("f", 3, "again")), 0u);
  EXPECT_EQ(DirFsyncsDuring(FsyncOf("f")), 0u);
}

TEST_F(SyncTest, FsyncOfAFileInANewDirectorySyncsTheRootTheNewDirectoryOnceEach) {
  ASSERT_TRUE(Apply(WithMode(MutationKind::kMkdir, "a", 0755)).ok());
  ASSERT_TRUE(Apply(WithMode(MutationKind::kCreate, "a/f", 0644)).ok());
  // The root (a's entry) and a (f's entry, its own "." and ".."): a is held once.
  EXPECT_EQ(DirFsyncsDuring(FsyncOf("a/f")), 2u);
  EXPECT_EQ(DirFsyncsDuring(FsyncOf("a/f")), 0u);
}

TEST_F(SyncTest, DirectoryRenamedAfterItsChangeIsStillSynced) {
  ASSERT_TRUE(Apply(WithMode(MutationKind::kMkdir, "a", 0755)).ok());
  ASSERT_TRUE(Apply(FsyncOf("")).ok());
  ASSERT_TRUE(Apply(WithMode(MutationKind::kCreate, "a/f", 0644)).ok());
  Mutation rename = MakeMutation(MutationKind::kRename, "a");
  rename.path2 = "b";
  ASSERT_TRUE(Apply(rename).ok());
  // The directory now named b (which holds f's new entry) and the root (a -> b).
  EXPECT_EQ(DirFsyncsDuring(FsyncOf("b/f")), 2u);
  EXPECT_TRUE(Exists(At("b/f")));
}

TEST_F(SyncTest, RenameBetweenDirectoriesSyncsBothAndUnlinkItsDirectory) {
  ASSERT_TRUE(Apply(WithMode(MutationKind::kMkdir, "a", 0755)).ok());
  ASSERT_TRUE(Apply(WithMode(MutationKind::kMkdir, "b", 0755)).ok());
  ASSERT_TRUE(Apply(WithMode(MutationKind::kCreate, "a/f", 0644)).ok());
  ASSERT_TRUE(Apply(FsyncOf("")).ok());
  Mutation rename = MakeMutation(MutationKind::kRename, "a/f");
  rename.path2 = "b/f";
  EXPECT_EQ(DirFsyncsDuring(rename, /*durable=*/true), 2u);
  EXPECT_EQ(DirFsyncsDuring(MakeMutation(MutationKind::kUnlink, "b/f")), 0u);
  EXPECT_EQ(DirFsyncsDuring(FsyncOf("a")), 1u);  // b, which the unlink changed (a is the object)
}

TEST_F(SyncTest, DurableCreateSyncsItsDirectoryAndWhatEarlierChangesLeft) {
  ASSERT_TRUE(Apply(WithMode(MutationKind::kMkdir, "a", 0755)).ok());
  EXPECT_EQ(DirFsyncsDuring(WithMode(MutationKind::kCreate, "a/f", 0644), /*durable=*/true), 2u);
  EXPECT_EQ(DirFsyncsDuring(FsyncOf("a/f")), 0u);
}

TEST_F(SyncTest, ManyChangedDirectoriesAreSyncedWithOneFileSystemSync) {
  for (size_t i = 0; i <= UnsyncedDirs::kMaxHeld; ++i) {
    const std::string dir = "d" + std::to_string(i);
    ASSERT_TRUE(Apply(WithMode(MutationKind::kMkdir, dir, 0755)).ok());
    ASSERT_TRUE(Apply(WithMode(MutationKind::kCreate, dir + "/f", 0644)).ok());
  }
  EXPECT_EQ(DirFsyncsDuring(FsyncOf("d0/f")), 0u);
  EXPECT_EQ(Syncs().file_system_syncs, 2u);
  EXPECT_EQ(DirFsyncsDuring(FsyncOf("d0/f")), 0u);
  EXPECT_EQ(Syncs().file_system_syncs, 2u);
}

TEST_F(SyncTest, FsyncOfASymlinkSyncsItsDirectoryEachTime) {
  Mutation link = MakeMutation(MutationKind::kSymlink, "l");
  link.path2 = "target";
  ASSERT_TRUE(Apply(link).ok());
  EXPECT_EQ(DirFsyncsDuring(FsyncOf("l")), 1u);
  EXPECT_EQ(DirFsyncsDuring(FsyncOf("l")), 1u);  // its directory holds it
}

// The whole-tree sync (a secondary's periodic flush) syncs the files written since, not the
// whole file system, which on a shared disk writes out every other program's pages too.
TEST_F(SyncTest, WholeTreeSyncAfterWritesFsyncsTheWrittenFilesNotTheFileSystem) {
  ASSERT_TRUE(Apply(Write("f", 0, "new")).ok());
  ASSERT_TRUE(Apply(Write("g", 0, "new")).ok());
  ASSERT_TRUE(Apply(Write("f", 3, "more")).ok());
  EXPECT_EQ(DirFsyncsDuring(FsyncOf("")), 1u);  // the root, which gained f and g
  EXPECT_EQ(Syncs().file_fsyncs, 2u);
  EXPECT_EQ(Syncs().file_system_syncs, 1u);
  ASSERT_TRUE(Apply(FsyncOf("")).ok());  // nothing written since
  EXPECT_EQ(Syncs().file_fsyncs, 2u);
  EXPECT_EQ(Syncs().file_system_syncs, 1u);
}

TEST_F(SyncTest, AFileFsyncedSinceItsWriteIsNotSyncedAgainByTheWholeTreeSync) {
  ASSERT_TRUE(Apply(Write("f", 0, "new")).ok());
  ASSERT_TRUE(Apply(FsyncOf("f")).ok());
  ASSERT_TRUE(Apply(FsyncOf("")).ok());
  EXPECT_EQ(Syncs().file_fsyncs, 0u);
  EXPECT_EQ(Syncs().file_system_syncs, 1u);
}

TEST_F(SyncTest, AChangeOtherThanAWriteMakesTheWholeTreeSyncAFileSystemSync) {
  ASSERT_TRUE(Apply(Write("f", 0, "new")).ok());
  ASSERT_TRUE(Apply(Chmod("f", 0600)).ok());
  // A file's fsync is unchanged by it: its directory, once.
  EXPECT_EQ(DirFsyncsDuring(FsyncOf("f")), 1u);
  EXPECT_EQ(Syncs().file_system_syncs, 1u);
  ASSERT_TRUE(Apply(FsyncOf("")).ok());
  EXPECT_EQ(Syncs().file_system_syncs, 2u);
  EXPECT_EQ(Syncs().file_fsyncs, 0u);
}

TEST_F(SyncTest, ManyWrittenFilesAreSyncedWithOneFileSystemSync) {
  for (size_t i = 0; i <= UnsyncedDirs::kMaxFiles; ++i) {
    ASSERT_TRUE(Apply(Write("f" + std::to_string(i), 0, "x")).ok());
  }
  ASSERT_TRUE(Apply(FsyncOf("")).ok());
  EXPECT_EQ(Syncs().file_system_syncs, 2u);
  EXPECT_EQ(Syncs().file_fsyncs, 0u);
}

TEST_F(SyncTest, ADurableUnlinkDropsTheHeldFilesAndTheWholeTreeSyncIsAFileSystemSync) {
  ASSERT_TRUE(Apply(Write("f", 0, "new")).ok());
  ASSERT_TRUE(Apply(Write("g", 0, "new")).ok());
  // Durable or not, a namespace change may remove a held file: the set stops naming files
  // (closing them, so an unlinked file's blocks go now) and the next whole-tree sync is a
  // syncfs, as after any change it does not name.
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kUnlink, "f"), /*durable=*/true).ok());
  ASSERT_TRUE(Apply(FsyncOf("")).ok());
  EXPECT_EQ(Syncs().file_system_syncs, 2u);
  EXPECT_EQ(Syncs().file_fsyncs, 0u);
}

}  // namespace
}  // namespace duet::store::testing
