// ToRecords (engine/replication/replica_state.h): the records a metadata store writes as a
// snapshot rebuild, through ApplyRecord from a fresh state, exactly the state they came from,
// so the store may drop the log that led there.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <vector>

#include "engine/replication/activity_log.h"
#include "engine/replication/replica_state.h"
#include "engine/rng.h"
#include "tests/engine/wire/record_fixtures.h"

namespace duet {
namespace {

ReplicaDurableState Replay(const std::vector<ReplicaRecord>& records) {
  ReplicaDurableState s;
  for (const ReplicaRecord& r : records) ApplyRecord(s, r, kFixtureZoneSize);
  return s;
}

RC_GTEST_PROP(ReplicaStateRecordsProperty, SnapshotRebuildsTheSameState, ()) {
  const auto history = *rc::gen::container<std::vector<ReplicaRecord>>(GenReplicaRecord());
  const ReplicaDurableState state = Replay(history);
  const ReplicaDurableState rebuilt = Replay(ToRecords(state));
  RC_ASSERT(DescribeState(rebuilt) == DescribeState(state));
  // A snapshot of the rebuilt state is the same snapshot (the journal is a fixpoint).
  RC_ASSERT(DescribeState(Replay(ToRecords(rebuilt))) == DescribeState(state));
}

TEST(ReplicaStateRecordsTest, ConsecutiveDirtyZonesBecomeOneRecord) {
  ReplicaDurableState s;
  s.dirty.MarkZones("big", 0, 1 << 20);
  s.dirty.MarkZones("big", (1 << 20) + 2, (1 << 20) + 2);
  int mark_dirty = 0;
  for (const ReplicaRecord& r : ToRecords(s))
    mark_dirty += std::holds_alternative<record::MarkDirty>(r);
  EXPECT_EQ(mark_dirty, 2);
  EXPECT_EQ(DescribeState(Replay(ToRecords(s))), DescribeState(s));
}

// A journal longer than the compaction window, where entries the window kept apart could meet
// once others went: the snapshot brings back the journal exactly as it was, not recompacted.
TEST(ReplicaStateRecordsTest, LongJournalComesBackExactly) {
  Rng rng(99);
  ReplicaDurableState s;
  for (int i = 0; i < 20000; ++i) {
    const int type = 4;  // Journal records only
    ApplyRecord(
        s,
        MakeFixtureRecord(type, static_cast<int>(rng.Below(8)), static_cast<int>(rng.Below(8)),
                          rng.Next(), rng.Next() & ~0xff00ull),
        kFixtureZoneSize);
  }
  ASSERT_GT(s.journal.size(), kJournalCompactionWindow);
  EXPECT_EQ(DescribeState(Replay(ToRecords(s))), DescribeState(s));
}

TEST(ReplicaStateRecordsTest, FreshStateNeedsOnlyItsGenerations) {
  EXPECT_EQ(ToRecords(ReplicaDurableState{}).size(), 1u);
}

}  // namespace
}  // namespace duet
