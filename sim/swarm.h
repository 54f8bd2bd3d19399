// Many independent runs (DESIGN.md §8: `--swarm N`), each with a seed derived from a base
// seed and its own random fault mix, on `jobs` worker threads. Every run is still one thread
// with no real clock; only the swarm's bookkeeping uses real time.
#ifndef DUET_SIM_SWARM_H_
#define DUET_SIM_SWARM_H_

#include <cstdint>
#include <ostream>
#include <vector>

#include "absl/time/time.h"
#include "sim/run_options.h"

namespace duet::sim {

struct SwarmOptions {
  uint64_t base_seed = 0;
  int count = 100;
  int jobs = 1;
  Overrides overrides;
  bool check_determinism = false;  // run each seed twice and compare trace hashes
};

struct SwarmTally {
  int runs = 0;
  int failed = 0;
  int nondeterministic = 0;
  std::vector<uint64_t> failing_seeds;
  // Accuracy, over the runs: failovers and split brains explained by a fault, peer-lost
  // declarations and fences checked.
  uint64_t failovers = 0;
  uint64_t split_brains = 0;
  uint64_t peer_losses = 0;
  uint64_t fences = 0;
  uint64_t events = 0;
  // Replication mode: keep-asides that failed, and operations answered NotCarriedOut after them.
  uint64_t keep_asides_failed = 0;
  uint64_t ops_not_carried_out = 0;
  absl::Duration simulated;
  double wall_seconds = 0;
};

// Prints one line per failing seed (with the command that replays it), occasional progress,
// and the final tally.
SwarmTally RunSwarm(const SwarmOptions& options, std::ostream& out);

}  // namespace duet::sim

#endif  // DUET_SIM_SWARM_H_
