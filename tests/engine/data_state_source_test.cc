// engine/data_state_source.h, the source production runs: ReplicaDataStates takes each
// answer from the module's Replica. Driven on a real pair of replicas (replica_harness.h);
// how Node uses a source is node_data_source_test.cc's.
#include "engine/data_state_source.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/engine/printers.h"
#include "tests/engine/replication/replica_fixtures.h"

namespace duet {
namespace {

const DataStateSource& Source() { return ReplicaDataStates::Shared(); }

DataVerdict VerdictOf(ReplicaPair& pair, int side) {
  return Source().Verdict(static_cast<ModuleIndex>(side), pair.replica(side));
}

TEST(ReplicaDataStatesTest, OneStatelessSourceIsSharedByEveryNode) {
  EXPECT_EQ(&ReplicaDataStates::Shared(), &ReplicaDataStates::Shared());
  const DataStateSource::Rules rules = Source().rules();
  EXPECT_TRUE(rules.announce_change);
  // An admin's force ends with the resync that makes the copy current, not with a verdict.
  EXPECT_FALSE(rules.up_to_date_ends_force);
}

// DESIGN.md §3: a node whose copy is not known up to date never becomes primary by itself.
TEST(ReplicaDataStatesTest, AFreshCopyIsNotKnownUpToDate) {
  ReplicaPair pair(Options());
  EXPECT_EQ(VerdictOf(pair, kA).state, DataState::kUnknown);
  EXPECT_EQ(VerdictOf(pair, kB).state, DataState::kUnknown);
}

TEST(ReplicaDataStatesTest, ThePrimarysCopyIsTheReferenceAndASyncedSecondaryIsUpToDate) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  EXPECT_EQ(VerdictOf(pair, kA), (DataVerdict{DataState::kUpToDate, 100}));
  EXPECT_EQ(VerdictOf(pair, kB), (DataVerdict{DataState::kUpToDate, 100}));
}

TEST(ReplicaDataStatesTest, ASecondaryToldItLacksWritesIsOutdated) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Disconnect();
  pair.MarkOutdated(kB);
  EXPECT_EQ(VerdictOf(pair, kB).state, DataState::kOutdated);
  EXPECT_EQ(VerdictOf(pair, kA).state, DataState::kUpToDate);
}

// Status shows "SECOND (syncing N%)" from this verdict: N never goes back, and the copy is
// up to date (100%) once the resync is done. The target learns the progress from the blocks, which
// carry what the source had acknowledged when it sent them: a resync that fits the source's window
// (resync_window_bytes, 4 MiB by default) shows 0% until done, so this one is larger than a smaller
// window.
TEST(ReplicaDataStatesTest, AResyncShowsItsProgressUntilUpToDate) {
  ReplicaOptions options = Options();
  options.resync_window_bytes = 2 * kZone;
  ReplicaPair pair(options);
  StartInSync(pair);
  pair.Disconnect();
  for (int i = 0; i < 8; ++i) pair.Write(kA, "f" + std::to_string(i), 0, Bytes(2 * kZone, 'x'));
  pair.PeerOutdated(kA);
  pair.MarkOutdated(kB);  // as Node does when a's heartbeat says it writes alone
  pair.Pump();
  ASSERT_EQ(VerdictOf(pair, kB).state, DataState::kOutdated) << pair.Log(kB);
  pair.Connect();
  bool saw_syncing = false;
  uint8_t last_percent = 0;
  for (int i = 0; i < 100000 && VerdictOf(pair, kB).state != DataState::kUpToDate; ++i) {
    if (!pair.Step()) pair.Advance(absl::Milliseconds(100));
    const DataVerdict v = VerdictOf(pair, kB);
    if (v.state != DataState::kSyncing) continue;
    saw_syncing = true;
    EXPECT_LT(v.sync_percent, 100);
    EXPECT_GE(v.sync_percent, last_percent);
    last_percent = v.sync_percent;
  }
  pair.Settle();
  EXPECT_TRUE(saw_syncing) << pair.Log(kB);
  EXPECT_GT(last_percent, 0) << "progress was shown";
  EXPECT_EQ(VerdictOf(pair, kB), (DataVerdict{DataState::kUpToDate, 100})) << pair.Log(kB);
}

// PRIM (replicated) rather than ALONE: only a primary whose stream reaches an attached peer.
TEST(ReplicaDataStatesTest, ThePeerFollowsOnlyWhileThePrimaryStreamsToIt) {
  ReplicaPair pair(Options());
  pair.SetRole(kA, ReplRole::kPrimary);
  EXPECT_FALSE(Source().PeerFollows(kA, pair.replica(kA))) << "not connected yet";
  pair.Connect();
  pair.Pump();
  EXPECT_TRUE(Source().PeerFollows(kA, pair.replica(kA)));
  EXPECT_FALSE(Source().PeerFollows(kB, pair.replica(kB))) << "a secondary streams to nobody";
  pair.Disconnect();
  EXPECT_FALSE(Source().PeerFollows(kA, pair.replica(kA)));
}

TEST(ReplicaDataStatesTest, DiscardIsRefusedOnThePrimaryAndTakenOnASecondary) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  Actions out;
  const absl::Status refused = Source().Discard(kA, pair.replica(kA), out);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(Source().Discard(kB, pair.replica(kB), out).ok());
  bool logged = false;
  for (const Action& a : out) {
    if (const auto* e = std::get_if<LogEvent>(&a)) {
      logged |= e->text.find("discards its divergent changes") != std::string::npos;
    }
  }
  EXPECT_TRUE(logged);
}

}  // namespace
}  // namespace duet
