// engine/replication/repl_messages.h: DescribeReplMessage, the one line a trace shows for
// each replication message. A trace is read to find which message did what, so each line
// names its kind and the fields that tell two messages of that kind apart.
#include "engine/replication/repl_messages.h"

#include <gtest/gtest.h>

#include <string>

namespace duet {
namespace {

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(ReplMessagesTest, AWriteIsDescribedAsTheHeaderShowsIt) {
  ReplWrite w;
  w.lsn = 3;
  w.mutation = MakeMutation(MutationKind::kWrite, "f");
  w.mutation.data = MakePayload("x");
  EXPECT_EQ(DescribeReplMessage(w), "write lsn 3 write f @0 +1");
}

TEST(ReplMessagesTest, ARenameShowsBothNames) {
  ReplWrite w;
  w.lsn = 9;
  w.mutation = MakeMutation(MutationKind::kRename, "old", "new");
  EXPECT_EQ(DescribeReplMessage(w), "write lsn 9 rename old -> new @0 +0");
}

// A fallocate carries no data: its length and mode say what it does.
TEST(ReplMessagesTest, AFallocateShowsItsLengthAndModeInsteadOfData) {
  ReplWrite w;
  w.lsn = 4;
  w.mutation = MakeMutation(MutationKind::kFallocate, "vm.img");
  w.mutation.offset = 4096;
  w.mutation.length = 8192;
  w.mutation.fallocate_mode = kFallocatePunchHole | kFallocateKeepSize;
  EXPECT_EQ(DescribeReplMessage(w),
            "write lsn 4 fallocate vm.img @4096 +8192 punch-hole|keep-size");
}

TEST(ReplMessagesTest, AHelloShowsItsEpochGenerationsAndOnlyTheFlagsSet) {
  ReplHello h;
  h.epoch = 5;
  h.answers = 4;
  h.gens.current = 77;
  h.gens.bitmap = 66;
  h.stream_start = 12;
  h.zone_size = 65536;
  EXPECT_EQ(DescribeReplMessage(h),
            "hello epoch 5 answers 4 current 77 bitmap 66 zone-size 65536 stream-start 12");
  h.primary = true;
  h.inconsistent = true;
  h.crashed = true;
  h.dirty = true;
  h.alone_acked = true;
  h.discard = true;
  h.joined = true;
  h.disk_failed = true;
  h.keep_aside_failed = true;
  // Every flag the session decision reads shows in the trace.
  EXPECT_EQ(DescribeReplMessage(h),
            "hello epoch 5 answers 4 current 77 bitmap 66 primary inconsistent crashed dirty "
            "alone-acked discard joined disk-failed keep-aside-failed zone-size 65536 "
            "stream-start 12");
}

TEST(ReplMessagesTest, TargetZonesShowTheirCountAndWhetherDigestsCome) {
  ReplTargetZones z;
  z.path = "db/file";
  z.zones = {1, 2, 3};
  EXPECT_EQ(DescribeReplMessage(z), "target zones 'db/file' count 3");
  z.digests = {"a", "b", "c"};
  z.last = true;
  EXPECT_EQ(DescribeReplMessage(z), "target zones 'db/file' count 3 with digests last");
}

TEST(ReplMessagesTest, AcksShowBothLevels) {
  EXPECT_EQ(DescribeReplMessage(ReplAck{.module = "m", .done_lsn = 8, .durable_lsn = 6}),
            "ack done 8 durable 6");
  EXPECT_EQ(DescribeReplMessage(
                ResyncBlockAck{.module = "m", .block_id = 2, .stale = true, .durable = false}),
            "block ack 2 stale");
  EXPECT_EQ(DescribeReplMessage(
                ResyncBlockAck{.module = "m", .block_id = 3, .stale = false, .durable = true}),
            "block ack 3 durable");
}

TEST(ReplMessagesTest, ABlockShowsWhereItGoesAndWhatItIs) {
  ResyncBlock b;
  b.block_id = 7;
  b.path = "a/b";
  b.zone = 2;
  b.read_lsn = 40;
  b.kind = PathKind::kFile;
  b.file_size = 200000;
  EXPECT_EQ(DescribeReplMessage(b), "block 7 a/b zone 2 read_lsn 40 kind 1 size 200000");
  b.hole = true;
  EXPECT_TRUE(Has(DescribeReplMessage(b), " hole"));
  b.hole = false;
  b.hole_ranges = {{0, 10}, {20, 30}};
  EXPECT_TRUE(Has(DescribeReplMessage(b), " 2 holes in it"));
  b.link_of = "a/first";
  EXPECT_TRUE(Has(DescribeReplMessage(b), " link of a/first"));
}

TEST(ReplMessagesTest, ResyncSameDoneAndOutcomeNameTheirSubject) {
  EXPECT_EQ(DescribeReplMessage(ResyncSame{.module = "m", .block_id = 4, .path = "p", .zone = 9}),
            "same 4 p zone 9");
  EXPECT_EQ(DescribeReplMessage(ResyncDone{.module = "m", .current = 31, .requests_seen = 2}),
            "resync done 31 requests seen 2");
  EXPECT_EQ(DescribeReplMessage(ReplApplyOutcome{.module = "m", .lsn = 12, .refused = true}),
            "lsn 12 refused by the sender");
  EXPECT_EQ(DescribeReplMessage(ReplApplyOutcome{.module = "m", .lsn = 12, .refused = false}),
            "lsn 12 applied by the sender");
}

}  // namespace
}  // namespace duet
