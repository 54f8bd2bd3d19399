// A module whose metadata could not be recovered (PersistedNode::problems, a corrupt record
// in the store) waits for the admin with that reason, and the node never acts on it: no
// script, no replication, no persist, no admin verb. The other modules run as usual.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/node.h"
#include "engine/overloaded.h"
#include "sim/cluster_config.h"
#include "tests/engine/printers.h"

namespace duet {
namespace {

using ::testing::HasSubstr;

constexpr NodeIndex kA = 0;
constexpr ModuleIndex kBroken = 0;  // default primary: a
constexpr ModuleIndex kHealthy = 1;
const absl::Time kT = absl::UnixEpoch() + absl::Hours(1);
const std::string kProblem = "metadata record 3 of modules/m0.log is corrupt";

// Whether `action` does something to module `m` (named `name`); log lines do nothing.
bool ActsOn(const Action& action, ModuleIndex m, const std::string& name) {
  return std::visit(
      Overloaded{
          [](const SendPeer&) { return false; },  // heartbeats show every module's state
          [](const LogEvent&) { return false; },
          [](const AdminReply&) { return false; },
          [](const PersistIncarnation&) { return false; },
          [&](const SendReplication& s) {
            return std::visit([&](const auto& msg) { return msg.module == name; }, s.message);
          },
          [&](const SendWitness& s) { return s.request.module == name; },
          [&](const auto& a) { return a.module == m; },
      },
      action);
}

class NodeMetadataProblemTest : public ::testing::Test {
 protected:
  NodeMetadataProblemTest() : config_(sim::MakeClusterConfig({})) {
    PersistedNode persisted;
    persisted.problems[config_.modules[kBroken].name] = kProblem;
    node_.emplace(config_, kA, 42, std::move(persisted), kT);
  }
  std::string Name(ModuleIndex m) const { return config_.modules[m].name; }
  int ActionsOn(const Actions& actions, ModuleIndex m) {
    int count = 0;
    for (const Action& a : actions) count += ActsOn(a, m, Name(m));
    return count;
  }

  Config config_;
  std::optional<Node> node_;
};

TEST_F(NodeMetadataProblemTest, ModuleWaitsWithTheProblemAsReason) {
  node_->Start(kT);
  node_->Step(kT + absl::Seconds(30), Tick{});  // the peer is long gone: failover time
  const ModuleStatus status = node_->Status(kBroken);
  EXPECT_EQ(status.state, ModuleState::kWait);
  EXPECT_EQ(status.reason, kProblem);
  EXPECT_FALSE(status.writable);
  EXPECT_FALSE(status.vip_assigned);
}

TEST_F(NodeMetadataProblemTest, NodeNeverActsOnTheModule) {
  std::vector<Actions> steps;
  steps.push_back(node_->Start(kT));
  steps.push_back(node_->Step(kT + absl::Milliseconds(1), ReplicationConnected{}));
  steps.push_back(node_->Step(kT + absl::Seconds(30), Tick{}));
  steps.push_back(node_->Step(kT + absl::Seconds(31), ReplicationDisconnected{}));
  steps.push_back(node_->Step(kT + absl::Seconds(60), Tick{}));
  int healthy = 0;
  for (const Actions& actions : steps) {
    EXPECT_EQ(ActionsOn(actions, kBroken), 0);
    healthy += ActionsOn(actions, kHealthy);
  }
  EXPECT_GT(healthy, 0);  // the other module goes on: it runs its scripts, persists...
}

TEST_F(NodeMetadataProblemTest, AdminVerbsAreRefusedWithTheProblem) {
  node_->Start(kT);
  for (AdminVerb verb : {AdminVerb::kPrim, AdminVerb::kStart, AdminVerb::kDiscard}) {
    const Actions actions =
        node_->Step(kT + absl::Seconds(1),
                    AdminCommand{.request_id = 9, .verb = verb, .module = kBroken, .force = true});
    EXPECT_EQ(ActionsOn(actions, kBroken), 0);
    bool replied = false;
    for (const Action& a : actions) {
      if (const auto* reply = std::get_if<AdminReply>(&a)) {
        replied = true;
        EXPECT_EQ(reply->status.code(), absl::StatusCode::kFailedPrecondition);
        EXPECT_THAT(std::string(reply->status.message()), HasSubstr(kProblem));
      }
    }
    EXPECT_TRUE(replied);
  }
}

TEST_F(NodeMetadataProblemTest, TheStartLogSaysWhyTheModuleWaits) {
  bool logged = false;
  for (const Action& a : node_->Start(kT)) {
    if (const auto* e = std::get_if<LogEvent>(&a)) {
      logged |= e->module == kBroken && e->text.find(kProblem) != std::string::npos;
    }
  }
  EXPECT_TRUE(logged);
}

}  // namespace
}  // namespace duet
