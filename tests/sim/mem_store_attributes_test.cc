// MemStore: owners, modes and times of paths (engine/replication/file_attributes.h), as the
// replicas set them and a ReadZone reports them.
#include <gtest/gtest.h>

#include <string>

#include "sim/mem_store.h"

namespace duet::sim {
namespace {

Mutation Setattr(const std::string& path, uint32_t mask) {
  Mutation m = MakeMutation(MutationKind::kSetattr, path);
  m.attr_mask = mask;
  m.mode = 0640;
  m.uid = 26;
  m.gid = 27;
  m.atime_ns = -1;
  m.mtime_ns = 1'700'000'000'000'000'000;
  return m;
}

TEST(MemStoreAttributesTest, CreateAndMkdirTakeTheCreatorsOwnerAndMode) {
  MemStore store;
  Mutation mkdir = MakeMutation(MutationKind::kMkdir, "d");
  mkdir.mode = 0700;
  mkdir.uid = 1000;
  mkdir.gid = 100;
  ASSERT_EQ(store.Apply(mkdir), absl::OkStatus());
  Mutation symlink = MakeMutation(MutationKind::kSymlink, "d/l", "../t");
  symlink.uid = 5;
  symlink.gid = 6;
  ASSERT_EQ(store.Apply(symlink), absl::OkStatus());
  const MemStore::Entry& d = store.live().at("d");
  EXPECT_EQ(d.mode, 0700u);
  EXPECT_EQ(d.uid, 1000u);
  EXPECT_EQ(d.gid, 100u);
  EXPECT_EQ(store.live().at("d/l").uid, 5u);
  EXPECT_EQ(store.live().at("d/l").mode, 0777u);
}

TEST(MemStoreAttributesTest, SetattrChangesOnlyWhatItsMaskNames) {
  MemStore store;
  ASSERT_EQ(store.Apply(MakeMutation(MutationKind::kCreate, "f")), absl::OkStatus());
  const MemStore::Entry before = store.live().at("f");
  ASSERT_EQ(store.Apply(Setattr("f", kAttrGid | kAttrMtime)), absl::OkStatus());
  const MemStore::Entry& f = store.live().at("f");
  EXPECT_EQ(f.mode, before.mode);
  EXPECT_EQ(f.uid, before.uid);
  EXPECT_EQ(f.gid, 27u);
  EXPECT_EQ(f.atime_ns, before.atime_ns);
  EXPECT_EQ(f.mtime_ns, 1'700'000'000'000'000'000);
  ASSERT_EQ(store.Apply(Setattr("f", kAllAttrs)), absl::OkStatus());
  EXPECT_EQ(store.live().at("f").mode, 0640u);
  EXPECT_EQ(store.live().at("f").uid, 26u);
  EXPECT_EQ(store.live().at("f").atime_ns, -1);
}

TEST(MemStoreAttributesTest, ReadReportsEveryAttribute) {
  MemStore store;
  ASSERT_EQ(store.Apply(MakeMutation(MutationKind::kMkdir, "d")), absl::OkStatus());
  ASSERT_EQ(store.Apply(Setattr("d", kAllAttrs)), absl::OkStatus());
  const ZoneRead r = store.Read(0, 1, "d", 0, 4096);
  EXPECT_EQ(r.kind, PathKind::kDirectory);
  EXPECT_EQ(r.mode, 0640u);
  EXPECT_EQ(r.uid, 26u);
  EXPECT_EQ(r.gid, 27u);
  EXPECT_EQ(r.atime_ns, -1);
  EXPECT_EQ(r.mtime_ns, 1'700'000'000'000'000'000);
}

TEST(MemStoreAttributesTest, UnsyncedSetattrIsLostAtACrashAndSyncedOneKept) {
  MemStore store;
  ASSERT_EQ(store.Apply(MakeMutation(MutationKind::kCreate, "f")), absl::OkStatus());
  ASSERT_EQ(store.Apply(MakeMutation(MutationKind::kCreate, "g")), absl::OkStatus());
  ASSERT_EQ(store.Sync(""), absl::OkStatus());
  ASSERT_EQ(store.Apply(Setattr("f", kAttrUid)), absl::OkStatus());
  ASSERT_EQ(store.Apply(Setattr("g", kAttrUid)), absl::OkStatus());
  ASSERT_EQ(store.Sync("g"), absl::OkStatus());
  store.Crash();
  EXPECT_EQ(store.live().at("f").uid, 0u);
  EXPECT_EQ(store.live().at("g").uid, 26u);
}

TEST(MemStoreAttributesTest, DifferenceNamesOwnersAndTimes) {
  MemStore a;
  MemStore b;
  ASSERT_EQ(a.Apply(MakeMutation(MutationKind::kCreate, "f")), absl::OkStatus());
  ASSERT_EQ(b.Apply(MakeMutation(MutationKind::kCreate, "f")), absl::OkStatus());
  EXPECT_EQ(DescribeDifference(a.live(), b.live()), "");
  ASSERT_EQ(b.Apply(Setattr("f", kAttrUid | kAttrMtime)), absl::OkStatus());
  const std::string diff = DescribeDifference(a.live(), b.live());
  EXPECT_NE(diff.find("owners 0:0 vs 26:0"), std::string::npos) << diff;
  EXPECT_NE(diff.find("mtimes 0 vs 1700000000000000000"), std::string::npos) << diff;
}

Mutation Setxattr(const std::string& path, const std::string& name, uint32_t flags) {
  Mutation m = MakeMutation(MutationKind::kSetxattr, path);
  m.xattr_name = name;
  m.xattr_flags = flags;
  m.data = MakePayload("value of " + name);
  return m;
}

TEST(MemStoreAttributesTest, SetxattrHonoursCreateAndReplaceFlags) {
  MemStore store;
  ASSERT_EQ(store.Apply(MakeMutation(MutationKind::kCreate, "f")), absl::OkStatus());
  EXPECT_EQ(store.Apply(Setxattr("f", "user.a", kXattrReplace)).code(),
            absl::StatusCode::kNotFound);  // ENODATA
  ASSERT_EQ(store.Apply(Setxattr("f", "user.a", kXattrCreate)), absl::OkStatus());
  EXPECT_EQ(store.Apply(Setxattr("f", "user.a", kXattrCreate)).code(),
            absl::StatusCode::kAlreadyExists);  // EEXIST
  ASSERT_EQ(store.Apply(Setxattr("f", "user.a", kXattrReplace)), absl::OkStatus());
  EXPECT_EQ(store.Apply(Setxattr("gone", "user.a", 0)).code(), absl::StatusCode::kNotFound);
  Mutation remove = MakeMutation(MutationKind::kRemovexattr, "f");
  remove.xattr_name = "user.never";
  EXPECT_EQ(store.Apply(remove), absl::OkStatus());  // idempotent, as the secondary applies
  EXPECT_EQ(store.live().at("f").xattrs.at("user.a"), "value of user.a");
}

TEST(MemStoreAttributesTest, ReplaceXattrsLeavesExactlyTheSetGivenAndReadReportsIt) {
  MemStore store;
  ASSERT_EQ(store.Apply(MakeMutation(MutationKind::kMkdir, "d")), absl::OkStatus());
  ASSERT_EQ(store.Apply(Setxattr("d", "user.old", 0)), absl::OkStatus());
  Mutation replace = MakeMutation(MutationKind::kReplaceXattrs, "d");
  replace.xattrs = {{"system.posix_acl_default", "acl"}, {"user.new", ""}};
  ASSERT_EQ(store.Apply(replace), absl::OkStatus());
  EXPECT_EQ(store.Read(0, 1, "d", 0, 10).xattrs, replace.xattrs);
  EXPECT_TRUE(store.Read(0, 2, "d", 4096, 10).xattrs.empty());  // only a read at offset 0
}

TEST(MemStoreAttributesTest, MknodMakesAFifoOrSocketWithItsOwnerAndReadReportsIt) {
  MemStore store;
  ASSERT_EQ(store.Apply(MakeMutation(MutationKind::kMkdir, "run")), absl::OkStatus());
  Mutation fifo = MakeMutation(MutationKind::kMknod, "run/fifo");
  fifo.node_kind = PathKind::kFifo;
  fifo.mode = 0620;
  fifo.uid = 26;
  ASSERT_EQ(store.Apply(fifo), absl::OkStatus());
  ASSERT_EQ(store.Apply(fifo), absl::OkStatus());  // idempotent
  const ZoneRead r = store.Read(0, 1, "run/fifo", 0, 4096);
  EXPECT_EQ(r.kind, PathKind::kFifo);
  EXPECT_EQ(r.mode, 0620u);
  EXPECT_EQ(r.uid, 26u);
  EXPECT_EQ(r.file_size, 0u);
  Mutation socket = MakeMutation(MutationKind::kMknod, "run/fifo");  // a resync replaces it
  socket.node_kind = PathKind::kSocket;
  ASSERT_EQ(store.Apply(socket), absl::OkStatus());
  EXPECT_EQ(store.live().at("run/fifo").kind, PathKind::kSocket);
}

TEST(MemStoreAttributesTest, UnsyncedXattrIsLostAtACrash) {
  MemStore store;
  ASSERT_EQ(store.Apply(MakeMutation(MutationKind::kCreate, "f")), absl::OkStatus());
  ASSERT_EQ(store.Sync(""), absl::OkStatus());
  ASSERT_EQ(store.Apply(Setxattr("f", "user.a", 0)), absl::OkStatus());
  store.Crash();
  EXPECT_TRUE(store.live().at("f").xattrs.empty());
}

}  // namespace
}  // namespace duet::sim
