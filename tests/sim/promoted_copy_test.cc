// A new primary's copy lacks no acknowledged write its peer holds (sim/promoted_copy.h):
// judged from hand-built histories of two copies, then on a simulated pair.
#include "sim/promoted_copy.h"

#include <gtest/gtest.h>

#include "sim/run_options.h"
#include "sim/simulation.h"

namespace duet::sim {
namespace {

constexpr NodeIndex kA = 0;
constexpr NodeIndex kB = 1;
constexpr ModuleIndex kModule = 0;

// Two copies of one module under the workload, a writing: each operation reaches the copies
// it is given to, then is acknowledged.
class TwoCopies {
 public:
  TwoCopies() : model_(1, /*seed=*/42) {}

  void Write(int ops, bool on_a, bool on_b, bool acknowledge = true) {
    for (int i = 0; i < ops; ++i) {
      const uint64_t id = next_id_++;
      const Mutation mutation = model_.Next(kModule, kA, id);
      absl::Status status = absl::OkStatus();
      if (on_a) status = a_.Apply(mutation);
      if (on_b) status.Update(b_.Apply(mutation));
      if (acknowledge) model_.Completed(id, status);
    }
  }
  // The writes b would be promoted without.
  std::vector<std::string> MissingIfBServes() const {
    return WritesOnlyThePeerHolds(model_, kModule, b_.live(), a_.live());
  }
  Workload& model() { return model_; }

 private:
  Workload model_;
  MemStore a_;
  MemStore b_;
  uint64_t next_id_ = 1;
};

TEST(PromotedCopyTest, CopyLackingWritesThePeerAcknowledgedAndHoldsIsReported) {
  TwoCopies copies;
  copies.Write(40, /*on_a=*/true, /*on_b=*/true);
  copies.Write(40, /*on_a=*/true, /*on_b=*/false);  // b missed them (down, or resyncing)
  const std::vector<std::string> missing = copies.MissingIfBServes();
  ASSERT_FALSE(missing.empty());
  EXPECT_NE(missing.front().find("acknowledged by node 0"), std::string::npos) << missing.front();
}

TEST(PromotedCopyTest, UpToDateCopyPasses) {
  TwoCopies copies;
  copies.Write(80, /*on_a=*/true, /*on_b=*/true);
  EXPECT_TRUE(copies.MissingIfBServes().empty());
}

TEST(PromotedCopyTest, CopyForcedPrimaryPasses) {
  TwoCopies copies;
  copies.Write(40, /*on_a=*/true, /*on_b=*/true);
  copies.Write(40, /*on_a=*/true, /*on_b=*/false);
  copies.model().LoseAll(kModule);  // what SimCluster::Admin does for prim --force
  EXPECT_TRUE(copies.MissingIfBServes().empty());
}

TEST(PromotedCopyTest, WritesNoCopyHoldsAnyMoreAreNotTheNewPrimarysFault) {
  TwoCopies copies;
  copies.Write(40, /*on_a=*/true, /*on_b=*/true);
  copies.Write(40, /*on_a=*/false, /*on_b=*/false);  // acknowledged, then lost by both
  EXPECT_TRUE(copies.MissingIfBServes().empty());
}

TEST(PromotedCopyTest, WritesNotYetAcknowledgedMayBeMissing) {
  TwoCopies copies;
  copies.Write(40, /*on_a=*/true, /*on_b=*/true);
  copies.Write(40, /*on_a=*/true, /*on_b=*/false, /*acknowledge=*/false);
  EXPECT_TRUE(copies.MissingIfBServes().empty());
}

RunOptions CalmReplication(uint64_t seed) {
  return DeriveOptions(
      seed,
      Overrides{
          .modules = 1, .faults = std::vector<FaultKind>{}, .witness = true, .replication = true});
}

TEST(PromotedCopyTest, SecondaryServingAfterItsCrashLostAcknowledgedWritesIsReported) {
  Simulation sim(CalmReplication(5));
  sim.Start();
  sim.cluster().RunFor(absl::Seconds(5));
  ASSERT_TRUE(sim.cluster().violations().empty());
  ASSERT_TRUE(sim.cluster().Writable(kA, kModule));
  // b's crash loses what it applied and did not sync; a still holds it all.
  sim.cluster().CrashNode(kB);
  sim.cluster().RestartNode(kB);
  sim.cluster().ForceWritableForTest(kA, kModule, false);
  sim.cluster().ForceWritableForTest(kB, kModule, true);

  const RunResult result = sim.Result();
  ASSERT_FALSE(result.passed);
  EXPECT_EQ(result.violation->invariant,
            "a new primary's copy lacks no acknowledged write its peer holds");
  EXPECT_NE(result.violation->detail.find("b serves m0"), std::string::npos)
      << result.violation->detail;
  EXPECT_NE(result.violation->detail.find("the copy on a (up) holds"), std::string::npos)
      << result.violation->detail;
}

TEST(PromotedCopyTest, SecondaryTakingOverAnUpToDateCopyPasses) {
  Simulation sim(CalmReplication(5));
  sim.Start();
  sim.cluster().RunFor(absl::Seconds(5));
  ASSERT_TRUE(sim.cluster().Writable(kA, kModule));
  sim.cluster().ForceWritableForTest(kA, kModule, false);
  sim.cluster().ForceWritableForTest(kB, kModule, true);
  EXPECT_TRUE(sim.cluster().violations().empty());
}

}  // namespace
}  // namespace duet::sim
