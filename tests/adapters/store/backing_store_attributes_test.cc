// The data model on a real tree (engine/replication/file_attributes.h): owners given at
// creation, a setattr that sets exactly what its mask names, xattrs set, removed and
// replaced, FIFOs and sockets made by mknod, and a ReadZone that reports all of it so that a
// resync can make the two copies identical. We run as root, so any owner can be given.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/adapters/store/store_test_util.h"

namespace duet::store::testing {
namespace {

class AttributesTest : public StoreFixture {};

Mutation Owned(MutationKind kind, std::string path, uint32_t mode, uint32_t uid, uint32_t gid) {
  Mutation m = WithMode(kind, std::move(path), mode);
  m.uid = uid;
  m.gid = gid;
  return m;
}

std::string XattrOf(const std::string& path, const std::string& name) {
  char value[256];
  const ssize_t n = lgetxattr(path.c_str(), name.c_str(), value, sizeof value);
  return n < 0 ? std::string("<absent>") : std::string(value, static_cast<size_t>(n));
}

TEST_F(AttributesTest, CreateMkdirAndSymlinkGiveTheCreatorsOwnerAndTheExactMode) {
  ASSERT_TRUE(Apply(Owned(MutationKind::kMkdir, "d", 02750, 1001, 1002)).ok());
  ASSERT_TRUE(Apply(Owned(MutationKind::kCreate, "d/f", 04755, 1003, 1004)).ok());
  Mutation link = MakeMutation(MutationKind::kSymlink, "l", "d/f");
  link.uid = 1005;
  link.gid = 1006;
  ASSERT_TRUE(Apply(link).ok());
  struct stat st = Lstat(At("d"));
  EXPECT_EQ(st.st_uid, 1001u);
  EXPECT_EQ(st.st_gid, 1002u);
  EXPECT_EQ(st.st_mode & 07777, 02750u);
  st = Lstat(At("d/f"));
  EXPECT_EQ(st.st_uid, 1003u);
  EXPECT_EQ(st.st_gid, 1004u);
  EXPECT_EQ(st.st_mode & 07777, 04755u);  // the owner was set first: setuid survives
  st = Lstat(At("l"));
  EXPECT_EQ(st.st_uid, 1005u);
  EXPECT_EQ(st.st_gid, 1006u);
}

int64_t MtimeOf(const std::string& path) {
  const struct stat st = Lstat(path);
  return int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
}
int64_t AtimeOf(const std::string& path) {
  const struct stat st = Lstat(path);
  return int64_t{st.st_atim.tv_sec} * 1'000'000'000 + st.st_atim.tv_nsec;
}

// The primary's time of change (C13): a write, truncate and fallocate give the file that
// mtime, a new file, directory, symlink or FIFO that atime and mtime, on whichever node
// applies them, so the two copies agree to the nanosecond.
TEST_F(AttributesTest, AStampedMutationGivesWhatItChangedThePrimarysTime) {
  constexpr int64_t kCreated = 1'600'000'000'111'111'111;
  Mutation create = Owned(MutationKind::kCreate, "f", 0644, 0, 0);
  create.mtime_ns = kCreated;
  Mutation mkdir = Owned(MutationKind::kMkdir, "d", 0755, 0, 0);
  mkdir.mtime_ns = kCreated + 1;
  Mutation link = MakeMutation(MutationKind::kSymlink, "l", "f");
  link.mtime_ns = kCreated + 2;
  Mutation fifo = Owned(MutationKind::kMknod, "p", 0600, 0, 0);
  fifo.node_kind = PathKind::kFifo;
  fifo.mtime_ns = kCreated + 3;
  for (const Mutation& m : {create, mkdir, link, fifo}) ASSERT_TRUE(Apply(m).ok()) << m.path;
  EXPECT_EQ(MtimeOf(At("f")), kCreated);
  EXPECT_EQ(AtimeOf(At("f")), kCreated);
  EXPECT_EQ(MtimeOf(At("d")), kCreated + 1);
  EXPECT_EQ(AtimeOf(At("d")), kCreated + 1);
  EXPECT_EQ(MtimeOf(At("l")), kCreated + 2);
  EXPECT_EQ(MtimeOf(At("p")), kCreated + 3);

  Mutation write = Write("f", 0, "bytes");
  write.mtime_ns = kCreated + 10;
  ASSERT_TRUE(Apply(write).ok());
  EXPECT_EQ(MtimeOf(At("f")), kCreated + 10);
  EXPECT_EQ(AtimeOf(At("f")), kCreated);  // a write leaves the atime
  Mutation truncate = Truncate("f", 2);
  truncate.mtime_ns = kCreated + 20;
  ASSERT_TRUE(Apply(truncate).ok());
  EXPECT_EQ(MtimeOf(At("f")), kCreated + 20);
  Mutation punch = MakeMutation(MutationKind::kFallocate, "f");
  punch.offset = 0;
  punch.length = 1;
  punch.fallocate_mode = kFallocatePunchHole | kFallocateKeepSize;
  punch.mtime_ns = kCreated + 30;
  ASSERT_TRUE(Apply(punch).ok());
  EXPECT_EQ(MtimeOf(At("f")), kCreated + 30);
}

TEST_F(AttributesTest, AnUnstampedWriteLeavesTheTimeTheKernelGaveIt) {
  Mutation setattr = Setattr("f", 0644, 1'000'000'000);  // long ago
  ASSERT_TRUE(Apply(Write("f", 0, "x")).ok());
  ASSERT_TRUE(Apply(setattr).ok());
  ASSERT_TRUE(Apply(Write("f", 1, "y")).ok());  // a resync's write: mtime_ns 0
  EXPECT_GT(MtimeOf(At("f")), 1'000'000'000);
}

TEST_F(AttributesTest, SetattrSetsOnlyWhatItsMaskNames) {
  WriteFile(At("f"), "x");
  ASSERT_EQ(chmod(At("f").c_str(), 0640), 0);
  ASSERT_EQ(chown(At("f").c_str(), 10, 20), 0);
  Mutation chown_only = MakeMutation(MutationKind::kSetattr, "f");
  chown_only.attr_mask = kAttrUid;
  chown_only.uid = 30;
  chown_only.gid = 99;  // not in the mask
  chown_only.mode = 0777;
  ASSERT_TRUE(Apply(chown_only).ok());
  struct stat st = Lstat(At("f"));
  EXPECT_EQ(st.st_uid, 30u);
  EXPECT_EQ(st.st_gid, 20u);
  EXPECT_EQ(st.st_mode & 07777, 0640u);

  Mutation times = MakeMutation(MutationKind::kSetattr, "f");
  times.attr_mask = kAttrAtime;
  times.atime_ns = 1'600'000'000'000'000'001;
  times.mtime_ns = 5;  // not in the mask
  const int64_t mtime_before = Lstat(At("f")).st_mtim.tv_sec;
  ASSERT_TRUE(Apply(times).ok());
  st = Lstat(At("f"));
  EXPECT_EQ(st.st_atim.tv_sec, 1'600'000'000);
  EXPECT_EQ(st.st_atim.tv_nsec, 1);
  EXPECT_EQ(st.st_mtim.tv_sec, mtime_before);
}

TEST_F(AttributesTest, SetxattrHonoursItsFlagsRemoveIsIdempotentAndReplaceMakesTheSetExact) {
  WriteFile(At("f"), "x");
  Mutation set = MakeMutation(MutationKind::kSetxattr, "f");
  set.xattr_name = "user.a";
  set.data = MakePayload("one");
  ASSERT_TRUE(Apply(set).ok());
  EXPECT_EQ(XattrOf(At("f"), "user.a"), "one");
  set.xattr_flags = kXattrCreate;
  EXPECT_EQ(Apply(set).code(), absl::StatusCode::kAlreadyExists);
  set.xattr_name = "user.b";
  set.xattr_flags = kXattrReplace;
  EXPECT_EQ(Apply(set).code(), absl::StatusCode::kNotFound);  // ENODATA
  EXPECT_EQ(XattrOf(At("f"), "user.b"), "<absent>");

  Mutation remove = MakeMutation(MutationKind::kRemovexattr, "f");
  remove.xattr_name = "user.a";
  ASSERT_TRUE(Apply(remove).ok());
  EXPECT_EQ(XattrOf(At("f"), "user.a"), "<absent>");
  EXPECT_TRUE(Apply(remove).ok());  // already gone: fine

  ASSERT_EQ(lsetxattr(At("f").c_str(), "user.stale", "s", 1, 0), 0);
  Mutation replace = MakeMutation(MutationKind::kReplaceXattrs, "f");
  replace.xattrs = {{"trusted.t", std::string("\0\1", 2)}, {"user.z", ""}};
  ASSERT_TRUE(Apply(replace).ok());
  const ZoneRead read = store_->ReadZone(1, "f", 0, 10);
  ASSERT_TRUE(read.status.ok()) << read.status;
  EXPECT_EQ(read.xattrs, replace.xattrs);
}

TEST_F(AttributesTest, MknodMakesAFifoOrASocketWithItsOwnerAndRefusesADevice) {
  Mutation fifo = Owned(MutationKind::kMknod, "p", 0620, 7, 8);
  fifo.node_kind = PathKind::kFifo;
  ASSERT_TRUE(Apply(fifo, /*durable=*/true).ok());
  EXPECT_TRUE(S_ISFIFO(Lstat(At("p")).st_mode));
  EXPECT_TRUE(Apply(fifo).ok());  // already one: kept
  Mutation sock = Owned(MutationKind::kMknod, "s", 0600, 9, 10);
  sock.node_kind = PathKind::kSocket;
  ASSERT_TRUE(Apply(sock).ok());
  const struct stat st = Lstat(At("s"));
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_uid, 9u);
  EXPECT_EQ(st.st_gid, 10u);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  WriteFile(At("was-a-file"), "x");
  fifo.path = "was-a-file";
  ASSERT_TRUE(Apply(fifo).ok());  // a resync makes the path the source's kind
  EXPECT_TRUE(S_ISFIFO(Lstat(At("was-a-file")).st_mode));
  Mutation device = MakeMutation(MutationKind::kMknod, "dev");
  device.node_kind = PathKind::kFile;
  EXPECT_FALSE(Apply(device).ok());
  EXPECT_FALSE(Exists(At("dev")));
}

TEST_F(AttributesTest, ReadZoneReportsOwnerTimesXattrsAndSpecialKinds) {
  WriteFile(At("f"), "hello");
  ASSERT_EQ(chown(At("f").c_str(), 123, 456), 0);
  const timespec times[2] = {{1'000, 5}, {2'000, 7}};
  ASSERT_EQ(utimensat(AT_FDCWD, At("f").c_str(), times, 0), 0);
  ASSERT_EQ(lsetxattr(At("f").c_str(), "user.b", "2", 1, 0), 0);
  ASSERT_EQ(lsetxattr(At("f").c_str(), "user.a", "1", 1, 0), 0);
  ZoneRead read = store_->ReadZone(1, "f", 0, 100);
  ASSERT_TRUE(read.status.ok()) << read.status;
  EXPECT_EQ(read.uid, 123u);
  EXPECT_EQ(read.gid, 456u);
  EXPECT_EQ(read.atime_ns, 1'000'000'000'005);
  EXPECT_EQ(read.mtime_ns, 2'000'000'000'007);
  EXPECT_EQ(read.xattrs, (XattrSet{{"user.a", "1"}, {"user.b", "2"}}));  // sorted by name
  read = store_->ReadZone(2, "f", 64 << 10, 100);
  EXPECT_TRUE(read.xattrs.empty());  // only the read at offset 0 carries the set

  ASSERT_EQ(mkfifo(At("p").c_str(), 0640), 0);
  read = store_->ReadZone(3, "p", 0, 100);
  ASSERT_TRUE(read.status.ok()) << read.status;
  EXPECT_EQ(read.kind, PathKind::kFifo);
  EXPECT_EQ(read.mode, 0640u);
  ASSERT_EQ(mknod(At("s").c_str(), S_IFSOCK | 0600, 0), 0);
  read = store_->ReadZone(4, "s", 0, 100);
  ASSERT_TRUE(read.status.ok()) << read.status;
  EXPECT_EQ(read.kind, PathKind::kSocket);
}

}  // namespace
}  // namespace duet::store::testing
