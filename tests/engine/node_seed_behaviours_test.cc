// What the fixes for simulator seeds (tests/sim/regression_seeds_test.cc) made Node do, pinned
// as scenarios of a simulated pair without random faults (as node_test.cc builds them): a seed
// replays a different run once the engine's random draws or action order change, so these
// tests keep each behaviour covered whatever the seeds do now. Only Node's public interface
// is used (through SimCluster).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "engine/node.h"
#include "sim/cluster.h"
#include "sim/cluster_config.h"
#include "tests/engine/printers.h"

namespace duet {
namespace {

using sim::ClusterShape;
using sim::MakeClusterConfig;
using sim::SimCluster;

constexpr NodeIndex kA = 0;  // default primary of m0
constexpr NodeIndex kB = 1;

class NodeSeedBehaviourTest : public ::testing::Test {
 protected:
  void Boot(Config config) {
    cluster_ = std::make_unique<SimCluster>(std::move(config), 1234);
    cluster_->Start();
    cluster_->RunFor(absl::Seconds(5));
  }
  void Boot(ClusterShape shape = {}) { Boot(MakeClusterConfig(shape)); }
  // With the nodes' replication engines and the application workload.
  void BootReplicating(ClusterShape shape = {}) {
    cluster_ = std::make_unique<SimCluster>(MakeClusterConfig(shape), 1234, /*replication=*/true);
    cluster_->Start();
    cluster_->RunFor(absl::Seconds(5));
  }
  template <class Pred>
  bool RunUntil(Pred done, absl::Duration limit) {
    const absl::Time start = cluster_->now();
    while (!done() && cluster_->now() - start < limit) cluster_->RunFor(absl::Milliseconds(10));
    return done();
  }
  ModuleState State(NodeIndex n, ModuleIndex m) { return cluster_->Status(n, m).state; }
  void ExpectNoViolations() {
    for (const std::string& v : cluster_->violations()) ADD_FAILURE() << v;
  }
  std::string Log() {
    std::string all;
    for (const std::string& line : cluster_->log()) all += line + "\n";
    return all;
  }
  bool Logged(const std::string& text, size_t from = 0) {
    const auto& log = cluster_->log();
    for (size_t i = from; i < log.size(); ++i) {
      if (log[i].find(text) != std::string::npos) return true;
    }
    return false;
  }
  // Runs in steps of 1 ms until a log line containing `text` appears, up to `limit`; true if
  // it did. The step that logged it has run in full when this returns.
  bool RunUntilLogged(const std::string& text, absl::Duration limit) {
    const absl::Time start = cluster_->now();
    size_t seen = cluster_->log().size();
    while (cluster_->now() - start < limit) {
      cluster_->RunFor(absl::Milliseconds(1));
      if (Logged(text, seen)) return true;
      seen = cluster_->log().size();
    }
    return false;
  }

  std::unique_ptr<SimCluster> cluster_;
};

// Seed 4719551710116769929: both nodes claimed the same term while apart (no witness); when
// they meet, the one that yields to the default primary stops writing at once (it fences on
// adopting the verdict), not after its stop scripts: else both write meanwhile.
TEST_F(NodeSeedBehaviourTest, NodeYieldingATermTieBreakStopsWritingAtOnce) {
  Boot();
  cluster_->SetPartitioned(true);
  cluster_->RunFor(absl::Seconds(5));
  ASSERT_TRUE(cluster_->Writable(kA, 0)) << Log();
  ASSERT_TRUE(cluster_->Writable(kB, 0)) << Log();
  cluster_->SetPartitioned(false);
  ASSERT_TRUE(RunUntilLogged("b m0: split brain: both nodes claimed", absl::Seconds(5))) << Log();
  EXPECT_FALSE(cluster_->Writable(kB, 0)) << Log();
  EXPECT_FALSE(cluster_->VipAssigned(kB, 0));
  EXPECT_TRUE(cluster_->Writable(kA, 0));
}

// Seed 2643939004092675122: a's heartbeats stop reaching b, which takes the module over at
// the next term. a, still writing, hears that claim: it stops writing at once (the peer
// already writes), instead of going on while its stop scripts run.
TEST_F(NodeSeedBehaviourTest, PrimaryHearingThePeerTookOverStopsWritingAtOnce) {
  Boot();
  for (int l = 0; l < 2; ++l) cluster_->link(l, kA).up = false;  // a -> b cut
  ASSERT_TRUE(RunUntilLogged("a m0: peer took the module over", absl::Seconds(10))) << Log();
  EXPECT_FALSE(cluster_->Writable(kA, 0)) << Log();
  EXPECT_FALSE(cluster_->VipAssigned(kA, 0));
}

// Seed 4875857236239627170: the fence of a primary that hears the peer took over while it
// still wrote is reported as the split brain it is (both wrote), not as a mere fencing.
TEST_F(NodeSeedBehaviourTest, PrimaryFencedOnHearingThePeerTookOverReportsASplitBrain) {
  Boot();
  for (int l = 0; l < 2; ++l) cluster_->link(l, kA).up = false;  // a -> b cut
  const size_t from = cluster_->log().size();
  ASSERT_TRUE(RunUntilLogged("a m0: peer took the module over", absl::Seconds(10))) << Log();
  EXPECT_TRUE(Logged("a m0: fencing: split brain", from)) << Log();
}

// Seed 4139757450222652989 (asymmetric partition, no witness): a stops hearing b and goes on
// alone (at a new term), then stops writing (here the admin stops it) before it hears that b
// claimed the module meanwhile. Adopting b's term, it reports the split brain: it wrote
// alone while b took over (it is not writable any more, so no fence reports it).
TEST_F(NodeSeedBehaviourTest, OwnerThatWroteAloneReportsASplitBrainOnAdoptingThePeersClaim) {
  Boot();
  for (int l = 0; l < 2; ++l) cluster_->link(l, kB).up = false;  // b -> a cut
  cluster_->RunFor(absl::Seconds(4));
  ASSERT_TRUE(Logged("a m0: continuing alone")) << Log();
  ASSERT_TRUE(cluster_->Writable(kA, 0));
  ASSERT_TRUE(cluster_->Admin(kA, AdminVerb::kStop, 0)->ok());
  cluster_->RunFor(absl::Seconds(1));
  ASSERT_FALSE(cluster_->Writable(kA, 0)) << Log();
  for (int l = 0; l < 2; ++l) cluster_->link(l, kA).up = false;  // a -> b cut too
  cluster_->RunFor(absl::Seconds(5));
  ASSERT_TRUE(cluster_->Writable(kB, 0)) << Log();  // b claimed the next term
  const size_t from = cluster_->log().size();
  cluster_->HealNetwork();
  cluster_->RunFor(absl::Seconds(2));
  ASSERT_TRUE(Logged("a m0: peer took the module over", from)) << Log();
  EXPECT_TRUE(Logged("a m0: split brain", from)) << Log();
}

// Seed 12948605999802405267: an owner handing the module over (a swap whose stop_prim hangs)
// still renews its lease and fences when it has neither the peer's acknowledgement nor the
// lease: the handover does not skip the authority check. Here b stops hearing a (so a gets no
// acknowledgement, while b still looks an eligible target to a) and a loses the witness: a
// stops writing before its lease can expire, so before the witness may grant it to b.
TEST_F(NodeSeedBehaviourTest, OwnerHandingOverStillFencesWhenItLosesItsAuthority) {
  Boot({.witness = true});
  ASSERT_EQ(State(kA, 0), ModuleState::kPrim) << Log();
  cluster_->scripts().hang = 1.0;  // a's stop_prim hangs (60 s script timeout)
  ASSERT_TRUE(cluster_->Admin(kA, AdminVerb::kSwap, 0)->ok());
  cluster_->RunFor(absl::Milliseconds(200));
  cluster_->scripts().hang = 0;  // only that one
  ASSERT_EQ(cluster_->Status(kA, 0).running_script, ScriptKind::kStopPrim) << Log();
  ASSERT_TRUE(cluster_->Writable(kA, 0));
  for (int l = 0; l < 2; ++l) cluster_->link(l, kA).up = false;  // a -> b cut
  cluster_->witness_link(kA).up = false;
  absl::Time a_stopped = absl::InfiniteFuture(), b_started = absl::InfiniteFuture();
  const absl::Time cut = cluster_->now();
  while (cluster_->now() - cut < absl::Seconds(20)) {
    cluster_->RunFor(absl::Milliseconds(1));
    if (a_stopped == absl::InfiniteFuture() && !cluster_->Writable(kA, 0)) {
      a_stopped = cluster_->now();
    }
    if (b_started == absl::InfiniteFuture() && cluster_->Writable(kB, 0)) {
      b_started = cluster_->now();
    }
  }
  ASSERT_NE(a_stopped, absl::InfiniteFuture()) << Log();
  ASSERT_NE(b_started, absl::InfiniteFuture()) << Log();
  EXPECT_LT(a_stopped - cut, absl::Seconds(10)) << Log();  // well before the script timeout
  EXPECT_GE(b_started - a_stopped, absl::Milliseconds(500)) << Log();
  ExpectNoViolations();  // among them: no lease granted to b while a writes
}

// Seed 12948605999802405267, the renewal: an owner handing over that b no longer hears but
// that still reaches the witness keeps renewing its lease while it writes, so the witness
// never grants b the lease while a may still write.
TEST_F(NodeSeedBehaviourTest, OwnerHandingOverKeepsRenewingItsLease) {
  Boot({.witness = true});
  ASSERT_EQ(State(kA, 0), ModuleState::kPrim) << Log();
  cluster_->scripts().hang = 1.0;  // a's stop_prim hangs (60 s script timeout)
  ASSERT_TRUE(cluster_->Admin(kA, AdminVerb::kSwap, 0)->ok());
  cluster_->RunFor(absl::Milliseconds(200));
  cluster_->scripts().hang = 0;
  ASSERT_EQ(cluster_->Status(kA, 0).running_script, ScriptKind::kStopPrim) << Log();
  for (int l = 0; l < 2; ++l) cluster_->link(l, kA).up = false;  // a -> b cut
  cluster_->RunFor(absl::Seconds(20));
  EXPECT_TRUE(cluster_->Writable(kA, 0)) << Log();  // its stop_prim still runs, under a lease
  EXPECT_FALSE(cluster_->Writable(kB, 0)) << Log();
  ExpectNoViolations();
}

// Seed 1783398256398607082: a start plan goes on after a script that timed out only if the
// node still has the authority to write. b takes the module over with the witness lease; its
// stop_second hangs; meanwhile b loses the witness, so its lease lapses. When the script
// times out, the stop completes but the start part does not run: b never writes.
// (It fails with the runner's dropping of a stale start part reverted; the fix's other half,
// the runner no longer going on by itself after a script exit, cannot bite here: the node
// re-decides when the lease lapses, before the script exits.)
TEST_F(NodeSeedBehaviourTest, StartPlanDoesNotResumeWithoutAuthorityAfterAScriptTimedOut) {
  Config config = MakeClusterConfig({.witness = true});
  for (ModuleConfig& m : config.modules) m.script_timeout = absl::Seconds(20);
  Boot(std::move(config));
  ASSERT_EQ(State(kA, 0), ModuleState::kPrim) << Log();
  cluster_->scripts().hang = 1.0;
  cluster_->CrashNode(kA);
  ASSERT_TRUE(RunUntilLogged("b m0: taking over", absl::Seconds(20))) << Log();
  cluster_->witness_link(kB).up = false;  // b's lease will lapse
  ASSERT_EQ(cluster_->Status(kB, 0).running_script, ScriptKind::kStopSecond) << Log();
  ASSERT_FALSE(cluster_->Writable(kB, 0));
  const absl::Time claimed = cluster_->now();
  bool wrote = false;
  while (cluster_->now() - claimed < absl::Seconds(40)) {
    cluster_->RunFor(absl::Milliseconds(10));
    wrote |= cluster_->Writable(kB, 0);
  }
  EXPECT_TRUE(Logged("b m0: stop_second timed out")) << Log();
  EXPECT_FALSE(wrote) << Log();
  EXPECT_NE(State(kB, 0), ModuleState::kAlone);
}

// Seed 1603458484779911571: a stops writing (the admin stops it) with stream writes in flight
// that b never acknowledges (b no longer hears a, and the replication connection is down);
// b takes the module over. Adopting b's term, a is not writable, so no fence runs: its replica
// must still fail those writes (they were never acknowledged) so that it can become
// secondary. Else they are never answered and the replica stays primary (in the seed's run
// the pair then refused to replicate: both said primary).
TEST_F(NodeSeedBehaviourTest, StoppedOwnerWhoseModuleThePeerTookFailsItsWritesInFlight) {
  BootReplicating();
  ASSERT_EQ(State(kA, 0), ModuleState::kPrim) << Log();
  for (int i = 0; i < 1000 && cluster_->workload().outstanding(0) == 0; ++i) {
    cluster_->RunFor(absl::Microseconds(50));
  }
  ASSERT_GT(cluster_->workload().outstanding(0), 0);
  for (int l = 0; l < 2; ++l) cluster_->link(l, kA).up = false;  // a -> b cut
  ASSERT_TRUE(cluster_->Admin(kA, AdminVerb::kStop, 0)->ok());
  ASSERT_TRUE(RunUntil([&] { return !cluster_->Writable(kA, 0); }, absl::Seconds(1))) << Log();
  ASSERT_EQ(cluster_->Status(kA, 0).owner, kA);  // a cannot hand over: its writes never drain
  ASSERT_TRUE(RunUntilLogged("a m0: peer took the module over", absl::Seconds(10))) << Log();
  // a's writes in flight are answered (failed: never acknowledged); b's complete.
  cluster_->set_workload_running(false);
  cluster_->RunFor(absl::Seconds(1));
  EXPECT_EQ(cluster_->workload().outstanding(0), 0) << Log();
  cluster_->set_workload_running(true);
  cluster_->HealNetwork();
  ASSERT_TRUE(cluster_->Admin(kA, AdminVerb::kStart, 0)->ok());
  EXPECT_TRUE(RunUntil(
      [&] {
        return cluster_->Status(kA, 0).data == DataState::kUpToDate &&
               cluster_->Status(kB, 0).data == DataState::kUpToDate;
      },
      absl::Seconds(30)))
      << Log();
  EXPECT_EQ(cluster_->Status(kA, 0).replication_refused, "") << Log();
  EXPECT_EQ(cluster_->Status(kB, 0).replication_refused, "") << Log();
  ExpectNoViolations();
}

// Seeds 1185811962174136001, 18320306647186235695 and 13782023766732675091: the witness
// records a copy outdated on its peer's word, and only that peer can clear the record. a
// wrote alone (b outdated at the witness), b was resynced, and a handed the module over
// before any renewal of its told the witness b was in sync again. a, no longer wanting the
// lease, releases the record: at the next partition b, the owner now, gets the lease and
// serves on instead of fencing until the admin comes.
TEST_F(NodeSeedBehaviourTest, NodeThatWroteAloneClearsTheWitnessRecordAfterHandingOver) {
  BootReplicating({.witness = true});
  ASSERT_EQ(State(kA, 0), ModuleState::kPrim) << Log();
  for (NodeIndex n : {kA, kB}) cluster_->link(0, n).up = false;  // no replication connection
  ASSERT_TRUE(RunUntilLogged("a m0: PRIM -> ALONE", absl::Seconds(10))) << Log();
  cluster_->RunFor(absl::Seconds(2));     // a writes alone: the witness records b outdated
  cluster_->witness_link(kA).up = false;  // from now on the witness hears nothing from a
  for (NodeIndex n : {kA, kB}) cluster_->link(0, n).up = true;
  ASSERT_TRUE(RunUntil(
      [&] {
        return State(kA, 0) == ModuleState::kPrim &&
               cluster_->Status(kB, 0).data == DataState::kUpToDate;
      },
      absl::Seconds(20)))
      << Log();
  ASSERT_TRUE(cluster_->Admin(kA, AdminVerb::kSwap, 0)->ok());
  ASSERT_TRUE(RunUntil([&] { return State(kB, 0) == ModuleState::kPrim; }, absl::Seconds(20)))
      << Log();
  cluster_->witness_link(kA).up = true;
  cluster_->RunFor(absl::Seconds(15));  // a's last lease runs out; b renews its own
  cluster_->SetPartitioned(true);
  cluster_->RunFor(absl::Seconds(15));
  EXPECT_TRUE(cluster_->Writable(kB, 0)) << Log();
  EXPECT_FALSE(Logged("b m0: fencing")) << Log();
  ExpectNoViolations();
}

// b serves a copy that loses a split brain, the admin having forced it primary (pinned there):
// a wrote alone (b, outdated, could not take over by itself), then the admin stopped a and,
// with the peers apart, forced b primary. When they meet, a's copy survives (the default
// primary's) and b keeps serving only because the admin placed the module there.
void ForcedPrimaryServingALosingCopy(SimCluster& cluster, bool a_flush_fails) {
  cluster.Start();
  cluster.RunFor(absl::Seconds(5));
  for (NodeIndex n : {kA, kB}) cluster.link(0, n).up = false;  // no replication connection
  cluster.RunFor(absl::Seconds(3));                            // a writes alone
  if (a_flush_fails) {
    cluster.SetDiskSyncFailure(kA, true);
    cluster.RunFor(absl::Seconds(2));
    cluster.SetDiskSyncFailure(kA, false);
  }
  ASSERT_TRUE(cluster.Admin(kA, AdminVerb::kStop, 0)->ok());
  cluster.RunFor(absl::Seconds(1));
  cluster.SetPartitioned(true);
  cluster.RunFor(absl::Seconds(3));
  ASSERT_TRUE(cluster.Admin(kB, AdminVerb::kPrim, 0, /*force=*/true)->ok());
  cluster.RunFor(absl::Seconds(3));
  ASSERT_TRUE(cluster.Writable(kB, 0));
  cluster.HealNetwork();
  cluster.RunFor(absl::Seconds(3));
  ASSERT_TRUE(cluster.Admin(kA, AdminVerb::kStart, 0)->ok());
  cluster.RunFor(absl::Seconds(3));
  ASSERT_EQ(cluster.Status(kA, 0).state, ModuleState::kSecond);
  ASSERT_TRUE(cluster.Writable(kB, 0));
  ASSERT_NE(cluster.Status(kB, 0).replication_refused.find("the peer's copy survives"),
            std::string::npos)
      << cluster.Status(kB, 0).replication_refused;
}

// Seed 694711051238700676: a primary the admin forced (pinned), whose copy loses the split
// brain, hands the module over when the admin asks for it: its writes held for the peer's
// outdate (which never comes: the peer's copy survives) fail, so it drains, and the resync
// into its copy does not make the peer ineligible. (This scenario passes with the seed's
// fixes reverted too: the writes held fail on the step-down anyway. See the seed's comment.)
TEST_F(NodeSeedBehaviourTest, ForcedPrimaryWhoseCopyLosesHandsOverWhenTheAdminAsks) {
  cluster_ = std::make_unique<SimCluster>(MakeClusterConfig({}), 1234, /*replication=*/true);
  ASSERT_NO_FATAL_FAILURE(ForcedPrimaryServingALosingCopy(*cluster_, /*a_flush_fails=*/false));
  ASSERT_TRUE(cluster_->Admin(kA, AdminVerb::kPrim, 0)->ok());
  EXPECT_TRUE(RunUntil(
      [&] { return State(kA, 0) == ModuleState::kPrim && State(kB, 0) == ModuleState::kSecond; },
      absl::Seconds(10)))
      << Log();
  EXPECT_FALSE(Logged("b m0: handover cancelled")) << Log();
  ExpectNoViolations();
}

// Seed 7737520649210495389: as above, but a's flush failed while it wrote alone, so as the
// resync source a shows its copy outdated (never promotable until repaired) the moment the
// handshake decides. b, handing over on the admin's request, becomes the resync target in
// the same handshake: the handover goes on (a copy being overwritten cannot serve), instead
// of being cancelled for a peer that no longer looks an up-to-date secondary. In this run
// (cluster seed 3) b's handshake decides before a's heartbeat arrives.
TEST_F(NodeSeedBehaviourTest, HandoverGoesOnWhenTheHandshakeMakesThisCopyTheTarget) {
  cluster_ = std::make_unique<SimCluster>(MakeClusterConfig({}), 3, /*replication=*/true);
  ASSERT_NO_FATAL_FAILURE(ForcedPrimaryServingALosingCopy(*cluster_, /*a_flush_fails=*/true));
  ASSERT_TRUE(cluster_->Admin(kA, AdminVerb::kPrim, 0)->ok());
  RunUntil([&] { return cluster_->Status(kA, 0).owner == kA; }, absl::Seconds(10));
  EXPECT_TRUE(Logged("b m0: connected: split brain; this node is the target")) << Log();
  EXPECT_FALSE(Logged("b m0: handover cancelled")) << Log();
  EXPECT_EQ(cluster_->Status(kA, 0).owner, kA) << Log();
  EXPECT_FALSE(cluster_->Writable(kB, 0)) << Log();
}

// Seed 7737520649210495389, the other order: a's heartbeat saying its copy is outdated arrives
// just before b's own handshake decides that b is the target. The fix (b9916f4) only keeps a
// handover going once this copy is the target, so b cancels it and goes back to primary: the
// seed's bug is still there in this order of events (the seed's own run shows it five times
// and converges only because the simulated admin retries until the other order comes up;
// about half of the cluster seeds of this scenario cancelled). A handover to the copy that
// survives is no longer cancelled while that peer lives. Cluster seed 2 is one that passes
// with that rule and fails without it (re-pinned when the workload grew: issue 12). When the
// journal's compaction changed for the data model, the runs drifted again: cluster seed 1
// passes; seeds 2, 6, 21, 27 and 30 of 1..40 then cancelled the handover. Later only 4, 17
// and 32 did, all for one reason (issue 11): b's start_second outlasted the split brain's
// resync into b, so b decided after its copy was repaired, when a's copy (its flush failed)
// still waited for its own resync from b. The admin's handover now waits for that and goes on
// (NodeTest.SwapToAPeerWhoseFlushFailsWaitsForItsResyncThenGoesOn); those seeds are smoke
// below.
TEST_F(NodeSeedBehaviourTest,
       HandoverGoesOnWhenThePeersViewArrivesBeforeTheHandshakeMakesThisCopyTheTarget) {
  cluster_ = std::make_unique<SimCluster>(MakeClusterConfig({}), 1, /*replication=*/true);
  ASSERT_NO_FATAL_FAILURE(ForcedPrimaryServingALosingCopy(*cluster_, /*a_flush_fails=*/true));
  ASSERT_TRUE(cluster_->Admin(kA, AdminVerb::kPrim, 0)->ok());
  RunUntil([&] { return cluster_->Status(kA, 0).owner == kA; }, absl::Seconds(10));
  EXPECT_FALSE(Logged("b m0: handover cancelled")) << Log();
  EXPECT_EQ(cluster_->Status(kA, 0).owner, kA) << Log();
  EXPECT_FALSE(cluster_->Writable(kB, 0)) << Log();
}

// Cluster seeds 4, 17 and 32 of the scenario above (issue 11): b's start_second outlasts the
// resync into b, so b decides once its copy is repaired while a's still waits for its own
// resync. The admin's handover waits for a and goes on; it is never cancelled.
TEST_F(NodeSeedBehaviourTest, ForcedPrimarysHandoverWaitsForThePeersRepairAfterTheResync) {
  for (const uint64_t seed : {4, 17, 32}) {
    SCOPED_TRACE(seed);
    cluster_ = std::make_unique<SimCluster>(MakeClusterConfig({}), seed, /*replication=*/true);
    ASSERT_NO_FATAL_FAILURE(ForcedPrimaryServingALosingCopy(*cluster_, /*a_flush_fails=*/true));
    ASSERT_TRUE(cluster_->Admin(kA, AdminVerb::kPrim, 0)->ok());
    RunUntil([&] { return State(kA, 0) == ModuleState::kPrim; }, absl::Seconds(10));
    EXPECT_FALSE(Logged("b m0: handover cancelled")) << Log();
    EXPECT_EQ(State(kA, 0), ModuleState::kPrim) << Log();
    EXPECT_FALSE(cluster_->Writable(kB, 0)) << Log();
  }
}

// Seed 13653894115852927424 (`--replication=true --faults all`, found by the simulator's
// PromotedCopyChecker): an admin's `prim --force` on a node already serving outlived its
// moment. The node later fenced (neither the peer's acknowledgement nor the lease), its peer
// took over with the witness lease and acknowledged writes alone; once the peer was gone, the
// stale force made the old owner's lease request clear the witness's record that its copy is
// outdated, and it served a copy lacking those writes. A force is spent once the node fences.
TEST_F(NodeSeedBehaviourTest, AForceEndsWhenTheNodeFencesSoItCannotLaterOverruleTheWitness) {
  BootReplicating({.witness = true});
  ASSERT_TRUE(RunUntil(
      [&] { return State(kA, 0) == ModuleState::kPrim && State(kB, 0) == ModuleState::kSecond; },
      absl::Seconds(30)))
      << Log();
  ASSERT_TRUE(cluster_->Admin(kA, AdminVerb::kPrim, 0, /*force=*/true)->ok()) << Log();
  cluster_->RunFor(absl::Seconds(1));
  // a is cut from b and from the witness: it fences; b takes over with the lease.
  cluster_->SetPartitioned(true);
  cluster_->witness_link(kA).up = false;
  ASSERT_TRUE(RunUntil([&] { return !cluster_->Writable(kA, 0) && cluster_->Writable(kB, 0); },
                       absl::Seconds(30)))
      << Log();
  cluster_->RunFor(absl::Seconds(5));  // b acknowledges writes a lacks
  // a reaches the witness again; b goes down, so its lease lapses.
  cluster_->witness_link(kA).up = true;
  cluster_->CrashNode(kB);
  const absl::Time crashed = cluster_->now();
  while (cluster_->now() - crashed < absl::Seconds(30)) {
    cluster_->RunFor(absl::Milliseconds(100));
    ASSERT_FALSE(cluster_->Writable(kA, 0)) << Log();
  }
  ExpectNoViolations();
}

}  // namespace
}  // namespace duet
