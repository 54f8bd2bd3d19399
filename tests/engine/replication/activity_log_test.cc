// ActivityLog: DRBD's activity log for one module (engine/replication/activity_log.h). A zone
// is hot (persisted in ReplicaDurableState::hot through HotAdd) before a write to it is
// sent, and cools (HotRemove) only when the log is over capacity and the zone's last write
// is durable on both nodes; names changed by a namespace mutation work alike, by directory. After a
// crash the persisted hot zones and names come back of unknown age: the peer may or may not have
// them, so they are resynced and never cool before that.
//
// The tests drive the log as the primary stream does: every record it emits is applied to
// the durable state (as the driver persists it), and that state is what the next call
// reads to decide whether a zone or name is already hot.
#include "engine/replication/activity_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/overloaded.h"

namespace duet {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr uint32_t kZone = 64 << 10;

// "f:2" for one zone, "f:2-4" for a run.
template <class Record>
std::string ZoneRun(const Record& x) {
  if (x.count == 1) return absl::StrCat(x.path, ":", x.zone);
  return absl::StrCat(x.path, ":", x.zone, "-", x.zone + x.count - 1);
}

std::string Describe(const ReplicaRecord& r) {
  return std::visit(
      Overloaded{
          [](const record::HotAdd& x) { return absl::StrCat("HotAdd ", ZoneRun(x)); },
          [](const record::HotRemove& x) { return absl::StrCat("HotRemove ", ZoneRun(x)); },
          [](const record::HotNameAdd& x) { return absl::StrCat("HotNameAdd ", x.path); },
          [](const record::HotNameRemove& x) { return absl::StrCat("HotNameRemove ", x.path); },
          [](const auto&) { return std::string("another record"); },
      },
      r);
}

// A log and the durable state its records build, as Replica keeps them.
class ActivityLogTest : public ::testing::Test {
 protected:
  explicit ActivityLogTest(size_t capacity = 4) { Restart(capacity); }

  // Starts from the persisted state, as after a crash or a daemon restart.
  void Restart(size_t capacity) { log_.emplace(capacity, state_.hot, state_.hot_names); }

  std::vector<std::string> Persist(const std::vector<ReplicaRecord>& records) {
    std::vector<std::string> described;
    for (const ReplicaRecord& r : records) {
      described.push_back(Describe(r));
      ApplyRecord(state_, r, kZone);
    }
    return described;
  }
  // Written at `at` (seconds on the test's clock).
  std::vector<std::string> Touch(const std::string& path, uint64_t first, uint64_t last,
                                 uint64_t lsn, uint64_t durable_on_both, int64_t at = 0) {
    std::vector<ReplicaRecord> records;
    log_->Touch(path, first, last, lsn, Seconds(at), durable_on_both, state_.hot, records);
    return Persist(records);
  }
  // A cooling pass: zones written at or before `written_by` seconds and durable on both.
  std::vector<std::string> CoolIdle(int64_t written_by, uint64_t durable_on_both) {
    std::vector<ReplicaRecord> records;
    log_->CoolIdle(Seconds(written_by), durable_on_both, records);
    return Persist(records);
  }
  static absl::Time Seconds(int64_t s) { return absl::UnixEpoch() + absl::Seconds(s); }
  std::vector<std::string> TouchName(const std::string& path, uint64_t lsn, int64_t at = 0) {
    std::vector<ReplicaRecord> records;
    log_->TouchName(path, lsn, Seconds(at), state_.hot_names, records);
    return Persist(records);
  }
  // A namespace mutation as the primary stream makes it hot (its maps' records aside).
  std::vector<std::string> TouchNamespace(const Mutation& m, uint64_t lsn, int64_t at = 0) {
    std::vector<ReplicaRecord> records;
    log_->TouchNamespace(m, lsn, Seconds(at), state_.hot_names, records);
    return Persist(records);
  }
  // A cooling pass for names: changed at or before `changed_by` seconds, durable on both.
  std::vector<std::string> CoolNames(uint64_t durable_on_both,
                                     absl::Time changed_by = absl::InfiniteFuture()) {
    std::vector<ReplicaRecord> records;
    log_->CoolNames(changed_by, durable_on_both, records);
    return Persist(records);
  }
  std::vector<std::string> AddRecovered(const std::string& path, uint64_t zone) {
    std::vector<ReplicaRecord> records;
    log_->AddRecovered(path, zone, state_.hot, records);
    return Persist(records);
  }
  std::vector<std::string> AddRecoveredName(const std::string& path) {
    std::vector<ReplicaRecord> records;
    log_->AddRecoveredName(path, state_.hot_names, records);
    return Persist(records);
  }
  std::vector<std::string> ForgetRecovered() {
    std::vector<ReplicaRecord> records;
    log_->ForgetRecovered(records);
    return Persist(records);
  }
  // A rename or removal as TrackNamespace does it: the record for the durable maps, and the
  // log's own copy.
  std::vector<std::string> Rename(const std::string& from, const std::string& to,
                                  uint64_t lsn = 0) {
    Persist({record::Renamed{from, to}});
    std::vector<ReplicaRecord> records;
    log_->Rename(from, to, lsn, state_.hot_names, records);
    return Persist(records);
  }
  void Remove(const std::string& path) {
    Persist({record::Removed{path}});
    log_->Remove(path);
  }

  std::vector<std::string> NotDurable(uint64_t peer_durable) const {
    std::vector<std::string> zones;
    log_->ForEachNotDurable(peer_durable, [&](const ZoneRef& r) {
      zones.push_back(absl::StrCat(r.path, ":", r.zone));
    });
    return zones;
  }
  std::vector<std::string> TakeNotDurable(uint64_t peer_durable) {
    std::vector<std::string> zones;
    log_->TakeNotDurable(peer_durable, [&](const ZoneRef& r) {
      zones.push_back(absl::StrCat(r.path, ":", r.zone));
    });
    return zones;
  }
  std::vector<std::string> TakeNamesNotDurable(uint64_t peer_durable) {
    std::vector<std::string> names;
    log_->TakeNamesNotDurable(peer_durable, [&](const std::string& p) { names.push_back(p); });
    return names;
  }
  // Every zone the log holds (all are above lsn 0 or of unknown age), least recent first.
  std::vector<std::string> Zones() const { return NotDurable(0); }
  // The persisted hot zones, in (path, zone) order.
  std::vector<std::string> PersistedZones() const {
    std::vector<std::string> zones;
    for (const auto& [path, set] : state_.hot.files()) {
      set.ForEach([&, p = path](uint64_t z) { zones.push_back(absl::StrCat(p, ":", z)); });
    }
    return zones;
  }

  ReplicaDurableState state_;
  std::optional<ActivityLog> log_;
};

// The log as Replica sizes it: cooling by capacity never comes into it.
class ActivityLogIdleCoolingTest : public ActivityLogTest {
 protected:
  ActivityLogIdleCoolingTest() : ActivityLogTest(8192) {}
};

class ActivityLogCoolingTest : public ActivityLogTest {
 protected:
  ActivityLogCoolingTest() : ActivityLogTest(2) {}
};

// --- Hot zones ---

TEST_F(ActivityLogTest, WriteMakesItsZonesHotBeforeItIsSent) {
  EXPECT_THAT(Touch("f", 2, 4, /*lsn=*/1, /*durable_on_both=*/0), ElementsAre("HotAdd f:2-4"));
  EXPECT_THAT(PersistedZones(), ElementsAre("f:2", "f:3", "f:4"));
  EXPECT_EQ(log_->size(), 3u);
}

TEST_F(ActivityLogTest, RewritingAHotZonePersistsNothing) {
  // A hot-spot workload pays one persist per new zone, not per write.
  Touch("f", 0, 0, 1, 0);
  for (uint64_t lsn = 2; lsn < 100; ++lsn) {
    EXPECT_THAT(Touch("f", 0, 0, lsn, lsn - 1), IsEmpty()) << lsn;
  }
  EXPECT_THAT(Touch("f", 0, 1, 100, 99), ElementsAre("HotAdd f:1"));  // only the new zone
}

TEST_F(ActivityLogTest, ZonesStayHotWhileUnderCapacity) {
  // Capacity 4: even durable on both, nothing cools until the log is over capacity.
  Touch("f", 0, 3, 1, 0);
  EXPECT_THAT(Touch("f", 0, 0, 2, 1), IsEmpty());
  EXPECT_EQ(log_->size(), 4u);
  EXPECT_THAT(PersistedZones(), ElementsAre("f:0", "f:1", "f:2", "f:3"));
}

TEST_F(ActivityLogCoolingTest, ZoneCoolsOnlyOnceDurableOnBoth) {
  Touch("f", 0, 0, 1, 0);
  Touch("f", 1, 1, 2, 0);
  // Over capacity, but nothing is durable on both yet: nothing cools.
  EXPECT_THAT(Touch("f", 2, 2, 3, 0), ElementsAre("HotAdd f:2"));
  EXPECT_EQ(log_->size(), 3u);
  // Durable up to lsn 1: zone 0 (last written at lsn 1) cools; zone 1 (lsn 2) may not.
  EXPECT_THAT(Touch("f", 3, 3, 4, 1), ElementsAre("HotAdd f:3", "HotRemove f:0"));
  EXPECT_EQ(log_->size(), 3u);
  EXPECT_THAT(PersistedZones(), ElementsAre("f:1", "f:2", "f:3"));
}

TEST_F(ActivityLogCoolingTest, ZoneWhoseLastWriteIsExactlyDurableCools) {
  Touch("f", 0, 0, 5, 0);
  Touch("f", 1, 1, 6, 0);
  EXPECT_THAT(Touch("f", 2, 2, 7, 5), ElementsAre("HotAdd f:2", "HotRemove f:0"));
}

TEST_F(ActivityLogCoolingTest, LeastRecentlyWrittenZoneCoolsFirst) {
  Touch("f", 0, 0, 1, 0);
  Touch("f", 1, 1, 2, 0);
  Touch("f", 0, 0, 3, 0);  // zone 0 rewritten: zone 1 is now the least recent
  EXPECT_THAT(Touch("f", 2, 2, 4, 3), ElementsAre("HotAdd f:2", "HotRemove f:1"));
  EXPECT_THAT(Zones(), ElementsAre("f:0", "f:2"));
}

TEST_F(ActivityLogCoolingTest, RewrittenZoneWaitsForItsNewestWrite) {
  Touch("f", 0, 0, 1, 0);
  Touch("f", 0, 0, 3, 0);  // last written at lsn 3 now
  Touch("f", 1, 1, 4, 0);
  // Durable up to 2 covers the first write of zone 0, not its newest: it stays hot.
  EXPECT_THAT(Touch("f", 2, 2, 5, 2), ElementsAre("HotAdd f:2"));
  EXPECT_EQ(log_->size(), 3u);
}

TEST_F(ActivityLogCoolingTest, SizeComesBackToCapacityWhenThePeerKeepsUp) {
  for (uint64_t lsn = 1; lsn <= 50; ++lsn) {
    Touch("f", lsn, lsn, lsn, lsn - 1);  // sequential: one new zone per write
    EXPECT_LE(log_->size(), 2u) << lsn;
  }
  EXPECT_THAT(Zones(), ElementsAre("f:49", "f:50"));
  EXPECT_THAT(PersistedZones(), ElementsAre("f:49", "f:50"));
}

TEST_F(ActivityLogCoolingTest, LogGrowsPastCapacityWhileThePeerLags) {
  // Capacity is where cooling starts, not a hard bound: a zone the peer may lack stays hot.
  for (uint64_t lsn = 1; lsn <= 10; ++lsn) Touch("f", lsn, lsn, lsn, 0);
  EXPECT_EQ(log_->size(), 10u);
  // Once the peer catches up, the next write cools back down to capacity.
  std::vector<std::string> records = Touch("f", 11, 11, 11, 10);
  EXPECT_THAT(records, ElementsAre("HotAdd f:11", "HotRemove f:1-9"));  // one record a run
  EXPECT_EQ(log_->size(), 2u);
  EXPECT_THAT(PersistedZones(), ElementsAre("f:10", "f:11"));
}

TEST_F(ActivityLogTest, NotDurableListsZonesWrittenAboveThePeerWatermark) {
  Touch("a", 0, 0, 1, 0);
  Touch("b", 0, 1, 2, 0);
  Touch("c", 7, 7, 3, 0);
  EXPECT_THAT(NotDurable(1), ElementsAre("b:0", "b:1", "c:7"));
  EXPECT_THAT(NotDurable(3), IsEmpty());
  EXPECT_EQ(log_->size(), 4u);  // listing changes nothing
  EXPECT_THAT(NotDurable(1), ElementsAre("b:0", "b:1", "c:7"));
}

// --- After a restart: zones and names of unknown age ---

TEST_F(ActivityLogTest, ZonesRecoveredAfterARestartAreNotDurableWhateverTheWatermark) {
  Touch("f", 0, 1, 1, 0);
  TouchName("d", 1);
  Restart(4);
  EXPECT_EQ(log_->size(), 2u);
  EXPECT_THAT(NotDurable(1'000'000), ElementsAre("f:0", "f:1"));
  EXPECT_THAT(CoolNames(1'000'000), IsEmpty());  // recovered names do not cool either
}

TEST_F(ActivityLogTest, RecoveredZonesNeverCoolBeforeTheResync) {
  Touch("f", 0, 3, 1, 0);
  Restart(2);
  // Over capacity, everything durable: only zones of known age may cool.
  EXPECT_THAT(Touch("g", 0, 1, 10, 9), ElementsAre("HotAdd g:0-1"));
  EXPECT_THAT(Touch("g", 2, 2, 11, 10), ElementsAre("HotAdd g:2", "HotRemove g:0-1"));
  EXPECT_THAT(PersistedZones(), ElementsAre("f:0", "f:1", "f:2", "f:3", "g:2"));
}

TEST_F(ActivityLogTest, RecoveredZonesStartLeastRecent) {
  Touch("old", 0, 0, 1, 0);
  Restart(4);
  Touch("new", 0, 0, 2, 0);
  EXPECT_THAT(Zones(), ElementsAre("old:0", "new:0"));
}

TEST_F(ActivityLogTest, AfterTheResyncRecoveredZonesCoolFirst) {
  Touch("f", 0, 1, 1, 0);
  Restart(2);
  EXPECT_THAT(ForgetRecovered(), IsEmpty());  // zones emit nothing: they may now cool
  EXPECT_THAT(NotDurable(0), IsEmpty());      // as good as durable on both
  // Least recent, and durable as far as anyone knows: they go before any newer zone.
  EXPECT_THAT(Touch("g", 0, 0, 2, 1), ElementsAre("HotAdd g:0", "HotRemove f:0"));
  EXPECT_THAT(Touch("g", 1, 1, 3, 2), ElementsAre("HotAdd g:1", "HotRemove f:1"));
}

TEST_F(ActivityLogTest, AfterTheResyncRecoveredNamesCoolAtOnce) {
  TouchName("a", 1);
  TouchName("b", 2);
  Restart(4);
  TouchName("c", 3);  // known age: not part of the crash's leftovers
  EXPECT_THAT(ForgetRecovered(), ElementsAre("HotNameRemove a", "HotNameRemove b"));
  EXPECT_THAT(state_.hot_names, ElementsAre("c"));
  EXPECT_THAT(CoolNames(3), ElementsAre("HotNameRemove c"));
}

// Found by the simulator (a swarm seed, 13921486592676002 with base 20261125): a source's
// resync plan took the name d (of unknown age from then on); the application then removed d
// (lsn 23), a write the transport lost. The resync ended (ForgetRecovered) and forgot d, the
// node crashed, and no later session sent the removal. A name changed again while of unknown
// age now stays hot after the resync, with that change's age.
TEST_F(ActivityLogTest, ANameChangedAgainDuringTheResyncStaysHotUntilThatChangeIsDurable) {
  TouchName("d", 5);
  TouchName("e", 6);
  EXPECT_THAT(TakeNamesNotDurable(0), ElementsAre("d", "e"));  // a resync plan takes them
  EXPECT_THAT(TouchName("d", 23), IsEmpty());                  // already persisted hot
  EXPECT_THAT(CoolNames(1'000'000), IsEmpty());                // of unknown age still
  EXPECT_THAT(ForgetRecovered(), ElementsAre("HotNameRemove e"));
  EXPECT_THAT(state_.hot_names, ElementsAre("d"));
  EXPECT_THAT(TakeNamesNotDurable(22), ElementsAre("d"));          // the peer may lack lsn 23
  EXPECT_THAT(ForgetRecovered(), ElementsAre("HotNameRemove d"));  // sent by that plan
}

TEST_F(ActivityLogTest, ANameChangedAgainDuringTheResyncCoolsOnceThatChangeIsDurable) {
  TouchName("d", 5);
  EXPECT_THAT(TakeNamesNotDurable(0), ElementsAre("d"));
  TouchName("d", 23);
  EXPECT_THAT(ForgetRecovered(), IsEmpty());
  EXPECT_THAT(CoolNames(22), IsEmpty());
  EXPECT_THAT(CoolNames(23), ElementsAre("HotNameRemove d"));
}

TEST_F(ActivityLogTest, AddRecoveredMakesAZoneHotOfUnknownAge) {
  // A failed local flush or apply: the zone may differ from the peer's.
  EXPECT_THAT(AddRecovered("f", 5), ElementsAre("HotAdd f:5"));
  EXPECT_THAT(NotDurable(1'000'000), ElementsAre("f:5"));
  EXPECT_EQ(log_->size(), 1u);
}

TEST_F(ActivityLogTest, AddRecoveredOnAHotZoneMakesItOfUnknownAge) {
  Touch("f", 5, 5, 1, 0);
  EXPECT_THAT(AddRecovered("f", 5), IsEmpty());  // already persisted hot
  EXPECT_EQ(log_->size(), 1u);
  EXPECT_THAT(NotDurable(1'000'000), ElementsAre("f:5"));
}

TEST_F(ActivityLogCoolingTest, AddRecoveredZoneDoesNotCoolWhenDurable) {
  AddRecovered("f", 0);
  Touch("g", 0, 0, 1, 0);
  EXPECT_THAT(Touch("g", 1, 1, 2, 1), ElementsAre("HotAdd g:1", "HotRemove g:0"));
  EXPECT_THAT(PersistedZones(), ElementsAre("f:0", "g:1"));
}

TEST_F(ActivityLogTest, TakeNotDurableMakesTheTakenZonesOfUnknownAge) {
  Touch("f", 0, 0, 1, 0);
  Touch("f", 1, 1, 2, 0);
  // A resync target's plan takes what the peer may lack after lsn 1.
  EXPECT_THAT(TakeNotDurable(1), ElementsAre("f:1"));
  // Zone 1 stays in any later plan, whatever the next session's watermark says...
  EXPECT_THAT(NotDurable(1'000'000), ElementsAre("f:1"));
  // ...and zone 0, durable before, was not taken: it keeps its age.
  EXPECT_THAT(TakeNotDurable(1), ElementsAre("f:1"));
  EXPECT_THAT(NotDurable(0), ElementsAre("f:0", "f:1"));
}

// --- Hot names ---

TEST_F(ActivityLogTest, NamespaceMutationMakesItsNamesHotBeforeItIsSent) {
  EXPECT_THAT(TouchName("a", 1), ElementsAre("HotNameAdd a"));
  EXPECT_THAT(TouchName("b", 1), ElementsAre("HotNameAdd b"));
  EXPECT_THAT(TouchName("a", 2), IsEmpty());  // already persisted hot
  EXPECT_THAT(state_.hot_names, ElementsAre("a", "b"));
}

// A hot name is a doubt about what the peer holds there; a rename moves that content, so the
// doubt goes with it (and stays on the old name).
TEST_F(ActivityLogTest, RenameMakesTheNewNamesOfHotNamesHotToo) {
  TouchName("s6", 5);
  TouchName("d/f", 6);
  TouchName("dx", 7);  // not under "d"
  EXPECT_THAT(Rename("s6", "f1"), ElementsAre("HotNameAdd f1"));
  EXPECT_THAT(Rename("d", "e"), ElementsAre("HotNameAdd e/f"));
  EXPECT_TRUE(state_.hot_names.contains("s6"));
  EXPECT_TRUE(state_.hot_names.contains("d/f"));
  // Each new name cools with its content's last change.
  EXPECT_THAT(CoolNames(5), ElementsAre("HotNameRemove f1", "HotNameRemove s6"));
}

TEST_F(ActivityLogTest, RenameWithFlagsCopiesHotNamesBothWays) {
  TouchName("a/x", 4);
  TouchName("b", 5);
  std::vector<ReplicaRecord> records;
  log_->Blend("a", "b", /*lsn=*/6, state_.hot_names, records);
  EXPECT_THAT(Persist(records), ElementsAre("HotNameAdd b/x", "HotNameAdd a"));
}

TEST_F(ActivityLogTest, RenamedHotNameCoolsNoEarlierThanTheRename) {
  TouchName("a", 2);
  Rename("a", "b", /*lsn=*/9);
  EXPECT_THAT(CoolNames(8), ElementsAre("HotNameRemove a"));
  EXPECT_THAT(CoolNames(9), ElementsAre("HotNameRemove b"));
}

TEST_F(ActivityLogTest, RecoveredHotNameStaysOfUnknownAgeUnderItsNewName) {
  AddRecoveredName("a");
  EXPECT_THAT(Rename("a", "b", /*lsn=*/3), ElementsAre("HotNameAdd b"));
  EXPECT_THAT(CoolNames(1'000'000), IsEmpty());
}

TEST_F(ActivityLogTest, NameCoolsOnceItsLastChangeIsDurableOnBoth) {
  TouchName("a", 1);
  TouchName("b", 2);
  TouchName("a", 3);  // changed again
  EXPECT_THAT(CoolNames(0), IsEmpty());
  EXPECT_THAT(CoolNames(2), ElementsAre("HotNameRemove b"));  // "a" waits for lsn 3
  EXPECT_THAT(CoolNames(2), IsEmpty());
  EXPECT_THAT(CoolNames(3), ElementsAre("HotNameRemove a"));
  EXPECT_THAT(state_.hot_names, IsEmpty());
  EXPECT_THAT(TouchName("a", 4), ElementsAre("HotNameAdd a"));  // hot again: persisted again
}

TEST_F(ActivityLogTest, NamesCoolOldestFirst) {
  TouchName("z", 1);
  TouchName("a", 2);
  TouchName("m", 3);
  EXPECT_THAT(CoolNames(10), ElementsAre("HotNameRemove z", "HotNameRemove a", "HotNameRemove m"));
}

TEST_F(ActivityLogTest, NamesCoolRegardlessOfCapacity) {
  // Names cool at the cooling pass once durable on both: no capacity holds them back.
  TouchName("a", 1);
  EXPECT_THAT(CoolNames(1), ElementsAre("HotNameRemove a"));
}

TEST_F(ActivityLogTest, RecoveredNameStaysOfUnknownAgeWhenChangedAgain) {
  TouchName("a", 1);
  Restart(4);
  EXPECT_THAT(TouchName("a", 5), IsEmpty());
  EXPECT_THAT(CoolNames(1'000'000), IsEmpty());
  EXPECT_THAT(state_.hot_names, ElementsAre("a"));
}

TEST_F(ActivityLogTest, AddRecoveredNameNeverCoolsBeforeTheResync) {
  EXPECT_THAT(AddRecoveredName("a"), ElementsAre("HotNameAdd a"));
  TouchName("b", 1);
  EXPECT_THAT(AddRecoveredName("b"), IsEmpty());  // hot already; now of unknown age
  EXPECT_THAT(CoolNames(1'000'000), IsEmpty());
  EXPECT_THAT(ForgetRecovered(), ElementsAre("HotNameRemove a", "HotNameRemove b"));
}

TEST_F(ActivityLogTest, TakeNamesNotDurableKeepsThemHotUntilTheResyncIsDone) {
  TouchName("a", 1);
  TouchName("b", 2);
  EXPECT_THAT(TakeNamesNotDurable(1), ElementsAre("b"));
  // "b" is part of a resync plan now: it no longer cools with the watermark.
  EXPECT_THAT(CoolNames(1'000'000), ElementsAre("HotNameRemove a"));
  EXPECT_THAT(TakeNamesNotDurable(1'000'000), ElementsAre("b"));
  EXPECT_THAT(ForgetRecovered(), ElementsAre("HotNameRemove b"));
  EXPECT_THAT(state_.hot_names, IsEmpty());
}

// --- Hot directories (a namespace mutation makes its parent hot) ---

Mutation Create(const std::string& path) { return MakeMutation(MutationKind::kCreate, path); }
Mutation Unlink(const std::string& path) { return MakeMutation(MutationKind::kUnlink, path); }
Mutation RenameOf(const std::string& from, const std::string& to) {
  return MakeMutation(MutationKind::kRename, from, to);
}

TEST_F(ActivityLogTest, ACreateMakesItsDirectoryHotNotItsName) {
  EXPECT_THAT(TouchNamespace(Create("d/a"), 1), ElementsAre("HotNameAdd d"));
  EXPECT_THAT(state_.hot_names, ElementsAre("d"));
}

TEST_F(ActivityLogTest, ASecondCreateInAHotDirectoryEmitsNoRecord) {
  TouchNamespace(Create("d/a"), 1);
  EXPECT_THAT(TouchNamespace(Create("d/b"), 2), IsEmpty());
  EXPECT_THAT(TouchNamespace(RenameOf("d/b", "d/c"), 3), IsEmpty());
  EXPECT_THAT(TouchNamespace(Unlink("d/a"), 4), IsEmpty());
  EXPECT_THAT(TouchNamespace(MakeMutation(MutationKind::kMkdir, "d/s"), 5), IsEmpty());
  EXPECT_THAT(state_.hot_names, ElementsAre("d"));
}

TEST_F(ActivityLogTest, ARenameAcrossDirectoriesMakesBothHot) {
  TouchNamespace(Create("d/a"), 1);
  EXPECT_THAT(TouchNamespace(RenameOf("d/a", "e/f/a"), 2), ElementsAre("HotNameAdd e/f"));
}

TEST_F(ActivityLogTest, ANameDirectlyUnderTheRootIsHotItself) {
  // The root never goes whole as a directory.
  EXPECT_THAT(TouchNamespace(Create("a"), 1), ElementsAre("HotNameAdd a"));
  EXPECT_THAT(TouchNamespace(RenameOf("a", "d/b"), 2), ElementsAre("HotNameAdd d"));
}

TEST_F(ActivityLogTest, AChangeOfAFileUnderAHotDirectoryEmitsNoRecord) {
  TouchNamespace(Create("d/a"), 1);
  EXPECT_THAT(TouchNamespace(MakeMutation(MutationKind::kSetattr, "d/old"), 2), IsEmpty());
  EXPECT_THAT(TouchNamespace(MakeMutation(MutationKind::kTruncate, "d/old"), 3), IsEmpty());
  // Elsewhere the name itself is hot, as before.
  EXPECT_THAT(TouchNamespace(MakeMutation(MutationKind::kSetattr, "x/y"), 4),
              ElementsAre("HotNameAdd x/y"));
  EXPECT_THAT(CoolNames(2), IsEmpty());  // d's last change is lsn 3, x/y's 4
  EXPECT_THAT(CoolNames(4), ElementsAre("HotNameRemove d", "HotNameRemove x/y"));
}

TEST_F(ActivityLogTest, AHotDirectoryCoolsOnlyOnceIdleForTheDelayAndDurableOnBoth) {
  TouchNamespace(Create("d/a"), 1, /*at=*/0);
  TouchNamespace(Create("d/b"), 2, /*at=*/3);
  EXPECT_THAT(CoolNames(10, Seconds(2)), IsEmpty());  // changed at 3
  EXPECT_THAT(CoolNames(1, Seconds(3)), IsEmpty());   // lsn 2 not durable on both
  EXPECT_THAT(CoolNames(2, Seconds(3)), ElementsAre("HotNameRemove d"));
  EXPECT_THAT(TouchNamespace(Create("d/c"), 3), ElementsAre("HotNameAdd d"));
}

TEST_F(ActivityLogTest, AFreshFilesFirstZoneNeedsNoHotAddAndTheLogStillKnowsIt) {
  TouchNamespace(Create("d/f"), 1);
  EXPECT_THAT(Touch("d/f", 0, 0, 2, 0), IsEmpty());
  EXPECT_FALSE(state_.hot.Contains("d/f", 0));
  // The peer may lack it: a dropped peer's dirty map takes it (ForEachNotDurable).
  EXPECT_THAT(NotDurable(1), ElementsAre("d/f:0"));
  // Its other zones are hot as any.
  EXPECT_THAT(Touch("d/f", 1, 1, 3, 0), ElementsAre("HotAdd d/f:1"));
}

TEST_F(ActivityLogTest, AWriteToAFreshFileKeepsItsDirectoryHotUntilDurable) {
  TouchNamespace(Create("d/f"), 1, /*at=*/0);
  Touch("d/f", 0, 0, 5, 0, /*at=*/4);
  EXPECT_THAT(CoolNames(10, Seconds(3)), IsEmpty());  // written at 4
  EXPECT_THAT(CoolNames(4, Seconds(4)), IsEmpty());   // the write (lsn 5) not durable
  EXPECT_THAT(CoolNames(5, Seconds(4)), ElementsAre("HotNameRemove d"));
}

TEST_F(ActivityLogTest, AFileIsNoLongerFreshOnceItsDirectoryCools) {
  TouchNamespace(Create("d/f"), 1);
  CoolNames(1);
  EXPECT_FALSE(log_->Fresh("d/f"));
  EXPECT_THAT(Touch("d/f", 0, 0, 2, 1), ElementsAre("HotAdd d/f:0"));
}

TEST_F(ActivityLogTest, AFreshFilesFirstZoneLeavesAFullLogWithoutARecord) {
  Restart(1);
  TouchNamespace(Create("d/f"), 1);
  Touch("d/f", 0, 0, 2, 0);
  // Over capacity, it makes room once durable on both; it was never persisted hot.
  EXPECT_THAT(Touch("g", 0, 0, 3, 2), ElementsAre("HotAdd g:0"));
  EXPECT_THAT(NotDurable(0), ElementsAre("g:0"));
}

TEST_F(ActivityLogTest, AnOlderFileUnderAHotDirectoryHasHotZonesAsUsual) {
  TouchNamespace(Create("d/new"), 1);
  EXPECT_THAT(Touch("d/old", 0, 0, 2, 1), ElementsAre("HotAdd d/old:0"));
}

TEST_F(ActivityLogTest, ARenamedOrRemovedFreshFileIsNoLongerFresh) {
  TouchNamespace(Create("d/f"), 1);
  TouchNamespace(Create("d/g"), 2);
  Rename("d/f", "d/h", 3);
  Remove("d/g");
  EXPECT_FALSE(log_->Fresh("d/f"));
  EXPECT_FALSE(log_->Fresh("d/h"));
  EXPECT_FALSE(log_->Fresh("d/g"));
  EXPECT_THAT(Touch("d/h", 0, 0, 4, 3), ElementsAre("HotAdd d/h:0"));
}

// Records written before hot names went by directory (the file's own name) still mean what
// they meant: after a restart the name is hot, of unknown age, and goes whole.
TEST_F(ActivityLogTest, AHotFileNameFromAnOlderRecordIsStillResyncedAfterARestart) {
  Persist({record::HotNameAdd{"d/f"}});
  Restart(4);
  EXPECT_THAT(TakeNamesNotDurable(1'000'000), ElementsAre("d/f"));
  EXPECT_THAT(CoolNames(1'000'000), IsEmpty());
}

// --- Renames and removals ---

TEST_F(ActivityLogTest, RenameKeepsHotZonesOnTheNewName) {
  Touch("d/f", 0, 1, 1, 0);
  Touch("other", 0, 0, 2, 0);
  Rename("d", "e");
  EXPECT_THAT(NotDurable(0), ElementsAre("e/f:0", "e/f:1", "other:0"));
  // The durable map moved with it: writing the new name persists nothing new.
  EXPECT_THAT(Touch("e/f", 0, 1, 3, 0), IsEmpty());
  EXPECT_EQ(log_->size(), 3u);
}

TEST_F(ActivityLogCoolingTest, RenamedZoneCoolsUnderItsNewName) {
  Touch("a", 0, 0, 1, 0);
  Touch("b", 0, 0, 2, 0);
  Rename("a", "c");
  EXPECT_THAT(Touch("b", 1, 1, 3, 2), ElementsAre("HotAdd b:1", "HotRemove c:0"));
  EXPECT_THAT(PersistedZones(), ElementsAre("b:0", "b:1"));
}

TEST_F(ActivityLogTest, RenameOntoAHotFileReplacesItsZones) {
  Touch("src", 0, 0, 1, 0);
  Touch("dst", 5, 6, 2, 0);
  Rename("src", "dst");
  EXPECT_THAT(Zones(), ElementsAre("dst:0"));
  EXPECT_EQ(log_->size(), 1u);
  EXPECT_THAT(PersistedZones(), ElementsAre("dst:0"));
}

TEST_F(ActivityLogTest, RemoveForgetsTheZonesOfAFileOrADirectory) {
  Touch("d/f", 0, 0, 1, 0);
  Touch("d/sub/g", 0, 0, 2, 0);
  Touch("dx", 0, 0, 3, 0);  // beside "d", not under it
  Remove("d");
  EXPECT_THAT(Zones(), ElementsAre("dx:0"));
  EXPECT_EQ(log_->size(), 1u);
  EXPECT_THAT(PersistedZones(), ElementsAre("dx:0"));
  // A new file under the old name is a new zone, persisted again.
  EXPECT_THAT(Touch("d/f", 0, 0, 4, 0), ElementsAre("HotAdd d/f:0"));
}

TEST_F(ActivityLogTest, ZoneTruncatedAwayIsPersistedHotAgainWhenRewritten) {
  // A truncate reaches the persisted map only (TrackNamespace emits Truncated and does not
  // tell the log): whether a zone needs a HotAdd is read from the persisted map.
  Touch("f", 0, 3, 1, 0);
  Persist({record::Truncated{"f", kZone}});
  EXPECT_THAT(PersistedZones(), ElementsAre("f:0"));
  EXPECT_THAT(Touch("f", 2, 3, 2, 0), ElementsAre("HotAdd f:2-3"));
  EXPECT_THAT(PersistedZones(), ElementsAre("f:0", "f:2", "f:3"));
}

TEST_F(ActivityLogTest, RenameAndRemoveLeaveHotNamesAsTheyWereSent) {
  // The names a namespace mutation in flight changed are resynced whole after a crash
  // under the names it carried: a later rename does not move them.
  TouchName("a", 1);
  TouchName("b", 1);
  Rename("a", "b");
  Remove("b");
  EXPECT_THAT(state_.hot_names, ElementsAre("a", "b"));
  EXPECT_THAT(TakeNamesNotDurable(0), ElementsAre("a", "b"));
}

// rename(2) of a name onto itself succeeds and changes nothing: the file's zones stay hot in
// the log as in the persisted map (the log once dropped them as the rename's destination).
TEST_F(ActivityLogTest, RenameOntoItselfKeepsTheZonesHot) {
  Touch("f", 0, 1, 1, 0);
  Rename("f", "f");
  EXPECT_THAT(NotDurable(0), ElementsAre("f:0", "f:1"));
  EXPECT_EQ(log_->size(), 2u);
  EXPECT_THAT(PersistedZones(), ElementsAre("f:0", "f:1"));
}

TEST_F(ActivityLogTest, ClearForgetsEverythingWithoutRecords) {
  // A resync target's end: the caller persists ClearHot itself.
  Touch("f", 0, 1, 1, 0);
  TouchName("a", 1);
  log_->Clear();
  EXPECT_EQ(log_->size(), 0u);
  EXPECT_THAT(Zones(), IsEmpty());
  EXPECT_THAT(TakeNamesNotDurable(0), IsEmpty());
  EXPECT_THAT(CoolNames(1'000'000), IsEmpty());
}

TEST_F(ActivityLogCoolingTest, PersistedHotZonesAlwaysMatchTheLog) {
  // Whatever the sequence, the records keep the durable hot map equal to the log's zones,
  // so a restart recovers exactly what was hot.
  uint64_t lsn = 0;
  for (int round = 0; round < 40; ++round) {
    const std::string path = round % 3 == 0 ? "a" : (round % 3 == 1 ? "dir/b" : "c");
    const uint64_t zone = static_cast<uint64_t>(round * 7) % 5;
    ++lsn;
    Touch(path, zone, zone + round % 2, lsn, lsn > 3 ? lsn - 3 : 0);
    if (round % 11 == 5) Rename("dir", "dir2");
    if (round % 11 == 10) Rename("dir2", "dir");
    if (round % 13 == 12) Remove("a");
    std::vector<std::string> in_log = Zones();
    std::sort(in_log.begin(), in_log.end());
    ASSERT_EQ(in_log, PersistedZones()) << "round " << round;
  }
}

// --- Idle zones cool (CoolIdle) ---

TEST_F(ActivityLogIdleCoolingTest, ZoneDurableOnBothAndIdleCools) {
  Touch("f", 0, 3, /*lsn=*/1, /*durable_on_both=*/0, /*at=*/10);
  EXPECT_THAT(CoolIdle(/*written_by=*/10, /*durable_on_both=*/1), ElementsAre("HotRemove f:0-3"));
  EXPECT_EQ(log_->size(), 0u);
  EXPECT_THAT(PersistedZones(), IsEmpty());
  EXPECT_FALSE(log_->MayCool());
}

TEST_F(ActivityLogIdleCoolingTest, ZoneWrittenWithinTheDelayStaysHot) {
  Touch("f", 0, 0, 1, 0, /*at=*/10);
  Touch("f", 1, 1, 2, 0, /*at=*/20);
  // Both durable on both; only zone 0 was last written by second 15.
  EXPECT_THAT(CoolIdle(15, 2), ElementsAre("HotRemove f:0"));
  EXPECT_THAT(PersistedZones(), ElementsAre("f:1"));
  EXPECT_TRUE(log_->MayCool());
}

TEST_F(ActivityLogIdleCoolingTest, ZoneWithAWriteInFlightNeverCools) {
  Touch("f", 0, 0, 1, 0, /*at=*/0);
  Touch("f", 0, 0, 5, 0, /*at=*/1);  // its newest write, lsn 5, is not durable on the peer
  EXPECT_THAT(CoolIdle(1'000, 4), IsEmpty());
  EXPECT_THAT(PersistedZones(), ElementsAre("f:0"));
  EXPECT_THAT(CoolIdle(1'000, 5), ElementsAre("HotRemove f:0"));
}

TEST_F(ActivityLogIdleCoolingTest, RewrittenZoneWaitsForTheDelayFromItsNewestWrite) {
  Touch("f", 0, 0, 1, 0, /*at=*/0);
  Touch("f", 0, 0, 2, 1, /*at=*/8);  // a hot file rewritten: no record, and no cooling yet
  EXPECT_THAT(CoolIdle(5, 2), IsEmpty());
  EXPECT_THAT(CoolIdle(8, 2), ElementsAre("HotRemove f:0"));
}

TEST_F(ActivityLogIdleCoolingTest, CooledZoneIsPersistedHotAgainBeforeItsNextWrite) {
  Touch("f", 0, 0, 1, 0, /*at=*/0);
  CoolIdle(0, 1);
  EXPECT_THAT(Touch("f", 0, 0, 2, 1, /*at=*/9), ElementsAre("HotAdd f:0"));
  EXPECT_THAT(PersistedZones(), ElementsAre("f:0"));
}

TEST_F(ActivityLogIdleCoolingTest, RecoveredZonesNeverCoolBeforeTheResyncEvenWhenRewritten) {
  Touch("f", 0, 1, 1, 0, /*at=*/0);
  Restart(8192);  // a crash: both zones of unknown age
  EXPECT_FALSE(log_->MayCool());
  Touch("f", 1, 1, 1, 0, /*at=*/50);  // written again: the crash may have left the rest of it
  EXPECT_THAT(CoolIdle(1'000, 1'000), IsEmpty());
  EXPECT_THAT(NotDurable(1'000), ElementsAre("f:0", "f:1"));
  ForgetRecovered();
  // After the resync: zone 0 (not written since) cools; zone 1 waits for its write at lsn 1.
  EXPECT_THAT(CoolIdle(1'000, 0), ElementsAre("HotRemove f:0"));
  EXPECT_THAT(CoolIdle(1'000, 1), ElementsAre("HotRemove f:1"));
}

TEST_F(ActivityLogIdleCoolingTest, ZonesTakenIntoAResyncPlanNeverCool) {
  Touch("f", 0, 0, 3, 0, /*at=*/0);
  EXPECT_THAT(TakeNotDurable(2), ElementsAre("f:0"));
  EXPECT_THAT(CoolIdle(1'000, 1'000), IsEmpty());
}

TEST_F(ActivityLogIdleCoolingTest, ManyIdleZonesCoolInOneRecordARun) {
  // Written out of order (a database's pages): the records still name runs.
  for (uint64_t zone : {5, 2, 9, 3, 4, 8, 1}) Touch("db", zone, zone, zone, 0, 0);
  Touch("wal", 0, 0, 20, 0, 0);
  EXPECT_THAT(CoolIdle(0, 20),
              ElementsAre("HotRemove db:1-5", "HotRemove db:8-9", "HotRemove wal:0"));
}

TEST_F(ActivityLogIdleCoolingTest, ZoneCopiedByARenameWithFlagsKeepsItsAgeAndTime) {
  Touch("a", 0, 0, 1, 0, /*at=*/0);
  Touch("b", 1, 1, 7, 0, /*at=*/30);
  std::vector<ReplicaRecord> records;
  log_->Blend("a", "b", 8, state_.hot_names, records);
  Persist({record::Renamed{"a", "b", /*blend=*/true}});
  // a:0 and its copy b:0 were last written at second 0; b:1 and a:1 at second 30.
  EXPECT_THAT(CoolIdle(10, 7), ElementsAre("HotRemove a:0", "HotRemove b:0"));
  EXPECT_THAT(CoolIdle(30, 7), ElementsAre("HotRemove a:1", "HotRemove b:1"));
  std::vector<std::string> in_log = Zones();
  EXPECT_THAT(in_log, IsEmpty());
  EXPECT_THAT(PersistedZones(), IsEmpty());
}

}  // namespace
}  // namespace duet
