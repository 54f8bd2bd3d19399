// engine/config.h: what a validated config holds when the file leaves a key out (the defaults
// DESIGN.md names), how the engine finds a node or module by name, and where each node keeps
// its state. What a broken file gets as an error is config_parser_test.cc's.
#include "engine/config.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/config_parser.h"

namespace duet {
namespace {

Config TwoNodesTwoModules() {
  Config c;
  c.nodes.resize(2);
  c.nodes[0].name = "alpha";
  c.nodes[1].name = "beta";
  c.modules.resize(2);
  c.modules[0].name = "web";
  c.modules[1].name = "db";
  return c;
}

TEST(ConfigTest, FindsNodesAndModulesByTheirExactName) {
  const Config c = TwoNodesTwoModules();
  EXPECT_EQ(c.FindNode("alpha"), NodeIndex{0});
  EXPECT_EQ(c.FindNode("beta"), NodeIndex{1});
  EXPECT_EQ(c.FindModule("web"), ModuleIndex{0});
  EXPECT_EQ(c.FindModule("db"), ModuleIndex{1});
}

TEST(ConfigTest, ANameThatIsOnlyAlikeFindsNothing) {
  const Config c = TwoNodesTwoModules();
  for (const char* name : {"", "alph", "alpha2", "Alpha", "alpha "}) {
    EXPECT_EQ(c.FindNode(name), std::nullopt) << "'" << name << "'";
  }
  for (const char* name : {"", "we", "webb", "WEB", "alpha"}) {
    EXPECT_EQ(c.FindModule(name), std::nullopt) << "'" << name << "'";
  }
}

TEST(ConfigTest, NodesAndModulesAreSeparateNamespaces) {
  Config c = TwoNodesTwoModules();
  c.modules[1].name = "beta";  // a module named like a node is a different thing
  EXPECT_EQ(c.FindModule("beta"), ModuleIndex{1});
  EXPECT_EQ(c.FindNode("beta"), NodeIndex{1});
  EXPECT_EQ(c.FindModule("alpha"), std::nullopt);
}

TEST(ConfigTest, ANodeKeepsItsStateInItsOwnDirectoryElseTheClusters) {
  Config c = TwoNodesTwoModules();
  c.state_dir = "/var/lib/duet-cluster";
  c.nodes[1].state_dir = "/srv/beta-state";
  EXPECT_EQ(c.StateDirOf(0), "/var/lib/duet-cluster");
  EXPECT_EQ(c.StateDirOf(1), "/srv/beta-state");
  // The cluster's directory is read when asked, not copied at construction.
  c.state_dir = "/elsewhere";
  EXPECT_EQ(c.StateDirOf(0), "/elsewhere");
  EXPECT_EQ(c.StateDirOf(1), "/srv/beta-state");
}

// DESIGN.md names these defaults (§3, §4, §5, §6); operators rely on them when they leave a
// key out.
TEST(ConfigTest, DefaultsAreTheOnesTheDesignPromises) {
  const Config c;
  EXPECT_EQ(c.state_dir, "/var/lib/duet");
  EXPECT_EQ(c.heartbeat.interval, absl::Milliseconds(200));
  EXPECT_EQ(c.heartbeat.timeout, absl::Seconds(2));
  EXPECT_FALSE(c.witness.has_value());
  const ModuleConfig m;
  EXPECT_EQ(m.zone_size, 64u * 1024);
  EXPECT_EQ(m.failback, Failback::kAuto);
  EXPECT_EQ(m.ack, AckMode::kApplied);
  EXPECT_EQ(m.split_brain, SplitBrainPolicy::kDiscardNonDefault);
  EXPECT_TRUE(m.failover);
  EXPECT_EQ(m.default_primary, NodeIndex{0});
  const NodeConfig n;
  EXPECT_EQ(n.admin_socket, "/run/duet/duetd.sock");
  EXPECT_TRUE(n.state_dir.empty());                     // the cluster's
  EXPECT_EQ(ReplicationConfig{}.resync_bandwidth, 0u);  // no cap
}

// The defaults must pass the parser's own rules, or a file that leaves the keys out would be
// refused for values the operator never wrote.
TEST(ConfigTest, DefaultsSatisfyTheRulesTheParserEnforces) {
  const HeartbeatConfig hb;
  EXPECT_GT(hb.timeout, 2 * hb.interval);
  const WitnessConfig w;
  EXPECT_LT(w.drift_margin, w.lease);
  EXPECT_LE(w.renew_interval, w.lease - w.drift_margin);
  const ModuleConfig m;
  EXPECT_GE(m.zone_size, 4096u);
  EXPECT_EQ(m.zone_size & (m.zone_size - 1), 0u) << "a power of two";
  EXPECT_GT(m.restart_max, 0u);  // max = 0 with a window is refused
  EXPECT_GT(m.script_timeout, absl::ZeroDuration());
  const CheckerConfig checker;
  EXPECT_GT(checker.interval, absl::ZeroDuration());
  EXPECT_GT(checker.timeout, absl::ZeroDuration());
}

// The parser fills what a file leaves out from these structs, so the two cannot drift apart.
TEST(ConfigTest, AFileThatLeavesEverythingOutGetsTheStructDefaults) {
  const absl::StatusOr<Config> parsed = ParseConfig(R"([cluster]
name = "test"
key_file = "/etc/duet/key"

[[node]]
name = "a"
heartbeat = ["10.0.0.1:7200"]
replication = "10.0.0.1:7100"

[[node]]
name = "b"
heartbeat = ["10.0.0.2:7200"]
replication = "10.0.0.2:7100"

[[module]]
name = "web"
default_primary = "a"
directories = ["/srv/web"]

[witness]
address = "10.0.0.3:7300"
)",
                                                    "duet.toml");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const Config defaults;
  EXPECT_EQ(parsed->state_dir, defaults.state_dir);
  EXPECT_EQ(parsed->heartbeat.interval, defaults.heartbeat.interval);
  EXPECT_EQ(parsed->heartbeat.timeout, defaults.heartbeat.timeout);
  EXPECT_EQ(parsed->replication.timeout, defaults.replication.timeout);
  EXPECT_EQ(parsed->replication.window_bytes, defaults.replication.window_bytes);
  EXPECT_EQ(parsed->replication.window_count, defaults.replication.window_count);
  EXPECT_EQ(parsed->replication.resync_bandwidth, defaults.replication.resync_bandwidth);
  ASSERT_TRUE(parsed->witness.has_value());
  const WitnessConfig witness;
  EXPECT_EQ(parsed->witness->lease, witness.lease);
  EXPECT_EQ(parsed->witness->renew_interval, witness.renew_interval);
  EXPECT_EQ(parsed->witness->drift_margin, witness.drift_margin);
  EXPECT_EQ(parsed->nodes[0].admin_socket, NodeConfig{}.admin_socket);
  EXPECT_EQ(parsed->StateDirOf(1), defaults.state_dir);
  ASSERT_EQ(parsed->modules.size(), 1u);
  const ModuleConfig& m = parsed->modules[0];
  const ModuleConfig module;
  EXPECT_EQ(m.script_timeout, module.script_timeout);
  EXPECT_EQ(m.restart_max, module.restart_max);
  EXPECT_EQ(m.restart_window, module.restart_window);
  EXPECT_EQ(m.failover, module.failover);
  EXPECT_EQ(m.failback, module.failback);
  EXPECT_EQ(m.ack, module.ack);
  EXPECT_EQ(m.zone_size, module.zone_size);
  EXPECT_EQ(m.split_brain, module.split_brain);
}

}  // namespace
}  // namespace duet
