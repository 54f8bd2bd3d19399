// ZoneMap: zones per file path, the dirty map and the activity log's hot zones
// (engine/replication/zone_map.h). Writes mark the zones of their byte range, truncates drop
// zones past the new size, renames and removals keep zones attached to the right names (a
// directory moves or goes with everything under it); a resync plan walks files().
#include "engine/replication/zone_map.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace duet {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr uint32_t kZone = 64 << 10;

// Every (path, zone) in the map, in files() order.
std::vector<std::pair<std::string, uint64_t>> All(const ZoneMap& map) {
  std::vector<std::pair<std::string, uint64_t>> all;
  for (const auto& [path, zones] : map.files()) {
    zones.ForEach([&, p = path](uint64_t z) { all.emplace_back(p, z); });
  }
  return all;
}

TEST(ZoneMapTest, MarkBytesMarksEveryZoneTheRangeTouches) {
  ZoneMap map;
  EXPECT_EQ(map.MarkBytes("f", kZone - 1, 2, kZone), 2u);      // straddles zones 0 and 1
  EXPECT_EQ(map.MarkBytes("f", 3 * kZone, kZone, kZone), 1u);  // exactly zone 3
  EXPECT_THAT(All(map), ElementsAre(Pair("f", 0), Pair("f", 1), Pair("f", 3)));
  EXPECT_EQ(map.zones(), 3u);
}

TEST(ZoneMapTest, MarkBytesOfLengthZeroMarksTheZoneAtOffset) {
  ZoneMap map;
  EXPECT_EQ(map.MarkBytes("f", 5 * kZone + 10, 0, kZone), 1u);
  EXPECT_TRUE(map.Contains("f", 5));
  EXPECT_EQ(map.zones(), 1u);
}

TEST(ZoneMapTest, MarkingAgainCountsOnlyNewZones) {
  ZoneMap map;
  EXPECT_EQ(map.MarkZones("f", 0, 3), 4u);
  EXPECT_EQ(map.MarkZones("f", 2, 5), 2u);
  EXPECT_EQ(map.MarkBytes("f", 0, 6 * kZone, kZone), 0u);
  EXPECT_EQ(map.zones(), 6u);
}

TEST(ZoneMapTest, FilesAreSeparate) {
  ZoneMap map;
  map.MarkZones("a", 1, 1);
  map.MarkZones("b", 2, 2);
  EXPECT_TRUE(map.Contains("a", 1));
  EXPECT_FALSE(map.Contains("a", 2));
  EXPECT_FALSE(map.Contains("b", 1));
  EXPECT_FALSE(map.Contains("c", 1));
  EXPECT_EQ(map.zones(), 2u);
}

TEST(ZoneMapTest, FilesAreInPathOrderAndOnlyThoseWithZones) {
  ZoneMap map;
  map.MarkZones("b", 0, 0);
  map.MarkZones("a/x", 0, 0);
  map.MarkZones("a", 0, 0);
  map.MarkZones("c", 4, 4);
  map.Erase("c", 4);  // its last zone: the file leaves the map
  std::vector<std::string> paths;
  for (const auto& [path, zones] : map.files()) {
    EXPECT_FALSE(zones.empty()) << path;
    paths.push_back(path);
  }
  EXPECT_THAT(paths, ElementsAre("a", "a/x", "b"));
}

TEST(ZoneMapTest, EraseClearsOneZone) {
  ZoneMap map;
  map.MarkZones("f", 0, 2);
  EXPECT_TRUE(map.Erase("f", 1));
  EXPECT_FALSE(map.Erase("f", 1));
  EXPECT_FALSE(map.Erase("g", 0));
  EXPECT_THAT(All(map), ElementsAre(Pair("f", 0), Pair("f", 2)));
  EXPECT_EQ(map.zones(), 2u);
}

TEST(ZoneMapTest, ErasePathRemovesTheFileAndEverythingUnderIt) {
  ZoneMap map;
  map.MarkZones("d", 0, 0);
  map.MarkZones("d/f", 0, 1);
  map.MarkZones("d/e/g", 3, 3);
  map.MarkZones("d2", 0, 0);     // a sibling whose name starts with "d"
  map.MarkZones("d-x/f", 0, 0);  // sorts between "d" and "d/"
  map.MarkZones("c", 0, 0);
  map.ErasePath("d");
  EXPECT_THAT(All(map), ElementsAre(Pair("c", 0), Pair("d-x/f", 0), Pair("d2", 0)));
  EXPECT_EQ(map.zones(), 3u);
}

TEST(ZoneMapTest, ErasePathOfAnUnknownPathChangesNothing) {
  ZoneMap map;
  map.MarkZones("f", 0, 0);
  map.ErasePath("g");
  map.ErasePath("f/x");
  EXPECT_EQ(map.zones(), 1u);
}

TEST(ZoneMapTest, TruncateDropsZonesFromTheNewSize) {
  ZoneMap map;
  map.MarkZones("f", 0, 9);
  map.Truncate("f", 3 * kZone + 1, kZone);  // zone 3 still holds a byte
  EXPECT_TRUE(map.Contains("f", 3));
  EXPECT_FALSE(map.Contains("f", 4));
  EXPECT_EQ(map.zones(), 4u);
  map.Truncate("f", 2 * kZone, kZone);  // exactly at a boundary: zone 2 is gone
  EXPECT_THAT(All(map), ElementsAre(Pair("f", 0), Pair("f", 1)));
  EXPECT_EQ(map.zones(), 2u);
}

TEST(ZoneMapTest, TruncateToZeroRemovesTheFile) {
  ZoneMap map;
  map.MarkZones("f", 0, 9);
  map.MarkZones("g", 0, 0);
  map.Truncate("f", 0, kZone);
  EXPECT_EQ(map.files().size(), 1u);
  EXPECT_EQ(map.zones(), 1u);
  map.Truncate("absent", 0, kZone);  // harmless
  EXPECT_EQ(map.zones(), 1u);
}

TEST(ZoneMapTest, RenameMovesAFileZones) {
  ZoneMap map;
  map.MarkZones("old", 2, 4);
  map.Rename("old", "new");
  EXPECT_THAT(All(map), ElementsAre(Pair("new", 2), Pair("new", 3), Pair("new", 4)));
  EXPECT_EQ(map.zones(), 3u);
}

TEST(ZoneMapTest, RenameReplacesTheDestination) {
  ZoneMap map;
  map.MarkZones("src", 0, 0);
  map.MarkZones("dst", 5, 9);
  map.Rename("src", "dst");
  EXPECT_THAT(All(map), ElementsAre(Pair("dst", 0)));
  EXPECT_EQ(map.zones(), 1u);
}

TEST(ZoneMapTest, RenameOfACleanFileStillDropsTheDestinationZones) {
  // The destination's old file is gone whatever the source's state.
  ZoneMap map;
  map.MarkZones("dst", 5, 9);
  map.Rename("src", "dst");
  EXPECT_TRUE(map.empty());
}

TEST(ZoneMapTest, RenameOfADirectoryMovesEverythingUnderIt) {
  ZoneMap map;
  map.MarkZones("a", 0, 0);  // the directory itself (a name that held zones once)
  map.MarkZones("a/f", 1, 1);
  map.MarkZones("a/sub/g", 2, 2);
  map.MarkZones("ab", 3, 3);     // not under "a"
  map.MarkZones("a.x", 4, 4);    // not under "a" either
  map.MarkZones("b/old", 9, 9);  // under the destination: replaced
  map.Rename("a", "b");
  EXPECT_THAT(All(map), ElementsAre(Pair("a.x", 4), Pair("ab", 3), Pair("b", 0), Pair("b/f", 1),
                                    Pair("b/sub/g", 2)));
  EXPECT_EQ(map.zones(), 5u);
}

TEST(ZoneMapTest, RenameIntoASubdirectoryOfItself) {
  ZoneMap map;
  map.MarkZones("a/f", 1, 1);
  map.Rename("a/f", "a/f.bak");
  map.Rename("a", "x/y/a");
  EXPECT_THAT(All(map), ElementsAre(Pair("x/y/a/f.bak", 1)));
}

TEST(ZoneMapTest, RenameToItselfKeepsItsZones) {
  // rename(2) of a name onto itself succeeds and changes nothing.
  ZoneMap map;
  map.MarkZones("f", 0, 1);
  map.MarkZones("f/x", 0, 0);
  map.Rename("f", "f");
  EXPECT_EQ(map.zones(), 3u);
  EXPECT_TRUE(map.Contains("f", 1));
  EXPECT_TRUE(map.Contains("f/x", 0));
}

TEST(ZoneMapTest, MergeIsUnionPerFile) {
  ZoneMap a;
  a.MarkZones("f", 0, 1);
  ZoneMap b;
  b.MarkZones("f", 1, 2);
  b.MarkZones("g", 7, 7);
  a.Merge(b);
  EXPECT_THAT(All(a), ElementsAre(Pair("f", 0), Pair("f", 1), Pair("f", 2), Pair("g", 7)));
  EXPECT_EQ(a.zones(), 4u);
}

TEST(ZoneMapTest, ClearEmptiesEverything) {
  ZoneMap map;
  map.MarkZones("f", 0, 9);
  map.MarkZones("g", 0, 9);
  map.clear();
  EXPECT_TRUE(map.empty());
  EXPECT_EQ(map.zones(), 0u);
  EXPECT_THAT(map.files(), IsEmpty());
}

TEST(ZoneMapTest, FindFirstWalksInPathThenZoneOrder) {
  ZoneMap map;
  map.MarkZones("b", 0, 5);
  map.MarkZones("a", 7, 9);
  auto first = map.FindFirst([](const ZoneRef&) { return true; });
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, (ZoneRef{"a", 7}));
  auto found = map.FindFirst([](const ZoneRef& r) { return r.path == "b" && r.zone >= 3; });
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, (ZoneRef{"b", 3}));
  EXPECT_FALSE(map.FindFirst([](const ZoneRef& r) { return r.zone > 100; }).has_value());
}

TEST(ZoneMapTest, PathIsUnderMeansItselfOrBelowASlash) {
  EXPECT_TRUE(PathIsUnder("a", "a"));
  EXPECT_TRUE(PathIsUnder("a/b", "a"));
  EXPECT_TRUE(PathIsUnder("a/b/c", "a/b"));
  EXPECT_FALSE(PathIsUnder("ab", "a"));
  EXPECT_FALSE(PathIsUnder("a", "a/b"));
  EXPECT_FALSE(PathIsUnder("b/a", "a"));
}

TEST(ZoneMapTest, ManySmallFilesStayCompact) {
  // The common case the zone set is shaped for: many files with one dirty zone each.
  ZoneMap map;
  for (int i = 0; i < 100'000; ++i) map.MarkZones("dir/f" + std::to_string(i), 0, 0);
  EXPECT_EQ(map.zones(), 100'000u);
  EXPECT_LT(map.MemoryBytes(), 100'000u * 160u);  // path + set + node share, not a bitmap
}

}  // namespace
}  // namespace duet
