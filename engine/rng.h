// Seeded pseudo-random generator (xoshiro256**) handed to the engine at construction.
// The engine draws all randomness from it, so the same seed gives the same run.
#ifndef DUET_ENGINE_RNG_H_
#define DUET_ENGINE_RNG_H_

#include <cstdint>

namespace duet {

class Rng {
 public:
  explicit Rng(uint64_t seed);

  uint64_t Next();
  // Uniform in [0, bound); bound > 0.
  uint64_t Below(uint64_t bound);
  // Uniform in [lo, hi].
  int64_t Between(int64_t lo, int64_t hi);
  // True with probability p (0..1).
  bool Chance(double p);

 private:
  uint64_t s_[4];
};

}  // namespace duet

#endif  // DUET_ENGINE_RNG_H_
