// What a resync reads from a real tree (ReadZone, ListTree) and keeps aside before it
// overwrites divergent changes (PreserveDivergent).
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>

#include "absl/cleanup/cleanup.h"
#include "absl/time/time.h"
#include "adapters/store/backing_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/adapters/store/store_test_util.h"

namespace duet::store::testing {
namespace {

using ::testing::UnorderedElementsAre;

using ReadTest = StoreFixture;

TEST_F(ReadTest, ReadZoneOfAFileGivesItsBytesSizeAndMode) {
  WriteFile(At("f"), "0123456789");
  ASSERT_EQ(chmod(At("f").c_str(), 0640), 0);
  const ZoneRead read = store_->ReadZone(7, "f", 2, 4);
  ASSERT_TRUE(read.status.ok()) << read.status;
  EXPECT_EQ(read.read_id, 7u);
  EXPECT_EQ(read.kind, PathKind::kFile);
  EXPECT_EQ(read.file_size, 10u);
  EXPECT_EQ(read.mode, 0640u);
  ASSERT_NE(read.data, nullptr);
  EXPECT_EQ(*read.data, "2345");
}

TEST_F(ReadTest, ReadZonePastTheEndIsShortThenEmpty) {
  WriteFile(At("f"), "0123456789");
  ZoneRead read = store_->ReadZone(1, "f", 8, 100);
  ASSERT_TRUE(read.status.ok());
  EXPECT_EQ(*read.data, "89");
  EXPECT_EQ(read.file_size, 10u);
  read = store_->ReadZone(2, "f", 64 << 10, 64 << 10);
  ASSERT_TRUE(read.status.ok());
  EXPECT_EQ(read.kind, PathKind::kFile);
  ASSERT_NE(read.data, nullptr);
  EXPECT_EQ(*read.data, "");
}

TEST_F(ReadTest, ReadZoneOfASymlinkGivesItsTargetWithoutFollowingIt) {
  WriteFile(At("f"), "data");
  ASSERT_EQ(symlink("f", At("l").c_str()), 0);
  ASSERT_EQ(symlink("/etc/passwd", At("abs").c_str()), 0);
  ZoneRead read = store_->ReadZone(1, "l", 0, 100);
  ASSERT_TRUE(read.status.ok());
  EXPECT_EQ(read.kind, PathKind::kSymlink);
  EXPECT_EQ(read.link_target, "f");
  EXPECT_EQ(read.data, nullptr);
  read = store_->ReadZone(2, "abs", 0, 100);
  EXPECT_EQ(read.kind, PathKind::kSymlink);
  EXPECT_EQ(read.link_target, "/etc/passwd");
  EXPECT_EQ(read.data, nullptr);
}

TEST_F(ReadTest, ReadZoneOfADirectoryGivesItsMode) {
  ASSERT_EQ(mkdir(At("d").c_str(), 0750), 0);
  ASSERT_EQ(chmod(At("d").c_str(), 0750), 0);
  const ZoneRead read = store_->ReadZone(1, "d", 0, 100);
  ASSERT_TRUE(read.status.ok());
  EXPECT_EQ(read.kind, PathKind::kDirectory);
  EXPECT_EQ(read.mode, 0750u);
}

TEST_F(ReadTest, ReadZoneOfAPathNotInTheTreeIsAbsentAndOk) {
  WriteFile(At("file"), "x");
  for (const char* path : {"missing", "missing/below", "file/below"}) {
    const ZoneRead read = store_->ReadZone(3, path, 0, 100);
    EXPECT_TRUE(read.status.ok()) << path << ": " << read.status;
    EXPECT_EQ(read.kind, PathKind::kAbsent) << path;
    EXPECT_EQ(read.read_id, 3u);
  }
}

TEST_F(ReadTest, ReadZoneRefusesABadPathAndAnOversizedLength) {
  WriteFile(At("f"), "x");
  EXPECT_EQ(store_->ReadZone(1, "../f", 0, 1).status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ReadZone(1, "/etc/passwd", 0, 1).status.code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ReadZone(1, "f", 0, BackingStore::kMaxReadLength + 1).status.code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ReadTest, ListTreeNamesEverythingAtAnyDepthAndFollowsNoSymlink) {
  const std::string outside = tmp_ / "outside";
  ASSERT_EQ(mkdir(outside.c_str(), 0755), 0);
  WriteFile(outside + "/not-listed", "x");
  ASSERT_EQ(mkdir(At("a").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(At("a/b").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(At("a/b/c").c_str(), 0700), 0);
  WriteFile(At("a/b/c/deep file"), "x");
  WriteFile(At("top"), "x");
  ASSERT_EQ(mkdir(At("empty").c_str(), 0755), 0);
  ASSERT_EQ(symlink(outside.c_str(), At("out").c_str()), 0);
  ASSERT_EQ(symlink("b", At("a/to-b").c_str()), 0);
  const absl::StatusOr<std::vector<std::string>> names = store_->ListTree();
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names, UnorderedElementsAre("a", "a/b", "a/b/c", "a/b/c/deep file", "top", "empty",
                                           "out", "a/to-b"));
}

TEST_F(ReadTest, ATreeDeeperThanTheOpenFileLimitIsListedKeptAndRemoved) {
  rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old_limit), 0);
  const absl::Cleanup restore = [&] { setrlimit(RLIMIT_NOFILE, &old_limit); };
  rlimit low = old_limit;
  low.rlim_cur = 64;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  constexpr int kDepth = 300;  // far more levels than open files allowed
  std::string path = "d";
  for (int i = 0; i < kDepth; ++i) {
    ASSERT_TRUE(store_->Apply(WithMode(MutationKind::kMkdir, path, 0755), false).ok()) << i;
    path += "/d";
  }
  const absl::StatusOr<std::vector<std::string>> names = store_->ListTree();
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_EQ(names->size(), static_cast<size_t>(kDepth));
  const absl::StatusOr<std::string> kept =
      store_->PreserveDivergent({"d"}, tmp_ / "kept", absl::UnixEpoch());
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_TRUE(Exists(*kept + "/" + path.substr(0, path.size() - 2)));
  const absl::Status removed = store_->Apply(MakeMutation(MutationKind::kRemoveTree, "d"), true);
  ASSERT_TRUE(removed.ok()) << removed;
  EXPECT_FALSE(Exists(At("d")));
}

TEST_F(ReadTest, ListTreeOfAnEmptyRootIsEmpty) {
  const absl::StatusOr<std::vector<std::string>> names = store_->ListTree();
  ASSERT_TRUE(names.ok());
  EXPECT_TRUE(names->empty());
}

class PreserveTest : public StoreFixture {
 protected:
  const std::string kept_ = tmp_ / "divergent";
  const absl::Time now_ = absl::FromUnixSeconds(1'796'000'000);  // 2026-11-30 00:53:20 UTC
};

TEST_F(PreserveTest, KeepsFilesDirectoriesAndSymlinksWithTheirModesAndTimes) {
  ASSERT_EQ(mkdir(At("d").c_str(), 0750), 0);
  ASSERT_EQ(chmod(At("d").c_str(), 0750), 0);
  WriteFile(At("d/f"), "inner");
  WriteFile(At("top"), std::string(200'000, 'z'));
  ASSERT_EQ(chmod(At("top").c_str(), 0604), 0);
  const timespec times[2] = {{1'000, 0}, {2'000, 5}};
  ASSERT_EQ(utimensat(AT_FDCWD, At("top").c_str(), times, 0), 0);
  ASSERT_EQ(symlink("/etc/passwd", At("l").c_str()), 0);
  WriteFile(At("not-asked"), "x");

  const absl::StatusOr<std::string> copy =
      store_->PreserveDivergent({"d", "top", "l", "missing", "d/f"}, kept_, now_);
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_EQ(*copy, kept_ + "/divergent-20261130T005320Z");
  EXPECT_EQ(ModeOf(*copy), 0700u);
  EXPECT_EQ(NamesUnder(*copy), (std::set<std::string>{"d", "d/f", "top", "l"}));
  EXPECT_EQ(ReadFile(*copy + "/d/f"), "inner");
  EXPECT_EQ(ModeOf(*copy + "/d"), 0750u);
  EXPECT_EQ(ReadFile(*copy + "/top"), std::string(200'000, 'z'));
  EXPECT_EQ(ModeOf(*copy + "/top"), 0604u);
  EXPECT_EQ(Lstat(*copy + "/top").st_mtim.tv_sec, 2'000);
  EXPECT_EQ(Lstat(*copy + "/top").st_mtim.tv_nsec, 5);
  EXPECT_EQ(std::filesystem::read_symlink(*copy + "/l").string(), "/etc/passwd");
  // The originals are untouched: the copy is beside them.
  EXPECT_EQ(ReadFile(At("d/f")), "inner");
  EXPECT_EQ(NamesUnder(root_), (std::set<std::string>{"d", "d/f", "top", "l", "not-asked"}));
}

TEST_F(PreserveTest, APathInsideADirectoryKeepsItsPlaceAndASecondCopyGetsItsOwnDirectory) {
  ASSERT_EQ(mkdir(At("a").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(At("a/b").c_str(), 0755), 0);
  WriteFile(At("a/b/f"), "one");
  WriteFile(At("a/other"), "not kept");
  const absl::StatusOr<std::string> first = store_->PreserveDivergent({"a/b/f"}, kept_, now_);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(NamesUnder(*first), (std::set<std::string>{"a", "a/b", "a/b/f"}));
  EXPECT_EQ(ReadFile(*first + "/a/b/f"), "one");
  const absl::StatusOr<std::string> second = store_->PreserveDivergent({"a/b/f"}, kept_, now_);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, *first + "-2");
}

TEST_F(PreserveTest, APathUnderASymlinkIsNotInTheTreeAndIsNotCopied) {
  const std::string outside = tmp_ / "outside";
  ASSERT_EQ(mkdir(outside.c_str(), 0755), 0);
  WriteFile(outside + "/secret", "x");
  ASSERT_EQ(symlink(outside.c_str(), At("out").c_str()), 0);
  const absl::StatusOr<std::string> copy =
      store_->PreserveDivergent({"out", "out/secret"}, kept_, now_);
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_EQ(NamesUnder(*copy), std::set<std::string>{"out"});
  EXPECT_TRUE(S_ISLNK(Lstat(*copy + "/out").st_mode));
}

TEST_F(PreserveTest, ACopyInsideTheBackingDirectoryIsRefused) {
  WriteFile(At("f"), "x");
  for (const std::string& dest : {root_, At("kept"), root_ + "/../root/kept"}) {
    const absl::StatusOr<std::string> copy = store_->PreserveDivergent({"f"}, dest, now_);
    EXPECT_EQ(copy.status().code(), absl::StatusCode::kInvalidArgument) << dest;
  }
  ASSERT_EQ(mkdir(At("d").c_str(), 0755), 0);
  EXPECT_EQ(store_->PreserveDivergent({"f"}, At("d"), now_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NamesUnder(root_), (std::set<std::string>{"f", "d"}));
}

TEST_F(PreserveTest, ABadPathIsRefusedBeforeAnythingIsCopied) {
  WriteFile(At("f"), "x");
  const absl::StatusOr<std::string> copy = store_->PreserveDivergent({"f", "../x"}, kept_, now_);
  EXPECT_EQ(copy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(Exists(kept_));
}

}  // namespace
}  // namespace duet::store::testing
