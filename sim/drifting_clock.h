// A machine's monotonic clock as the simulator models it: it runs at rate 1 + drift_ppm / 10^6
// of true (simulated) time and may read anything at the start. Conversions both ways are exact
// to the nanosecond and monotonic, so a deadline the engine sets on its own clock, converted
// to true time to be scheduled, is never reached early on that clock.
#ifndef DUET_SIM_DRIFTING_CLOCK_H_
#define DUET_SIM_DRIFTING_CLOCK_H_

#include <cstdint>

#include "absl/time/time.h"

namespace duet::sim {

class DriftingClock {
 public:
  // Reads true time.
  DriftingClock() = default;
  // Reads `local_start` at true time `true_start`; |drift_ppm| < 10^6.
  DriftingClock(absl::Time true_start, absl::Time local_start, int64_t drift_ppm);

  // What the clock reads at true time `t` (infinities map to themselves).
  absl::Time Local(absl::Time t) const;
  // The earliest true time at which the clock reads `local` or later.
  absl::Time TrueAt(absl::Time local) const;
  // From true time `now` on the clock runs at the new rate; its reading stays continuous.
  void SetDrift(absl::Time now, int64_t drift_ppm);
  int64_t drift_ppm() const { return ppm_; }

 private:
  int64_t LocalOffsetNs(int64_t true_offset_ns) const;

  absl::Time true_origin_ = absl::UnixEpoch();
  absl::Time local_origin_ = absl::UnixEpoch();
  int64_t ppm_ = 0;
};

}  // namespace duet::sim

#endif  // DUET_SIM_DRIFTING_CLOCK_H_
