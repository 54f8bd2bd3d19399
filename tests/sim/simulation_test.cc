// Runs of the simulator: determinism, options from the seed, a small swarm.
#include "sim/simulation.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <sstream>

#include "engine/rng.h"
#include "sim/run_options.h"
#include "sim/swarm.h"

namespace duet::sim {
namespace {

RunResult RunSeed(uint64_t seed, absl::Duration duration = absl::Seconds(20)) {
  return Simulation(DeriveOptions(seed, Overrides{.duration = duration})).Run();
}

TEST(SimulationTest, SameSeedSameTraceHash) {
  const RunResult first = RunSeed(42);
  const RunResult second = RunSeed(42);
  EXPECT_EQ(first.trace_hash, second.trace_hash);
  EXPECT_EQ(first.events, second.events);
  EXPECT_EQ(first.faults, second.faults);
  EXPECT_GT(first.events, 1000u);
}

TEST(SimulationTest, DifferentSeedsDiffer) {
  const RunResult a = RunSeed(1);
  const RunResult b = RunSeed(2);
  EXPECT_NE(a.trace_hash, b.trace_hash);
  EXPECT_NE(DeriveOptions(1).Describe(), DeriveOptions(2).Describe());
}

TEST(SimulationTest, OptionsDerivedFromSeedArePrinted) {
  const RunOptions options = DeriveOptions(42);
  EXPECT_EQ(options.Describe(), DeriveOptions(42).Describe());
  const std::string text = options.Describe();
  for (const char* name :
       {"seed: 42\n", "cluster: ", " module", "heartbeat link", "witness: ", "failback ",
        "restart budget ", "script timeout ", "phases: safety 1m",
        "faults: ", "fault rate: ", "network: latency ", "scripts: latency ", "failure rate ",
        "hang rate ", "clocks: a reads", "drift", "(bound +-"}) {
    EXPECT_NE(text.find(name), std::string::npos) << "missing \"" << name << "\" in\n" << text;
  }
  // The seed decides: over many seeds every shape shows up, within the bounds.
  std::set<int> modules, links;
  std::set<bool> witness;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    const RunOptions o = DeriveOptions(seed);
    ASSERT_GE(o.modules, 1);
    ASSERT_LE(o.modules, 8);
    ASSERT_EQ(o.drift_bound_ppm,
              DriftBoundPpm(o.drift_margin, WitnessConfig{}.lease, HeartbeatConfig{}.timeout));
    for (int64_t ppm : o.drift_ppm) ASSERT_LE(std::abs(ppm), o.drift_bound_ppm);
    modules.insert(o.modules);
    links.insert(o.heartbeat_links);
    witness.insert(o.witness);
  }
  EXPECT_EQ(modules.size(), 8u);
  EXPECT_EQ(links, (std::set<int>{1, 2, 3}));
  EXPECT_EQ(witness.size(), 2u);
}

TEST(SimulationTest, DriftBoundIsWhatTheDriftMarginCovers) {
  // Two clocks at +bound and -bound over the 6 s lease use up 90% of the margin.
  EXPECT_EQ(DriftBoundPpm(absl::Milliseconds(500), absl::Seconds(6), absl::Seconds(2)), 39130);
  EXPECT_EQ(DriftBoundPpm(absl::Milliseconds(100), absl::Seconds(6), absl::Seconds(2)), 7563);
  // A heartbeat timeout longer than the lease is the tighter bound.
  EXPECT_EQ(DriftBoundPpm(absl::Milliseconds(500), absl::Seconds(6), absl::Seconds(10)), 23076);
  // A margin past the heartbeat timeout: acknowledgements are never trusted, only the lease.
  EXPECT_EQ(DriftBoundPpm(absl::Seconds(3), absl::Seconds(6), absl::Seconds(2)), 300000);
  EXPECT_EQ(DriftBoundPpm(absl::ZeroDuration(), absl::Seconds(6), absl::Seconds(2)), 0);
}

TEST(SimulationTest, DriftsAreSmallAndLargeWithinTheBound) {
  constexpr int64_t kBound = 39130;
  Rng rng(5);
  int small = 0, large = 0, negative = 0;
  constexpr int kDraws = 10000;
  for (int i = 0; i < kDraws; ++i) {
    const int64_t ppm = DriftFromDraw(rng.Next(), kBound);
    ASSERT_LE(std::abs(ppm), kBound);
    if (std::abs(ppm) < kBound / 100) ++small;
    if (std::abs(ppm) >= kBound * 8 / 10) ++large;
    if (ppm < 0) ++negative;
  }
  EXPECT_GT(small, kDraws / 10);
  EXPECT_GT(large, kDraws / 2);
  EXPECT_NEAR(negative, kDraws / 2, kDraws / 20);
  EXPECT_EQ(DriftFromDraw(rng.Next(), 0), 0);
}

TEST(SimulationTest, LaterFaultKindsNeedTheirSetting) {
  EXPECT_EQ(*ParseFaultList("isolate,stream-gap"),
            (std::vector<FaultKind>{FaultKind::kIsolate, FaultKind::kStreamGap}));
  int isolate = 0, stream_gap = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const RunOptions o = DeriveOptions(seed);
    EXPECT_FALSE(o.Enabled(FaultKind::kIsolate) && !o.witness) << seed;
    EXPECT_FALSE(o.Enabled(FaultKind::kStreamGap)) << "replication mode only: " << seed;
    const RunOptions r = DeriveOptions(seed, Overrides{.replication = true});
    isolate += o.Enabled(FaultKind::kIsolate);
    stream_gap += r.Enabled(FaultKind::kStreamGap);
  }
  EXPECT_GT(isolate, 20);
  EXPECT_GT(stream_gap, 50);
  // Asked for, an isolation brings a witness.
  EXPECT_TRUE(DeriveOptions(3, Overrides{.faults = *ParseFaultList("isolate")}).witness);
}

TEST(SimulationTest, CommandLineOverridesAreKeptAndReplayed) {
  const absl::StatusOr<std::vector<FaultKind>> faults = ParseFaultList("crash,partition");
  ASSERT_TRUE(faults.ok());
  const RunOptions options =
      DeriveOptions(5, Overrides{.duration = absl::Seconds(30), .modules = 3, .faults = *faults});
  EXPECT_EQ(options.modules, 3);
  EXPECT_EQ(options.safety_duration, absl::Seconds(30));
  EXPECT_EQ(options.EnabledKinds(),
            (std::vector<FaultKind>{FaultKind::kPartition, FaultKind::kCrash}));
  EXPECT_EQ(options.ReplayCommand(),
            "duet-sim --seed 5 --duration 30s --modules 3 --faults crash,partition "
            "--trace /tmp/duet-5.trace");
  EXPECT_EQ(ParseFaultList("crash,nonsense").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ParseFaultList("none")->empty());
}

TEST(SimulationTest, WitnessFaultsAskedForBringAWitness) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const RunOptions o = DeriveOptions(seed, Overrides{.faults = *ParseFaultList("witness-crash")});
    EXPECT_TRUE(o.witness);
    EXPECT_TRUE(o.Enabled(FaultKind::kWitnessCrash));
  }
}

TEST(SimulationTest, RunInjectsFaultsAndConverges) {
  const RunOptions options =
      DeriveOptions(3, Overrides{.duration = absl::Seconds(30), .faults = *ParseFaultList("all")});
  const RunResult result = Simulation(options).Run();
  EXPECT_TRUE(result.passed) << result.report;
  uint64_t injected = 0;
  for (uint64_t n : result.faults) injected += n;
  EXPECT_GE(injected, 3u);
  EXPECT_NE(result.converged_after, absl::InfiniteDuration());
  EXPECT_LE(result.converged_after, options.liveness_bound);
  const std::string summary = FormatSummary(options, result);
  for (const char* name : {"events processed: ", "faults injected: ", "failovers: ", "resyncs: 0",
                           "writes verified: 0",
                           "simulated time: ", "wall time: ", "simulated/real: ", "trace hash: "}) {
    EXPECT_NE(summary.find(name), std::string::npos) << name << "\n" << summary;
  }
}

TEST(SimulationTest, SmallSwarmPasses) {
  std::ostringstream out;
  const SwarmTally tally =
      RunSwarm(SwarmOptions{.base_seed = 2026,
                            .count = 30,
                            .jobs = 2,
                            .overrides = Overrides{.duration = absl::Seconds(20)}},
               out);
  EXPECT_EQ(tally.runs, 30);
  EXPECT_EQ(tally.failed, 0) << out.str();
  EXPECT_NE(out.str().find("swarm: 30 runs, 30 passed, 0 failed"), std::string::npos) << out.str();
}

}  // namespace
}  // namespace duet::sim
