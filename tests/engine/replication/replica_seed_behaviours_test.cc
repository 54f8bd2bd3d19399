// What the fixes for simulator seeds (tests/sim/regression_seeds_test.cc) made Replica do,
// pinned as input sequences: a seed replays a different run once the engine's random draws or
// action order change, so these tests keep each behaviour covered whatever the seeds do now.
// Only Replica's public interface is used, through ReplicaPair.
#include <gtest/gtest.h>

#include <string>

#include "engine/replication/replica.h"
#include "tests/engine/printers.h"
#include "tests/engine/replication/replica_harness.h"

namespace duet {
namespace {

constexpr int kA = 0;  // the default primary
constexpr int kB = 1;
constexpr uint32_t kZone = 64 * 1024;

std::string Bytes(size_t n, char c) { return std::string(n, c); }

ReplicaOptions Options() {
  ReplicaOptions o;
  o.zone_size = kZone;
  o.timeout = absl::Seconds(5);
  return o;
}

// a primary, b secondary, connected and in sync.
void StartInSync(ReplicaPair& pair) {
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.Connect();
  pair.Pump();
  ASSERT_TRUE(pair.replica(kA).attached()) << pair.Log(kA);
}

// Seed 2508766311947731016: a Hello ends the resync its sender was the source of. a is the
// source of a resync (neither node primary) and, at any point of it, is promoted: its new
// Hello starts a new session. Nothing of the old session (a block, its ResyncDone) may follow
// that Hello: b may already count the new session when it arrives, and would take the old
// session's ResyncDone as the end of the new one. The messages are read from the harness's
// trace, in the order each side sent them.
TEST(ReplicaSeedBehaviourTest, HelloEndsTheResyncItsSenderWasSending) {
  int interrupted = 0;
  for (int k = 0; k < 60; ++k) {
    ReplicaPair pair(Options());
    StartInSync(pair);
    pair.Disconnect();
    for (int f = 0; f < 6; ++f) {
      pair.Write(kA, "f" + std::to_string(f), 0, Bytes(kZone, static_cast<char>('a' + f)));
    }
    pair.PeerOutdated(kA);
    pair.Pump();
    pair.SetRole(kA, ReplRole::kSecondary);
    pair.Connect();  // neither is primary: a, which wrote alone, is the source
    for (int i = 0; i < k && pair.Step(); ++i) {
    }
    const bool active = pair.replica(kA).resync_status(pair.now()).active;
    interrupted += active ? 1 : 0;
    ::testing::internal::CaptureStderr();
    pair.set_trace(true);
    pair.SetRole(kA, ReplRole::kPrimary);  // a new Hello: a new session
    pair.Settle();
    pair.set_trace(false);
    const std::string trace = ::testing::internal::GetCapturedStderr();
    // Between a's new Hello and b's answer, a sends nothing of the old resync.
    const size_t hello = trace.find("-> 1: hello epoch");
    ASSERT_NE(hello, std::string::npos) << "k=" << k << "\n" << trace;
    const size_t answer = trace.find("-> 0: hello epoch", hello);
    ASSERT_NE(answer, std::string::npos) << "k=" << k << "\n" << trace;
    const std::string between = trace.substr(hello, answer - hello);
    EXPECT_EQ(between.find("-> 1: block "), std::string::npos) << "k=" << k << "\n" << between;
    EXPECT_EQ(between.find("-> 1: resync done"), std::string::npos) << "k=" << k << "\n" << between;
    EXPECT_EQ(pair.Difference(), "") << "k=" << k << "\n" << pair.Log(kA) << pair.Log(kB);
    EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << "k=" << k << pair.Log(kB);
    EXPECT_FALSE(pair.replica(kA).resync_status(pair.now()).active) << "k=" << k;
    EXPECT_FALSE(pair.replica(kB).resync_status(pair.now()).active) << "k=" << k;
    EXPECT_TRUE(pair.replica(kA).attached()) << "k=" << k << pair.Log(kA);
  }
  EXPECT_GT(interrupted, 0);  // some k promoted a in the middle of its resync
}

// Seed 15600792362695496313: a daemon restart is not a crash. The primary a crashes (machine:
// it loses a write its peer acknowledged and it had not synced) while b's daemon only
// restarts (its page cache keeps the write). a takes its hot zones from b: b did not lose
// anything, so a's rule "no roll back to a peer that restarted too" does not apply.
TEST(ReplicaSeedBehaviourTest, PeerWhoseDaemonOnlyRestartedGivesACrashedPrimaryItsHotZones) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "vm.img", 0, Bytes(1000, 'o'));
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Settle();
  const uint64_t op = pair.Write(kA, "vm.img", 5 * kZone, Bytes(34, 'n'));
  pair.Pump();
  ASSERT_TRUE(pair.Completed(kA, op) && pair.Result(kA, op).ok());
  pair.Disconnect();
  pair.Crash(kA);    // its write was never synced there
  pair.Restart(kB);  // a daemon restart: b keeps what it applied
  ASSERT_EQ(pair.side(kB).store.live().at("vm.img").data.substr(5 * kZone), Bytes(34, 'n'));
  pair.SetRole(kB, ReplRole::kSecondary);
  pair.Connect();  // neither is primary yet
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kA).store.live().at("vm.img").data.substr(5 * kZone), Bytes(34, 'n'))
      << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("vm.img").data.substr(5 * kZone), Bytes(34, 'n'));
}

// Seed 17038750638958553005 (the second half of the fix for 1170428617534984921): a copy
// promoted while a resync was overwriting it (an admin forced it) is the reference from then
// on: it is no longer inconsistent, so when it later meets a consistent peer with neither
// primary its writes made as primary are not overwritten by the peer's resync.
TEST(ReplicaSeedBehaviourTest, CopyForcedPrimaryMidResyncIsNoLongerInconsistent) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(3 * kZone, 'o'));
  pair.Settle();
  // b takes over and writes alone; a comes back as its resync target.
  pair.Disconnect();
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.PeerOutdated(kB);
  pair.Write(kB, "f", 0, Bytes(3 * kZone, 'b'));
  pair.Pump();
  pair.Connect();
  for (int i = 0; i < 50 && !pair.side(kA).disk.inconsistent; ++i) pair.Step();
  ASSERT_TRUE(pair.side(kA).disk.inconsistent) << pair.Log(kA);
  ASSERT_TRUE(pair.replica(kA).resync_target());
  // b is lost mid-resync; the admin forces a primary and it writes.
  pair.Disconnect();
  pair.SetRole(kB, ReplRole::kSecondary);
  pair.SetRole(kA, ReplRole::kPrimary);
  EXPECT_FALSE(pair.side(kA).disk.inconsistent) << pair.Log(kA);
  EXPECT_FALSE(pair.side(kA).disk.outdated);
  pair.PeerOutdated(kA);
  const uint64_t op = pair.Write(kA, "f", 0, Bytes(3 * kZone, 'z'));
  pair.Settle();
  ASSERT_TRUE(pair.Completed(kA, op) && pair.Result(kA, op).ok()) << pair.Log(kA);
  // a steps down before the pair meets again: neither is primary.
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.side(kA).store.live().at("f").data, Bytes(3 * kZone, 'z'))
      << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

// Seed 14814890090794812417: a namespace journal replayed a second time (the session that
// replayed it first was interrupted) sends every name it touches whole. Else its rename runs
// again on the target, over a name a block of the first session had already rewritten, and
// moves that new content onto the renamed file.
TEST(ReplicaSeedBehaviourTest, JournalReplayedAgainSendsTheNamesItTouchesWhole) {
  bool replayed_twice = false;
  for (int k = 0; k < 60; ++k) {
    ReplicaPair pair(Options());
    StartInSync(pair);
    pair.Write(kA, "a", 0, Bytes(100, 'o'));
    pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
    pair.Settle();
    pair.Disconnect();
    pair.Submit(kA, MakeMutation(MutationKind::kRename, "a", "b"));
    pair.Submit(kA, MakeMutation(MutationKind::kCreate, "a"));
    pair.Write(kA, "a", 0, Bytes(100, 'n'));
    pair.PeerOutdated(kA);
    pair.Pump();
    pair.Connect();  // a replays its journal, then sends the dirty zones
    for (int i = 0; i < k && pair.Step(); ++i) {
    }
    const bool active = pair.replica(kA).resync_status(pair.now()).active;
    pair.Disconnect();
    pair.Connect();  // the journal goes again if the first session did not close it
    replayed_twice |= active && !pair.side(kA).disk.journal.empty();
    pair.Settle();
    EXPECT_EQ(pair.Difference(), "") << "k=" << k << "\n" << pair.Log(kA) << pair.Log(kB);
    ASSERT_TRUE(pair.side(kB).store.live().contains("b")) << "k=" << k;
    EXPECT_EQ(pair.side(kB).store.live().at("b").data, Bytes(100, 'o')) << "k=" << k;
    EXPECT_EQ(pair.side(kB).store.live().at("a").data, Bytes(100, 'n')) << "k=" << k;
  }
  EXPECT_TRUE(replayed_twice);
}

}  // namespace
}  // namespace duet
