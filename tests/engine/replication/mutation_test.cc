// Mutation: what the interceptor hands the engine and the stream carries
// (engine/replication/mutation.h). The primary makes every name ForEachChangedName yields
// hot before sending, journals is_namespace() mutations while alone, and counts
// data_size() against the window's bytes.
#include "engine/replication/mutation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace duet {
namespace {

using ::testing::ElementsAre;

constexpr MutationKind kAllKinds[] = {
    MutationKind::kWrite,    MutationKind::kTruncate,    MutationKind::kCreate,
    MutationKind::kMkdir,    MutationKind::kUnlink,      MutationKind::kRmdir,
    MutationKind::kRename,   MutationKind::kSymlink,     MutationKind::kLink,
    MutationKind::kSetattr,  MutationKind::kFsync,       MutationKind::kRemoveTree,
    MutationKind::kSetxattr, MutationKind::kRemovexattr, MutationKind::kReplaceXattrs,
    MutationKind::kMknod,
};

std::vector<std::string> ChangedNames(const Mutation& m) {
  std::vector<std::string> names;
  ForEachChangedName(m, [&](const std::string& name) { names.push_back(name); });
  return names;
}

TEST(MutationTest, RenameChangesBothNames) {
  EXPECT_THAT(ChangedNames(MakeMutation(MutationKind::kRename, "a/old", "b/new")),
              ElementsAre("a/old", "b/new"));
}

TEST(MutationTest, HardLinkChangesTheNewNameToo) {
  EXPECT_THAT(ChangedNames(MakeMutation(MutationKind::kLink, "file", "alias")),
              ElementsAre("file", "alias"));
}

TEST(MutationTest, SymlinkTargetIsNotAName) {
  // A symlink's path2 is its target, stored verbatim: it may point anywhere, even outside.
  EXPECT_THAT(ChangedNames(MakeMutation(MutationKind::kSymlink, "link", "../../etc/passwd")),
              ElementsAre("link"));
}

TEST(MutationTest, SinglePathKindsChangeOnlyTheirPath) {
  for (MutationKind kind : kAllKinds) {
    if (kind == MutationKind::kRename || kind == MutationKind::kLink) continue;
    EXPECT_THAT(ChangedNames(MakeMutation(kind, "dir/f")), ElementsAre("dir/f"))
        << MutationKindName(kind);
  }
}

TEST(MutationTest, ChangedNamesFromKindAndPathsFollowTheSameRule) {
  // Callers that keep only (kind, path, path2) of an apply in flight use this overload.
  auto names = [](MutationKind kind, const std::string& path, const std::string& path2) {
    std::vector<std::string> out;
    ForEachChangedName(kind, path, path2, [&](const std::string& n) { out.push_back(n); });
    return out;
  };
  EXPECT_THAT(names(MutationKind::kRename, "a", "b"), ElementsAre("a", "b"));
  EXPECT_THAT(names(MutationKind::kLink, "a", "b"), ElementsAre("a", "b"));
  EXPECT_THAT(names(MutationKind::kSymlink, "l", "target"), ElementsAre("l"));
  EXPECT_THAT(names(MutationKind::kCreate, "f", ""), ElementsAre("f"));
}

TEST(MutationTest, EveryKindButWriteAndFsyncIsNamespace) {
  for (MutationKind kind : kAllKinds) {
    const bool data_only = kind == MutationKind::kWrite || kind == MutationKind::kFsync;
    EXPECT_EQ(MakeMutation(kind, "f").is_namespace(), !data_only) << MutationKindName(kind);
  }
}

TEST(MutationTest, DataSizeIsThePayloadLength) {
  Mutation m = MakeMutation(MutationKind::kWrite, "f");
  EXPECT_EQ(m.data_size(), 0u);  // no payload
  m.data = MakePayload("");
  EXPECT_EQ(m.data_size(), 0u);
  m.data = MakePayload(std::string(70000, 'x'));
  EXPECT_EQ(m.data_size(), 70000u);
}

TEST(MutationTest, CopiesSharePayloadBytes) {
  // The engine passes payloads along without copying the bytes (DESIGN.md §2).
  Mutation m = MakeMutation(MutationKind::kWrite, "f");
  m.data = MakePayload("hello");
  const Mutation copy = m;
  EXPECT_EQ(copy.data.get(), m.data.get());
  EXPECT_EQ(m.data.use_count(), 2);
}

TEST(MutationTest, MakeMutationCarriesNoData) {
  const Mutation m = MakeMutation(MutationKind::kRename, "from", "to");
  EXPECT_EQ(m.kind, MutationKind::kRename);
  EXPECT_EQ(m.path, "from");
  EXPECT_EQ(m.path2, "to");
  EXPECT_EQ(m.offset, 0u);
  EXPECT_EQ(m.data, nullptr);
  EXPECT_EQ(m.mode, 0u);
  EXPECT_EQ(m.mtime_ns, 0);
  EXPECT_EQ(m.attr_mask, 0u);
  EXPECT_EQ(MakeMutation(MutationKind::kUnlink, "x").path2, "");
}

TEST(MutationTest, EveryKindHasItsOwnName) {
  std::vector<std::string> names;
  for (MutationKind kind : kAllKinds) {
    const std::string name = MutationKindName(kind);
    EXPECT_NE(name, "?") << static_cast<int>(kind);
    for (const std::string& seen : names) EXPECT_NE(name, seen);
    names.push_back(name);
  }
  EXPECT_STREQ(MutationKindName(MutationKind::kRemoveTree), "remove-tree");
}

}  // namespace
}  // namespace duet
