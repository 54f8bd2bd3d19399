// engine/wire/field_codec.h: the fields frames and records share. What a writer leaves out
// reads back as empty, what it writes reads back equal, and a reader refuses a forged value
// (one no writer of ours makes: a path that climbs out of the tree, a NUL inside a name, an
// unsorted xattr set, a value over its limit) with an InvalidArgument naming the subject.
// Truncated buffers never reach these readers: codec.cc's Verifier refuses them first
// (wire_codec_test.cc, record_codec_test.cc).
#include "engine/wire/field_codec.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "engine/wire/codec.h"

namespace duet::wire {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

// A Mutation table as a peer could send it, fields written raw (no check of ours on the way).
struct Forged {
  std::optional<std::string> path = std::nullopt;
  std::optional<std::string> xattr_name = std::nullopt;
  std::optional<std::string> data = std::nullopt;
  std::vector<std::pair<std::string, std::string>> xattrs = {};  // in this order, as given
  fb::PathKind node_kind = fb::PathKind::Absent;
};

class Table {
 public:
  explicit Table(const Forged& f) {
    Offset<flatbuffers::String> path, xattr_name;
    Offset<flatbuffers::Vector<uint8_t>> data;
    Offset<flatbuffers::Vector<Offset<fb::Xattr>>> xattrs;
    if (f.path) path = builder_.CreateString(f.path->data(), f.path->size());
    if (f.xattr_name)
      xattr_name = builder_.CreateString(f.xattr_name->data(), f.xattr_name->size());
    if (f.data) {
      data =
          builder_.CreateVector(reinterpret_cast<const uint8_t*>(f.data->data()), f.data->size());
    }
    if (!f.xattrs.empty()) {
      std::vector<Offset<fb::Xattr>> entries;
      for (const auto& [name, value] : f.xattrs) {
        const auto n = builder_.CreateString(name.data(), name.size());
        const auto v =
            builder_.CreateVector(reinterpret_cast<const uint8_t*>(value.data()), value.size());
        entries.push_back(fb::CreateXattr(builder_, n, v));
      }
      xattrs = builder_.CreateVector(entries);
    }
    Finish(path, data, xattr_name, xattrs, f.node_kind);
  }
  // A frame written by our own writers.
  Table(const std::string& path, const Payload& data, const XattrSet& xattrs, PathKind kind) {
    const auto p = OptionalString(builder_, path);
    const auto d = OptionalBytes(builder_, data);
    const auto x = OptionalXattrs(builder_, xattrs);
    Finish(p, d, 0, x, ToWire(kind));
  }
  const fb::Mutation& operator*() const {
    return *flatbuffers::GetRoot<fb::Mutation>(builder_.GetBufferPointer());
  }
  const fb::Mutation* operator->() const { return &**this; }

 private:
  void Finish(Offset<flatbuffers::String> path, Offset<flatbuffers::Vector<uint8_t>> data,
              Offset<flatbuffers::String> xattr_name,
              Offset<flatbuffers::Vector<Offset<fb::Xattr>>> xattrs, fb::PathKind kind) {
    fb::MutationBuilder m(builder_);
    m.add_path(path);
    m.add_data(data);
    m.add_xattr_name(xattr_name);
    m.add_xattrs(xattrs);
    m.add_node_kind(kind);
    builder_.Finish(m.Finish());
  }
  FlatBufferBuilder builder_;
};

Table WithPath(std::string path) { return Table(Forged{.path = std::move(path)}); }

absl::StatusOr<std::string> ReadPath(const Table& f, bool allow_empty = false) {
  return ReadRelativePath(f->path(), "ReplWrite 'db' rename mutation", "path2", allow_empty);
}

// Expects an InvalidArgument whose message holds every part.
template <class T>
void ExpectRefused(const absl::StatusOr<T>& result, std::initializer_list<std::string> parts) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(result.status().message());
  for (const std::string& part : parts) {
    EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
  }
  EXPECT_EQ(message.find('\0'), std::string::npos) << "a raw NUL in: " << message;
}

TEST(FieldCodecTest, PathsInsideTheTreeRoundTrip) {
  const std::vector<std::string> paths = {
      "f",     "a/b/c", "with space/\xc3\xbc",          "..hidden", "a/.b",
      "a/b..", "...",   std::string(kMaxPathBytes, 'p')};
  for (const std::string& path : paths) {
    const Table f(path, nullptr, {}, PathKind::kFile);
    const absl::StatusOr<std::string> read = ReadPath(f);
    ASSERT_TRUE(read.ok()) << path << ": " << read.status();
    EXPECT_EQ(*read, path);
  }
}

TEST(FieldCodecTest, AnEmptyPathIsLeftOutAndRefusedUnlessAllowed) {
  const Table f(std::string(), nullptr, {}, PathKind::kFile);
  EXPECT_EQ(f->path(), nullptr);
  EXPECT_EQ(View(f->path()), "");
  const absl::StatusOr<std::string> allowed = ReadPath(f, /*allow_empty=*/true);
  ASSERT_TRUE(allowed.ok());
  EXPECT_EQ(*allowed, "");
  ExpectRefused(ReadPath(f), {"ReplWrite 'db' rename mutation without a path2"});
  // A present but empty string is the same as an absent one.
  ExpectRefused(ReadPath(WithPath("")), {"without a path2"});
}

TEST(FieldCodecTest, APathThatCouldLeaveTheTreeIsRefused) {
  ExpectRefused(ReadPath(WithPath("/etc/passwd")), {"path2 '/etc/passwd' is absolute"});
  ExpectRefused(ReadPath(WithPath("..")), {"'..' component"});
  ExpectRefused(ReadPath(WithPath("a/../../etc")), {"'a/../../etc'", "'..' component"});
  ExpectRefused(ReadPath(WithPath("a/..")), {"'..' component"});
  ExpectRefused(ReadPath(WithPath(".")), {"'.' component"});
  ExpectRefused(ReadPath(WithPath("a/./b")), {"'.' component"});
}

TEST(FieldCodecTest, APathWithAnEmptyComponentIsRefused) {
  for (const char* path : {"a//b", "a/", "a/b/"}) {
    ExpectRefused(ReadPath(WithPath(path)), {"has an empty component"});
  }
}

TEST(FieldCodecTest, APathWithANulIsRefusedAndTheNulIsEscapedInTheError) {
  ExpectRefused(ReadPath(WithPath(std::string("a\0/../x", 7))),
                {"contains a NUL byte", "'a\\x00/../x'"});
}

TEST(FieldCodecTest, APathOverTheLimitIsRefusedNamingItsSize) {
  ExpectRefused(ReadPath(WithPath(std::string(kMaxPathBytes + 1, 'p'))),
                {"path2 of 4097 bytes exceeds limit 4096"});
}

// A symlink may point anywhere on the primary, so its target is kept as it is.
TEST(FieldCodecTest, ALinkTargetIsKeptVerbatim) {
  for (const char* target : {"/etc/passwd", "../../x", "a//b/./", "."}) {
    const absl::StatusOr<std::string> read =
        ReadLinkTarget(WithPath(target)->path(), "ReplWrite 'db' symlink mutation", "path2");
    ASSERT_TRUE(read.ok()) << target << ": " << read.status();
    EXPECT_EQ(*read, target);
  }
}

TEST(FieldCodecTest, AnEmptyOverlongOrNulLinkTargetIsRefused) {
  const auto read = [](std::string target) {
    return ReadLinkTarget(WithPath(std::move(target))->path(), "symlink", "path2");
  };
  ExpectRefused(read(""), {"symlink without a path2"});
  ExpectRefused(read(std::string(kMaxPathBytes + 1, 't')), {"exceeds limit 4096"});
  ExpectRefused(read(std::string("a\0b", 3)), {"contains a NUL byte", "'a\\x00\\x62'"});
  EXPECT_TRUE(read(std::string(kMaxPathBytes, 't')).ok());
}

TEST(FieldCodecTest, NullAndEmptyPayloadsStayApart) {
  const Table none("f", nullptr, {}, PathKind::kFile);
  const absl::StatusOr<Payload> absent = ReadPayload(none->data(), 10, "ReplWrite");
  ASSERT_TRUE(absent.ok());
  EXPECT_EQ(*absent, nullptr);

  const Table empty("f", MakePayload(""), {}, PathKind::kFile);
  const absl::StatusOr<Payload> present = ReadPayload(empty->data(), 10, "ReplWrite");
  ASSERT_TRUE(present.ok());
  ASSERT_NE(*present, nullptr);
  EXPECT_EQ(**present, "");
}

// The payload must outlive the frame's buffer (the adapter frees it after decoding).
TEST(FieldCodecTest, APayloadIsCopiedOutOfTheFrame) {
  const std::string bytes("\0binary\xff\0", 9);
  Payload read;
  {
    const Table f("f", MakePayload(bytes), {}, PathKind::kFile);
    absl::StatusOr<Payload> got = ReadPayload(f->data(), bytes.size(), "ReplWrite");
    ASSERT_TRUE(got.ok());
    read = *std::move(got);
  }
  ASSERT_NE(read, nullptr);
  EXPECT_EQ(*read, bytes);
}

TEST(FieldCodecTest, APayloadOverItsLimitIsRefused) {
  const Table f(Forged{.data = std::string(11, 'd')});
  ExpectRefused(ReadPayload(f->data(), 10, "ResyncBlock 'db'"),
                {"ResyncBlock 'db' with 11 bytes of data exceeds limit 10"});
  EXPECT_TRUE(ReadPayload(f->data(), 11, "ResyncBlock 'db'").ok());
}

TEST(FieldCodecTest, AnXattrNameIsNonEmptyWithoutNulAndWithinItsLimit) {
  const auto read = [](std::string name) {
    return ReadXattrName(Table(Forged{.xattr_name = std::move(name)})->xattr_name(), "setxattr");
  };
  const absl::StatusOr<std::string> ok = read("user.comment");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, "user.comment");
  EXPECT_TRUE(read(std::string(kMaxXattrNameBytes, 'n')).ok());
  ExpectRefused(read(""), {"setxattr without an xattr name"});
  ExpectRefused(read(std::string(kMaxXattrNameBytes + 1, 'n')),
                {"xattr name of 256 bytes exceeds limit 255"});
  ExpectRefused(read(std::string("user.a\0b", 8)), {"contains a NUL byte", "'user.a\\x00\\x62'"});
}

TEST(FieldCodecTest, AnXattrSetRoundTripsWithEmptyAndBinaryValues) {
  const XattrSet set = {{.name = "security.selinux", .value = "system_u:object_r"},
                        {.name = "user.empty", .value = ""},
                        {.name = "user.raw", .value = std::string("\0\x01\xfe", 3)}};
  const Table f("f", nullptr, set, PathKind::kFile);
  const absl::StatusOr<XattrSet> read = ReadXattrSet(f->xattrs(), "ResyncBlock");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, set);
}

TEST(FieldCodecTest, AnEmptyXattrSetIsLeftOutAndReadsEmpty) {
  const Table f("f", nullptr, {}, PathKind::kFile);
  EXPECT_EQ(f->xattrs(), nullptr);
  const absl::StatusOr<XattrSet> read = ReadXattrSet(f->xattrs(), "ResyncBlock");
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(read->empty());
}

// The set is a map by name: the apply replaces the whole set, so an order or a name twice
// that our writers never produce is a forged frame.
TEST(FieldCodecTest, AnXattrSetOutOfOrderOrWithANameTwiceIsRefused) {
  ExpectRefused(ReadXattrSet(Table(Forged{.xattrs = {{"user.b", "1"}, {"user.a", "2"}}})->xattrs(),
                             "ResyncBlock"),
                {"ResyncBlock xattr set not sorted by name at 'user.a'"});
  ExpectRefused(ReadXattrSet(Table(Forged{.xattrs = {{"user.a", "1"}, {"user.a", "2"}}})->xattrs(),
                             "ResyncBlock"),
                {"not sorted by name at 'user.a'"});
}

TEST(FieldCodecTest, AnXattrSetWithABadNameIsRefused) {
  ExpectRefused(ReadXattrSet(Table(Forged{.xattrs = {{"", "v"}}})->xattrs(), "ResyncBlock"),
                {"without an xattr name"});
  ExpectRefused(
      ReadXattrSet(Table(Forged{.xattrs = {{std::string("u\0x", 3), "v"}}})->xattrs(), "RB"),
      {"contains a NUL byte"});
}

TEST(FieldCodecTest, AnXattrValueOverItsLimitIsRefused) {
  const Table at_limit(Forged{.xattrs = {{"user.big", std::string(kMaxXattrValueBytes, 'v')}}});
  EXPECT_TRUE(ReadXattrSet(at_limit->xattrs(), "ResyncBlock").ok());
  const Table over(Forged{.xattrs = {{"user.big", std::string(kMaxXattrValueBytes + 1, 'v')}}});
  ExpectRefused(ReadXattrSet(over->xattrs(), "ResyncBlock"),
                {"xattr 'user.big' value of 65537 bytes exceeds limit 65536"});
}

TEST(FieldCodecTest, AnXattrSetOverItsTotalLimitIsRefused) {
  // Each value is within its own limit; together names and values pass kMaxXattrSetBytes.
  Forged f;
  const size_t count = kMaxXattrSetBytes / kMaxXattrValueBytes + 1;
  for (size_t i = 0; i < count; ++i) {
    f.xattrs.emplace_back(absl::StrFormat("user.%02d", i), std::string(kMaxXattrValueBytes, 'v'));
  }
  ExpectRefused(ReadXattrSet(Table(f)->xattrs(), "ResyncBlock"),
                {"ResyncBlock xattr set exceeds limit 1048576 bytes"});
  f.xattrs.pop_back();
  f.xattrs.back().second.resize(kMaxXattrValueBytes - 8 * (count - 1));  // names count too
  EXPECT_TRUE(ReadXattrSet(Table(f)->xattrs(), "ResyncBlock").ok());
}

TEST(FieldCodecTest, EveryPathKindRoundTrips) {
  for (PathKind kind : {PathKind::kAbsent, PathKind::kFile, PathKind::kDirectory,
                        PathKind::kSymlink, PathKind::kFifo, PathKind::kSocket}) {
    const absl::StatusOr<PathKind> read = FromWire(Table("f", nullptr, {}, kind)->node_kind(), "");
    ASSERT_TRUE(read.ok());
    EXPECT_EQ(*read, kind);
  }
}

TEST(FieldCodecTest, APathKindNoWriterKnowsIsRefused) {
  ExpectRefused(FromWire(static_cast<fb::PathKind>(6), "ResyncBlock 'db'"),
                {"ResyncBlock 'db' has unknown path kind 6"});
  ExpectRefused(FromWire(static_cast<fb::PathKind>(255), "mknod"), {"unknown path kind 255"});
}

TEST(FieldCodecTest, QuotedEscapesControlBytes) {
  EXPECT_EQ(Quoted("plain"), "'plain'");
  EXPECT_EQ(Quoted("a\nb\tc"), "'a\\nb\\tc'");
  // A byte after a hex escape that reads as a hex digit is escaped too, so it stays apart.
  EXPECT_EQ(Quoted(std::string("\0\x1b[2J", 5)), "'\\x00\\x1b[2J'");
  EXPECT_EQ(Quoted(std::string("\0c", 2)), "'\\x00\\x63'");
}

}  // namespace
}  // namespace duet::wire
