// MemStore's namespace rules, as the real store (adapters/store/backing_store.h) and the
// kernel under it answer them: a name needs its directory, rmdir and rename refuse what
// the system calls refuse, and a crash never leaves a name without its directory.
#include <gtest/gtest.h>

#include <string>

#include "sim/mem_store.h"

namespace duet::sim {
namespace {

Mutation Write(const std::string& path, std::string bytes) {
  Mutation m = MakeMutation(MutationKind::kWrite, path);
  m.data = MakePayload(std::move(bytes));
  return m;
}

Mutation WithParents(Mutation m) {
  m.make_parents = true;
  return m;
}

void Do(MemStore& store, std::initializer_list<Mutation> mutations) {
  for (const Mutation& m : mutations) {
    ASSERT_EQ(store.Apply(m), absl::OkStatus()) << MutationKindName(m.kind) << " " << m.path;
  }
}

TEST(MemStoreNamespaceTest, ANameUnderAMissingDirectoryIsNotFound) {
  MemStore store;
  Mutation fifo = MakeMutation(MutationKind::kMknod, "e/p");
  fifo.node_kind = PathKind::kFifo;
  Do(store, {Write("file", "x")});
  for (const Mutation& m :
       {Write("e/f", "x"), MakeMutation(MutationKind::kCreate, "e/f"),
        MakeMutation(MutationKind::kMkdir, "e/d"), MakeMutation(MutationKind::kSymlink, "e/s", "t"),
        fifo, MakeMutation(MutationKind::kLink, "file", "e/h"),
        MakeMutation(MutationKind::kRename, "file", "e/r")}) {
    const absl::Status status = store.Apply(m);
    EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << MutationKindName(m.kind) << status;
    EXPECT_TRUE(IsRefusal(status));
  }
  EXPECT_EQ(store.live().size(), 1u);
}

TEST(MemStoreNamespaceTest, ANameUnderAFileIsNotADirectory) {
  MemStore store;
  Do(store, {Write("e", "a file")});
  EXPECT_EQ(store.Apply(Write("e/f", "x")).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.Apply(WithParents(Write("e/f", "x"))).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.live().size(), 1u);
}

TEST(MemStoreNamespaceTest, RmdirRefusesADirectoryWithNamesOrANonDirectory) {
  MemStore store;
  Do(store, {MakeMutation(MutationKind::kMkdir, "d"), Write("d/f", "x"), Write("f", "y")});
  EXPECT_EQ(store.Apply(MakeMutation(MutationKind::kRmdir, "d")).code(),
            absl::StatusCode::kFailedPrecondition);  // ENOTEMPTY
  EXPECT_EQ(store.Apply(MakeMutation(MutationKind::kRmdir, "f")).code(),
            absl::StatusCode::kFailedPrecondition);  // ENOTDIR
  EXPECT_EQ(store.live().size(), 3u);
  Do(store, {MakeMutation(MutationKind::kUnlink, "d/f"), MakeMutation(MutationKind::kRmdir, "d"),
             MakeMutation(MutationKind::kRmdir, "d"), MakeMutation(MutationKind::kRmdir, "x/y")});
  EXPECT_FALSE(store.live().contains("d"));
}

TEST(MemStoreNamespaceTest, UnlinkRefusesADirectory) {
  MemStore store;
  Do(store, {MakeMutation(MutationKind::kMkdir, "d")});
  EXPECT_EQ(store.Apply(MakeMutation(MutationKind::kUnlink, "d")).code(),
            absl::StatusCode::kFailedPrecondition);  // EISDIR
  Do(store,
     {MakeMutation(MutationKind::kUnlink, "gone"), MakeMutation(MutationKind::kUnlink, "x/y")});
  EXPECT_TRUE(store.live().contains("d"));
}

TEST(MemStoreNamespaceTest, MkdirOfAnExistingNameSucceedsAndChangesNothing) {
  MemStore store;
  Mutation mkdir = MakeMutation(MutationKind::kMkdir, "d");
  mkdir.mode = 0750;
  Do(store, {mkdir, Write("f", "x")});
  mkdir.mode = 0700;
  Do(store, {mkdir, MakeMutation(MutationKind::kMkdir, "f")});
  EXPECT_EQ(store.live().at("d").mode, 0750u);
  EXPECT_EQ(store.live().at("f").kind, PathKind::kFile);
}

TEST(MemStoreNamespaceTest, RenameRefusesWhatRenameat2Refuses) {
  MemStore store;
  Do(store, {MakeMutation(MutationKind::kMkdir, "a"), Write("a/f", "x"),
             MakeMutation(MutationKind::kMkdir, "b"), Write("b/g", "y"), Write("file", "z"),
             MakeMutation(MutationKind::kMkdir, "empty")});
  const auto rename = [&](const std::string& from, const std::string& to) {
    return store.Apply(MakeMutation(MutationKind::kRename, from, to)).code();
  };
  EXPECT_EQ(rename("a", "b"), absl::StatusCode::kFailedPrecondition);         // ENOTEMPTY
  EXPECT_EQ(rename("a", "file"), absl::StatusCode::kFailedPrecondition);      // ENOTDIR
  EXPECT_EQ(rename("file", "empty"), absl::StatusCode::kFailedPrecondition);  // EISDIR
  EXPECT_EQ(rename("a", "a/sub"), absl::StatusCode::kInvalidArgument);        // under itself
  EXPECT_EQ(store.live().size(), 6u);
  EXPECT_EQ(rename("a", "empty"), absl::StatusCode::kOk);
  EXPECT_EQ(store.live().at("empty/f").data, "x");
  EXPECT_FALSE(store.live().contains("a"));
}

TEST(MemStoreNamespaceTest, LinkReplacesAWholeTreeAtItsNewName) {
  MemStore store;
  Do(store, {Write("f", "x"), MakeMutation(MutationKind::kMkdir, "d"), Write("d/g", "y"),
             MakeMutation(MutationKind::kLink, "f", "d")});
  EXPECT_EQ(store.live().at("d").data, "x");
  EXPECT_FALSE(store.live().contains("d/g"));
}

TEST(MemStoreNamespaceTest, MakeParentsMakesTheMissingDirectoriesRootsAndClosed) {
  MemStore store;
  Mutation write = WithParents(Write("e/g/f", "data"));
  Do(store, {write});
  for (const char* dir : {"e", "e/g"}) {
    const MemStore::Entry& e = store.live().at(dir);
    EXPECT_EQ(e.kind, PathKind::kDirectory) << dir;
    EXPECT_EQ(e.mode, kMadeParentMode) << dir;
    EXPECT_EQ(e.uid, 0u) << dir;
    EXPECT_EQ(e.gid, 0u) << dir;
  }
  EXPECT_EQ(store.live().at("e/g/f").data, "data");
}

TEST(MemStoreNamespaceTest, ADurableNameKeepsTheDirectoriesMadeAboveIt) {
  MemStore store;
  Do(store, {MakeMutation(MutationKind::kMkdir, "e"), Write("e/f", "data")});
  ASSERT_TRUE(store.Sync("e/f").ok());
  store.Crash();
  EXPECT_TRUE(store.live().contains("e"));
  EXPECT_EQ(store.live().at("e/f").data, "data");
}

TEST(MemStoreNamespaceTest, ANameWhoseDirectoryACrashTookIsGoneWithIt) {
  MemStore store;
  Do(store, {MakeMutation(MutationKind::kMkdir, "e"), Write("e/f", "data")});
  ASSERT_TRUE(store.Sync("").ok());
  // The directory's removal made durable alone, not its name's: no file system keeps a name
  // whose directory is gone.
  Do(store, {MakeMutation(MutationKind::kUnlink, "e/f"), MakeMutation(MutationKind::kRmdir, "e")});
  ASSERT_TRUE(store.Sync("e").ok());
  ASSERT_TRUE(store.durable().contains("e/f"));
  store.Crash();
  EXPECT_TRUE(store.live().empty()) << DescribeDifference(store.live(), {});
}

}  // namespace
}  // namespace duet::sim
