#include "engine/config_parser.h"

#include <gtest/gtest.h>

#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "engine/rng.h"

namespace duet {
namespace {

constexpr std::string_view kFile = "duet.toml";

// A small valid config; tests append to it (the last table is module 'web') or edit it.
constexpr std::string_view kBase = R"([cluster]
name = "test"
key_file = "/etc/duet/key"

[[node]]
name = "a"
heartbeat = ["10.0.0.1:7200", "192.168.0.1:7200"]
replication = "10.0.0.1:7100"

[[node]]
name = "b"
heartbeat = ["10.0.0.2:7200", "192.168.0.2:7200"]
replication = "10.0.0.2:7100"

[[module]]
name = "web"
default_primary = "a"
directories = ["/srv/web"]
)";

template <typename... Parts>
std::string Cat(const Parts&... parts) {
  std::string out;
  ((out += parts), ...);
  return out;
}

std::string ReadExample() {
  std::ifstream in(std::string(DUET_SOURCE_DIR) + "/adapters/duet.example.toml");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// kBase with `from` (which must occur) replaced by `to`.
std::string Edit(std::string_view from, std::string_view to,
                 std::string text = std::string(kBase)) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

std::string Append(std::string_view more) { return Cat(kBase, more); }

// 1-based line of the first occurrence of `marker` in `text`.
int LineOf(std::string_view text, std::string_view marker) {
  size_t at = text.find(marker);
  EXPECT_NE(at, std::string_view::npos) << marker;
  int line = 1;
  for (size_t i = 0; i < at && i < text.size(); ++i) line += text[i] == '\n';
  return line;
}

// Expects `text` to be rejected with "duet.toml:<line of marker>: ..." containing every word.
void ExpectError(const std::string& text, std::string_view marker,
                 std::initializer_list<std::string_view> words) {
  absl::StatusOr<Config> config = ParseConfig(text, kFile);
  ASSERT_FALSE(config.ok()) << "accepted:\n" << text;
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  std::string message(config.status().message());
  std::string prefix = Cat(kFile, ":", std::to_string(LineOf(text, marker)), ": ");
  EXPECT_EQ(message.substr(0, prefix.size()), prefix) << message;
  for (std::string_view word : words) {
    EXPECT_NE(message.find(word), std::string::npos) << "'" << word << "' not in: " << message;
  }
}

Config ExpectOk(const std::string& text) {
  absl::StatusOr<Config> config = ParseConfig(text, kFile);
  EXPECT_TRUE(config.ok()) << config.status().message();
  return config.ok() ? *std::move(config) : Config();
}

TEST(ConfigParserTest, ExampleConfigParses) {
  std::string text = ReadExample();
  ASSERT_FALSE(text.empty());
  absl::StatusOr<Config> parsed = ParseConfig(text, "duet.example.toml");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  const Config& c = *parsed;

  EXPECT_EQ(c.cluster_name, "shop");
  EXPECT_EQ(c.key_file, "/etc/duet/cluster.key");
  EXPECT_EQ(c.state_dir, "/var/lib/duet");
  ASSERT_EQ(c.nodes.size(), 2u);
  EXPECT_EQ(c.nodes[0].name, "a");
  EXPECT_EQ(c.nodes[1].name, "b");
  ASSERT_EQ(c.nodes[0].heartbeat.size(), 2u);
  EXPECT_EQ(c.nodes[0].heartbeat[1], (Endpoint{"192.168.0.1", 7200}));
  EXPECT_EQ(c.nodes[1].replication, (Endpoint{"10.0.0.2", 7100}));
  EXPECT_EQ(c.nodes[0].admin_socket, "/run/duet/duetd.sock");
  EXPECT_EQ(c.heartbeat.interval, absl::Milliseconds(200));
  EXPECT_EQ(c.heartbeat.timeout, absl::Seconds(2));
  EXPECT_EQ(c.replication.window_bytes, 64u << 20);
  EXPECT_EQ(c.replication.window_count, 4096u);
  EXPECT_EQ(c.replication.resync_bandwidth, 100u << 20);
  ASSERT_TRUE(c.witness.has_value());
  EXPECT_EQ(c.witness->address, (Endpoint{"10.0.0.3", 7300}));
  EXPECT_EQ(c.witness->lease, absl::Seconds(6));
  EXPECT_EQ(c.witness->drift_margin, absl::Milliseconds(500));

  ASSERT_EQ(c.modules.size(), 2u);
  const ModuleConfig& web = c.modules[0];
  const ModuleConfig& db = c.modules[1];
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.default_primary, 0);
  EXPECT_EQ(db.default_primary, 1);
  ASSERT_EQ(web.vips.size(), 1u);
  EXPECT_EQ(web.vips[0], (VipConfig{"10.0.0.100/24", "eth0"}));
  EXPECT_EQ(db.vips.size(), 2u);
  EXPECT_EQ(web.directories, (std::vector<std::string>{"/srv/web/htdocs", "/srv/web/uploads"}));
  EXPECT_EQ(web.scripts_dir, "/etc/duet/web");
  EXPECT_EQ(db.script_timeout, absl::Minutes(2));
  EXPECT_TRUE(web.failover);
  EXPECT_EQ(web.failback, Failback::kAuto);
  EXPECT_EQ(db.failback, Failback::kManual);
  EXPECT_EQ(web.ack, AckMode::kApplied);
  EXPECT_EQ(db.ack, AckMode::kDurable);
  EXPECT_EQ(web.zone_size, 64u << 10);
  EXPECT_EQ(db.zone_size, 1u << 20);
  EXPECT_EQ(web.split_brain, SplitBrainPolicy::kDiscardNonDefault);
  EXPECT_EQ(db.split_brain, SplitBrainPolicy::kManual);
  EXPECT_EQ(web.restart_max, 3u);
  EXPECT_EQ(web.restart_window, absl::Minutes(10));
  EXPECT_EQ(db.restart_max, 0u);

  ASSERT_EQ(web.checkers.size(), 2u);
  ASSERT_EQ(db.checkers.size(), 2u);
  EXPECT_EQ(web.checkers[0].type, CheckerType::kProcess);
  EXPECT_EQ(web.checkers[0].target, "nginx");
  EXPECT_EQ(web.checkers[1].type, CheckerType::kTcp);
  EXPECT_EQ(web.checkers[1].on_failure, OnFailure::kRestart);
  EXPECT_EQ(db.checkers[0].type, CheckerType::kInterface);
  EXPECT_EQ(db.checkers[0].on_failure, OnFailure::kFailover);
  EXPECT_EQ(db.checkers[0].interval, absl::Seconds(2));
  EXPECT_EQ(db.checkers[1].type, CheckerType::kCustom);
  EXPECT_EQ(db.checkers[1].timeout, absl::Seconds(5));
}

TEST(ConfigParserTest, MinimalConfigGetsDefaults) {
  Config c = ExpectOk(std::string(kBase));
  EXPECT_EQ(c.state_dir, "/var/lib/duet");
  EXPECT_EQ(c.heartbeat.timeout, absl::Seconds(2));
  EXPECT_FALSE(c.witness.has_value());
  ASSERT_EQ(c.modules.size(), 1u);
  EXPECT_EQ(c.modules[0].zone_size, 64u * 1024);
  EXPECT_EQ(c.modules[0].ack, AckMode::kApplied);
  EXPECT_TRUE(c.modules[0].vips.empty());
  EXPECT_TRUE(c.modules[0].checkers.empty());
}

TEST(ConfigParserTest, TomlSyntaxErrorNamesFileAndLine) {
  std::string text = Append("zone_size = = 3\n");
  ExpectError(text, "zone_size = =", {});
}

TEST(ConfigParserTest, UnknownKeyNamesFileAndLine) {
  std::string text = Append("colour = 1\n");
  ExpectError(text, "colour", {"unknown key 'colour' in module 'web'"});
}

TEST(ConfigParserTest, UnknownKeyIsRejectedAtEveryLevel) {
  ExpectError(Edit("[cluster]\n", "colour = 1\n[cluster]\n"), "colour",
              {"unknown key 'colour' at top level"});
  ExpectError(Edit("name = \"test\"\n", "name = \"test\"\nnmae = 1\n"), "nmae",
              {"unknown key 'nmae' in [cluster]"});
  ExpectError(Edit("replication = \"10.0.0.2:7100\"\n", "replication = \"10.0.0.2:7100\"\nx = 1\n"),
              "x = 1", {"unknown key 'x' in node 'b'"});
  ExpectError(Append("[heartbeat]\nintervall = \"1s\"\n"), "intervall",
              {"unknown key 'intervall' in [heartbeat]"});
  ExpectError(Append("[replication]\nwindow = 3\n"),
              "window =", {"unknown key 'window' in [replication]"});
  ExpectError(Append("[witness]\naddress = \"w:1\"\nleas = \"3s\"\n"),
              "leas =", {"unknown key 'leas' in [witness]"});
  ExpectError(Append("vips = [{address = \"10.0.0.9/24\", interface = \"eth0\", mac = 1}]\n"),
              "vips", {"unknown key 'mac' in VIP #1 of module 'web'"});
  ExpectError(Append("restart = {max = 2, windoe = \"1m\"}\n"), "restart",
              {"unknown key 'windoe' in 'restart' of module 'web'"});
  ExpectError(Append("[[module.checker]]\nname = \"c\"\ntype = \"process\"\ntarget = \"x\"\n"
                     "retries = 3\n"),
              "retries", {"unknown key 'retries' in checker 'c' of module 'web'"});
}

TEST(ConfigParserTest, WrongTypeIsRejected) {
  ExpectError(Edit("name = \"test\"", "name = 3"), "name = 3",
              {"'name' in [cluster]", "must be a string", "integer"});
  ExpectError(Append("failover = \"yes\"\n"), "failover",
              {"'failover' in module 'web'", "true or false"});
  ExpectError(Edit("heartbeat = [\"10.0.0.1:7200\", \"192.168.0.1:7200\"]", "heartbeat = \"x\""),
              "heartbeat = \"x\"", {"'heartbeat' in node 'a'", "must be an array"});
  ExpectError(Edit("[\"/srv/web\"]", "[\"/srv/web\", 3]"), "directories",
              {"'directories' in module 'web'", "must be a string"});
  ExpectError(Append("restart = 3\n"), "restart = 3", {"'restart'", "must be a table"});
  ExpectError(Edit("[[node]]\nname = \"b\"", "[nodeb]\nname = \"b\""), "[nodeb]",
              {"unknown key 'nodeb'"});
  ExpectError(Append("[replication]\nwindow_count = \"many\"\n"), "window_count",
              {"'window_count' in [replication]", "must be an integer"});
}

TEST(ConfigParserTest, BadDurationIsRejected) {
  for (std::string_view bad : {"\"abc\"", "\"5\"", "\"0s\"", "\"-1s\"", "\"inf\"", "5"}) {
    SCOPED_TRACE(bad);
    std::string text = Append(Cat("script_timeout = ", bad, "\n"));
    ExpectError(text, "script_timeout", {"'script_timeout' in module 'web'", "duration"});
  }
  ExpectError(Append("[heartbeat]\ninterval = \"2 seconds\"\n"), "interval",
              {"'interval' in [heartbeat]", "bad duration \"2 seconds\""});
}

TEST(ConfigParserTest, DurationsAcceptUnits) {
  Config c = ExpectOk(Append("script_timeout = \"1h30m\"\n"));
  EXPECT_EQ(c.modules[0].script_timeout, absl::Minutes(90));
}

TEST(ConfigParserTest, BadSizeIsRejected) {
  for (std::string_view bad : {"\"64KB\"", "\"-1\"", "\"x\"", "\"1.5MiB\"",
                               "\"99999999999999999999\"", "\"17179869184TiB\"", "-5", "1.5"}) {
    SCOPED_TRACE(bad);
    std::string text = Append(Cat("[replication]\nwindow_bytes = ", bad, "\n"));
    ExpectError(text, "window_bytes", {"'window_bytes' in [replication]"});
  }
  ExpectError(Append("[replication]\nwindow_bytes = \"64KB\"\n"), "window_bytes",
              {"bad size \"64KB\""});
  ExpectError(Append("[replication]\nwindow_bytes = 0\n"), "window_bytes", {"must not be 0"});
}

TEST(ConfigParserTest, SizesAcceptIntegersAndBinaryUnits) {
  Config c = ExpectOk(
      Append("zone_size = \"8KiB\"\n[replication]\nwindow_bytes = 4096\nresync_bandwidth = "
             "\"10MiB/s\"\n"));
  EXPECT_EQ(c.modules[0].zone_size, 8192u);
  EXPECT_EQ(c.replication.window_bytes, 4096u);
  EXPECT_EQ(c.replication.resync_bandwidth, 10u << 20);
  c = ExpectOk(Append("zone_size = \"4096\"\n[replication]\nwindow_bytes = \"2 GiB\"\n"));
  EXPECT_EQ(c.modules[0].zone_size, 4096u);
  EXPECT_EQ(c.replication.window_bytes, 2ull << 30);
}

TEST(ConfigParserTest, BadZoneSizeIsRejected) {
  for (std::string_view bad : {"5000", "2048", "\"2KiB\"", "\"2GiB\"", "\"8MiB\"", "0"}) {
    SCOPED_TRACE(bad);
    ExpectError(Append(Cat("zone_size = ", bad, "\n")), "zone_size",
                {"'zone_size' in module 'web'", "power of two"});
  }
}

TEST(ConfigParserTest, NotExactlyTwoNodesIsRejected) {
  std::string one = Edit(
      "[[node]]\nname = \"b\"\nheartbeat = [\"10.0.0.2:7200\", \"192.168.0.2:7200\"]\n"
      "replication = \"10.0.0.2:7100\"\n",
      "");
  ExpectError(one, "[[node]]", {"exactly two [[node]]", "not 1"});
  std::string three = Append(
      "[[node]]\nname = \"c\"\nheartbeat = [\"10.0.0.3:7200\"]\nreplication = \"10.0.0.3:7100\"\n");
  ExpectError(three, "[[node]]\nname = \"c\"", {"exactly two [[node]]", "not 3"});
  std::string single_table = "[cluster]\nname = \"t\"\nkey_file = \"/k\"\n[node]\nname = \"a\"\n";
  ExpectError(single_table, "[node]", {"'node' at top level", "array of tables"});
}

TEST(ConfigParserTest, DuplicateNamesAreRejected) {
  std::string nodes = Edit("name = \"b\"", "name = \"a\"");
  ExpectError(nodes, "name = \"a\"\nheartbeat = [\"10.0.0.2", {"node name \"a\" is used twice"});
  std::string modules = Append(
      "[[module]]\nname = \"web\"\ndefault_primary = \"b\"\n"
      "directories = [\"/srv/other\"]\n");
  ExpectError(modules, "name = \"web\"\ndefault_primary = \"b\"",
              {"'name' in module 'web'", "module name \"web\" is used twice"});
  std::string checkers = Append(
      "[[module.checker]]\nname = \"c\"\ntype = \"process\"\ntarget = \"x\"\n"
      "[[module.checker]]\nname = \"c\"\ntype = \"process\"\ntarget = \"y\"\n");
  ExpectError(checkers, "name = \"c\"\ntype = \"process\"\ntarget = \"y\"",
              {"checker name \"c\" is used twice"});
}

TEST(ConfigParserTest, ModuleWithUnknownNodeIsRejected) {
  std::string text = Edit("default_primary = \"a\"", "default_primary = \"c\"");
  ExpectError(text, "default_primary",
              {"'default_primary' in module 'web'", "unknown node \"c\"", "a and b"});
}

TEST(ConfigParserTest, DuplicateVipIsRejected) {
  std::string text = Append(
      "vips = [{address = \"10.0.0.100/24\", interface = \"eth0\"}]\n"
      "[[module]]\nname = \"db\"\ndefault_primary = \"b\"\ndirectories = [\"/srv/db\"]\n"
      "vips = [{address = \"10.0.0.100/32\", interface = \"eth1\"}]\n");
  ExpectError(
      text, "10.0.0.100/32",
      {"'address' in VIP #1 of module 'db'", "\"10.0.0.100\" is already a VIP of module 'web'",
       Cat("line ", std::to_string(LineOf(text, "10.0.0.100/24")))});
}

TEST(ConfigParserTest, BadVipIsRejected) {
  for (std::string_view bad :
       {"10.0.0.100", "10.0.0.300/24", "10.0.0/24", "10.0.0.1/33", "fd00::1/129", "web/24"}) {
    SCOPED_TRACE(bad);
    ExpectError(Append(Cat("vips = [{address = \"", bad, "\", interface = \"eth0\"}]\n")), "vips",
                {"'address' in VIP #1 of module 'web'", "bad VIP address"});
  }
  ExpectError(Append("vips = [{address = \"10.0.0.9/24\"}]\n"), "vips",
              {"missing required key 'interface' in VIP #1"});
  Config c = ExpectOk(Append("vips = [{address = \"fd00::1/64\", interface = \"eth0\"}]\n"));
  EXPECT_EQ(c.modules[0].vips[0].address, "fd00::1/64");
}

TEST(ConfigParserTest, OverlappingDirectoriesAreRejected) {
  ExpectError(
      Edit("directories = [\"/srv/web\"]", "directories = [\"/srv/web\", \"/srv/web/data/\"]"),
      "directories", {"'directories' in module 'web'", "\"/srv/web/data\"", "\"/srv/web\""});
  std::string across = Append(
      "[[module]]\nname = \"db\"\ndefault_primary = \"b\"\n"
      "directories = [\"/srv/db\", \"//srv/./web/\"]\n");
  ExpectError(across, "//srv/./web/",
              {"'directories' in module 'db'", "\"/srv/web\"", "module 'web'"});
  std::string parent =
      Append("[[module]]\nname = \"db\"\ndefault_primary = \"b\"\ndirectories = [\"/srv\"]\n");
  ExpectError(parent, "[\"/srv\"]", {"\"/srv\" overlaps \"/srv/web\" of module 'web'"});
}

TEST(ConfigParserTest, SiblingDirectoriesWithCommonPrefixAreAccepted) {
  Config c =
      ExpectOk(Append("[[module]]\nname = \"db\"\ndefault_primary = \"b\"\n"
                      "directories = [\"/srv/web2\", \"/srv/./webx/\"]\n"));
  EXPECT_EQ(c.modules[1].directories, (std::vector<std::string>{"/srv/web2", "/srv/webx"}));
}

TEST(ConfigParserTest, BadDirectoryIsRejected) {
  ExpectError(Edit("[\"/srv/web\"]", "[\"srv/web\"]"), "directories",
              {"'directories' in module 'web'", "not an absolute path"});
  ExpectError(Edit("[\"/srv/web\"]", "[\"/srv/../etc\"]"), "directories", {"\"..\""});
  ExpectError(Edit("[\"/srv/web\"]", "[\"/./\"]"), "directories", {"cannot replicate \"/\""});
  ExpectError(Edit("[\"/srv/web\"]", "[]"), "directories", {"at least one directory"});
}

TEST(ConfigParserTest, HeartbeatTimeoutMustExceedTwiceInterval) {
  ExpectError(Append("[heartbeat]\ninterval = \"1s\"\ntimeout = \"2s\"\n"), "timeout",
              {"'timeout' in [heartbeat]", "twice 'interval'"});
  // The default timeout (2s) is too short for this interval: the error points at the interval.
  ExpectError(Append("[heartbeat]\ninterval = \"1s\"\n"), "interval", {"'timeout'", "2s"});
  Config c = ExpectOk(Append("[heartbeat]\ninterval = \"1s\"\ntimeout = \"2001ms\"\n"));
  EXPECT_EQ(c.heartbeat.timeout, absl::Milliseconds(2001));
}

TEST(ConfigParserTest, WitnessDriftAndRenewMustFitInLease) {
  std::string w = "[witness]\naddress = \"10.0.0.3:7300\"\n";
  ExpectError(Append(Cat(w, "lease = \"2s\"\ndrift_margin = \"2s\"\n")), "drift_margin",
              {"'drift_margin' in [witness]", "less than 'lease'"});
  ExpectError(Append(Cat(w, "lease = \"3s\"\ndrift_margin = \"1s\"\nrenew_interval = \"2s\"\n")),
              "renew_interval", {"'renew_interval' in [witness]", "'lease' minus 'drift_margin'"});
  ExpectError(Append("[witness]\nlease = \"3s\"\n"), "[witness]",
              {"missing required key 'address' in [witness]"});
  Config c = ExpectOk(Append(Cat(w, "lease = \"3s\"\nrenew_interval = \"1s\"\n")));
  ASSERT_TRUE(c.witness.has_value());
  EXPECT_EQ(c.witness->lease, absl::Seconds(3));
}

TEST(ConfigParserTest, RestartMaxZeroWithWindowIsRejected) {
  ExpectError(Append("restart = {max = 0, window = \"1m\"}\n"), "restart",
              {"'window' in 'restart' of module 'web'", "max = 0"});
  ExpectError(Append("restart = {max = -1}\n"), "restart", {"'max'", "must be from 0"});
  Config c = ExpectOk(Append("[module.restart]\nmax = 5\nwindow = \"1h\"\n"));
  EXPECT_EQ(c.modules[0].restart_max, 5u);
  EXPECT_EQ(c.modules[0].restart_window, absl::Hours(1));
}

TEST(ConfigParserTest, BadEnumValueIsRejected) {
  ExpectError(Append("failback = \"sometimes\"\n"), "failback",
              {"'failback' in module 'web'", "\"sometimes\"", "auto, manual"});
  ExpectError(Append("ack = \"fsync\"\n"), "ack", {"'ack'", "received, applied, durable"});
  ExpectError(Append("split_brain = \"discard\"\n"), "split_brain",
              {"'split_brain'", "discard-non-default, discard-least-changes, manual"});
  std::string checker = "[[module.checker]]\nname = \"c\"\ntarget = \"x\"\n";
  ExpectError(Append(Cat(checker, "type = \"http\"\n")), "type",
              {"'type' in checker 'c' of module 'web'", "process, tcp, interface, custom"});
  ExpectError(Append(Cat(checker, "type = \"process\"\non_failure = \"reboot\"\n")), "on_failure",
              {"'on_failure'", "restart, failover"});
}

TEST(ConfigParserTest, CheckerTargetIsCheckedByType) {
  std::string checker = "[[module.checker]]\nname = \"c\"\n";
  ExpectError(Append(Cat(checker, "type = \"tcp\"\ntarget = \"localhost\"\n")), "target",
              {"'target' in checker 'c'", "bad endpoint"});
  ExpectError(Append(Cat(checker, "type = \"interface\"\ntarget = \"eth 0\"\n")), "target",
              {"'target'", "bad interface name"});
  ExpectError(Append(Cat(checker, "target = \"x\"\n")), "[[module.checker]]",
              {"missing required key 'type' in checker 'c'"});
}

TEST(ConfigParserTest, FailoverCheckerInModuleWithoutFailoverIsRejected) {
  std::string text = Append(
      "failover = false\n[[module.checker]]\nname = \"c\"\ntype = \"process\"\ntarget = \"x\"\n"
      "on_failure = \"failover\"\n");
  ExpectError(text, "on_failure", {"'on_failure'", "failover = false"});
}

TEST(ConfigParserTest, MalformedEndpointIsRejected) {
  for (std::string_view bad : {"10.0.0.1", "10.0.0.1:0", ":7200", "10.0.0.1:70000", "host:port",
                               "fd00::1:7200", "[fd00::1]7200", "10.0.0.1:+80", "a b:80"}) {
    SCOPED_TRACE(bad);
    ExpectError(Edit("\"10.0.0.2:7100\"", Cat("\"", bad, "\"")), Cat("replication = \"", bad, "\""),
                {"'replication' in node ", "bad endpoint"});
  }
  ExpectError(Edit("\"192.168.0.2:7200\"", "\"192.168.0.2\""), "192.168.0.2\"",
              {"'heartbeat' in node 'b'", "bad endpoint \"192.168.0.2\""});
  Config c = ExpectOk(Edit("\"10.0.0.2:7100\"", "\"[fd00::2]:7100\""));
  EXPECT_EQ(c.nodes[1].replication, (Endpoint{"fd00::2", 7100}));
}

TEST(ConfigParserTest, HeartbeatLinkCountsMustMatch) {
  std::string text = Edit("[\"10.0.0.2:7200\", \"192.168.0.2:7200\"]", "[\"10.0.0.2:7200\"]");
  ExpectError(text, "heartbeat = [\"10.0.0.2",
              {"'heartbeat' in node 'b'", "1 links", "node 'a'", "2"});
  ExpectError(Edit("[\"10.0.0.1:7200\", \"192.168.0.1:7200\"]", "[]"), "heartbeat",
              {"at least one link"});
}

TEST(ConfigParserTest, MissingRequiredKeyIsRejected) {
  ExpectError(Edit("name = \"test\"\n", ""), "[cluster]",
              {"missing required key 'name' in [cluster]"});
  ExpectError(Edit("key_file = \"/etc/duet/key\"\n", ""), "[cluster]",
              {"missing required key 'key_file' in [cluster]"});
  ExpectError(Edit("[cluster]\nname = \"test\"\nkey_file = \"/etc/duet/key\"\n", ""), "\n",
              {"missing required key 'cluster' at top level"});
  ExpectError(Edit("replication = \"10.0.0.1:7100\"\n", ""), "[[node]]",
              {"missing required key 'replication' in node 'a'"});
  ExpectError(Edit("name = \"web\"\n", ""), "[[module]]",
              {"missing required key 'name' in module #1"});
  ExpectError(Edit("default_primary = \"a\"\n", ""), "[[module]]",
              {"missing required key 'default_primary' in module 'web'"});
  ExpectError(Edit("directories = [\"/srv/web\"]\n", ""), "[[module]]",
              {"missing required key 'directories' in module 'web'"});
  std::string no_nodes = "[cluster]\nname = \"t\"\nkey_file = \"/k\"\n";
  ExpectError(no_nodes, "[cluster]", {"missing required key 'node' at top level"});
}

TEST(ConfigParserTest, BadNamesAndPathsAreRejected) {
  ExpectError(Edit("name = \"web\"", "name = \"../web\""), "../web",
              {"'name' in module #1", "bad name"});
  ExpectError(Edit("\"/etc/duet/key\"", "\"key\""), "key_file", {"'key_file'", "absolute path"});
  ExpectError(Append("scripts = \"\"\n"), "scripts", {"'scripts'", "must not be empty"});
  ExpectError(Edit("[\"/srv/web\"]", "[\"/srv/w\\u0000eb\"]"), "directories",
              {"'directories'", "control characters"});
}

TEST(ConfigParserTest, NameLongerThanTheLimitIsRejectedNamingTheLimit) {
  const std::string longest(kMaxNameBytes, 'w');
  const std::string too_long(kMaxNameBytes + 1, 'w');
  EXPECT_EQ(ExpectOk(Edit("name = \"web\"", "name = \"" + longest + "\"")).modules[0].name,
            longest);
  ExpectError(Edit("name = \"web\"", "name = \"" + too_long + "\""), too_long,
              {"'name' in module #1", "name of 65 bytes", "limit of 64 bytes"});
  ExpectError(Edit("name = \"b\"", "name = \"" + too_long + "\""), too_long,
              {"'name' in node #2", "limit of 64 bytes"});
  ExpectError(Edit("name = \"test\"", "name = \"" + too_long + "\""), too_long,
              {"'name' in [cluster]", "limit of 64 bytes"});
}

TEST(ConfigParserTest, MoreModulesThanTheLimitAreRejectedAtTheFirstOneTooMany) {
  // Modules m1.. after 'web': kMaxModulesPerPair in all is the most a pair may have.
  auto with_modules = [](size_t count) {
    std::string text(kBase);
    for (size_t i = 1; i < count; ++i) {
      text += Cat("[[module]]\nname = \"m", std::to_string(i), "\"\ndefault_primary = \"b\"\n",
                  "directories = [\"/srv/m", std::to_string(i), "\"]\n");
    }
    return text;
  };
  EXPECT_EQ(ExpectOk(with_modules(kMaxModulesPerPair)).modules.size(), kMaxModulesPerPair);
  const std::string marker = Cat("[[module]]\nname = \"m", std::to_string(kMaxModulesPerPair));
  ExpectError(with_modules(kMaxModulesPerPair + 1), marker,
              {"257 [[module]] tables exceed the limit of 256", "UDP datagram"});
}

// Random damage to a valid file never crashes the parser or escapes as an exception: the
// result is a Config or an InvalidArgumentError with a "file:line: " prefix.
TEST(ConfigParserTest, RandomMutationsNeverCrash) {
  const std::string example = ReadExample();
  ASSERT_FALSE(example.empty());
  constexpr std::string_view kSignificant = "=[]{}\"',.#\n0-:/";
  Rng rng(20261125);
  int accepted = 0;
  for (int i = 0; i < 500; ++i) {
    std::string text = example;
    int edits = static_cast<int>(rng.Between(1, 4));
    for (int e = 0; e < edits && !text.empty(); ++e) {
      size_t at = rng.Below(text.size());
      switch (rng.Below(4)) {
        case 0:  // flip a byte to anything, including NUL and invalid UTF-8
          text[at] = static_cast<char>(rng.Below(256));
          break;
        case 1:  // truncate
          text.resize(at);
          break;
        case 2:  // swap in a TOML-significant character
          text[at] = kSignificant[rng.Below(kSignificant.size())];
          break;
        default:  // delete a stretch
          text.erase(at, rng.Below(40));
          break;
      }
    }
    absl::StatusOr<Config> config = ParseConfig(text, "fuzz.toml");
    if (config.ok()) {
      ++accepted;
      EXPECT_EQ(config->nodes.size(), 2u);
      continue;
    }
    ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument)
        << config.status().message();
    std::string message(config.status().message());
    ASSERT_EQ(message.rfind("fuzz.toml:", 0), 0u) << message;
  }
  // Some mutations land in comments or values that stay valid.
  EXPECT_GT(accepted, 0);
}

TEST(ConfigParserTest, NodeStateDirOverridesTheClusterOneForThatNodeOnly) {
  Config c = ExpectOk(Edit("replication = \"10.0.0.2:7100\"\n",
                           "replication = \"10.0.0.2:7100\"\nstate_dir = \"/var/lib/duet-b\"\n"));
  EXPECT_EQ(c.StateDirOf(0), "/var/lib/duet");
  EXPECT_EQ(c.StateDirOf(1), "/var/lib/duet-b");
}

TEST(ConfigParserTest, NodeStateDirMustBeAbsolute) {
  std::string text = Edit("replication = \"10.0.0.2:7100\"\n",
                          "replication = \"10.0.0.2:7100\"\nstate_dir = \"duet-b\"\n");
  ExpectError(text, "state_dir = \"duet-b\"", {"state_dir"});
}

}  // namespace
}  // namespace duet
