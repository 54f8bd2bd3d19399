#include "adapters/daemon/restart_policy.h"

#include <gtest/gtest.h>

namespace duet::daemon {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1000);

TEST(RestartPolicyTest, ADaemonThatRanAWhileIsRestartedAfterTheFirstDelay) {
  RestartPolicy policy;
  RestartPolicy::Decision d = policy.AfterCrash(kStart, kStart + absl::Hours(5));
  EXPECT_TRUE(d.restart);
  EXPECT_EQ(d.delay, absl::Seconds(1));
}

TEST(RestartPolicyTest, FastCrashesDoubleTheDelayUpToTheCap) {
  RestartPolicy::Options options;
  options.max_fast_crashes = 100;
  options.max_delay = absl::Seconds(5);
  RestartPolicy policy(options);
  absl::Time t = kStart;
  std::vector<absl::Duration> delays;
  for (int i = 0; i < 5; ++i) {
    RestartPolicy::Decision d = policy.AfterCrash(t, t + absl::Seconds(1));
    ASSERT_TRUE(d.restart);
    delays.push_back(d.delay);
    t += absl::Seconds(2);
  }
  EXPECT_EQ(delays,
            (std::vector<absl::Duration>{absl::Seconds(1), absl::Seconds(2), absl::Seconds(4),
                                         absl::Seconds(5), absl::Seconds(5)}));
}

TEST(RestartPolicyTest, TooManyFastCrashesInTheWindowStopTheRestartsAndSayWhy) {
  RestartPolicy::Options options;
  options.max_fast_crashes = 3;
  RestartPolicy policy(options);
  absl::Time t = kStart;
  EXPECT_TRUE(policy.AfterCrash(t, t + absl::Seconds(1)).restart);
  EXPECT_TRUE(policy.AfterCrash(t + absl::Seconds(2), t + absl::Seconds(3)).restart);
  RestartPolicy::Decision d = policy.AfterCrash(t + absl::Seconds(5), t + absl::Seconds(6));
  EXPECT_FALSE(d.restart);
  EXPECT_NE(d.why.find("3 crashes within 10m"), std::string::npos) << d.why;
}

TEST(RestartPolicyTest, FastCrashesOutsideTheWindowOrBeforeALongRunNoLongerCount) {
  RestartPolicy::Options options;
  options.max_fast_crashes = 2;
  RestartPolicy policy(options);
  EXPECT_TRUE(policy.AfterCrash(kStart, kStart + absl::Seconds(1)).restart);
  // Eleven minutes later: the first crash has left the window.
  absl::Time later = kStart + absl::Minutes(11);
  EXPECT_TRUE(policy.AfterCrash(later, later + absl::Seconds(1)).restart);
  // A run of an hour clears the count.
  absl::Time long_run = later + absl::Seconds(5);
  EXPECT_TRUE(policy.AfterCrash(long_run, long_run + absl::Hours(1)).restart);
  absl::Time next = long_run + absl::Hours(1) + absl::Seconds(2);
  RestartPolicy::Decision d = policy.AfterCrash(next, next + absl::Seconds(1));
  EXPECT_TRUE(d.restart);
  EXPECT_EQ(d.delay, absl::Seconds(1));
}

}  // namespace
}  // namespace duet::daemon
