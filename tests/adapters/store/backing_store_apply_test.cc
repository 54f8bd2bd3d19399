// Each kind of mutation, applied to a real directory, checked as `stat` and `cat` show it.
#include <sys/mount.h>
#include <sys/stat.h>

#include "adapters/errno_payload.h"
#include "adapters/store/backing_store.h"
#include "adapters/store/errno_status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/adapters/store/store_test_util.h"

namespace duet::store::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Modes are set exactly, whatever the daemon's umask: tests run under a strict one.
class ApplyTest : public StoreFixture {
 protected:
  void SetUp() override {
    old_umask_ = umask(077);
    StoreFixture::SetUp();
  }
  void TearDown() override { umask(old_umask_); }
  mode_t old_umask_ = 0;
};

TEST_F(ApplyTest, OpenRefusesMissingRootSymlinkRootAndFileRoot) {
  EXPECT_EQ(BackingStore::Open(tmp_ / "missing").status().code(), absl::StatusCode::kNotFound);
  ASSERT_EQ(symlink(root_.c_str(), (tmp_ / "link").c_str()), 0);
  absl::Status link = BackingStore::Open(tmp_ / "link").status();
  EXPECT_EQ(link.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(link.message()), HasSubstr("symlink"));
  WriteFile(tmp_ / "file", "x");
  EXPECT_EQ(BackingStore::Open(tmp_ / "file").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ApplyTest, WriteCreatesMissingFileWithMode0644AndItsBytes) {
  ASSERT_TRUE(Apply(Write("a", 0, "hello")).ok());
  EXPECT_EQ(ReadFile(At("a")), "hello");
  EXPECT_EQ(ModeOf(At("a")), 0644u);
  EXPECT_TRUE(S_ISREG(Lstat(At("a")).st_mode));
}

TEST_F(ApplyTest, WriteOverwritesInPlaceAndBeyondTheEndLeavesAHole) {
  WriteFile(At("a"), "abcdef");
  ASSERT_TRUE(Apply(Write("a", 2, "XY")).ok());
  EXPECT_EQ(ReadFile(At("a")), "abXYef");
  ASSERT_TRUE(Apply(Write("a", 10, "Z")).ok());
  EXPECT_EQ(ReadFile(At("a")), std::string("abXYef\0\0\0\0Z", 11));
  ASSERT_TRUE(Apply(Write("sparse", 1 << 20, "end")).ok());
  const struct stat st = Lstat(At("sparse"));
  EXPECT_EQ(st.st_size, (1 << 20) + 3);
  EXPECT_LT(st.st_blocks * 512, 1 << 20);  // a hole, not a megabyte of zeros
}

TEST_F(ApplyTest, WriteIntoAMissingDirectoryIsNotFound) {
  const absl::Status status = Apply(Write("no/such/file", 0, "x"));
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith("ENOENT: write"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("no/such/file"));
}

TEST_F(ApplyTest, WriteToADirectoryIsFailedPrecondition) {
  ASSERT_EQ(mkdir(At("d").c_str(), 0755), 0);
  const absl::Status status = Apply(Write("d", 0, "x"));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith("EISDIR"));
}

TEST_F(ApplyTest, WriteToAFifoIsFailedPreconditionWithoutWaitingForAReader) {
  ASSERT_EQ(mkfifo(At("fifo").c_str(), 0644), 0);
  const absl::Status status = Apply(Write("fifo", 0, "x"));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
}

TEST_F(ApplyTest, TruncateShrinksGrowsAndCreates) {
  WriteFile(At("a"), "abcdef");
  ASSERT_TRUE(Apply(Truncate("a", 3)).ok());
  EXPECT_EQ(ReadFile(At("a")), "abc");
  ASSERT_TRUE(Apply(Truncate("a", 5)).ok());
  EXPECT_EQ(ReadFile(At("a")), std::string("abc\0\0", 5));
  ASSERT_TRUE(Apply(Truncate("new", 7)).ok());
  EXPECT_EQ(Lstat(At("new")).st_size, 7);
  EXPECT_EQ(ModeOf(At("new")), 0644u);
}

TEST_F(ApplyTest, CreateSetsTheExactModeAndLeavesAnExistingFileAlone) {
  ASSERT_TRUE(Apply(WithMode(MutationKind::kCreate, "f", 0666)).ok());
  EXPECT_EQ(ModeOf(At("f")), 0666u);  // not 0600 from the umask
  EXPECT_EQ(Lstat(At("f")).st_size, 0);
  WriteFile(At("f"), "kept");
  ASSERT_TRUE(Apply(WithMode(MutationKind::kCreate, "f", 0600)).ok());
  EXPECT_EQ(ReadFile(At("f")), "kept");
  EXPECT_EQ(ModeOf(At("f")), 0666u);
  ASSERT_TRUE(Apply(WithMode(MutationKind::kCreate, "setuid", 04755)).ok());
  EXPECT_EQ(ModeOf(At("setuid")), 04755u);
}

TEST_F(ApplyTest, MkdirSetsTheExactModeAndAnExistingDirectorySucceeds) {
  ASSERT_TRUE(Apply(WithMode(MutationKind::kMkdir, "d", 0755)).ok());
  EXPECT_TRUE(S_ISDIR(Lstat(At("d")).st_mode));
  EXPECT_EQ(ModeOf(At("d")), 0755u);
  ASSERT_TRUE(Apply(WithMode(MutationKind::kMkdir, "d", 0700)).ok());
  EXPECT_EQ(ModeOf(At("d")), 0755u);
  ASSERT_TRUE(Apply(WithMode(MutationKind::kMkdir, "d/e", 01777)).ok());
  EXPECT_EQ(ModeOf(At("d/e")), 01777u);
  EXPECT_EQ(Apply(WithMode(MutationKind::kMkdir, "x/y", 0755)).code(), absl::StatusCode::kNotFound);
}

TEST_F(ApplyTest, UnlinkRemovesAFileAndAMissingOneSucceeds) {
  WriteFile(At("a"), "x");
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kUnlink, "a")).ok());
  EXPECT_FALSE(Exists(At("a")));
  EXPECT_TRUE(Apply(MakeMutation(MutationKind::kUnlink, "a")).ok());
  EXPECT_TRUE(Apply(MakeMutation(MutationKind::kUnlink, "gone/a")).ok());
}

TEST_F(ApplyTest, UnlinkOfADirectoryIsFailedPrecondition) {
  ASSERT_EQ(mkdir(At("d").c_str(), 0755), 0);
  EXPECT_EQ(Apply(MakeMutation(MutationKind::kUnlink, "d")).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Exists(At("d")));
}

TEST_F(ApplyTest, RmdirRemovesAnEmptyDirectoryAndRefusesAFullOne) {
  ASSERT_EQ(mkdir(At("empty").c_str(), 0755), 0);
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kRmdir, "empty")).ok());
  EXPECT_FALSE(Exists(At("empty")));
  EXPECT_TRUE(Apply(MakeMutation(MutationKind::kRmdir, "empty")).ok());
  ASSERT_EQ(mkdir(At("full").c_str(), 0755), 0);
  WriteFile(At("full/f"), "x");
  const absl::Status status = Apply(MakeMutation(MutationKind::kRmdir, "full"));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith("ENOTEMPTY: rmdir 'full'"));
  EXPECT_EQ(ReadFile(At("full/f")), "x");
}

TEST_F(ApplyTest, RenameMovesAcrossDirectoriesAndReplacesAnExistingFile) {
  ASSERT_EQ(mkdir(At("d").c_str(), 0755), 0);
  WriteFile(At("a"), "one");
  WriteFile(At("d/b"), "two");
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kRename, "a", "d/b")).ok());
  EXPECT_FALSE(Exists(At("a")));
  EXPECT_EQ(ReadFile(At("d/b")), "one");
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kRename, "d", "e")).ok());
  EXPECT_EQ(ReadFile(At("e/b")), "one");
}

TEST_F(ApplyTest, RenameOfAMissingSourceIsNotFound) {
  const absl::Status status = Apply(MakeMutation(MutationKind::kRename, "a", "b"));
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("'a' -> 'b'"));
}

TEST_F(ApplyTest, RenameOverANonEmptyDirectoryIsFailedPrecondition) {
  ASSERT_EQ(mkdir(At("a").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(At("b").c_str(), 0755), 0);
  WriteFile(At("b/f"), "x");
  EXPECT_EQ(Apply(MakeMutation(MutationKind::kRename, "a", "b")).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadFile(At("b/f")), "x");
}

TEST_F(ApplyTest, SymlinkStoresItsTargetVerbatimAndReplacesWhatHeldTheName) {
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kSymlink, "l", "../../etc/passwd")).ok());
  EXPECT_TRUE(S_ISLNK(Lstat(At("l")).st_mode));
  EXPECT_EQ(std::filesystem::read_symlink(At("l")).string(), "../../etc/passwd");
  ASSERT_EQ(mkdir(At("tree").c_str(), 0755), 0);
  WriteFile(At("tree/f"), "x");
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kSymlink, "tree", "elsewhere")).ok());
  EXPECT_EQ(std::filesystem::read_symlink(At("tree")).string(), "elsewhere");
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kSymlink, "l", "new")).ok());
  EXPECT_EQ(std::filesystem::read_symlink(At("l")).string(), "new");
}

TEST_F(ApplyTest, LinkGivesTheSameFileASecondNameAndReplacesAnotherFile) {
  WriteFile(At("a"), "shared");
  WriteFile(At("b"), "other");
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kLink, "a", "b")).ok());
  EXPECT_EQ(Lstat(At("a")).st_ino, Lstat(At("b")).st_ino);
  EXPECT_EQ(Lstat(At("a")).st_nlink, 2u);
  EXPECT_TRUE(Apply(MakeMutation(MutationKind::kLink, "a", "b")).ok());  // again: no change
  EXPECT_TRUE(Apply(MakeMutation(MutationKind::kLink, "a", "a")).ok());
  EXPECT_EQ(Lstat(At("a")).st_nlink, 2u);
}

TEST_F(ApplyTest, LinkOfASymlinkLinksTheSymlinkItself) {
  ASSERT_EQ(symlink("/etc/passwd", At("l").c_str()), 0);
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kLink, "l", "l2")).ok());
  EXPECT_TRUE(S_ISLNK(Lstat(At("l2")).st_mode));
  EXPECT_EQ(Lstat(At("l")).st_ino, Lstat(At("l2")).st_ino);
}

TEST_F(ApplyTest, LinkOfAMissingSourceIsNotFound) {
  EXPECT_EQ(Apply(MakeMutation(MutationKind::kLink, "a", "b")).code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(Exists(At("b")));
}

TEST_F(ApplyTest, SetattrSetsModeAndMtimeOrKeepsTheTime) {
  WriteFile(At("f"), "x");
  ASSERT_TRUE(Apply(Setattr("f", 0640, 1'700'000'000'123'456'789)).ok());
  struct stat st = Lstat(At("f"));
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'700'000'000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123'456'789);
  ASSERT_TRUE(Apply(Chmod("f", 0600)).ok());
  st = Lstat(At("f"));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'700'000'000);
  ASSERT_TRUE(Apply(Setattr("f", 0600, -1'500'000'000)).ok());  // before 1970
  st = Lstat(At("f"));
  EXPECT_EQ(st.st_mtim.tv_sec, -2);
  EXPECT_EQ(st.st_mtim.tv_nsec, 500'000'000);
}

TEST_F(ApplyTest, SetattrOnAMissingPathIsNotFound) {
  EXPECT_EQ(Apply(Chmod("f", 0644)).code(), absl::StatusCode::kNotFound);
}

TEST_F(ApplyTest, SetattrOnASymlinkChangesOnlyTheLinksTime) {
  WriteFile(At("target"), "x");
  ASSERT_EQ(chmod(At("target").c_str(), 0644), 0);
  ASSERT_EQ(symlink("target", At("l").c_str()), 0);
  ASSERT_TRUE(Apply(Setattr("l", 0600, 1'000'000'000'000'000'000)).ok());
  EXPECT_EQ(ModeOf(At("target")), 0644u);
  EXPECT_EQ(Lstat(At("l")).st_mtim.tv_sec, 1'000'000'000);
  EXPECT_NE(Lstat(At("target")).st_mtim.tv_sec, 1'000'000'000);
}

TEST_F(ApplyTest, FsyncOfAFileDirectorySymlinkMissingPathAndTheWholeTreeSucceeds) {
  WriteFile(At("f"), "x");
  ASSERT_EQ(mkdir(At("d").c_str(), 0755), 0);
  ASSERT_EQ(symlink("f", At("l").c_str()), 0);
  for (const char* path : {"f", "d", "l", "missing", "no/such/dir", ""}) {
    EXPECT_TRUE(Apply(MakeMutation(MutationKind::kFsync, path), true).ok()) << path;
  }
}

TEST_F(ApplyTest, RemoveTreeRemovesEverythingBeneathWithoutFollowingSymlinks) {
  const std::string outside = tmp_ / "outside";
  ASSERT_EQ(mkdir(outside.c_str(), 0755), 0);
  WriteFile(outside + "/precious", "keep");
  std::string deep = "t";
  ASSERT_EQ(mkdir(At(deep).c_str(), 0755), 0);
  for (int i = 0; i < 40; ++i) {
    deep += "/d";
    ASSERT_EQ(mkdir(At(deep).c_str(), 0700), 0);
    WriteFile(At(deep + "/f"), "x");
  }
  ASSERT_EQ(symlink(outside.c_str(), At("t/out").c_str()), 0);
  ASSERT_EQ(symlink(outside.c_str(), At(deep + "/out").c_str()), 0);
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kRemoveTree, "t")).ok());
  EXPECT_FALSE(Exists(At("t")));
  EXPECT_EQ(ReadFile(outside + "/precious"), "keep");
  EXPECT_TRUE(Apply(MakeMutation(MutationKind::kRemoveTree, "t")).ok());  // absent is fine
  WriteFile(At("file"), "x");
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kRemoveTree, "file")).ok());
  EXPECT_FALSE(Exists(At("file")));
}

TEST_F(ApplyTest, DurableVersionsOfEveryKindLeaveTheSameResult) {
  const bool durable = true;
  ASSERT_TRUE(Apply(WithMode(MutationKind::kMkdir, "d", 0750), durable).ok());
  ASSERT_TRUE(Apply(WithMode(MutationKind::kCreate, "d/c", 0640), durable).ok());
  ASSERT_TRUE(Apply(Write("d/w", 0, "data"), durable).ok());
  ASSERT_TRUE(Apply(Write("d/w", 4, "more"), durable).ok());
  ASSERT_TRUE(Apply(Truncate("d/w", 6), durable).ok());
  ASSERT_TRUE(Apply(Truncate("d/t", 3), durable).ok());
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kLink, "d/w", "hard"), durable).ok());
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kSymlink, "sym", "d/w"), durable).ok());
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kRename, "d/c", "c2"), durable).ok());
  ASSERT_TRUE(Apply(Setattr("c2", 0604, 5'000'000'000), durable).ok());
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kUnlink, "d/t"), durable).ok());
  ASSERT_TRUE(Apply(WithMode(MutationKind::kMkdir, "e", 0755), durable).ok());
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kRmdir, "e"), durable).ok());
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kFsync, "d/w"), durable).ok());
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kRemoveTree, "d"), durable).ok());
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kFsync, ""), durable).ok());
  EXPECT_EQ(NamesUnder(root_), (std::set<std::string>{"hard", "sym", "c2"}));
  EXPECT_EQ(ReadFile(At("hard")), "datamo");
  EXPECT_EQ(ModeOf(At("c2")), 0604u);
  EXPECT_EQ(Lstat(At("c2")).st_mtim.tv_sec, 5);
}

// A small tmpfs mounted over the root: the disk really fills up (needs root, as in CI).
class FullDiskTest : public ApplyTest {
 protected:
  void SetUp() override {
    ApplyTest::SetUp();
    ASSERT_EQ(mount("tmpfs", root_.c_str(), "tmpfs", 0, "size=64k,mode=0700"), 0)
        << "mounting a tmpfs needs root: " << strerror(errno);
    mounted_ = true;
    absl::StatusOr<BackingStore> store = BackingStore::Open(root_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_.emplace(*std::move(store));
  }
  void TearDown() override {
    store_.reset();
    if (mounted_) {
      EXPECT_EQ(umount2(root_.c_str(), MNT_DETACH), 0) << strerror(errno);
    }
    ApplyTest::TearDown();
  }
  bool mounted_ = false;
};

TEST_F(FullDiskTest, AWriteThatDoesNotFitIsResourceExhaustedAndLeavesNoNewFile) {
  const absl::Status status = Apply(Write("big", 0, std::string(1 << 20, 'x')));
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith("ENOSPC: write"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("'big'"));
  EXPECT_FALSE(Exists(At("big")));
}

// A write past the end needs new blocks: they are reserved first, so the full disk refuses it
// before any byte changes (the engine keeps the pair in sync when both copies refuse it).
TEST_F(FullDiskTest, AnAppendThatDoesNotFitIsARefusalAndLeavesTheFileAsItWas) {
  ASSERT_TRUE(Apply(Write("log", 0, std::string(16 << 10, 'a'))).ok());
  const absl::Status status = Apply(Write("log", 16 << 10, std::string(1 << 20, 'b')));
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_TRUE(IsRefusal(status)) << status;
  EXPECT_EQ(ReadFile(At("log")), std::string(16 << 10, 'a'));
  const absl::Status created = Apply(Write("new", 0, std::string(1 << 20, 'c')));
  EXPECT_TRUE(IsRefusal(created)) << created;
  EXPECT_FALSE(Exists(At("new")));
}

// A system call that fails whole changed nothing: a refusal. One that may have changed part
// of what it was asked (a setattr's several calls) is not.
TEST_F(ApplyTest, FailuresDecidedBeforeAnyChangeAreRefusals) {
  ASSERT_TRUE(Apply(WithMode(MutationKind::kMkdir, "d", 0755)).ok());
  ASSERT_TRUE(Apply(Write("d/f", 0, "x")).ok());
  EXPECT_TRUE(IsRefusal(Apply(MakeMutation(MutationKind::kRmdir, "d"))));  // ENOTEMPTY
  EXPECT_TRUE(IsRefusal(Apply(MakeMutation(MutationKind::kRename, "missing", "g"))));
  EXPECT_TRUE(IsRefusal(Apply(Write("f", ~uint64_t{0} - 10, "past the largest offset"))));
  EXPECT_TRUE(IsRefusal(Apply(Truncate("f", ~uint64_t{0}))));
  EXPECT_FALSE(Exists(At("f")));
  // A component longer than NAME_MAX (the path check, before any system call).
  EXPECT_TRUE(IsRefusal(Apply(WithMode(MutationKind::kCreate, std::string(300, 'n'), 0644))));
  EXPECT_TRUE(IsRefusal(Apply(Setattr("missing", 0600, 0))));  // no such path: nothing set
  EXPECT_EQ(NamesUnder(root_), (std::set<std::string>{"d", "d/f"}));
  EXPECT_TRUE(Apply(Write("d/f", 0, "y")).ok());
  EXPECT_FALSE(IsRefusal(absl::OkStatus()));
}

TEST(ErrnoStatusTest, TheErrnoRidesAlongSoTheMountGivesTheApplicationExactlyIt) {
  for (int err : {ENOSPC, EIO, ENOTEMPTY, ENAMETOOLONG, EMLINK}) {
    absl::Status status = ErrnoStatus(err, "rename", "a -> b");
    auto payload = status.GetPayload(kErrnoPayloadUrl);
    ASSERT_TRUE(payload.has_value()) << status;
    EXPECT_EQ(std::string(*payload), std::to_string(err));
  }
}

TEST(ErrnoStatusTest, EachErrnoTheEngineActsOnHasItsCode) {
  EXPECT_EQ(ErrnoStatus(ENOSPC, "write", "a").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrnoStatus(EDQUOT, "write", "a").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrnoStatus(EIO, "fsync", "a").code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ErrnoStatus(ENOENT, "rename", "a").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrnoStatus(EEXIST, "link", "a").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ErrnoStatus(EACCES, "write", "a").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrnoStatus(ENOTEMPTY, "rmdir", "a").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrnoStatus(EINVAL, "rename", "a").code(), absl::StatusCode::kInvalidArgument);
}

TEST(ErrnoStatusTest, TheMessageNamesTheErrnoTheOperationThePathAndTheReason) {
  EXPECT_EQ(ErrnoStatus(EIO, "fdatasync", "dir/f").message(),
            "EIO: fdatasync 'dir/f': Input/output error");
  EXPECT_EQ(ErrnoStatus(EEXIST, "link", "a").message(), "EEXIST: link 'a': File exists");
}

}  // namespace
}  // namespace duet::store::testing
