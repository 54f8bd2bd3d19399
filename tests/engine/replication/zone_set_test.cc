// ZoneSet: the zone numbers of one file, compact for both a few scattered zones and a
// whole huge file (engine/replication/zone_set.h). The dirty map and the activity log's hot
// zones are made of them; a resync walks them in ascending order.
#include "engine/replication/zone_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <set>
#include <vector>

namespace duet {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr uint64_t kChunk = 4096;  // zones per chunk (zone_set.h)

std::vector<uint64_t> Zones(const ZoneSet& s) {
  std::vector<uint64_t> zones;
  s.ForEach([&](uint64_t z) { zones.push_back(z); });
  return zones;
}

TEST(ZoneSetTest, EmptySetHasNoZones) {
  ZoneSet s;
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.size(), 0u);
  EXPECT_FALSE(s.Contains(0));
  EXPECT_THAT(Zones(s), IsEmpty());
}

TEST(ZoneSetTest, InsertReportsWhetherTheZoneIsNew) {
  ZoneSet s;
  EXPECT_TRUE(s.Insert(7));
  EXPECT_FALSE(s.Insert(7));
  EXPECT_TRUE(s.Contains(7));
  EXPECT_FALSE(s.Contains(6));
  EXPECT_FALSE(s.Contains(8));
  EXPECT_EQ(s.size(), 1u);
}

TEST(ZoneSetTest, InsertRangeCountsOnlyNewZones) {
  ZoneSet s;
  s.Insert(3);
  s.Insert(5);
  EXPECT_EQ(s.InsertRange(2, 6), 3u);  // 2, 4, 6
  EXPECT_EQ(s.InsertRange(2, 6), 0u);
  EXPECT_EQ(s.size(), 5u);
  EXPECT_THAT(Zones(s), ElementsAre(2, 3, 4, 5, 6));
}

TEST(ZoneSetTest, InsertRangeIsInclusiveOfBothEnds) {
  ZoneSet s;
  EXPECT_EQ(s.InsertRange(10, 10), 1u);
  EXPECT_EQ(s.InsertRange(20, 22), 3u);
  EXPECT_THAT(Zones(s), ElementsAre(10, 20, 21, 22));
}

TEST(ZoneSetTest, RangeAcrossChunkBoundariesIsWhole) {
  ZoneSet s;
  const uint64_t first = kChunk - 2;
  const uint64_t last = 3 * kChunk + 1;
  EXPECT_EQ(s.InsertRange(first, last), last - first + 1);
  EXPECT_EQ(s.size(), last - first + 1);
  EXPECT_FALSE(s.Contains(first - 1));
  EXPECT_TRUE(s.Contains(first));
  EXPECT_TRUE(s.Contains(kChunk));
  EXPECT_TRUE(s.Contains(2 * kChunk + 77));
  EXPECT_TRUE(s.Contains(last));
  EXPECT_FALSE(s.Contains(last + 1));
}

TEST(ZoneSetTest, ForEachIsAscendingAcrossSparseAndDenseChunks) {
  ZoneSet s;
  s.InsertRange(5 * kChunk, 5 * kChunk + 999);  // a dense chunk (past the array size)
  s.Insert(1'000'000'000);                      // far away
  s.Insert(3);
  s.Insert(5 * kChunk + 2000);
  std::vector<uint64_t> expected = {3};
  for (uint64_t z = 5 * kChunk; z <= 5 * kChunk + 999; ++z) expected.push_back(z);
  expected.push_back(5 * kChunk + 2000);
  expected.push_back(1'000'000'000);
  EXPECT_EQ(Zones(s), expected);
}

TEST(ZoneSetTest, ForEachWhileStopsWhenAsked) {
  ZoneSet s;
  s.InsertRange(0, 9);
  s.InsertRange(kChunk, kChunk + 999);
  std::vector<uint64_t> seen;
  EXPECT_FALSE(s.ForEachWhile([&](uint64_t z) {
    seen.push_back(z);
    return z < 5;
  }));
  EXPECT_THAT(seen, ElementsAre(0, 1, 2, 3, 4, 5));
  // In a bitmap chunk too.
  seen.clear();
  EXPECT_FALSE(s.ForEachWhile([&](uint64_t z) {
    seen.push_back(z);
    return z < kChunk + 1;
  }));
  EXPECT_EQ(seen.size(), 12u);
  EXPECT_EQ(seen.back(), kChunk + 1);
  // Never stopped: every zone, and true.
  uint64_t count = 0;
  EXPECT_TRUE(s.ForEachWhile([&](uint64_t) { return ++count > 0; }));
  EXPECT_EQ(count, s.size());
}

TEST(ZoneSetTest, EraseRemovesOneZone) {
  ZoneSet s;
  s.InsertRange(1, 3);
  EXPECT_TRUE(s.Erase(2));
  EXPECT_FALSE(s.Erase(2));
  EXPECT_FALSE(s.Erase(100));
  EXPECT_FALSE(s.Erase(10 * kChunk));  // in a chunk never used
  EXPECT_THAT(Zones(s), ElementsAre(1, 3));
  EXPECT_EQ(s.size(), 2u);
}

TEST(ZoneSetTest, EraseFromDenseChunkKeepsTheRest) {
  ZoneSet s;
  s.InsertRange(0, kChunk - 1);  // one full chunk: a bitmap
  EXPECT_TRUE(s.Erase(100));
  EXPECT_FALSE(s.Contains(100));
  EXPECT_TRUE(s.Contains(99));
  EXPECT_TRUE(s.Contains(101));
  EXPECT_EQ(s.size(), kChunk - 1);
}

TEST(ZoneSetTest, ErasingEveryZoneLeavesAnEmptySet) {
  ZoneSet s;
  s.InsertRange(0, 299);  // a bitmap chunk
  s.Insert(kChunk + 1);   // an array chunk
  for (uint64_t z = 0; z < 300; ++z) EXPECT_TRUE(s.Erase(z));
  EXPECT_TRUE(s.Erase(kChunk + 1));
  EXPECT_TRUE(s.empty());
  EXPECT_THAT(Zones(s), IsEmpty());
  EXPECT_EQ(s.MemoryBytes(), ZoneSet().MemoryBytes());  // no empty chunk left behind
}

TEST(ZoneSetTest, EraseFromDropsEveryZoneAtOrAbove) {
  ZoneSet s;
  s.InsertRange(0, 9);
  s.InsertRange(kChunk - 5, kChunk + 500);
  s.Insert(7 * kChunk);
  s.EraseFrom(kChunk + 10);
  EXPECT_TRUE(s.Contains(kChunk + 9));
  EXPECT_FALSE(s.Contains(kChunk + 10));
  EXPECT_FALSE(s.Contains(7 * kChunk));
  EXPECT_EQ(s.size(), 10u + 5u + 10u);
  s.EraseFrom(5);
  EXPECT_THAT(Zones(s), ElementsAre(0, 1, 2, 3, 4));
  s.EraseFrom(0);
  EXPECT_TRUE(s.empty());
}

TEST(ZoneSetTest, EraseFromAtAChunkBoundary) {
  ZoneSet s;
  s.InsertRange(kChunk - 1, 2 * kChunk);
  s.EraseFrom(kChunk);
  EXPECT_THAT(Zones(s), ElementsAre(kChunk - 1));
}

TEST(ZoneSetTest, MergeIsUnion) {
  ZoneSet a;
  a.InsertRange(1, 3);
  a.Insert(2 * kChunk);
  ZoneSet b;
  b.InsertRange(3, 5);
  b.InsertRange(kChunk, kChunk + 400);
  a.Merge(b);
  EXPECT_EQ(a.size(), 5u + 401u + 1u);
  EXPECT_TRUE(a.Contains(5));
  EXPECT_TRUE(a.Contains(kChunk + 400));
  EXPECT_TRUE(a.Contains(2 * kChunk));
  EXPECT_EQ(b.size(), 3u + 401u);  // the other set is unchanged
}

TEST(ZoneSetTest, ClearEmptiesTheSet) {
  ZoneSet s;
  s.InsertRange(0, 3 * kChunk);
  s.clear();
  EXPECT_TRUE(s.empty());
  EXPECT_FALSE(s.Contains(0));
  EXPECT_TRUE(s.Insert(0));
}

TEST(ZoneSetTest, CopyIsIndependent) {
  // ZoneSet is copied with the durable state it belongs to: the bitmap is not shared.
  ZoneSet a;
  a.InsertRange(0, kChunk - 1);
  ZoneSet b = a;
  b.Erase(5);
  EXPECT_TRUE(a.Contains(5));
  EXPECT_EQ(a.size(), kChunk);
  ZoneSet c;
  c = b;
  c.Insert(5);
  EXPECT_FALSE(b.Contains(5));
}

TEST(ZoneSetTest, WholeTerabyteFileCostsAboutTwoMebibytes) {
  // zone_set.h: every zone of a 1 TiB file (16 Mi zones of 64 KiB) costs 2 MiB.
  ZoneSet s;
  const uint64_t zones = (1ull << 40) / (64 << 10);
  EXPECT_EQ(s.InsertRange(0, zones - 1), zones);
  EXPECT_EQ(s.size(), zones);
  EXPECT_TRUE(s.Contains(zones - 1));
  EXPECT_FALSE(s.Contains(zones));
  EXPECT_GE(s.MemoryBytes(), 2u << 20);
  EXPECT_LE(s.MemoryBytes(), (2u << 20) + (2u << 20) / 8);  // the bitmaps plus ~12% overhead
}

TEST(ZoneSetTest, FewZonesCostFarLessThanABitmap) {
  // A chunk of a few zones costs its array, not the 512-byte bitmap.
  ZoneSet s;
  for (uint64_t z = 0; z < 8; ++z) s.Insert(z * 100);
  EXPECT_LT(s.MemoryBytes() - ZoneSet().MemoryBytes(), 512u);
}

TEST(ZoneSetTest, ManyZonesInOneChunkCostAtMostABitmap) {
  ZoneSet s;
  for (uint64_t z = 0; z < kChunk; z += 2) s.Insert(z);  // 2048 zones, every other one
  EXPECT_EQ(s.size(), kChunk / 2);
  EXPECT_LE(s.MemoryBytes() - ZoneSet().MemoryBytes(), 512u + 64u);
}

TEST(ZoneSetTest, LargeSparseSetKeepsEveryZone) {
  // A hundred thousand zones spread far apart (one per chunk) over a huge range of numbers.
  ZoneSet s;
  const uint64_t n = 100'000;
  const uint64_t stride = 123'457 * kChunk + 17;
  for (uint64_t i = 0; i < n; ++i) ASSERT_TRUE(s.Insert(i * stride));
  EXPECT_EQ(s.size(), n);
  uint64_t i = 0;
  s.ForEach([&](uint64_t z) { EXPECT_EQ(z, i++ * stride); });
  EXPECT_EQ(i, n);
  EXPECT_TRUE(s.Contains(77 * stride));
  EXPECT_FALSE(s.Contains(77 * stride + 1));
  // A few dozen bytes per scattered zone, nowhere near a bitmap each.
  EXPECT_LT(s.MemoryBytes(), n * 128);
}

// Property: any sequence of operations leaves the set equal to a std::set doing the same.
RC_GTEST_PROP(ZoneSetTest, BehavesAsAnOrderedSetOfZones, ()) {
  ZoneSet s;
  std::set<uint64_t> model;
  // Zones drawn near a few chunk boundaries, so arrays, bitmaps and conversions all occur.
  const auto zone = rc::gen::map(
      rc::gen::pair(rc::gen::inRange<uint64_t>(0, 4), rc::gen::inRange<uint64_t>(0, 2 * kChunk)),
      [](std::pair<uint64_t, uint64_t> p) { return p.first * 3 * kChunk + p.second; });
  const int ops = *rc::gen::inRange(1, 200);
  for (int i = 0; i < ops; ++i) {
    const int op = *rc::gen::inRange(0, 10);
    if (op < 4) {
      const uint64_t first = *zone;
      const uint64_t len = *rc::gen::inRange<uint64_t>(0, op == 0 ? 1200 : 40);
      uint64_t added = 0;
      for (uint64_t z = first; z <= first + len; ++z) added += model.insert(z).second ? 1 : 0;
      RC_ASSERT(s.InsertRange(first, first + len) == added);
    } else if (op < 7) {
      const uint64_t z = *zone;
      RC_ASSERT(s.Erase(z) == (model.erase(z) == 1));
    } else if (op == 7) {
      const uint64_t z = *zone;
      s.EraseFrom(z);
      model.erase(model.lower_bound(z), model.end());
    } else if (op == 8) {
      ZoneSet other;
      const uint64_t first = *zone;
      other.InsertRange(first, first + *rc::gen::inRange<uint64_t>(0, 600));
      other.ForEach([&](uint64_t z) { model.insert(z); });
      s.Merge(other);
    } else {
      const uint64_t z = *zone;
      RC_ASSERT(s.Contains(z) == model.contains(z));
    }
    RC_ASSERT(s.size() == model.size());
  }
  RC_ASSERT(Zones(s) == std::vector<uint64_t>(model.begin(), model.end()));
  std::vector<uint64_t> prefix;
  const size_t stop = model.size() / 2;
  s.ForEachWhile([&](uint64_t z) {
    prefix.push_back(z);
    return prefix.size() <= stop;
  });
  RC_ASSERT(prefix.size() == std::min(stop + 1, model.size()));
}

}  // namespace
}  // namespace duet
