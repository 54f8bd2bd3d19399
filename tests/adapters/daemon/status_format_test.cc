#include "adapters/daemon/status_format.h"

#include <gtest/gtest.h>

#include "engine/config_parser.h"

namespace duet::daemon {
namespace {

constexpr char kConfig[] = R"([cluster]
name = "shop"
key_file = "/etc/duet/key"
[[node]]
name = "a"
heartbeat = ["127.0.0.2:7200"]
replication = "127.0.0.2:7100"
[[node]]
name = "b"
heartbeat = ["127.0.0.3:7200"]
replication = "127.0.0.3:7100"
[[module]]
name = "web"
default_primary = "a"
directories = ["/srv/web"]
[[module]]
name = "db"
default_primary = "b"
directories = ["/srv/db"]
)";

// The wall clock at the queries: 2026-12-07 00:30:00 UTC.
const absl::Time kWallNow = absl::FromUnixSeconds(1796603400);

TEST(StatusFormatTest, JsonStringEscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonString("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
}

TEST(StatusFormatTest, AFreshNodeShowsEveryModuleWaitingWithItsReason) {
  absl::StatusOr<Config> config = ParseConfig(kConfig, "duet.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  absl::Time now = absl::FromUnixSeconds(1000);
  Node node(*config, 0, 1, PersistedNode{}, now);
  node.Start(now);
  // Long after the heartbeat timeout with nothing heard from b.
  NodeStatusView view = StatusOf(*config, node, now + absl::Seconds(30), kWallNow);
  ASSERT_EQ(view.modules.size(), 2u);

  std::string json = FormatStatusJson(view);
  EXPECT_EQ(
      json.rfind("{\"cluster\":\"shop\",\"node\":\"a\",\"peer\":\"b\",\"peer_alive\":false,", 0),
      0u)
      << json;
  EXPECT_NE(json.find("\"name\":\"web\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"name\":\"db\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"resync\":{\"active\":false"), std::string::npos) << json;
  EXPECT_NE(json.find("\"links\":[{\"name\":\"heartbeat 1\",\"peer_address\":\"127.0.0.3:7200\","
                      "\"heard\":false},{\"name\":\"replication\",\"peer_address\":"
                      "\"127.0.0.3:7100\",\"heard\":false}]"),
            std::string::npos)
      << json;
  EXPECT_EQ(json.back(), '\n');

  std::string table = FormatStatusTable(view);
  EXPECT_NE(table.find("node a (cluster shop), peer b: not seen"), std::string::npos) << table;
  EXPECT_NE(table.find("db "), std::string::npos) << table;
  EXPECT_NE(table.find(ModuleStateName(view.modules[1].state)), std::string::npos) << table;
}

TEST(StatusFormatTest, AModuleProblemShowsInTheTableAndTheJson) {
  absl::StatusOr<Config> config = ParseConfig(kConfig, "duet.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  absl::Time now = absl::FromUnixSeconds(1000);
  Node node(*config, 0, 1, PersistedNode{}, now);
  node.Start(now);
  NodeStatusView view = StatusOf(*config, node, now, kWallNow);
  view.problems = {"cannot assign VIP 10.0.0.100/24 on eth9: no such interface", ""};
  std::string table = FormatStatusTable(view);
  EXPECT_NE(table.find("problem: cannot assign VIP 10.0.0.100/24 on eth9: no such interface"),
            std::string::npos)
      << table;
  std::string json = FormatStatusJson(view);
  EXPECT_NE(json.find("\"problem\":\"cannot assign VIP 10.0.0.100/24 on eth9: no such "
                      "interface\",\"last_failover\":null}"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"problem\":\"\",\"last_failover\":null}]}"), std::string::npos) << json;
}

// The demo waits on it for earlier data to leave the activity log before it crashes a node.
TEST(StatusFormatTest, TheJsonSaysHowManyZonesACrashWouldHaveThePairCompare) {
  absl::StatusOr<Config> config = ParseConfig(kConfig, "duet.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  absl::Time now = absl::FromUnixSeconds(1000);
  Node node(*config, 0, 1, PersistedNode{}, now);
  node.Start(now);
  NodeStatusView view = StatusOf(*config, node, now, kWallNow);
  EXPECT_EQ(view.modules[0].activity_log_zones, 0u);  // a fresh node wrote nothing
  view.modules[0].activity_log_zones = 512;
  const std::string json = FormatStatusJson(view);
  EXPECT_NE(json.find("\"name\":\"web\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"replication_lag_bytes\":0,\"activity_log_zones\":512,"), std::string::npos)
      << json;
  EXPECT_NE(json.find("\"activity_log_zones\":0,"), std::string::npos) << json;  // db
}

// Found by the end-to-end test of one heartbeat network down: nothing in the status said a
// link was silent while the peer was alive through the others.
TEST(StatusFormatTest, ASilentLinkOfALivePeerShowsInTheTableAndTheJson) {
  absl::StatusOr<Config> config = ParseConfig(kConfig, "duet.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  absl::Time now = absl::FromUnixSeconds(1000);
  Node node(*config, 0, 1, PersistedNode{}, now);
  node.Start(now);
  NodeStatusView view = StatusOf(*config, node, now, kWallNow);
  EXPECT_EQ(view.links_heard, std::vector<bool>({true, true}));  // start counts as heard
  view.peer_alive = true;
  view.links_heard = {true, false};
  const std::string table = FormatStatusTable(view);
  EXPECT_NE(table.find("link replication to 127.0.0.3:7100: silent"), std::string::npos) << table;
  EXPECT_EQ(table.find("link heartbeat 1"), std::string::npos) << table;
  const std::string json = FormatStatusJson(view);
  EXPECT_NE(json.find("{\"name\":\"heartbeat 1\",\"peer_address\":\"127.0.0.3:7200\","
                      "\"heard\":true}"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("{\"name\":\"replication\",\"peer_address\":\"127.0.0.3:7100\","
                      "\"heard\":false}"),
            std::string::npos)
      << json;
}

TEST(StatusFormatTest, TheLastFailoverShowsItsOriginDateAndDurationInTheTableAndTheJson) {
  absl::StatusOr<Config> config = ParseConfig(kConfig, "duet.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  const absl::Time now = absl::FromUnixSeconds(1000);  // the engine's (monotonic) clock
  Node node(*config, 1, 1, PersistedNode{}, now);
  node.Start(now);
  NodeStatusView view = StatusOf(*config, node, now, kWallNow);
  // b took "web" over from a 90 s before the query; start_prim succeeded 2.5 s after a was
  // declared lost.
  view.modules[0].last_failover = FailoverRecord{.from = 0,
                                                 .cause = FailoverCause::kPeerLost,
                                                 .began = now - absl::Seconds(90),
                                                 .completed = now - absl::Seconds(87.5)};
  const std::string table = FormatStatusTable(view);
  EXPECT_NE(table.find("last failover from a at 2026-12-07T00:28:30.000Z (peer lost), took 2.500s"),
            std::string::npos)
      << table;
  const std::string json = FormatStatusJson(view);
  EXPECT_NE(json.find("\"last_failover\":{\"from\":\"a\",\"cause\":\"peer lost\","
                      "\"at\":\"2026-12-07T00:28:30.000Z\",\"ago_seconds\":90.000,"
                      "\"duration_seconds\":2.500}"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"name\":\"db\""), std::string::npos);
  EXPECT_NE(json.find("\"last_failover\":null}]}"), std::string::npos) << json;
}

}  // namespace
}  // namespace duet::daemon
