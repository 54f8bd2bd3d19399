// A new primary's copy lacks no acknowledged write its peer holds (sim/promoted_copy.h):
// judged from hand-built histories of two copies, then on a simulated pair.
#include "sim/promoted_copy.h"

#include <gtest/gtest.h>

#include "sim/cluster.h"
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

// b's crash loses what it applied and did not sync, so its copy lacks acknowledged writes
// that a (down) holds. A checker of its own is then fed the events of a
// forced promotion of b by hand, reading that cluster's copies, model and status.
class ForcedPromotionTest : public ::testing::Test {
 protected:
  // Seeds whose crash of b loses acknowledged writes (most do).
  explicit ForcedPromotionTest(bool witness = true, uint64_t seed = 5)
      : sim_(DeriveOptions(seed, Overrides{.modules = 1,
                                           .faults = std::vector<FaultKind>{},
                                           .witness = witness,
                                           .replication = true})),
        checker_(sim_.cluster()) {}

  void SetUp() override {
    sim_.Start();
    cluster().RunFor(absl::Seconds(5));
    ASSERT_TRUE(cluster().Writable(kA, kModule));
    cluster().CrashNode(kB);
    cluster().RestartNode(kB);
    // a's daemon dies keeping its page cache: its copy holds all it acknowledged. b, its copy
    // not known up to date, waits.
    cluster().CrashNode(kA, /*lose_unsynced=*/false);
    cluster().RunFor(absl::Seconds(5));
    ASSERT_FALSE(cluster().Writable(kB, kModule));
    // A force counts there: b has lost its peer (engine/admin_verbs.cc claims).
    ASSERT_FALSE(cluster().PeerAlive(kB));
    ASSERT_NE(cluster().Status(kB, kModule).owner, kB);
    ASSERT_FALSE(WritesOnlyThePeerHolds(cluster().workload(), kModule,
                                        cluster().store(kB, kModule).live(),
                                        cluster().store(kA, kModule).live())
                     .empty());
  }

  SimCluster& cluster() { return sim_.cluster(); }
  absl::Time now() { return cluster().now(); }
  void Force() { checker_.OnAdminCommand(now(), kB, kModule, AdminVerb::kPrim, /*force=*/true); }
  // b persists a token naming `owner`, `terms_on` terms past the one it holds now.
  void Persist(NodeIndex owner, uint64_t terms_on) {
    checker_.OnTokenPersisted(
        now(), kB, kModule,
        PersistedModule{.term = cluster().Status(kB, kModule).term + terms_on, .owner = owner});
  }
  // b serves, then stops writing: `fenced` freezes writes before the VIP goes (a fence), else
  // the VIP goes first (a planned stop).
  void ServeThenStop(bool fenced) {
    checker_.OnWritable(now(), kB, kModule, true);
    checker_.OnVip(now(), kB, kModule, true);
    if (!fenced) checker_.OnVip(now(), kB, kModule, false);
    checker_.OnWritable(now(), kB, kModule, false);
    if (fenced) checker_.OnVip(now(), kB, kModule, false);
  }
  int FailuresWhenBServes() {
    checker_.OnWritable(now(), kB, kModule, true);
    return checker_.failures();
  }

  Simulation sim_;
  PromotedCopyChecker checker_;
};

TEST_F(ForcedPromotionTest, ACopyLackingThePeersWritesIsReportedWithoutAForce) {
  EXPECT_EQ(FailuresWhenBServes(), 1);
}

TEST_F(ForcedPromotionTest, AForcedNodeMayServeACopyLackingThePeersWrites) {
  Force();
  EXPECT_EQ(FailuresWhenBServes(), 0);
}

TEST_F(ForcedPromotionTest, AForceEndsWhenTheNodeFences) {
  Force();
  ServeThenStop(/*fenced=*/true);
  EXPECT_EQ(FailuresWhenBServes(), 1);
}

TEST_F(ForcedPromotionTest, APlannedStopKeepsTheForce) {
  Force();
  Persist(kB, 1);  // b took the module over
  ServeThenStop(/*fenced=*/false);
  Persist(kB, 1);  // stopped by the admin: the same token again (the engine keeps the force)
  EXPECT_EQ(FailuresWhenBServes(), 0);
}

TEST_F(ForcedPromotionTest, AForceEndsWhenTheNodeHandsTheModuleOver) {
  Force();
  Persist(kB, 1);  // b took the module over
  ServeThenStop(/*fenced=*/false);
  Persist(kA, 2);  // and handed it to a
  EXPECT_EQ(FailuresWhenBServes(), 1);
}

TEST_F(ForcedPromotionTest, AForceEndsWhenTheNodeHearsThatThePeerOwnsTheModule) {
  Force();
  Persist(kA, 1);  // before b could claim it, a's newer term reached b
  EXPECT_EQ(FailuresWhenBServes(), 1);
}

TEST_F(ForcedPromotionTest, AForceEndsWithTheNodesProcess) {
  Force();
  checker_.OnNodeStarted(now(), kB);
  EXPECT_EQ(FailuresWhenBServes(), 1);
}

TEST_F(ForcedPromotionTest, APrimWithoutForceExcusesNothing) {
  checker_.OnAdminCommand(now(), kB, kModule, AdminVerb::kPrim, /*force=*/false);
  EXPECT_EQ(FailuresWhenBServes(), 1);
}

class WithoutAWitnessTest : public ForcedPromotionTest {
 protected:
  WithoutAWitnessTest() : ForcedPromotionTest(/*witness=*/false, /*seed=*/6) {}
};

TEST_F(WithoutAWitnessTest, ATakeoverLackingWhatThePeerWroteAloneIsASplitBrainNotALoss) {
  checker_.OnLog(now(), kA, "m0: dropping the peer (connection lost); continuing alone, tracking");
  EXPECT_EQ(FailuresWhenBServes(), 0);
}

TEST_F(WithoutAWitnessTest, AfterTheirNextDataHandshakeATakeoverLackingThePeersWritesIsReported) {
  checker_.OnLog(now(), kA, "m0: continuing alone, term 1");
  checker_.OnLog(now(), kA, "m0: connected: resync to the peer; this node is the source");
  EXPECT_EQ(FailuresWhenBServes(), 1);
}

}  // namespace
}  // namespace duet::sim
