// Wire version 3: a write's and a resync block's data travel after the FlatBuffer (the tail),
// by reference on the way out and in the receiver's own buffer on the way in; a tail that is
// forged, truncated, padded, oversized or misplaced is refused with a reason.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/replication/mutation.h"
#include "engine/replication/repl_messages.h"
#include "engine/wire/codec.h"
#include "engine/wire/duet_generated.h"
#include "flatbuffers/flatbuffers.h"

namespace duet::wire {
namespace {

using flatbuffers::FlatBufferBuilder;

::testing::AssertionResult FailsWith(const absl::StatusOr<ReplMessage>& result,
                                     std::string_view fragment) {
  if (result.ok()) return ::testing::AssertionFailure() << "decoded, expected: " << fragment;
  if (result.status().code() != absl::StatusCode::kInvalidArgument) {
    return ::testing::AssertionFailure() << "wrong code: " << result.status();
  }
  const std::string message(result.status().message());
  if (message.find(fragment) == std::string::npos) {
    return ::testing::AssertionFailure()
           << "message \"" << message << "\" lacks \"" << fragment << "\"";
  }
  return ::testing::AssertionSuccess();
}

ReplWrite WriteOf(Payload data, uint64_t offset = 4096) {
  Mutation m;
  m.kind = MutationKind::kWrite;
  m.path = "db/table.dat";
  m.offset = offset;
  m.data = std::move(data);
  return ReplWrite{"db", 7, m};
}

ResyncBlock BlockOf(Payload data) {
  ResyncBlock block;
  block.module = "db";
  block.block_id = 3;
  block.path = "db/table.dat";
  block.zone = 2;
  block.data = std::move(data);
  block.file_size = 1 << 22;
  block.mode = 0640;
  return block;
}

Payload Bytes(size_t size, char fill = 'd') { return MakePayload(std::string(size, fill)); }

std::vector<uint8_t> Joined(const ReplicationParts& parts) {
  std::vector<uint8_t> out = parts.head;
  if (parts.tail) out.insert(out.end(), parts.tail->begin(), parts.tail->end());
  return out;
}

// A hand-built ReplWrite head whose mutation has `kind`, inline `data` (absent if null) and
// announces `tail_bytes` after it.
std::vector<uint8_t> WriteHead(fb::MutationKind kind, const char* data, uint32_t tail_bytes) {
  FlatBufferBuilder builder;
  const auto path = builder.CreateString("f");
  flatbuffers::Offset<flatbuffers::Vector<uint8_t>> inline_data = 0;
  if (data != nullptr) {
    inline_data = builder.CreateVector(reinterpret_cast<const uint8_t*>(data), strlen(data));
  }
  fb::MutationBuilder mutation(builder);
  mutation.add_kind(kind);
  mutation.add_path(path);
  if (data != nullptr) mutation.add_data(inline_data);
  const auto m = mutation.Finish();
  const auto module = builder.CreateString("db");
  const auto body = fb::CreateReplWrite(builder, module, 1, m);
  const auto frame =
      fb::CreateFrame(builder, kWireVersion, fb::Message::ReplWrite, body.Union(), tail_bytes);
  fb::FinishSizePrefixedFrameBuffer(builder, frame);
  return {builder.GetBufferPointer(), builder.GetBufferPointer() + builder.GetSize()};
}

TEST(WireTail, AWritesDataGoesUncopiedAfterASmallHeadAndDecodesIntoTheSameBuffer) {
  const Payload data = Bytes(1 << 20);
  const ReplicationParts parts = EncodeReplicationParts(WriteOf(data));
  EXPECT_EQ(parts.tail.get(), data.get());  // by reference: no copy on the way out
  EXPECT_LT(parts.head.size(), 256u);
  EXPECT_EQ(flatbuffers::GetSizePrefixedRoot<fb::Frame>(parts.head.data())->version(),
            kWireVersion);

  const absl::StatusOr<ReplMessage> decoded = DecodeReplication(parts.head, parts.tail);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  const ReplWrite& write = std::get<ReplWrite>(*decoded);
  EXPECT_EQ(write.mutation.data.get(), data.get());  // and none on the way in
  EXPECT_EQ(write.lsn, 7u);
  EXPECT_EQ(write.mutation.path, "db/table.dat");
  EXPECT_EQ(write.mutation.offset, 4096u);
}

TEST(WireTail, TheJoinedFrameIsHeadThenTailAndDecodesAlike) {
  const Payload data = Bytes(3000, 'x');
  const ReplicationParts parts = EncodeReplicationParts(WriteOf(data));
  const std::vector<uint8_t> joined = EncodeReplication(WriteOf(data));
  EXPECT_EQ(joined, Joined(parts));
  const absl::StatusOr<ReplMessage> decoded = DecodeReplication(joined);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*std::get<ReplWrite>(*decoded).mutation.data, *data);
}

TEST(WireTail, AResyncBlocksDataIsATailToo) {
  const Payload data = Bytes(1 << 16, 'z');
  ResyncBlock block = BlockOf(data);
  block.hole_ranges = {HoleRange{100, 200}};
  const ReplicationParts parts = EncodeReplicationParts(block);
  EXPECT_EQ(parts.tail.get(), data.get());
  const absl::StatusOr<ReplMessage> decoded = DecodeReplication(parts.head, parts.tail);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  const ResyncBlock& out = std::get<ResyncBlock>(*decoded);
  EXPECT_EQ(out.data.get(), data.get());
  EXPECT_EQ(out.hole_ranges, block.hole_ranges);
  EXPECT_EQ(out.zone, 2u);
}

TEST(WireTail, EmptyOrAbsentDataAndXattrValuesStayInTheHead) {
  for (const Payload& data : {Payload(), MakePayload("")}) {
    const ReplicationParts parts = EncodeReplicationParts(WriteOf(data));
    EXPECT_EQ(parts.tail, nullptr);
    const absl::StatusOr<ReplMessage> decoded = DecodeReplication(parts.head, nullptr);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    // Null and empty payloads stay apart.
    EXPECT_EQ(std::get<ReplWrite>(*decoded).mutation.data == nullptr, data == nullptr);
  }
  ReplWrite setxattr = WriteOf(MakePayload("value"));
  setxattr.mutation.kind = MutationKind::kSetxattr;
  setxattr.mutation.offset = 0;
  setxattr.mutation.xattr_name = "user.x";
  EXPECT_EQ(EncodeReplicationParts(setxattr).tail, nullptr);
}

TEST(WireTail, ATruncatedPaddedOrMissingTailIsRefused) {
  const ReplicationParts parts = EncodeReplicationParts(WriteOf(Bytes(5000)));
  EXPECT_TRUE(FailsWith(DecodeReplication(parts.head, Bytes(4999)),
                        "frame announces 5000 bytes of data after it, 4999 follow"));
  EXPECT_TRUE(FailsWith(DecodeReplication(parts.head, Bytes(5001)),
                        "frame announces 5000 bytes of data after it, 5001 follow"));
  EXPECT_TRUE(FailsWith(DecodeReplication(parts.head, nullptr),
                        "frame announces 5000 bytes of data after it, 0 follow"));
  // The joined form cut inside the tail, or padded after it.
  std::vector<uint8_t> joined = Joined(parts);
  joined.pop_back();
  EXPECT_TRUE(FailsWith(DecodeReplication(joined), "4999 follow"));
  joined.push_back(0);
  joined.push_back(0);
  EXPECT_TRUE(FailsWith(DecodeReplication(joined), "5001 follow"));
}

TEST(WireTail, ATailOnAMessageWithoutDataIsRefused) {
  const ReplAck ack{"db", 4, 3};
  const std::vector<uint8_t> head = EncodeReplication(ack);
  // The head announces no tail, so the tail is refused as such first.
  EXPECT_TRUE(FailsWith(DecodeReplication(head, Bytes(10)), "announces 0 bytes"));
  // A head that announces one for a mutation other than a write.
  EXPECT_TRUE(FailsWith(
      DecodeReplication(WriteHead(fb::MutationKind::Truncate, nullptr, 3), MakePayload("abc")),
      "truncate mutation has 3 bytes of data after the frame"));
  EXPECT_TRUE(FailsWith(
      DecodeReplication(WriteHead(fb::MutationKind::Unlink, nullptr, 3), MakePayload("abc")),
      "only a write without data in the frame may"));
}

TEST(WireTail, DataBothInTheHeadAndAfterItIsRefused) {
  EXPECT_TRUE(
      FailsWith(DecodeReplication(WriteHead(fb::MutationKind::Write, "in", 3), MakePayload("out")),
                "write mutation has 3 bytes of data after the frame"));
  // The same head without the tail it announces.
  EXPECT_TRUE(FailsWith(DecodeReplication(WriteHead(fb::MutationKind::Write, "in", 3), nullptr),
                        "announces 3 bytes"));
}

TEST(WireTail, AnOversizedTailIsRefused) {
  const ReplicationParts write = EncodeReplicationParts(WriteOf(Bytes(kMaxWriteBytes + 1)));
  EXPECT_TRUE(FailsWith(DecodeReplication(write.head, write.tail),
                        "with 4194305 bytes of data exceeds limit 4194304"));
  const ReplicationParts block = EncodeReplicationParts(BlockOf(Bytes(kMaxResyncBlockBytes + 1)));
  EXPECT_TRUE(FailsWith(DecodeReplication(block.head, block.tail),
                        "with 4194305 bytes of data exceeds limit 4194304"));
  // Head and tail together are held to the frame limit before anything is read.
  const ReplicationParts huge = EncodeReplicationParts(WriteOf(Bytes(kMaxReplicationFrameBytes)));
  EXPECT_TRUE(FailsWith(DecodeReplication(huge.head, huge.tail), "exceeds limit 8454144"));
  // A write whose tail ends past the largest file offset.
  const ReplicationParts far = EncodeReplicationParts(WriteOf(Bytes(10), uint64_t{INT64_MAX} - 5));
  EXPECT_TRUE(FailsWith(DecodeReplication(far.head, far.tail), "ends past the largest file"));
}

}  // namespace
}  // namespace duet::wire
