// ReplicaDurableState and its records (engine/replication/replica_state.h): the engine
// emits records, the driver appends them durably and after a restart rebuilds the state by
// applying them in order to a fresh state with ApplyRecord, the function the engine's own
// copy goes through.
#include "engine/replication/replica_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace duet {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr uint32_t kZone = 64 << 10;

ReplicaDurableState Replay(const std::vector<ReplicaRecord>& records,
                           ReplicaDurableState state = {}) {
  for (const ReplicaRecord& r : records) ApplyRecord(state, r, kZone);
  return state;
}

std::vector<std::pair<std::string, uint64_t>> All(const ZoneMap& map) {
  std::vector<std::pair<std::string, uint64_t>> all;
  for (const auto& [path, zones] : map.files()) {
    zones.ForEach([&, p = path](uint64_t z) { all.emplace_back(p, z); });
  }
  return all;
}

Mutation Namespace(MutationKind kind, std::string path, std::string path2 = {}) {
  return MakeMutation(kind, std::move(path), std::move(path2));
}

TEST(ReplicaStateTest, FreshStateIsTheInitialGenerationAndNothingElse) {
  const ReplicaDurableState s;
  EXPECT_EQ(s.gens, (Generations{kInitialGeneration, 0, {}}));
  EXPECT_EQ(kInitialGeneration % 2, 0u);  // drawn generations are odd: never this one
  EXPECT_TRUE(s.dirty.empty());
  EXPECT_TRUE(s.journal.empty());
  EXPECT_TRUE(s.hot.empty());
  EXPECT_TRUE(s.hot_names.empty());
  EXPECT_FALSE(s.inconsistent);
  EXPECT_FALSE(s.unflushed_only);
  EXPECT_FALSE(s.outdated);
  EXPECT_FALSE(s.alone_acked);
  EXPECT_FALSE(s.lost_unsynced);
  EXPECT_FALSE(s.disk_failed);
  EXPECT_EQ(s.drawn_alone, 0u);
  EXPECT_FALSE(s.joined);
}

TEST(ReplicaStateTest, SetGenerationsReplacesThem) {
  const Generations gens{11, 2, {2, 0}};
  EXPECT_EQ(Replay({record::SetGenerations{gens}}).gens, gens);
}

TEST(ReplicaStateTest, MarkDirtyAndMarkCleanEditTheDirtyMap) {
  const ReplicaDurableState s = Replay({
      record::MarkDirty{"f", 2, 4}, record::MarkDirty{"g", 0, 0}, record::MarkClean{"f", 3},
      record::MarkClean{"h", 0},  // not dirty: nothing
  });
  EXPECT_THAT(All(s.dirty), ElementsAre(Pair("f", 2), Pair("f", 4), Pair("g", 0)));
  EXPECT_TRUE(s.hot.empty());
}

TEST(ReplicaStateTest, JournalKeepsNamespaceMutationsInOrder) {
  const ReplicaDurableState s = Replay({
      record::Journal{Namespace(MutationKind::kCreate, "a")},
      record::Journal{Namespace(MutationKind::kRename, "c", "b")},
      record::Journal{Namespace(MutationKind::kUnlink, "b")},
  });
  // (Unrelated names: on the same names the journal compacts, journal_compaction_test.cc.)
  ASSERT_EQ(s.journal.size(), 3u);
  EXPECT_EQ(s.journal[0].kind, MutationKind::kCreate);
  EXPECT_EQ(s.journal[1].kind, MutationKind::kRename);
  EXPECT_EQ(s.journal[1].path, "c");
  EXPECT_EQ(s.journal[1].path2, "b");
  EXPECT_EQ(s.journal[2].kind, MutationKind::kUnlink);
}

TEST(ReplicaStateTest, ClearDirtyClearsMapJournalAndAloneAckedOnly) {
  const Generations gens{11, 2, {}};
  const ReplicaDurableState s = Replay({
      record::SetGenerations{gens},
      record::MarkDirty{"f", 0, 9},
      record::Journal{Namespace(MutationKind::kCreate, "f")},
      record::SetAloneAcked{},
      record::HotAdd{"f", 3},
      record::HotNameAdd{"f"},
      record::SetDrawnAlone{11},
      record::SetOutdated{true},
      record::SetJoined{true},
      record::ClearDirty{},
  });
  EXPECT_TRUE(s.dirty.empty());
  EXPECT_TRUE(s.journal.empty());
  EXPECT_FALSE(s.alone_acked);
  // Everything else stays: the activity log, generations and flags have records of their own.
  EXPECT_EQ(s.gens, gens);
  EXPECT_TRUE(s.hot.Contains("f", 3));
  EXPECT_THAT(s.hot_names, ElementsAre("f"));
  EXPECT_EQ(s.drawn_alone, 11u);
  EXPECT_TRUE(s.outdated);
  EXPECT_TRUE(s.joined);
}

TEST(ReplicaStateTest, HotZonesAndNamesAreAddedAndRemoved) {
  const ReplicaDurableState s = Replay({
      record::HotAdd{"f", 1}, record::HotAdd{"f", 2}, record::HotAdd{"f", 2},  // twice: once
      record::HotRemove{"f", 1}, record::HotNameAdd{"a"}, record::HotNameAdd{"b"},
      record::HotNameRemove{"a"}, record::HotNameRemove{"zzz"},  // not hot: nothing
  });
  EXPECT_THAT(All(s.hot), ElementsAre(Pair("f", 2)));
  EXPECT_THAT(s.hot_names, ElementsAre("b"));
  EXPECT_TRUE(s.dirty.empty());
}

TEST(ReplicaStateTest, ClearHotClearsZonesAndNamesOnly) {
  const ReplicaDurableState s = Replay({
      record::HotAdd{"f", 1},
      record::HotNameAdd{"a"},
      record::MarkDirty{"f", 1, 1},
      record::ClearHot{},
  });
  EXPECT_TRUE(s.hot.empty());
  EXPECT_TRUE(s.hot_names.empty());
  EXPECT_TRUE(s.dirty.Contains("f", 1));
}

TEST(ReplicaStateTest, UnflushedOnlyHoldsOnlyWhileInconsistent) {
  ReplicaDurableState s = Replay({record::SetInconsistent{true, true}});
  EXPECT_TRUE(s.inconsistent);
  EXPECT_TRUE(s.unflushed_only);
  s = Replay({record::SetInconsistent{true, false}}, s);
  EXPECT_TRUE(s.inconsistent);
  EXPECT_FALSE(s.unflushed_only);
  s = Replay({record::SetInconsistent{false, true}}, s);  // a consistent copy is not partial
  EXPECT_FALSE(s.inconsistent);
  EXPECT_FALSE(s.unflushed_only);
}

TEST(ReplicaStateTest, FlagRecordsSetAndClearTheirFlag) {
  ReplicaDurableState s = Replay({
      record::SetOutdated{true}, record::SetAloneAcked{}, record::SetLostUnsynced{true},
      record::SetDiskFailed{true}, record::SetDrawnAlone{13},
      record::SetJoined{},  // joined by default
  });
  EXPECT_TRUE(s.outdated);
  EXPECT_TRUE(s.alone_acked);
  EXPECT_TRUE(s.lost_unsynced);
  EXPECT_TRUE(s.disk_failed);
  EXPECT_EQ(s.drawn_alone, 13u);
  EXPECT_TRUE(s.joined);
  s = Replay(
      {
          record::SetOutdated{false},
          record::SetLostUnsynced{false},
          record::SetDiskFailed{false},
          record::SetDrawnAlone{0},
          record::SetJoined{false},
      },
      s);
  EXPECT_FALSE(s.outdated);
  EXPECT_TRUE(s.alone_acked);  // only ClearDirty clears it
  EXPECT_FALSE(s.lost_unsynced);
  EXPECT_FALSE(s.disk_failed);
  EXPECT_EQ(s.drawn_alone, 0u);
  EXPECT_FALSE(s.joined);
}

TEST(ReplicaStateTest, RenamedMovesDirtyAndHotZonesButNotHotNames) {
  const ReplicaDurableState s = Replay({
      record::MarkDirty{"d/f", 0, 1},
      record::HotAdd{"d/g", 5},
      record::HotNameAdd{"d/f"},
      record::MarkDirty{"e/old", 7, 7},  // replaced by the rename
      record::HotAdd{"e/old", 7},
      record::Renamed{"d", "e"},
  });
  EXPECT_THAT(All(s.dirty), ElementsAre(Pair("e/f", 0), Pair("e/f", 1)));
  EXPECT_THAT(All(s.hot), ElementsAre(Pair("e/g", 5)));
  // A hot name is the name a mutation in flight changed: it stays as it was sent.
  EXPECT_THAT(s.hot_names, ElementsAre("d/f"));
}

// An exchange or a no-replace rename may still fail on the disk once tracked: each name
// keeps what either had, which covers what changed whether the names moved or not.
TEST(ReplicaStateTest, ARenameWithFlagsBlendsTheZonesOfBothNames) {
  const ReplicaDurableState s = Replay({
      record::MarkDirty{"d/f", 0, 1},
      record::HotAdd{"d/g", 5},
      record::MarkDirty{"e", 7, 7},  // a file exchanged with the directory d
      record::MarkDirty{"e/f", 1, 2},
      record::HotAdd{"e", 3},
      record::MarkDirty{"dx", 2, 2},  // beside d, not under it
      record::Renamed{"d", "e", /*blend=*/true},
  });
  EXPECT_THAT(All(s.dirty), ElementsAre(Pair("d", 7), Pair("d/f", 0), Pair("d/f", 1),
                                        Pair("d/f", 2), Pair("dx", 2), Pair("e", 7), Pair("e/f", 0),
                                        Pair("e/f", 1), Pair("e/f", 2)));
  EXPECT_THAT(All(s.hot), ElementsAre(Pair("d", 3), Pair("d/g", 5), Pair("e", 3), Pair("e/g", 5)));
  EXPECT_EQ(s.dirty.zones(), 9u);
  // Names one under the other: the kernel refuses that rename, the maps stay as they were.
  const ReplicaDurableState t =
      Replay({record::MarkDirty{"d/f", 0, 0}, record::Renamed{"d", "d/f", true}});
  EXPECT_THAT(All(t.dirty), ElementsAre(Pair("d/f", 0)));
}

TEST(ReplicaStateTest, RemovedDropsDirtyAndHotZonesUnderThePath) {
  const ReplicaDurableState s = Replay({
      record::MarkDirty{"d/f", 0, 1},
      record::MarkDirty{"dx", 0, 0},
      record::HotAdd{"d", 2},
      record::HotAdd{"d/sub/g", 2},
      record::Removed{"d"},
  });
  EXPECT_THAT(All(s.dirty), ElementsAre(Pair("dx", 0)));
  EXPECT_TRUE(s.hot.empty());
}

TEST(ReplicaStateTest, TruncatedDropsZonesPastTheNewSizeUsingTheZoneSize) {
  ReplicaDurableState s = Replay({
      record::MarkDirty{"f", 0, 9},
      record::HotAdd{"f", 4},
      record::HotAdd{"f", 8},
  });
  ApplyRecord(s, record::Truncated{"f", 4 * kZone + 1}, kZone);
  EXPECT_EQ(s.dirty.zones(), 5u);  // zones 0..4
  EXPECT_THAT(All(s.hot), ElementsAre(Pair("f", 4)));
  // The same record with a smaller zone keeps more zones: the size is in bytes.
  ReplicaDurableState t = Replay({record::MarkDirty{"f", 0, 9}});
  ApplyRecord(t, record::Truncated{"f", 4 * kZone + 1}, kZone / 2);
  EXPECT_EQ(t.dirty.zones(), 9u);  // zones 0..8
}

TEST(ReplicaStateTest, RecordsApplyInOrder) {
  // The same records in another order are another state: the driver must keep the order.
  const std::vector<ReplicaRecord> forward = {record::MarkDirty{"a", 1, 1},
                                              record::Renamed{"a", "b"}};
  const std::vector<ReplicaRecord> backward = {record::Renamed{"a", "b"},
                                               record::MarkDirty{"a", 1, 1}};
  EXPECT_THAT(All(Replay(forward).dirty), ElementsAre(Pair("b", 1)));
  EXPECT_THAT(All(Replay(backward).dirty), ElementsAre(Pair("a", 1)));
  EXPECT_FALSE(Replay({record::SetOutdated{true}, record::SetOutdated{false}}).outdated);
  EXPECT_TRUE(Replay({record::SetOutdated{false}, record::SetOutdated{true}}).outdated);
}

// A log with one record of every kind, as a restart replays it.
std::vector<ReplicaRecord> OneOfEveryKind() {
  return {
      record::SetGenerations{{11, 2, {2, 0}}},
      record::MarkDirty{"d/f", 0, 3},
      record::MarkClean{"d/f", 1},
      record::Journal{Namespace(MutationKind::kRename, "d", "e")},
      record::HotAdd{"d/f", 3},
      record::HotAdd{"x", 0},
      record::HotRemove{"x", 0},
      record::HotNameAdd{"d"},
      record::HotNameAdd{"e"},
      record::HotNameRemove{"d"},
      record::SetInconsistent{true, true},
      record::SetOutdated{true},
      record::SetAloneAcked{},
      record::SetLostUnsynced{true},
      record::SetDiskFailed{true},
      record::SetDrawnAlone{11},
      record::SetJoined{true},
      record::Renamed{"d", "e"},
      record::MarkDirty{"gone", 0, 0},
      record::Removed{"gone"},
      record::Truncated{"e/f", 3 * kZone},
      record::ClearHot{},
      record::HotAdd{"e/f", 0},
      record::ClearDirty{},
      record::MarkDirty{"e/f", 2, 2},
      record::SetZoneSize{2 * kZone},
      record::SetDivergencePreserved{11},
  };
}

TEST(ReplicaStateTest, TheRecordLogCoversEveryRecordKind) {
  std::set<size_t> kinds;
  for (const ReplicaRecord& r : OneOfEveryKind()) kinds.insert(r.index());
  EXPECT_EQ(kinds.size(), std::variant_size_v<ReplicaRecord>)
      << "a new record kind: add it to OneOfEveryKind and to a test of its own";
}

TEST(ReplicaStateTest, ReplayingTheLogRebuildsTheDurableState) {
  const ReplicaDurableState s = Replay(OneOfEveryKind());
  EXPECT_EQ(s.gens, (Generations{11, 2, {2, 0}}));
  EXPECT_EQ(s.preserved_for, 11u);
  EXPECT_THAT(All(s.dirty), ElementsAre(Pair("e/f", 2)));
  EXPECT_THAT(s.journal, IsEmpty());
  EXPECT_THAT(All(s.hot), ElementsAre(Pair("e/f", 0)));
  EXPECT_THAT(s.hot_names, IsEmpty());
  EXPECT_TRUE(s.inconsistent);
  EXPECT_TRUE(s.unflushed_only);
  EXPECT_TRUE(s.outdated);
  EXPECT_FALSE(s.alone_acked);
  EXPECT_TRUE(s.lost_unsynced);
  EXPECT_TRUE(s.disk_failed);
  EXPECT_EQ(s.drawn_alone, 11u);
  EXPECT_TRUE(s.joined);
  EXPECT_EQ(s.zone_size, 2 * kZone);
}

// Once the state records the zone size its maps count in, a truncate cuts them in that size,
// not in the configured one passed to ApplyRecord.
TEST(ReplicaStateTest, TruncateCountsInTheRecordedZoneSize) {
  const ReplicaDurableState s = Replay({
      record::SetZoneSize{2 * kZone}, record::MarkDirty{"f", 0, 3},
      record::Truncated{"f", 3 * kZone},  // inside zone 1 of 2 * kZone
  });
  EXPECT_THAT(All(s.dirty), ElementsAre(Pair("f", 0), Pair("f", 1)));
}

}  // namespace
}  // namespace duet
