// One Mutation mapping (engine/wire/mutation_codec.h) for the wire and the metadata records:
// a mutation of every kind, with every field its kind has set, comes back identical from a
// ReplWrite frame and, for the kinds a journal holds, from a journal record.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "engine/wire/codec.h"
#include "engine/wire/record_codec.h"

namespace duet::wire {
namespace {

// Every field, a null payload apart from an empty one.
std::string Fields(const Mutation& m) {
  std::ostringstream out;
  out << MutationKindName(m.kind) << " path=" << m.path << " path2=" << m.path2
      << " offset=" << m.offset << " data=" << (m.data ? "[" + *m.data + "]" : "null")
      << " mode=" << m.mode << " uid=" << m.uid << " gid=" << m.gid << " atime=" << m.atime_ns
      << " mtime=" << m.mtime_ns << " mask=" << m.attr_mask << " xattr=" << m.xattr_name << "/"
      << m.xattr_flags << " set=";
  for (const Xattr& x : m.xattrs) out << x.name << ":" << x.value << ";";
  out << " sync=" << m.sync << " node=" << static_cast<int>(m.node_kind) << " length=" << m.length
      << " fallocate=" << m.fallocate_mode << " rename=" << m.rename_flags;
  return out.str();
}

// One mutation of each kind, each field its kind may carry set to a value that is not the
// default.
std::vector<Mutation> OneOfEveryKind() {
  std::vector<Mutation> all;
  auto add = [&](MutationKind kind, std::string path, std::string path2 = {}) -> Mutation& {
    all.push_back(MakeMutation(kind, std::move(path), std::move(path2)));
    return all.back();
  };
  Mutation& write = add(MutationKind::kWrite, "dir/data file");
  write.offset = 1 << 20;
  write.data = MakePayload(std::string("bytes\0with a NUL", 16));
  write.sync = true;
  add(MutationKind::kTruncate, "dir/f").offset = 12345;
  Mutation& create = add(MutationKind::kCreate, "dir/new é");
  create.mode = 0640;
  create.uid = 1000;
  create.gid = 100;
  Mutation& mkdir = add(MutationKind::kMkdir, "dir/sub");
  mkdir.mode = 02775;
  mkdir.uid = 7;
  mkdir.gid = 8;
  add(MutationKind::kUnlink, "dir/old");
  add(MutationKind::kRmdir, "dir/empty");
  add(MutationKind::kRename, "a", "b");
  add(MutationKind::kRename, "a", "b").rename_flags = kRenameExchange;
  add(MutationKind::kRename, "a", "c").rename_flags = kRenameNoReplace;
  Mutation& symlink = add(MutationKind::kSymlink, "link", "/absolute/../target");
  symlink.uid = 3;
  symlink.gid = 4;
  add(MutationKind::kLink, "dir/f", "dir/f2");
  Mutation& setattr = add(MutationKind::kSetattr, "dir/f");
  setattr.attr_mask = kAllAttrs;
  setattr.mode = 0600;
  setattr.uid = 11;
  setattr.gid = 12;
  setattr.atime_ns = -5;  // before 1970
  setattr.mtime_ns = 1'700'000'000'123'456'789;
  add(MutationKind::kFsync, "dir/f");
  add(MutationKind::kFsync, "");  // the whole tree
  add(MutationKind::kRemoveTree, "dir");
  Mutation& setxattr = add(MutationKind::kSetxattr, "dir/f");
  setxattr.xattr_name = "user.checksum";
  setxattr.xattr_flags = kXattrCreate;
  setxattr.data = MakePayload("v");
  Mutation& empty_value = add(MutationKind::kSetxattr, "dir/f");
  empty_value.xattr_name = "user.empty";
  empty_value.data = MakePayload("");
  add(MutationKind::kRemovexattr, "dir/f").xattr_name = "user.gone";
  add(MutationKind::kReplaceXattrs, "dir/f").xattrs = {{"system.posix_acl_access", "acl"},
                                                       {"user.a", ""}};
  Mutation& mknod = add(MutationKind::kMknod, "fifo");
  mknod.node_kind = PathKind::kFifo;
  mknod.mode = 0600;
  mknod.uid = 1;
  mknod.gid = 2;
  add(MutationKind::kMknod, "socket").node_kind = PathKind::kSocket;
  Mutation& punch = add(MutationKind::kFallocate, "vm.img");
  punch.offset = 4096;
  punch.length = uint64_t{1} << 30;
  punch.fallocate_mode = kFallocatePunchHole | kFallocateKeepSize;
  return all;
}

Mutation ThroughFrame(const Mutation& m) {
  absl::StatusOr<ReplMessage> decoded = DecodeReplication(EncodeReplication(ReplWrite{"db", 1, m}));
  EXPECT_TRUE(decoded.ok()) << Fields(m) << ": " << decoded.status();
  return decoded.ok() ? std::get<ReplWrite>(*decoded).mutation : Mutation{};
}

absl::StatusOr<Mutation> ThroughRecord(const Mutation& m) {
  absl::StatusOr<StoredRecord> decoded =
      DecodeRecord(EncodeRecord(ReplicaBatch{record::Journal{m, /*as_is=*/true}}));
  if (!decoded.ok()) return decoded.status();
  return std::get<record::Journal>(std::get<ReplicaBatch>(*decoded).at(0)).mutation;
}

TEST(MutationCodecTest, EveryKindRoundTripsIdenticallyThroughAFrameAndAJournalRecord) {
  int journalled = 0;
  for (const Mutation& m : OneOfEveryKind()) {
    EXPECT_EQ(Fields(ThroughFrame(m)), Fields(m));
    absl::StatusOr<Mutation> from_record = ThroughRecord(m);
    if (m.is_namespace()) {
      ASSERT_TRUE(from_record.ok()) << Fields(m) << ": " << from_record.status();
      EXPECT_EQ(Fields(*from_record), Fields(m));
      ++journalled;
    } else {
      // A write, fsync or fallocate is tracked as dirty zones, never journalled.
      EXPECT_EQ(from_record.status().code(), absl::StatusCode::kInvalidArgument) << Fields(m);
      EXPECT_NE(from_record.status().message().find("not a namespace change"), std::string::npos)
          << from_record.status();
    }
  }
  EXPECT_EQ(journalled, 18);
}

// The two paths check alike: a mutation the frame refuses, the record refuses for the same
// reason (here, a rename flag on a link).
TEST(MutationCodecTest, AFrameAndARecordRefuseTheSameMutationAlike) {
  Mutation link = MakeMutation(MutationKind::kLink, "a", "b");
  link.rename_flags = kRenameNoReplace;
  absl::StatusOr<ReplMessage> frame =
      DecodeReplication(EncodeReplication(ReplWrite{"db", 1, link}));
  absl::StatusOr<Mutation> record = ThroughRecord(link);
  ASSERT_FALSE(frame.ok());
  ASSERT_FALSE(record.ok());
  EXPECT_NE(frame.status().message().find("ReplWrite 'db' link mutation with rename flags"),
            std::string::npos)
      << frame.status();
  EXPECT_NE(record.status().message().find("journal entry link mutation with rename flags"),
            std::string::npos)
      << record.status();
}

}  // namespace
}  // namespace duet::wire
