// Node takes the verdict on each module's copy from an injected DataStateSource
// (engine/data_state_source.h): a driver without replication sets it by hand and steps.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/data_state_source.h"
#include "engine/node.h"
#include "sim/cluster_config.h"
#include "tests/engine/fake_data_states.h"
#include "tests/engine/printers.h"

namespace duet {
namespace {

constexpr NodeIndex kA = 0;
constexpr ModuleIndex kOwnModule = 0;    // default primary: a
constexpr ModuleIndex kPeersModule = 1;  // default primary: b
const absl::Time kT = absl::UnixEpoch() + absl::Hours(1);

template <class T>
std::vector<T> Of(const Actions& actions) {
  std::vector<T> found;
  for (const Action& a : actions) {
    if (const T* t = std::get_if<T>(&a)) found.push_back(*t);
  }
  return found;
}

bool Logged(const Actions& actions, const std::string& text) {
  for (const LogEvent& e : Of<LogEvent>(actions)) {
    if (e.text.find(text) != std::string::npos) return true;
  }
  return false;
}

class NodeDataSourceTest : public ::testing::Test {
 protected:
  NodeDataSourceTest() : config_(sim::MakeClusterConfig({})), source_(config_.modules.size()) {}
  Node& Boot() {
    node_.emplace(config_, kA, 42, PersistedNode{}, kT, source_);
    node_->Start(kT);
    return *node_;
  }

  Config config_;
  FakeDataStates source_;
  std::optional<Node> node_;
};

TEST_F(NodeDataSourceTest, NodeStartsWithTheSourcesVerdict) {
  source_.Set(kPeersModule, DataState::kOutdated);
  Node& node = Boot();
  EXPECT_EQ(node.Status(kOwnModule).data, DataState::kUnknown);
  EXPECT_EQ(node.Status(kPeersModule).data, DataState::kOutdated);
}

TEST_F(NodeDataSourceTest, ANewVerdictIsTakenAtTheNextStepAndLogged) {
  Node& node = Boot();
  source_.Set(kOwnModule, DataState::kUpToDate);
  EXPECT_EQ(node.Status(kOwnModule).data, DataState::kUnknown);  // not before a step
  const Actions actions = node.Step(kT + absl::Milliseconds(1), Tick{});
  EXPECT_EQ(node.Status(kOwnModule).data, DataState::kUpToDate);
  EXPECT_TRUE(Logged(actions, "m0: data unknown -> up to date"));
}

TEST_F(NodeDataSourceTest, OwnerWithoutUpToDateDataWaitsAndSaysWhy) {
  Node& node = Boot();
  EXPECT_EQ(node.Status(kOwnModule).state, ModuleState::kWait);
  EXPECT_EQ(node.Status(kOwnModule).reason,
            "data is unknown here and the peer is not an up-to-date secondary");
  source_.Set(kOwnModule, DataState::kUpToDate);
  node.Step(kT + absl::Milliseconds(1), Tick{});
  EXPECT_NE(node.Status(kOwnModule).reason,
            "data is unknown here and the peer is not an up-to-date secondary");
}

// The rules are the source's: a change announced at once goes out in a heartbeat now.
TEST_F(NodeDataSourceTest, AnAnnouncedChangeSendsAHeartbeatAtOnce) {
  for (bool announce : {false, true}) {
    source_ = FakeDataStates(config_.modules.size());
    source_.rules_.announce_change = announce;
    source_.Set(kPeersModule, DataState::kSyncing, 10);
    Node& node = Boot();
    node.Step(kT + absl::Milliseconds(1), Tick{});  // settle what the start began
    source_.Set(kPeersModule, DataState::kSyncing, 20);
    const Actions actions = node.Step(kT + absl::Milliseconds(2), Tick{});
    EXPECT_EQ(node.Status(kPeersModule).sync_percent, 20);
    EXPECT_EQ(Of<SendPeer>(actions).size(), announce ? 1u : 0u) << "announce " << announce;
  }
}

TEST_F(NodeDataSourceTest, DiscardIsAnsweredByTheSource) {
  Node& node = Boot();
  AdminCommand discard;
  discard.request_id = 7;
  discard.verb = AdminVerb::kDiscard;
  discard.module = kPeersModule;
  const std::vector<AdminReply> replies =
      Of<AdminReply>(node.Step(kT + absl::Milliseconds(1), discard));
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].request_id, 7u);
  EXPECT_EQ(replies[0].status, absl::UnimplementedError("fake discard of 1"));
}

TEST(NodeDataSourceDefaultTest, ProductionTakesTheReplicasVerdict) {
  const Config config = sim::MakeClusterConfig({});
  Node node(config, kA, 42, PersistedNode{}, kT);
  node.Start(kT);
  // A first start with no data replicated yet: the replica knows nothing of its copy.
  EXPECT_EQ(node.Status(kOwnModule).data, DataState::kUnknown);
  EXPECT_FALSE(ReplicaDataStates::Shared().rules().up_to_date_ends_force);
  EXPECT_TRUE(ReplicaDataStates::Shared().rules().announce_change);
}

}  // namespace
}  // namespace duet
