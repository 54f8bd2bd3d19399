// Which paths a mutation may name in a module's backing root (module_layout.h): what the
// peer sends for a module of two directories ("0" and "1").
#include "adapters/daemon/module_layout.h"

#include <gtest/gtest.h>

namespace duet::daemon {
namespace {

constexpr size_t kTwoDirectories = 2;

absl::Status Check(MutationKind kind, std::string path, std::string path2 = {}) {
  return CheckMutationWithinDirectories(MakeMutation(kind, std::move(path), std::move(path2)),
                                        kTwoDirectories);
}

TEST(ModuleLayoutTest, DirectoriesAreNamedByTheirIndex) {
  EXPECT_EQ(DirectoryPrefix(0), "0");
  EXPECT_EQ(DirectoryPrefix(11), "11");
}

TEST(ModuleLayoutTest, PathsBeneathEitherDirectoryAreAccepted) {
  EXPECT_TRUE(Check(MutationKind::kWrite, "0/htdocs/index.html").ok());
  EXPECT_TRUE(Check(MutationKind::kCreate, "1/uploads/a b.png").ok());
  EXPECT_TRUE(Check(MutationKind::kRename, "0/a", "1/a").ok());
  EXPECT_TRUE(Check(MutationKind::kLink, "1/a", "1/b").ok());
  EXPECT_TRUE(Check(MutationKind::kRemoveTree, "1/old").ok());
  // A symlink's target is data: it may point anywhere (the store never follows it out).
  EXPECT_TRUE(Check(MutationKind::kSymlink, "0/etc", "/etc").ok());
  // A directory's root keeps its name: attributes, xattrs, recreated by a resync.
  EXPECT_TRUE(Check(MutationKind::kSetattr, "0").ok());
  EXPECT_TRUE(Check(MutationKind::kReplaceXattrs, "1").ok());
  EXPECT_TRUE(Check(MutationKind::kMkdir, "1").ok());
  EXPECT_TRUE(Check(MutationKind::kFsync, "").ok());  // the whole tree
}

TEST(ModuleLayoutTest, PathsBesideTheDirectoriesAreRefusedNamingThePath) {
  const absl::Status beside = Check(MutationKind::kCreate, "2/x");
  EXPECT_EQ(beside.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(beside.message(), "create of \"2/x\" is outside the module's 2 directories");
  EXPECT_FALSE(Check(MutationKind::kCreate, "x").ok());
  EXPECT_FALSE(Check(MutationKind::kMkdir, "modules").ok());
  EXPECT_FALSE(Check(MutationKind::kWrite, "00/x").ok()) << "not a directory's name";
  EXPECT_FALSE(Check(MutationKind::kWrite, "/0/x").ok());
  EXPECT_FALSE(Check(MutationKind::kWrite, "").ok());
  EXPECT_FALSE(Check(MutationKind::kSetattr, "").ok());
  EXPECT_FALSE(Check(MutationKind::kWrite, "18446744073709551617/x").ok());
  // Either name of a rename or a link.
  EXPECT_FALSE(Check(MutationKind::kRename, "0/a", "9/a").ok());
  EXPECT_FALSE(Check(MutationKind::kLink, "3/a", "0/a").ok());
}

TEST(ModuleLayoutTest, ADirectorysRootIsNeverRemovedNorMoved) {
  const absl::Status removed = Check(MutationKind::kRemoveTree, "0");
  EXPECT_EQ(removed.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(removed.message(),
            "remove-tree of \"0\" is outside the module's 2 directories (it would remove or "
            "move one of them)");
  EXPECT_FALSE(Check(MutationKind::kRmdir, "1").ok());
  EXPECT_FALSE(Check(MutationKind::kRename, "0", "1/zero").ok());
  EXPECT_FALSE(Check(MutationKind::kRename, "0/a", "1").ok());
  EXPECT_FALSE(Check(MutationKind::kUnlink, "0").ok());
}

}  // namespace
}  // namespace duet::daemon
