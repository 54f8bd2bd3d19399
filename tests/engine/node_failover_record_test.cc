// The last failover status shows: when it began, from which node, and how long it took from
// the peer's loss (or the admin's prim) to start_prim having succeeded on the new primary.
// Driven through a simulated pair whose scripts take a fixed time, so the duration is known.
#include <gtest/gtest.h>

#include "engine/node.h"
#include "sim/cluster.h"
#include "sim/cluster_config.h"
#include "tests/engine/printers.h"

namespace duet {
namespace {

using sim::ClusterShape;
using sim::MakeClusterConfig;
using sim::SimCluster;

constexpr NodeIndex kA = 0;
constexpr NodeIndex kB = 1;
constexpr ModuleIndex kOnA = 0;  // default primary a
constexpr ModuleIndex kOnB = 1;  // default primary b
constexpr absl::Duration kScript = absl::Milliseconds(300);

class NodeFailoverRecordTest : public ::testing::Test {
 protected:
  void Boot(ClusterShape shape = {}) {
    cluster_ = std::make_unique<SimCluster>(MakeClusterConfig(shape), 1234);
    cluster_->scripts().latency_min = kScript;
    cluster_->scripts().latency_max = kScript;
    cluster_->Start();
    cluster_->RunFor(absl::Seconds(5));
    ASSERT_EQ(cluster_->Status(kA, kOnA).state, ModuleState::kPrim) << Log();
  }
  std::string Log() {
    std::string all;
    for (const std::string& line : cluster_->log()) all += line + "\n";
    return all;
  }
  template <class Pred>
  void RunUntil(Pred done, absl::Duration limit) {
    const absl::Time start = cluster_->now();
    while (!done() && cluster_->now() - start < limit) cluster_->RunFor(absl::Milliseconds(10));
  }

  std::unique_ptr<SimCluster> cluster_;
};

TEST_F(NodeFailoverRecordTest, NoFailoverIsShownBeforeOneHappened) {
  Boot();
  for (NodeIndex n : {kA, kB}) {
    for (ModuleIndex m : {kOnA, kOnB}) EXPECT_FALSE(cluster_->Status(n, m).last_failover);
  }
}

TEST_F(NodeFailoverRecordTest, FailoverIsTimedFromThePeersLossToStartPrimSucceeding) {
  Boot();
  const absl::Time crash = cluster_->now();
  cluster_->CrashNode(kA);
  RunUntil([&] { return cluster_->Status(kB, kOnA).last_failover.has_value(); }, absl::Seconds(10));
  const std::optional<FailoverRecord> failover = cluster_->Status(kB, kOnA).last_failover;
  ASSERT_TRUE(failover) << Log();
  EXPECT_EQ(failover->from, kA);
  EXPECT_EQ(failover->cause, FailoverCause::kPeerLost);
  // Declared lost heartbeat.timeout (2 s) after the last heartbeat heard (one interval,
  // 200 ms, at most before the crash).
  EXPECT_GE(failover->began, crash + absl::Seconds(2) - absl::Milliseconds(250));
  EXPECT_LE(failover->began, crash + absl::Seconds(2) + absl::Milliseconds(50));
  // Then stop_second and start_prim ran, one script time each.
  EXPECT_GE(failover->duration(), 2 * kScript);
  EXPECT_LE(failover->duration(), 2 * kScript + absl::Milliseconds(50));
  EXPECT_EQ(cluster_->Status(kB, kOnA).state, ModuleState::kAlone);
  // b's own module never moved.
  EXPECT_FALSE(cluster_->Status(kB, kOnB).last_failover);
}

TEST_F(NodeFailoverRecordTest, FailbackAndSwapAreNotFailovers) {
  Boot();
  cluster_->CrashNode(kA);
  RunUntil([&] { return cluster_->Status(kB, kOnA).last_failover.has_value(); }, absl::Seconds(10));
  const std::optional<FailoverRecord> on_b = cluster_->Status(kB, kOnA).last_failover;
  ASSERT_TRUE(on_b) << Log();
  cluster_->RestartNode(kA);
  RunUntil([&] { return cluster_->Status(kA, kOnA).state == ModuleState::kPrim; },
           absl::Seconds(30));
  ASSERT_EQ(cluster_->Status(kA, kOnA).state, ModuleState::kPrim) << Log();
  EXPECT_FALSE(cluster_->Status(kA, kOnA).last_failover) << "the failback is planned";
  EXPECT_EQ(cluster_->Status(kB, kOnA).last_failover, on_b) << "b keeps its record";

  ASSERT_TRUE(cluster_->Admin(kA, AdminVerb::kSwap, kOnA)->ok());
  RunUntil([&] { return cluster_->Status(kB, kOnA).state == ModuleState::kPrim; },
           absl::Seconds(10));
  ASSERT_EQ(cluster_->Status(kB, kOnA).state, ModuleState::kPrim) << Log();
  EXPECT_EQ(cluster_->Status(kB, kOnA).last_failover, on_b) << "a swap is planned";
}

TEST_F(NodeFailoverRecordTest, AdminPrimWithThePeerLostIsTimedFromTheRequest) {
  Boot({.failover = false});
  cluster_->CrashNode(kA);
  cluster_->RunFor(absl::Seconds(10));
  ASSERT_FALSE(cluster_->Status(kB, kOnA).last_failover) << Log();
  const absl::Time asked = cluster_->now();
  ASSERT_TRUE(cluster_->Admin(kB, AdminVerb::kPrim, kOnA)->ok());
  RunUntil([&] { return cluster_->Status(kB, kOnA).last_failover.has_value(); }, absl::Seconds(10));
  const std::optional<FailoverRecord> failover = cluster_->Status(kB, kOnA).last_failover;
  ASSERT_TRUE(failover) << Log();
  EXPECT_EQ(failover->cause, FailoverCause::kAdminPrim);
  EXPECT_EQ(failover->from, kA);
  EXPECT_GE(failover->began, asked);
  EXPECT_LE(failover->began, asked + absl::Milliseconds(50));
  EXPECT_GE(failover->duration(), kScript);
}

// A module handed over because its application failed beyond its budget is a failover on the
// node it goes to, timed from the handover heard there; the node it left shows none.
TEST_F(NodeFailoverRecordTest, AHandoverAfterTheApplicationFailedIsAFailoverOfCauseAppFailed) {
  Boot({.restart_max = 0});
  ASSERT_TRUE(cluster_->FailChecker(kA, kOnA)) << Log();
  const absl::Time failed = cluster_->now();
  RunUntil([&] { return cluster_->Status(kB, kOnA).last_failover.has_value(); }, absl::Seconds(10));
  const std::optional<FailoverRecord> failover = cluster_->Status(kB, kOnA).last_failover;
  ASSERT_TRUE(failover) << Log();
  EXPECT_EQ(failover->cause, FailoverCause::kAppFailed);
  EXPECT_EQ(failover->from, kA);
  // a stopped its application (stop_prim, one script time) before handing the module over.
  EXPECT_GE(failover->began, failed + kScript);
  // Then b ran stop_second and start_prim, one script time each.
  EXPECT_GE(failover->duration(), 2 * kScript);
  EXPECT_LE(failover->duration(), 2 * kScript + absl::Milliseconds(50));
  EXPECT_EQ(cluster_->Status(kB, kOnA).state, ModuleState::kPrim);
  EXPECT_FALSE(cluster_->Status(kA, kOnA).last_failover);
  EXPECT_NE(Log().find("failover from a (app failed) complete"), std::string::npos) << Log();
}

}  // namespace
}  // namespace duet
