// Seeds on which the simulator once found an engine bug, replayed on every test run. Each
// failed an invariant before its fix (the comment says which) and must pass now.
#include <gtest/gtest.h>

#include "sim/run_options.h"
#include "sim/simulation.h"

namespace duet::sim {
namespace {

struct Case {
  uint64_t seed;
  const char* faults;  // nullptr: derived from the seed
  std::optional<bool> witness;
  const char* bug;
};

class RegressionSeedTest : public ::testing::TestWithParam<Case> {};

TEST_P(RegressionSeedTest, SeedPassesEveryInvariant) {
  const Case& c = GetParam();
  Overrides overrides;
  if (c.faults != nullptr) overrides.faults = *ParseFaultList(c.faults);
  overrides.witness = c.witness;
  const RunResult result = Simulation(DeriveOptions(c.seed, overrides)).Run();
  EXPECT_TRUE(result.passed) << c.bug << "\n" << result.report;
}

INSTANTIATE_TEST_SUITE_P(
    FoundBySwarm, RegressionSeedTest,
    ::testing::Values(
        Case{12948605999802405267ull, nullptr, std::nullopt,
             "two writers: an owner handing over skipped its lease renewal and fencing"},
        Case{4719551710116769929ull, "partition,admin", true,
             "two writers: adopting the peer's term (split-brain tie-break) while writable"},
        Case{16694179344897479431ull, "crash", false,
             "two writers: a queued start-as-primary ran after the token moved"},
        Case{1783398256398607082ull, nullptr, std::nullopt,
             "two writers: a start plan resumed after a timed-out script without authority"},
        Case{4139757450222652989ull, "asymmetric", false,
             "undetected split brain: the old primary adopted the peer's claim silently"},
        Case{2643939004092675122ull, nullptr, std::nullopt,
             "undetected split brain: went on alone while the peer claimed the next term"},
        Case{4875857236239627170ull, nullptr, std::nullopt,
             "undetected split brain: fenced on adoption, logged as fencing"}),
    [](const ::testing::TestParamInfo<Case>& param_info) {
      return "Seed" + std::to_string(param_info.param.seed);
    });

}  // namespace
}  // namespace duet::sim
