// A keep-aside (PreserveDivergent) that fails (adapter contract C5): the resync that would
// overwrite the discarded branch stops with the branch untouched, the module says why, the
// peer goes on alone, and a later session keeps the branch aside and resyncs.
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/replication/replica.h"
#include "tests/engine/printers.h"
#include "tests/engine/replication/replica_fixtures.h"

namespace duet {
namespace {

// A split brain: in sync on "shared", then apart: a (the default primary) writes A2, b, taking
// over, writes B2 and creates only-b. Then a serves again and they meet: b's branch loses.
void SplitBrainThenMeet(ReplicaPair& pair) {
  StartInSync(pair);
  pair.Write(kA, "shared", 0, "v1");
  pair.Pump();
  pair.Disconnect();
  pair.Write(kA, "shared", 0, "A2");
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Write(kB, "shared", 0, "B2");
  pair.Submit(kB, MakeMutation(MutationKind::kCreate, "only-b"));
  pair.Pump();
  pair.SetRole(kB, ReplRole::kSecondary);
  pair.SetRole(kA, ReplRole::kPrimary);
}

bool Kept(ReplicaPair& pair, int side, const std::string& path) {
  const auto& kept = pair.side(side).preserved;
  return std::find(kept.begin(), kept.end(), path) != kept.end();
}

TEST(ReplicaKeepAsideTest, AFailedKeepAsideStopsTheResyncWithoutOverwritingAndSaysWhy) {
  ReplicaPair pair(Options());
  SplitBrainThenMeet(pair);
  pair.side(kB).fail_preserve = true;
  pair.side(kB).hold_preserve_answers = true;  // a slow copy: the resync's blocks come first
  pair.Connect();
  pair.Pump();
  ASSERT_GT(pair.side(kB).blocks_received, 0u) << pair.Log(kB);
  pair.ReleasePreserveAnswers(kB);
  // a writes on meanwhile: its writes complete without b, and never reach b's unkept branch.
  const uint64_t op = pair.Write(kA, "shared", 0, "A3");
  pair.Settle(absl::Seconds(20));  // several retries, all failing

  EXPECT_GE(pair.side(kB).preserve_actions, 2u) << pair.Log(kB);  // retried
  EXPECT_GT(pair.side(kB).not_carried_out, 0u);                   // what was issued before b knew
  EXPECT_EQ(pair.side(kB).store.live().at("shared").data, "B2") << pair.Log(kB);
  EXPECT_TRUE(pair.side(kB).store.live().contains("only-b"));
  EXPECT_NE(pair.Log(kB).find("keeping the divergent branch aside failed: ENOSPC: no space left "
                              "on device; the resync waits"),
            std::string::npos)
      << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).keep_aside_failure(), "ENOSPC: no space left on device");
  EXPECT_NE(pair.replica(kA).refused_reason().find("could not keep its divergent branch aside"),
            std::string::npos)
      << pair.replica(kA).refused_reason();
  // Safe: partial, never promotable as it is; not a disk fault; nothing recorded as kept.
  EXPECT_TRUE(pair.side(kB).disk.inconsistent);
  EXPECT_FALSE(pair.side(kB).disk.disk_failed);
  EXPECT_EQ(pair.side(kB).disk.preserved_for, 0u);
  EXPECT_NE(pair.replica(kB).data_state(), DataState::kUpToDate);
  EXPECT_FALSE(pair.replica(kB).resync_target());
  ASSERT_TRUE(pair.Completed(kA, op));
  EXPECT_TRUE(pair.Result(kA, op).ok()) << pair.Result(kA, op);
}

TEST(ReplicaKeepAsideTest, TheNextSessionKeepsAsideAgainAndResyncs) {
  ReplicaPair pair(Options());
  SplitBrainThenMeet(pair);
  pair.side(kB).fail_preserve = true;
  pair.Connect();
  pair.Settle(absl::Seconds(2));
  ASSERT_FALSE(pair.replica(kB).keep_aside_failure().empty()) << pair.Log(kB);
  pair.Write(kA, "shared", 0, "A3");
  pair.side(kB).fail_preserve = false;  // space freed
  pair.Settle(absl::Seconds(40));       // within the longest retry delay

  EXPECT_TRUE(Kept(pair, kB, "shared")) << pair.Log(kB);
  EXPECT_TRUE(Kept(pair, kB, "only-b")) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).preserved_data.at("shared"), "B2");  // kept before it was overwritten
  EXPECT_NE(pair.Log(kB).find("the divergent branch is kept aside now"), std::string::npos)
      << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).keep_aside_failure(), "");
  EXPECT_NE(pair.side(kB).disk.preserved_for, 0u);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("shared").data, "A3");
  EXPECT_FALSE(pair.side(kB).store.live().contains("only-b"));
  EXPECT_TRUE(pair.replica(kA).refused_reason().empty()) << pair.replica(kA).refused_reason();
}

// The failure is in memory only: after b's restart, with neither side serving, the handshake
// says b's partial copy "resumes" its resync (no discard in the verdict). The branch was never
// kept, so that session keeps it aside first all the same.
TEST(ReplicaKeepAsideTest, AResumedResyncKeepsAsideFirstWhenNoKeepAsideSucceededForTheBranch) {
  ReplicaPair pair(Options());
  SplitBrainThenMeet(pair);
  pair.side(kB).fail_preserve = true;
  pair.Connect();
  pair.Settle(absl::Seconds(2));
  ASSERT_TRUE(pair.side(kB).disk.inconsistent);
  ASSERT_EQ(pair.side(kB).disk.preserved_for, 0u);
  pair.Disconnect();
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.Restart(kB);
  pair.side(kB).fail_preserve = false;
  pair.Connect();
  pair.Settle();

  EXPECT_EQ(pair.side(kB).preserved_data.at("shared"), "B2") << pair.Log(kB);
  EXPECT_TRUE(Kept(pair, kB, "only-b")) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("shared").data, "A2");
}

// A reconnect retries at once, without waiting for the retry delay.
TEST(ReplicaKeepAsideTest, AReconnectRetriesTheKeepAsideAtOnce) {
  ReplicaPair pair(Options());
  SplitBrainThenMeet(pair);
  pair.side(kB).fail_preserve = true;
  pair.Connect();
  pair.Settle(absl::Seconds(5));  // the delay has grown past a few seconds
  const size_t tries = pair.side(kB).preserve_actions;
  pair.side(kB).fail_preserve = false;
  pair.Disconnect();
  pair.Connect();
  pair.Pump();
  EXPECT_EQ(pair.side(kB).preserve_actions, tries + 1) << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).keep_aside_failure(), "");
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

// A full resync's target keeps every name it holds aside, once listed: the source's blocks and
// the stream, which may arrive before the listing is done, wait for that keep-aside.
TEST(ReplicaKeepAsideTest, AFullResyncKeepsTheTargetsNamesAsideBeforeAnyBlockOrStreamWriteLands) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, "a's f");
  pair.Settle();
  pair.Disconnect();
  pair.ReplaceDisk(kB, {"f"});  // a disk reused without its metadata: a blank copy with data
  pair.side(kB).hold_list_answers = true;
  pair.Connect();
  pair.Pump();
  pair.Write(kA, "f", 0, "live");
  pair.Pump();
  ASSERT_GT(pair.side(kB).blocks_received, 0u) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("f").data, "leftover f");  // nothing landed yet
  pair.ReleaseListAnswers(kB);
  pair.Settle();
  EXPECT_EQ(pair.side(kB).preserved_data.at("f"), "leftover f") << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("f").data, "livef");  // "live" over "a's f"
}

}  // namespace
}  // namespace duet
