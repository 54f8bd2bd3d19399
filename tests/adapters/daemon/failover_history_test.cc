// The last failover of each module survives a duetd restart (failover_history.h): what a new
// run loads from the state directory shows in status as the earlier run showed it.
#include "adapters/daemon/failover_history.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "adapters/daemon/status_format.h"
#include "engine/config_parser.h"
#include "tests/adapters/store/store_test_util.h"

namespace duet::daemon {
namespace {

using store::testing::TempDir;

// A failover from node 0 that began 90 s before a run's status query and took 2.5 s, and
// the clocks of that run (monotonic, wall).
const absl::Time kRunNow = absl::UnixEpoch() + absl::Hours(5);
const absl::Time kWallNow =
    absl::FromCivil(absl::CivilSecond(2026, 12, 7, 4, 0, 0), absl::UTCTimeZone());
FailoverRecord TookTwoAndAHalfSeconds() {
  FailoverRecord r;
  r.from = 0;
  r.began = kRunNow - absl::Seconds(90);
  r.completed = r.began + absl::Milliseconds(2500);
  return r;
}

TEST(FailoverHistoryTest, ALoadedFailoverBeganAtTheSameWallTimeAndTookAsLong) {
  TempDir dir;
  absl::StatusOr<FailoverHistory> first_run = FailoverHistory::Load(dir.path());
  ASSERT_TRUE(first_run.ok()) << first_run.status();
  EXPECT_FALSE(first_run->Of("web", kRunNow, kWallNow).has_value());
  ASSERT_TRUE(first_run->Keep("web", TookTwoAndAHalfSeconds(), kRunNow, kWallNow).ok());

  // The next run: another monotonic clock (a machine restart), ten minutes later.
  const absl::Time next_now = absl::UnixEpoch() + absl::Seconds(40);
  const absl::Time next_wall = kWallNow + absl::Minutes(10);
  absl::StatusOr<FailoverHistory> next_run = FailoverHistory::Load(dir.path());
  ASSERT_TRUE(next_run.ok()) << next_run.status();
  std::optional<FailoverRecord> loaded = next_run->Of("web", next_now, next_wall);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->from, 0);
  EXPECT_EQ(loaded->cause, FailoverCause::kPeerLost);
  EXPECT_EQ(loaded->duration(), absl::Milliseconds(2500));
  EXPECT_EQ(next_wall - (next_now - loaded->began), kWallNow - absl::Seconds(90));
  EXPECT_FALSE(next_run->Of("db", next_now, next_wall).has_value());
}

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
)";

TEST(FailoverHistoryTest, StatusAfterARestartShowsTheFailover) {
  absl::StatusOr<Config> config = ParseConfig(kConfig, "duet.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  TempDir dir;
  {
    FailoverHistory first_run(dir.path());
    ASSERT_TRUE(first_run.Keep("web", TookTwoAndAHalfSeconds(), kRunNow, kWallNow).ok());
  }
  // b restarted: its engine knows of no failover; status fills it in as duetd does.
  absl::StatusOr<FailoverHistory> next_run = FailoverHistory::Load(dir.path());
  ASSERT_TRUE(next_run.ok()) << next_run.status();
  const absl::Time now = absl::FromUnixSeconds(1000);
  Node node(*config, 1, 1, PersistedNode{}, now);
  node.Start(now);
  NodeStatusView view = StatusOf(*config, node, now, kWallNow + absl::Minutes(10));
  ASSERT_FALSE(view.modules[0].last_failover.has_value());
  view.modules[0].last_failover = next_run->Of("web", view.now, view.wall_now);
  const std::string json = FormatStatusJson(view);
  EXPECT_TRUE(absl::StrContains(json, R"("last_failover":{"from":"a","cause":"peer lost",)"
                                      R"("at":"2026-12-07T03:58:30.000Z","ago_seconds":690.000,)"
                                      R"("duration_seconds":2.500})"))
      << json;
}

// Each cause comes back as it was kept; a file written before "app failed" existed (causes 0
// and 1 only) still loads, and a cause no build writes is refused.
TEST(FailoverHistoryTest, EveryCauseIsKeptAndAnUnknownOneRefused) {
  TempDir dir;
  {
    FailoverHistory first_run(dir.path());
    FailoverRecord record = TookTwoAndAHalfSeconds();
    for (const auto& [module, cause] :
         {std::pair{"web", FailoverCause::kPeerLost}, std::pair{"db", FailoverCause::kAdminPrim},
          std::pair{"mail", FailoverCause::kAppFailed}}) {
      record.cause = cause;
      ASSERT_TRUE(first_run.Keep(module, record, kRunNow, kWallNow).ok());
    }
  }
  absl::StatusOr<FailoverHistory> next_run = FailoverHistory::Load(dir.path());
  ASSERT_TRUE(next_run.ok()) << next_run.status();
  EXPECT_EQ(next_run->Of("web", kRunNow, kWallNow)->cause, FailoverCause::kPeerLost);
  EXPECT_EQ(next_run->Of("db", kRunNow, kWallNow)->cause, FailoverCause::kAdminPrim);
  EXPECT_EQ(next_run->Of("mail", kRunNow, kWallNow)->cause, FailoverCause::kAppFailed);
  {
    std::ofstream out(dir / "last_failovers");
    out << "web\t0\t3\t100\t2500\n";
  }
  absl::StatusOr<FailoverHistory> unknown = FailoverHistory::Load(dir.path());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(unknown.status().message(), "cause (0|1|2)")) << unknown.status();
}

TEST(FailoverHistoryTest, ADamagedFileIsRefusedNamingTheLine) {
  TempDir dir;
  {
    std::ofstream out(dir / "last_failovers");
    out << "web\t0\t0\t100\t2500\n"
        << "db\tnode a\t0\t100\t2500\n";
  }
  absl::StatusOr<FailoverHistory> loaded = FailoverHistory::Load(dir.path());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(loaded.status().message(), "last_failovers:2:")) << loaded.status();
}

}  // namespace
}  // namespace duet::daemon
