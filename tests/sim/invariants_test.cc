// The invariant checkers can fail: each is shown a violation built by hand.
#include "sim/invariants.h"

#include <gtest/gtest.h>

#include "sim/cluster.h"
#include "sim/cluster_config.h"
#include "sim/run_options.h"
#include "sim/simulation.h"

namespace duet::sim {
namespace {

constexpr NodeIndex kA = 0;
constexpr NodeIndex kB = 1;

RunOptions CalmOptions(uint64_t seed, bool witness) {
  return DeriveOptions(
      seed, Overrides{.modules = 2, .faults = std::vector<FaultKind>{}, .witness = witness});
}

TEST(InvariantsTest, SecondWriterWithWitnessIsReportedWithSeedAndReplayCommand) {
  Simulation sim(CalmOptions(7, /*witness=*/true));
  sim.Start();
  sim.cluster().RunFor(absl::Seconds(5));
  ASSERT_TRUE(sim.cluster().violations().empty());
  ASSERT_TRUE(sim.cluster().Writable(kA, 0));
  sim.cluster().ForceWritableForTest(kB, 0, true);  // m0 is homed on a

  const RunResult result = sim.Result();
  ASSERT_FALSE(result.passed);
  ASSERT_TRUE(result.violation.has_value());
  EXPECT_EQ(result.violation->invariant, "at most one writer per module");
  EXPECT_EQ(result.violation_at, "00:00:05.000");
  EXPECT_NE(result.report.find("INVARIANT VIOLATED: at most one writer per module"),
            std::string::npos)
      << result.report;
  EXPECT_NE(result.report.find("two writers for module m0: b became writable while a still is"),
            std::string::npos)
      << result.report;
  EXPECT_NE(result.report.find("at simulated time 00:00:05.000"), std::string::npos);
  EXPECT_NE(result.report.find("seed: 7"), std::string::npos);
  EXPECT_NE(result.report.find("replay: duet-sim --seed 7 --modules 2 --faults none "
                               "--witness=true --trace /tmp/duet-7.trace"),
            std::string::npos)
      << result.report;
}

TEST(InvariantsTest, SecondWriterWithoutWitnessIsNotATwoWritersViolation) {
  SimCluster cluster(MakeClusterConfig({.modules = 1}), 3);
  cluster.Start();
  cluster.RunFor(absl::Seconds(5));
  cluster.ForceWritableForTest(kB, 0, true);
  EXPECT_TRUE(cluster.violations().empty());
}

TEST(InvariantsTest, UndetectedSplitBrainIsReported) {
  Simulation sim(CalmOptions(11, /*witness=*/false));
  sim.Start();
  sim.cluster().RunFor(absl::Seconds(5));
  sim.cluster().ForceWritableForTest(kB, 0, true);
  sim.cluster().RunFor(absl::Seconds(5));
  // A second writer forced by hand has no fault behind it: the accuracy checker says so at
  // once; the split brain's detection is judged only at the end of the run.
  const std::vector<Violation>& seen = sim.cluster().violation_records();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].invariant, "failovers are explained by faults");
  sim.FinishChecks();
  const RunResult result = sim.Result();
  ASSERT_FALSE(result.passed);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].invariant, "every split brain is detected");
  EXPECT_NE(seen[1].detail.find("m0 was writable on both nodes at once at 00:00:05.000"),
            std::string::npos)
      << seen[1].detail;
  EXPECT_NE(result.report.find("replay: duet-sim --seed 11"), std::string::npos);
}

TEST(InvariantsTest, SplitBrainThatTheEngineDetectsPasses) {
  Simulation sim(CalmOptions(12, /*witness=*/false));
  sim.Start();
  sim.cluster().RunFor(absl::Seconds(5));
  sim.PartitionForTest(true);  // both sides serve m0 and m1 alone
  sim.cluster().RunFor(absl::Seconds(5));
  EXPECT_TRUE(sim.cluster().Writable(kA, 0) && sim.cluster().Writable(kB, 0));
  sim.PartitionForTest(false);
  sim.cluster().RunFor(absl::Seconds(10));
  sim.FinishChecks();
  EXPECT_TRUE(sim.Result().passed) << sim.Result().report;
  EXPECT_GE(sim.Result().split_brains, 2);
}

TEST(InvariantsTest, OverlappingScriptsAreReported) {
  const Config config = MakeClusterConfig({.modules = 1});
  ScriptsNeverOverlapChecker checker(config);
  std::vector<Violation> seen;
  checker.set_sink([&](const Violation& v) { seen.push_back(v); });
  const absl::Time t = absl::UnixEpoch();
  checker.OnScriptStarted(t, kA, 0, ScriptKind::kPrestart);
  checker.OnScriptEnded(t, kA, 0);
  checker.OnScriptStarted(t, kA, 0, ScriptKind::kStartPrim);
  checker.OnScriptStarted(t, kB, 0, ScriptKind::kPrestart);  // another node: fine
  EXPECT_TRUE(seen.empty());
  checker.OnScriptStarted(t, kA, 0, ScriptKind::kStopPrim);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].invariant, "scripts never overlap");
  EXPECT_NE(seen[0].detail.find("stop_prim started on a for m0"), std::string::npos);
  checker.OnNodeDown(t, kA);  // scripts die with the node
  checker.OnScriptStarted(t, kA, 0, ScriptKind::kPrestart);
  EXPECT_EQ(seen.size(), 1u);
}

TEST(InvariantsTest, LeaseGrantedWhileThePeerWritesIsReported) {
  const Config config = MakeClusterConfig({.modules = 2, .witness = true});
  LeaseGrantChecker checker(config);
  std::vector<Violation> seen;
  checker.set_sink([&](const Violation& v) { seen.push_back(v); });
  const absl::Time t = absl::UnixEpoch();
  checker.OnLeaseGranted(t, kA, 0);  // nobody writes
  checker.OnWritable(t, kA, 0, true);
  checker.OnLeaseGranted(t, kA, 0);  // the writer renews its own lease
  checker.OnLeaseGranted(t, kB, 1);  // another module
  EXPECT_TRUE(seen.empty());
  checker.OnLeaseGranted(t, kB, 0);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].invariant, "no lease granted while the peer writes");
  EXPECT_NE(seen[0].detail.find("granted the lease of m0 to b while a still writes it"),
            std::string::npos)
      << seen[0].detail;
  checker.OnNodeDown(t, kA);  // its writes stop with it
  checker.OnLeaseGranted(t, kB, 0);
  EXPECT_EQ(seen.size(), 1u);
}

// A primary cut off from its peer and the witness, its clock running slow against the
// witness's: within the drift bound it fences itself before the witness lets its lease go
// and the peer takes over; far beyond the bound it still writes when the peer gets the lease.
std::vector<std::string> IsolatePrimaryWithDrift(int64_t primary_ppm, int64_t witness_ppm) {
  SimCluster cluster(MakeClusterConfig({.modules = 1, .witness = true}), 8);
  cluster.SetClockDrift(kA, primary_ppm);
  cluster.SetWitnessClockDrift(witness_ppm);
  cluster.Start();
  cluster.RunFor(absl::Seconds(5));
  EXPECT_TRUE(cluster.Writable(kA, 0));
  cluster.SetPartitioned(true);
  cluster.witness_link(kA).up = false;
  cluster.RunFor(absl::Seconds(15));
  EXPECT_FALSE(cluster.Writable(kA, 0));
  EXPECT_TRUE(cluster.Writable(kB, 0));
  return cluster.violations();
}

TEST(InvariantsTest, IsolatedPrimaryWithinTheDriftBoundFencesBeforeThePeerTakesOver) {
  const int64_t bound =
      DriftBoundPpm(WitnessConfig{}.drift_margin, WitnessConfig{}.lease, HeartbeatConfig{}.timeout);
  EXPECT_TRUE(IsolatePrimaryWithDrift(-bound, bound).empty());
}

TEST(InvariantsTest, IsolatedPrimaryFarBeyondTheDriftBoundIsCaught) {
  const std::vector<std::string> violations = IsolatePrimaryWithDrift(-250'000, 0);
  ASSERT_FALSE(violations.empty());
  EXPECT_NE(violations[0].find("no lease granted while the peer writes: the witness granted the "
                               "lease of m0 to b while a still writes it"),
            std::string::npos)
      << violations[0];
}

TEST(InvariantsTest, ModuleThatNeverComesHomeFailsConvergence) {
  SimCluster cluster(MakeClusterConfig({.modules = 2}), 5);
  ConvergenceChecker convergence(cluster.config(), absl::Seconds(10), absl::Seconds(1));
  cluster.AddChecker(&convergence);
  cluster.Start();
  cluster.RunFor(absl::Seconds(5));
  ASSERT_TRUE(cluster.Admin(kA, AdminVerb::kStop, 0)->ok());  // m0 leaves a and stays away
  convergence.Begin(cluster.now());
  ConvergenceChecker::Outcome outcome = ConvergenceChecker::Outcome::kWaiting;
  while (outcome == ConvergenceChecker::Outcome::kWaiting) {
    cluster.RunFor(absl::Milliseconds(100));
    outcome = convergence.Poll(cluster.now(), cluster);
  }
  EXPECT_EQ(outcome, ConvergenceChecker::Outcome::kFailed);
  ASSERT_EQ(cluster.violation_records().size(), 1u);
  const Violation& v = cluster.violation_records()[0];
  EXPECT_EQ(v.invariant, "convergence and failback within the bound");
  EXPECT_NE(v.detail.find("m0 (home a): a=STOP (stopped by the admin)"), std::string::npos)
      << v.detail;
  EXPECT_EQ(v.detail.find("m1 (home b)"), std::string::npos) << v.detail;
}

TEST(InvariantsTest, ConvergedPairPassesConvergence) {
  SimCluster cluster(MakeClusterConfig({.modules = 3, .witness = true}), 6);
  ConvergenceChecker convergence(cluster.config(), absl::Seconds(10), absl::Seconds(1));
  cluster.AddChecker(&convergence);
  cluster.Start();
  convergence.Begin(cluster.now());
  ConvergenceChecker::Outcome outcome = ConvergenceChecker::Outcome::kWaiting;
  while (outcome == ConvergenceChecker::Outcome::kWaiting) {
    cluster.RunFor(absl::Milliseconds(100));
    outcome = convergence.Poll(cluster.now(), cluster);
  }
  EXPECT_EQ(outcome, ConvergenceChecker::Outcome::kConverged);
  EXPECT_TRUE(cluster.violations().empty());
}

}  // namespace
}  // namespace duet::sim
