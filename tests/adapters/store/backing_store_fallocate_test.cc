// fallocate applied to a real directory, and holes as a resync reads them (issues 12 and
// 15): sizes and bytes as `stat` and `cat` show them, holes as SEEK_DATA/SEEK_HOLE and
// st_blocks show them.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "adapters/errno_payload.h"
#include "adapters/store/backing_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/adapters/store/store_test_util.h"

namespace duet::store::testing {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kZone = 64 << 10;
constexpr uint32_t kPunch = kFallocatePunchHole | kFallocateKeepSize;

Mutation Fallocate(std::string path, uint64_t offset, uint64_t length, uint32_t mode) {
  Mutation m = MakeMutation(MutationKind::kFallocate, std::move(path));
  m.offset = offset;
  m.length = length;
  m.fallocate_mode = mode;
  return m;
}

uint64_t AllocatedBytes(const std::string& path) {
  return static_cast<uint64_t>(Lstat(path).st_blocks) * 512;
}

// lseek(SEEK_DATA or SEEK_HOLE) from `offset`, -1 with ENXIO past the last data.
off_t Seek(const std::string& path, off_t offset, int whence) {
  const int fd = open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0) << path;
  const off_t at = lseek(fd, offset, whence);
  close(fd);
  return at;
}

using FallocateTest = StoreFixture;

TEST_F(FallocateTest, AllocateCreatesTheFileAndGrowsItsSizeWithSpaceReserved) {
  ASSERT_TRUE(Apply(Fallocate("img", 0, 1 << 20, 0)).ok());
  EXPECT_EQ(Lstat(At("img")).st_size, 1 << 20);
  EXPECT_GE(AllocatedBytes(At("img")), uint64_t{1} << 20);
  EXPECT_EQ(ReadFile(At("img")), std::string(1 << 20, '\0'));
  EXPECT_EQ(ModeOf(At("img")), 0644u);
}

TEST_F(FallocateTest, KeepSizeReservesSpaceWithoutChangingTheSize) {
  WriteFile(At("db"), "hundred bytes");
  ASSERT_TRUE(Apply(Fallocate("db", 0, 1 << 20, kFallocateKeepSize), /*durable=*/true).ok());
  EXPECT_EQ(ReadFile(At("db")), "hundred bytes");
  EXPECT_GE(AllocatedBytes(At("db")), uint64_t{1} << 20);
}

TEST_F(FallocateTest, PunchHoleLeavesZerosAndAHoleThatSeekDataSkips) {
  WriteFile(At("img"), std::string(3 * kZone, 'x'));
  const uint64_t before = AllocatedBytes(At("img"));
  ASSERT_TRUE(Apply(Fallocate("img", kZone, kZone, kPunch)).ok());
  EXPECT_EQ(ReadFile(At("img")),
            std::string(kZone, 'x') + std::string(kZone, '\0') + std::string(kZone, 'x'));
  EXPECT_EQ(AllocatedBytes(At("img")), before - kZone);
  EXPECT_EQ(Seek(At("img"), 0, SEEK_HOLE), static_cast<off_t>(kZone));
  EXPECT_EQ(Seek(At("img"), kZone, SEEK_DATA), static_cast<off_t>(2 * kZone));
}

TEST_F(FallocateTest, ZeroRangeGrowsTheFileUnlessKeepSize) {
  WriteFile(At("f"), "0123456789");
  ASSERT_TRUE(Apply(Fallocate("f", 5, 100, kFallocateZeroRange)).ok());
  EXPECT_EQ(ReadFile(At("f")), "01234" + std::string(100, '\0'));
  ASSERT_TRUE(Apply(Fallocate("f", 0, 1000, kFallocateZeroRange | kFallocateKeepSize)).ok());
  EXPECT_EQ(ReadFile(At("f")), std::string(105, '\0'));
}

TEST_F(FallocateTest, ModesThatDoNotReplicateAndEmptyRangesAreRefused) {
  WriteFile(At("f"), "data");
  const absl::Status punch_alone = Apply(Fallocate("f", 0, 4, kFallocatePunchHole));
  EXPECT_EQ(punch_alone.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(punch_alone.message()), HasSubstr("mode punch-hole"));
  EXPECT_EQ(Apply(Fallocate("f", 0, 0, 0)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadFile(At("f")), "data");
}

// The errno goes back to the application as the kernel gave it (adapter contract C8).
TEST_F(FallocateTest, KernelRefusalCarriesItsErrno) {
  WriteFile(At("f"), "data");
  const absl::Status too_far = Apply(Fallocate("f", uint64_t{1} << 62, 4096, 0));
  ASSERT_FALSE(too_far.ok());
  EXPECT_THAT(std::string(too_far.message()), HasSubstr("EFBIG: fallocate (allocate"));
  EXPECT_EQ(too_far.GetPayload(kErrnoPayloadUrl), absl::Cord(std::to_string(EFBIG)));
  ASSERT_EQ(mkdir(At("dir").c_str(), 0755), 0);
  EXPECT_FALSE(Apply(Fallocate("dir", 0, 4096, 0)).ok());
}

// ReadZone says hole for a zone with no data in the file, and reads no bytes for it.
TEST_F(FallocateTest, ReadZoneOfAZoneWithoutDataIsAHoleWithoutBytes) {
  WriteFile(At("img"), std::string(3 * kZone, 'x'));
  ASSERT_TRUE(Apply(Fallocate("img", kZone, kZone, kPunch)).ok());
  ZoneRead hole = store_->ReadZone(1, "img", kZone, kZone);
  ASSERT_TRUE(hole.status.ok()) << hole.status;
  EXPECT_EQ(hole.kind, PathKind::kFile);
  EXPECT_TRUE(hole.hole);
  EXPECT_EQ(hole.data, nullptr);
  EXPECT_EQ(hole.file_size, 3 * kZone);
  ZoneRead data = store_->ReadZone(2, "img", 2 * kZone, kZone);
  EXPECT_FALSE(data.hole);
  ASSERT_NE(data.data, nullptr);
  EXPECT_EQ(*data.data, std::string(kZone, 'x'));
  // Partly data: not a hole, the zone's bytes (zeros in its hole) go.
  ASSERT_TRUE(Apply(Fallocate("img", 0, kZone / 2, kPunch)).ok());
  ZoneRead part = store_->ReadZone(3, "img", 0, kZone);
  EXPECT_FALSE(part.hole);
  ASSERT_NE(part.data, nullptr);
  EXPECT_EQ(*part.data, std::string(kZone / 2, '\0') + std::string(kZone / 2, 'x'));
  EXPECT_EQ(part.hole_ranges, (HoleRanges{{0, kZone / 2}}));
  EXPECT_TRUE(data.hole_ranges.empty());
  // Past the end: nothing to punch there, as before.
  ZoneRead past = store_->ReadZone(4, "img", 5 * kZone, kZone);
  EXPECT_FALSE(past.hole);
  ASSERT_NE(past.data, nullptr);
  EXPECT_TRUE(past.data->empty());
}

// A zone read as a hole says where the hole ends, so that the resync sends the zones up to
// there as one block: where SEEK_DATA finds data again, or the end of the file.
TEST_F(FallocateTest, ReadZoneOfAHoleSaysWhereTheHoleEnds) {
  WriteFile(At("img"), std::string(10 * kZone, 'x'));
  ASSERT_TRUE(Apply(Fallocate("img", kZone, 5 * kZone, kPunch)).ok());      // zones 1-5
  ASSERT_TRUE(Apply(Fallocate("img", 8 * kZone, 2 * kZone, kPunch)).ok());  // zones 8-9
  ZoneRead first = store_->ReadZone(1, "img", kZone, kZone);
  ASSERT_TRUE(first.hole);
  EXPECT_EQ(first.hole_end, 6 * kZone);
  ZoneRead inside = store_->ReadZone(2, "img", 3 * kZone, kZone);
  ASSERT_TRUE(inside.hole);
  EXPECT_EQ(inside.hole_end, 6 * kZone);
  ZoneRead last = store_->ReadZone(3, "img", 8 * kZone, kZone);
  ASSERT_TRUE(last.hole);
  EXPECT_EQ(last.hole_end, 10 * kZone);  // no data after it: the end of the file
  ZoneRead data = store_->ReadZone(4, "img", 6 * kZone, kZone);
  EXPECT_FALSE(data.hole);
  EXPECT_EQ(data.hole_end, 0u);
}

TEST_F(FallocateTest, ReadZoneInTheMiddleOfAGibibyteSparseFileIsAHole) {
  WriteFile(At("sparse"), "head");
  ASSERT_TRUE(Apply(Truncate("sparse", uint64_t{1} << 30)).ok());
  ZoneRead tail = store_->ReadZone(1, "sparse", (uint64_t{1} << 30) - kZone, kZone);
  EXPECT_TRUE(tail.hole);
  ZoneRead middle = store_->ReadZone(2, "sparse", uint64_t{1} << 29, kZone);
  EXPECT_TRUE(middle.hole);
  EXPECT_EQ(middle.hole_end, uint64_t{1} << 30);
  ZoneRead head = store_->ReadZone(3, "sparse", 0, kZone);
  EXPECT_FALSE(head.hole);
  ASSERT_NE(head.data, nullptr);
  EXPECT_EQ(head.data->substr(0, 4), "head");
}

// The target's side of a hole block: punching a zone written with data frees it.
TEST_F(FallocateTest, PunchingAResyncedZoneFreesItsSpace) {
  WriteFile(At("copy"), std::string(2 * kZone, 'z'));
  ASSERT_TRUE(Apply(Fallocate("copy", kZone, kZone, kPunch), /*durable=*/true).ok());
  EXPECT_EQ(Seek(At("copy"), kZone, SEEK_DATA), -1);
  EXPECT_EQ(Lstat(At("copy")).st_size, static_cast<off_t>(2 * kZone));
  EXPECT_LE(AllocatedBytes(At("copy")), kZone);
}

}  // namespace
}  // namespace duet::store::testing
