#include "sim/drifting_clock.h"

#include <gtest/gtest.h>

#include "engine/rng.h"

namespace duet::sim {
namespace {

const absl::Time kStart = absl::UnixEpoch() + absl::Hours(1);

TEST(DriftingClockTest, RunsAtItsDriftedRate) {
  const DriftingClock fast(kStart, kStart + absl::Seconds(100), 1000);
  EXPECT_EQ(fast.Local(kStart), kStart + absl::Seconds(100));
  EXPECT_EQ(fast.Local(kStart + absl::Seconds(1)), kStart + absl::Seconds(101.001));
  const DriftingClock slow(kStart, kStart, -1000);
  EXPECT_EQ(slow.Local(kStart + absl::Seconds(10)), kStart + absl::Seconds(9.99));
}

TEST(DriftingClockTest, TrueAtIsTheEarliestInstantTheClockReadsTheDeadline) {
  Rng rng(7);
  for (int i = 0; i < 2000; ++i) {
    const int64_t ppm = rng.Between(-1000, 1000);
    const DriftingClock clock(kStart, kStart + absl::Seconds(rng.Between(0, 10000)), ppm);
    const absl::Time deadline =
        clock.Local(kStart) + absl::Nanoseconds(rng.Between(0, 1'000'000'000'000));
    const absl::Time at = clock.TrueAt(deadline);
    ASSERT_GE(clock.Local(at), deadline) << "ppm " << ppm;
    ASSERT_LT(clock.Local(at - absl::Nanoseconds(1)), deadline) << "ppm " << ppm;
  }
}

TEST(DriftingClockTest, ChangingTheRateKeepsTheReadingContinuous) {
  DriftingClock clock(kStart, kStart, 500);
  const absl::Time t = kStart + absl::Seconds(10);
  const absl::Time before = clock.Local(t);
  clock.SetDrift(t, -800);
  EXPECT_EQ(clock.Local(t), before);
  EXPECT_EQ(clock.Local(t + absl::Seconds(1)), before + absl::Seconds(1) - absl::Microseconds(800));
  EXPECT_EQ(clock.drift_ppm(), -800);
}

TEST(DriftingClockTest, InfinitiesStayInfinite) {
  const DriftingClock clock(kStart, kStart, 300);
  EXPECT_EQ(clock.TrueAt(absl::InfiniteFuture()), absl::InfiniteFuture());
  EXPECT_EQ(clock.Local(absl::InfiniteFuture()), absl::InfiniteFuture());
  EXPECT_EQ(clock.TrueAt(absl::InfinitePast()), absl::InfinitePast());
}

}  // namespace
}  // namespace duet::sim
