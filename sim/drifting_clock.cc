#include "sim/drifting_clock.h"

#include <cassert>

namespace duet::sim {
namespace {

__extension__ using Int128 = __int128;
constexpr int64_t kMillion = 1'000'000;

}  // namespace

DriftingClock::DriftingClock(absl::Time true_start, absl::Time local_start, int64_t drift_ppm)
    : true_origin_(true_start), local_origin_(local_start), ppm_(drift_ppm) {
  assert(drift_ppm > -kMillion && drift_ppm < kMillion);
}

// Non-decreasing in `true_offset_ns` because |ppm_| < 10^6: one more true nanosecond moves the
// truncated drift term by at most one nanosecond the other way.
int64_t DriftingClock::LocalOffsetNs(int64_t true_offset_ns) const {
  return true_offset_ns + static_cast<int64_t>(Int128{true_offset_ns} * ppm_ / kMillion);
}

absl::Time DriftingClock::Local(absl::Time t) const {
  if (t == absl::InfiniteFuture() || t == absl::InfinitePast()) return t;
  const int64_t d = absl::ToInt64Nanoseconds(t - true_origin_);
  return local_origin_ + absl::Nanoseconds(LocalOffsetNs(d));
}

absl::Time DriftingClock::TrueAt(absl::Time local) const {
  if (local == absl::InfiniteFuture() || local == absl::InfinitePast()) return local;
  const int64_t target = absl::ToInt64Nanoseconds(local - local_origin_);
  if (ppm_ == 0) return true_origin_ + absl::Nanoseconds(target);
  // Invert the rate, then correct the rounding so that the answer is the earliest one.
  auto d = static_cast<int64_t>(Int128{target} * kMillion / (kMillion + ppm_));
  while (LocalOffsetNs(d) < target) ++d;
  while (LocalOffsetNs(d - 1) >= target) --d;
  return true_origin_ + absl::Nanoseconds(d);
}

void DriftingClock::SetDrift(absl::Time now, int64_t drift_ppm) {
  assert(drift_ppm > -kMillion && drift_ppm < kMillion);
  local_origin_ = Local(now);
  true_origin_ = now;
  ppm_ = drift_ppm;
}

}  // namespace duet::sim
