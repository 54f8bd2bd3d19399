// The digest a resync compares zones by (adapters/store/zone_digest.h), read through
// BackingStore::ReadZone on real files: equal for equal zones of two files, different for any
// byte, size or hole layout that differs, a hole never equal to written zeros.

#include "adapters/store/zone_digest.h"

#include <string>

#include "adapters/store/backing_store.h"
#include "gtest/gtest.h"
#include "tests/adapters/store/store_test_util.h"

namespace duet::store::testing {
namespace {

constexpr uint64_t kZone = 64 << 10;
constexpr uint32_t kPunch = kFallocatePunchHole | kFallocateKeepSize;

Mutation Punch(std::string path, uint64_t offset, uint64_t length) {
  Mutation m = MakeMutation(MutationKind::kFallocate, std::move(path));
  m.offset = offset;
  m.length = length;
  m.fallocate_mode = kPunch;
  return m;
}

class ZoneDigestTest : public StoreFixture {
 protected:
  std::string DigestOf(const std::string& path, uint64_t zone) {
    const ZoneRead read = store_->ReadZone(1, path, zone * kZone, kZone, ZoneReadContent::kDigest);
    EXPECT_TRUE(read.status.ok()) << read.status;
    EXPECT_EQ(read.kind, PathKind::kFile);
    EXPECT_EQ(read.data, nullptr);  // a digest only
    EXPECT_EQ(read.digest.size(), kZoneDigestBytes);
    return read.digest;
  }
};

TEST_F(ZoneDigestTest, EqualZonesOfTwoFilesHaveTheSameDigestAndAnyByteChangesIt) {
  ASSERT_TRUE(Apply(Write("a", 0, std::string(3 * kZone, 'x'))).ok());
  ASSERT_TRUE(Apply(Write("b", 0, std::string(3 * kZone, 'x'))).ok());
  EXPECT_EQ(DigestOf("a", 1), DigestOf("b", 1));
  ASSERT_TRUE(Apply(Write("b", kZone + 77, "y")).ok());
  EXPECT_NE(DigestOf("a", 1), DigestOf("b", 1));
  EXPECT_EQ(DigestOf("a", 0), DigestOf("b", 0));
}

TEST_F(ZoneDigestTest, TheSameZoneOfFilesOfAnotherSizeDiffers) {
  ASSERT_TRUE(Apply(Write("a", 0, std::string(3 * kZone, 'x'))).ok());
  ASSERT_TRUE(Apply(Write("b", 0, std::string(3 * kZone + 1, 'x'))).ok());
  EXPECT_NE(DigestOf("a", 0), DigestOf("b", 0));
}

// A hole and written zeros are the same bytes but not the same zone: the resync that follows
// gives the target the source's layout.
TEST_F(ZoneDigestTest, AHoleDiffersFromWrittenZerosAndEqualsAnotherHole) {
  ASSERT_TRUE(Apply(Write("zeros", 0, std::string(2 * kZone, '\0'))).ok());
  ASSERT_TRUE(Apply(Write("hole", 0, std::string(2 * kZone, 'x'))).ok());
  ASSERT_TRUE(Apply(Punch("hole", 0, kZone)).ok());
  ASSERT_TRUE(Apply(Write("hole2", 0, std::string(2 * kZone, 'y'))).ok());
  ASSERT_TRUE(Apply(Punch("hole2", 0, kZone)).ok());
  ASSERT_TRUE(store_->ReadZone(1, "hole", 0, kZone).hole);
  EXPECT_NE(DigestOf("hole", 0), DigestOf("zeros", 0));
  EXPECT_EQ(DigestOf("hole", 0), DigestOf("hole2", 0));
  // Half a zone punched: the hole ranges count too.
  ASSERT_TRUE(Apply(Write("part", 0, std::string(kZone, '\0'))).ok());
  ASSERT_TRUE(Apply(Write("part", kZone, std::string(kZone, 'x'))).ok());
  ASSERT_TRUE(Apply(Punch("part", kZone, kZone / 2)).ok());
  ASSERT_TRUE(Apply(Write("half", kZone, std::string(kZone, 'x'))).ok());
  ASSERT_TRUE(Apply(Write("half", kZone, std::string(kZone / 2, '\0'))).ok());
  ASSERT_TRUE(Apply(Write("half", 0, std::string(kZone, '\0'))).ok());
  EXPECT_NE(DigestOf("part", 1), DigestOf("half", 1));
}

// A hole is the zone's real content: zeros up to the end of the file, never "no bytes".
TEST_F(ZoneDigestTest, AHoleAtTheEndOfAFileDiffersFromAZonePastTheEnd) {
  ASSERT_TRUE(Apply(Write("a", 0, "x")).ok());
  ASSERT_TRUE(Apply(Truncate("a", 2 * kZone)).ok());
  ASSERT_TRUE(Apply(Write("b", 0, "x")).ok());
  ASSERT_TRUE(Apply(Truncate("b", 2 * kZone)).ok());
  EXPECT_EQ(DigestOf("a", 1), DigestOf("b", 1));
  EXPECT_NE(DigestOf("a", 1), DigestOf("a", 2));
  EXPECT_EQ(DigestOf("a", 2), DigestOf("b", 2));  // both past the end, of equal size
}

// With the data too (the source's read): the same digest as a digest-only read, and the
// bytes as a plain read has them.
TEST_F(ZoneDigestTest, DataAndDigestReadCarriesBoth) {
  ASSERT_TRUE(Apply(Write("a", 0, std::string(kZone, 'x'))).ok());
  const ZoneRead both = store_->ReadZone(1, "a", 0, kZone, ZoneReadContent::kDataAndDigest);
  ASSERT_TRUE(both.status.ok()) << both.status;
  ASSERT_NE(both.data, nullptr);
  EXPECT_EQ(*both.data, std::string(kZone, 'x'));
  EXPECT_EQ(both.digest, DigestOf("a", 0));
  EXPECT_TRUE(store_->ReadZone(2, "a", 0, kZone).digest.empty());  // not asked
}

TEST_F(ZoneDigestTest, ADirectoryHasNoDigest) {
  ASSERT_TRUE(Apply(WithMode(MutationKind::kMkdir, "d", 0755)).ok());
  const ZoneRead read = store_->ReadZone(1, "d", 0, kZone, ZoneReadContent::kDigest);
  ASSERT_TRUE(read.status.ok()) << read.status;
  EXPECT_EQ(read.kind, PathKind::kDirectory);
  EXPECT_TRUE(read.digest.empty());
}

}  // namespace
}  // namespace duet::store::testing
