// Replica, time and status (engine/replication/replica_status.cc): the deadline the engine asks
// its driver to tick it at and what the tick does there (adapter contract C1), and the figures
// `duetctl status` and the adapters show (data state, sync percent, the resync's progress).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "engine/replication/replica.h"
#include "tests/engine/printers.h"
#include "tests/engine/replication/replica_fixtures.h"

namespace duet {
namespace {

absl::Time EarliestDeadline(ReplicaPair& pair) {
  return std::min(pair.replica(kA).NextDeadline(), pair.replica(kB).NextDeadline());
}

// b falls behind by `files` files of a zone each, then the connection comes back.
void ReconnectBehindBy(ReplicaPair& pair, int files) {
  StartInSync(pair);
  WriteAlone(pair, [&] {
    for (int i = 0; i < files; ++i) {
      pair.Write(kA, "f" + std::to_string(i), 0, Bytes(kZone, static_cast<char>('a' + i)));
    }
  });
  pair.Connect();
}

// --- Time --------------------------------------------------------------------------------------

// The secondary stops answering: the primary asks to be woken when the replication timeout
// runs out for its oldest unacknowledged write, and drops the peer at that tick, not before.
TEST(ReplicaStatusTest, TheAckTimeoutIsTheDeadlineAndItsTickDropsThePeer) {
  ReplicaOptions options = Options();
  options.timeout = absl::Seconds(3);  // before the written zone's cooling pass (5 s)
  ReplicaPair pair(options);
  StartInSync(pair);
  pair.Settle();
  pair.Hold(kB, true);
  const absl::Time sent = pair.now();
  pair.Write(kA, "f", 0, "never acknowledged");
  pair.Pump();
  EXPECT_EQ(pair.replica(kA).NextDeadline(), sent + options.timeout);
  pair.Advance(options.timeout - absl::Milliseconds(1));
  ASSERT_TRUE(pair.replica(kA).attached()) << pair.Log(kA);
  EXPECT_EQ(pair.replica(kA).NextDeadline(), sent + options.timeout);
  pair.Advance(pair.replica(kA).NextDeadline() - pair.now());
  EXPECT_FALSE(pair.replica(kA).attached()) << pair.Log(kA);
}

// A write applied on the secondary is made durable by its flush, due flush_interval after it:
// that is b's deadline, and the tick there issues the flush.
TEST(ReplicaStatusTest, TheSecondarysFlushIsDueAtItsDeadlineAndMakesTheWriteDurable) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Settle();
  const absl::Time written = pair.now();
  pair.Write(kA, "f", 0, "to be flushed");
  pair.Pump();
  ASSERT_TRUE(pair.side(kB).store.live().contains("f"));
  ASSERT_FALSE(pair.side(kB).store.durable().contains("f"));
  EXPECT_EQ(pair.replica(kB).NextDeadline(), written + ReplicaOptions{}.flush_interval);
  pair.Advance(pair.replica(kB).NextDeadline() - pair.now());
  pair.Pump();
  EXPECT_TRUE(pair.side(kB).store.durable().contains("f")) << pair.Log(kB);
}

// A driver ticks the engines only at the deadlines they ask for (contract C1): every timer a
// write starts (the secondary's flush, the primary's own, the cooling of its zones) is among
// them, so the pair ends with the write durable on both, its zones cooled, and nothing due.
TEST(ReplicaStatusTest, APairTickedOnlyAtItsDeadlinesFlushesCoolsAndGoesQuiet) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(2 * kZone, 'x'));
  int ticks = 0;
  for (; ticks < 100; ++ticks) {
    pair.Pump();
    const absl::Time next = EarliestDeadline(pair);
    if (next == absl::InfiniteFuture()) break;
    pair.Advance(std::max(absl::ZeroDuration(), next - pair.now()));
  }
  ASSERT_LT(ticks, 100) << "deadlines never ended" << pair.Log(kA) << pair.Log(kB);
  EXPECT_TRUE(pair.side(kA).store.durable().contains("f"));
  EXPECT_TRUE(pair.side(kB).store.durable().contains("f"));
  EXPECT_TRUE(pair.side(kA).disk.hot.empty()) << pair.Log(kA);
  EXPECT_EQ(pair.Difference(), "");
}

// --- Status ------------------------------------------------------------------------------------

// What the module state machine and `duetctl status` are told of each copy: the primary's
// is the reference; the secondary's follows what it knows of its own.
TEST(ReplicaStatusTest, DataStateIsTheReferenceOnThePrimaryAndFollowsTheSecondarysCopy) {
  ReplicaPair pair(Options());
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUnknown);
  StartInSync(pair);
  EXPECT_EQ(pair.replica(kA).data_state(), DataState::kUpToDate);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
  pair.Disconnect();
  pair.MarkOutdated(kB);  // Node learns over the heartbeats that a wrote alone
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kOutdated);
  EXPECT_EQ(pair.replica(kA).data_state(), DataState::kUpToDate);
  pair.Write(kA, "f", 0, Bytes(3 * kZone, 'f'));
  pair.PeerOutdated(kA);
  pair.Connect();
  bool syncing = false;
  for (int guard = 0; guard < 100000 && pair.Step(); ++guard) {
    syncing = syncing || pair.replica(kB).data_state() == DataState::kSyncing;
  }
  EXPECT_TRUE(syncing) << pair.Log(kB);
  pair.Settle();
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
}

// The percent a syncing secondary shows starts at 0, only grows, stays below 100 while any
// zone is left (an adapter shows 100 as in sync), and is 100 once the copy is up to date.
TEST(ReplicaStatusTest, SyncPercentGoesFromZeroUpAndReachesAHundredOnlyWhenInSync) {
  ReplicaOptions options = Options();
  options.resync_window_bytes = 2 * kZone;  // blocks go two at a time: progress shows between
  ReplicaPair pair(options);
  ReconnectBehindBy(pair, 8);
  std::vector<int> seen;
  for (int guard = 0; guard < 100000; ++guard) {
    if (!pair.Step()) {
      if (pair.replica(kB).data_state() == DataState::kUpToDate) break;
      pair.Advance(absl::Milliseconds(100));
    }
    if (pair.replica(kB).data_state() == DataState::kSyncing) {
      seen.push_back(pair.replica(kB).sync_percent());
    }
  }
  ASSERT_FALSE(seen.empty()) << pair.Log(kB);
  EXPECT_EQ(seen.front(), 0);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_GT(seen.back(), 0);
  EXPECT_LE(*std::max_element(seen.begin(), seen.end()), 99);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).sync_percent(), 100);
}

// Under a bandwidth cap the source reports the bytes of its plan, those done, and the time
// the rest takes at the cap; the target reports a resync it receives, without an estimate.
TEST(ReplicaStatusTest, ResyncStatusReportsBytesLeftAndTheirTimeAtTheCappedRate) {
  ReplicaOptions options = Options();
  options.resync_bandwidth = kZone;         // a zone a second
  options.resync_window_bytes = 2 * kZone;  // the reads the cap lets go at once
  ReplicaPair pair(options);
  ReconnectBehindBy(pair, 8);
  const absl::Time started = pair.now();
  pair.Pump();
  // Asked a moment later (at the very start no estimate is given yet).
  const ResyncStatus source = pair.replica(kA).resync_status(pair.now() + absl::Milliseconds(1));
  ASSERT_TRUE(source.active) << pair.Log(kA);
  EXPECT_TRUE(source.source);
  EXPECT_EQ(source.bytes_total, 8 * kZone);
  EXPECT_EQ(source.bytes_done, 2 * kZone);
  EXPECT_EQ(source.eta, absl::Seconds(6));
  const ResyncStatus target = pair.replica(kB).resync_status(pair.now());
  EXPECT_TRUE(target.active);
  EXPECT_FALSE(target.source);
  EXPECT_EQ(target.eta, absl::ZeroDuration());
  // The source's next read under the cap is among its deadlines: ticked only there, the
  // resync ends at the cap's pace.
  for (int guard = 0; guard < 100 && pair.replica(kA).resync_status(pair.now()).active; ++guard) {
    ASSERT_NE(pair.replica(kA).NextDeadline(), absl::InfiniteFuture()) << pair.Log(kA);
    pair.Advance(std::max(absl::ZeroDuration(), pair.replica(kA).NextDeadline() - pair.now()));
    pair.Pump();
  }
  EXPECT_FALSE(pair.replica(kA).resync_status(pair.now()).active) << pair.Log(kA);
  EXPECT_GE(pair.now() - started, absl::Seconds(6));
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "");
}

// Without a cap the estimate is the bytes left at the rate seen since the resync started:
// asked later for the same progress, it grows by the time the rest takes at that lower rate.
TEST(ReplicaStatusTest, ResyncEstimateWithoutACapFollowsTheRateSeenSoFar) {
  ReplicaPair pair(Options());
  ReconnectBehindBy(pair, 8);
  ResyncStatus s;
  for (int guard = 0; guard < 100000 && s.bytes_done == 0; ++guard) {
    ASSERT_TRUE(pair.Step()) << pair.Log(kA);
    s = pair.replica(kA).resync_status(pair.now());
  }
  ASSERT_TRUE(s.active);
  ASSERT_LT(s.bytes_done, s.bytes_total);
  EXPECT_EQ(s.eta, absl::ZeroDuration());  // no time has passed: no rate yet
  const absl::Time t1 = pair.now() + absl::Seconds(2);
  const absl::Time t2 = t1 + absl::Seconds(10);
  const ResyncStatus at1 = pair.replica(kA).resync_status(t1);
  const ResyncStatus at2 = pair.replica(kA).resync_status(t2);
  const double left = static_cast<double>(s.bytes_total - s.bytes_done);
  EXPECT_GT(at1.eta, absl::ZeroDuration());
  EXPECT_NEAR(absl::ToDoubleSeconds(at2.eta - at1.eta),
              10 * left / static_cast<double>(s.bytes_done), 1e-6);
}

}  // namespace
}  // namespace duet
