// Nothing a peer sends reaches outside the module root (adapter contract C9): not by "..",
// not by an absolute path, not through a symlink in the tree, wherever it points.
#include <sys/stat.h>

#include <vector>

#include "adapters/store/backing_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/adapters/store/store_test_util.h"

namespace duet::store::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A directory `outside` beside the root holds a file no mutation may touch.
class EscapeTest : public StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    ASSERT_EQ(mkdir(outside_.c_str(), 0755), 0);
    WriteFile(outside_ + "/precious", "keep");
    ASSERT_EQ(chmod((outside_ + "/precious").c_str(), 0644), 0);
    passwd_before_ = Lstat("/etc/passwd");
  }

  // Outside the root, everything is as it was.
  void ExpectOutsideUntouched() {
    EXPECT_EQ(NamesUnder(outside_), std::set<std::string>{"precious"});
    EXPECT_EQ(ReadFile(outside_ + "/precious"), "keep");
    EXPECT_EQ(ModeOf(outside_ + "/precious"), 0644u);
    std::set<std::string> beside;
    for (const auto& e : std::filesystem::directory_iterator(tmp_.path())) {
      beside.insert(e.path().filename().string());
    }
    EXPECT_EQ(beside, (std::set<std::string>{"root", "outside"}));
    const struct stat passwd = Lstat("/etc/passwd");
    EXPECT_EQ(passwd.st_size, passwd_before_.st_size);
    EXPECT_EQ(passwd.st_mode, passwd_before_.st_mode);
    EXPECT_EQ(passwd.st_mtim.tv_nsec, passwd_before_.st_mtim.tv_nsec);
  }

  // Every mutation that creates or changes something at `path` (as its first or second
  // path), each expected to fail with `code`.
  std::vector<Mutation> MutationsAt(const std::string& path) {
    std::vector<Mutation> all = {
        Write(path, 0, "x"),
        Truncate(path, 0),
        WithMode(MutationKind::kCreate, path, 0644),
        WithMode(MutationKind::kMkdir, path, 0755),
        MakeMutation(MutationKind::kSymlink, path, "/etc"),
        Setattr(path, 0777, 0),
        MakeMutation(MutationKind::kRename, "inside", path),
        MakeMutation(MutationKind::kRename, path, "moved"),
        MakeMutation(MutationKind::kLink, "inside", path),
        MakeMutation(MutationKind::kLink, path, "linked"),
    };
    return all;
  }

  const std::string outside_ = tmp_ / "outside";
  struct stat passwd_before_ {};
};

TEST_F(EscapeTest, PathsThatAreNotPlainRelativePathsAreRefusedForEveryKind) {
  WriteFile(At("inside"), "i");
  for (const std::string path : {"../outside/precious", "/etc/passwd", "a/../../outside/x", "../x",
                                 "./inside", "a//b", "inside/", "..", "."}) {
    for (const Mutation& m : MutationsAt(path)) {
      const absl::Status status = Apply(m);
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
          << MutationKindName(m.kind) << " " << path << ": " << status;
      EXPECT_THAT(std::string(status.message()), StartsWith("refused: "));
    }
    for (const MutationKind kind : {MutationKind::kUnlink, MutationKind::kRmdir,
                                    MutationKind::kRemoveTree, MutationKind::kFsync}) {
      EXPECT_EQ(Apply(MakeMutation(kind, path)).code(), absl::StatusCode::kInvalidArgument)
          << MutationKindName(kind) << " " << path;
    }
  }
  EXPECT_EQ(Apply(Write(std::string("in\0side", 7), 0, "x")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Apply(Write("", 0, "x")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Apply(MakeMutation(MutationKind::kRemoveTree, "")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadFile(At("inside")), "i");
  ExpectOutsideUntouched();
}

TEST_F(EscapeTest, ASymlinkPointingOutIsNeverPassedThrough) {
  WriteFile(At("inside"), "i");
  ASSERT_EQ(symlink(outside_.c_str(), At("out").c_str()), 0);
  for (const Mutation& m : MutationsAt("out/precious")) {
    const absl::Status status = Apply(m);
    EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied)
        << MutationKindName(m.kind) << ": " << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("symlink"));
  }
  EXPECT_EQ(Apply(Write("out/new", 0, "x")).code(), absl::StatusCode::kPermissionDenied);
  // Removing a path under a symlink removes nothing: no name of the tree lies there.
  for (const MutationKind kind :
       {MutationKind::kUnlink, MutationKind::kRmdir, MutationKind::kRemoveTree}) {
    EXPECT_TRUE(Apply(MakeMutation(kind, "out/precious")).ok()) << MutationKindName(kind);
  }
  EXPECT_TRUE(Apply(MakeMutation(MutationKind::kFsync, "out/precious"), true).ok());
  const ZoneRead read = store_->ReadZone(1, "out/precious", 0, 100);
  EXPECT_TRUE(read.status.ok()) << read.status;
  EXPECT_EQ(read.kind, PathKind::kAbsent);
  EXPECT_EQ(read.data, nullptr);
  ExpectOutsideUntouched();
}

TEST_F(EscapeTest, ARelativeSymlinkClimbingOutIsNeverPassedThrough) {
  ASSERT_EQ(symlink("../outside", At("up").c_str()), 0);
  EXPECT_EQ(Apply(Write("up/precious", 0, "x")).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Apply(WithMode(MutationKind::kMkdir, "up/d", 0755)).code(),
            absl::StatusCode::kPermissionDenied);
  ExpectOutsideUntouched();
}

TEST_F(EscapeTest, ASymlinkInsideTheTreeIsNotADirectoryOnTheWayEither) {
  ASSERT_EQ(mkdir(At("d").c_str(), 0755), 0);
  ASSERT_EQ(symlink("d", At("ld").c_str()), 0);
  const absl::Status status = Apply(Write("ld/f", 0, "x"));
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  EXPECT_FALSE(Exists(At("d/f")));
  ASSERT_EQ(mkdir(At("d/e").c_str(), 0755), 0);
  EXPECT_EQ(Apply(WithMode(MutationKind::kCreate, "ld/e/f", 0644)).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(Exists(At("d/e/f")));
}

TEST_F(EscapeTest, ASymlinkAsTheLastComponentIsNeverFollowed) {
  ASSERT_EQ(symlink((outside_ + "/precious").c_str(), At("lf").c_str()), 0);
  for (const Mutation& m : {Write("lf", 0, "x"), Truncate("lf", 0)}) {
    const absl::Status status = Apply(m);
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
    EXPECT_THAT(std::string(status.message()), StartsWith("ELOOP: "));
  }
  EXPECT_TRUE(Apply(WithMode(MutationKind::kCreate, "lf", 0600)).ok());  // exists: unchanged
  EXPECT_TRUE(Apply(Setattr("lf", 0777, 0)).ok());                       // the link's time only
  EXPECT_TRUE(Apply(MakeMutation(MutationKind::kFsync, "lf"), true).ok());
  ExpectOutsideUntouched();
  EXPECT_TRUE(S_ISLNK(Lstat(At("lf")).st_mode));
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kRemoveTree, "lf")).ok());
  EXPECT_FALSE(Exists(At("lf")));
  ExpectOutsideUntouched();
}

TEST_F(EscapeTest, RemovingASymlinkToADirectoryOutsideRemovesOnlyTheLink) {
  ASSERT_EQ(symlink(outside_.c_str(), At("out").c_str()), 0);
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kUnlink, "out")).ok());
  EXPECT_FALSE(Exists(At("out")));
  ASSERT_EQ(symlink(outside_.c_str(), At("out").c_str()), 0);
  ASSERT_TRUE(Apply(MakeMutation(MutationKind::kSymlink, "out", "elsewhere")).ok());
  ExpectOutsideUntouched();
}

}  // namespace
}  // namespace duet::store::testing
