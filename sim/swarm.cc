#include "sim/swarm.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "sim/simulation.h"

namespace duet::sim {

SwarmTally RunSwarm(const SwarmOptions& options, std::ostream& out) {
  const absl::Time wall_start = absl::Now();
  out << "swarm: " << options.count << " runs from base seed " << options.base_seed << " on "
      << options.jobs << (options.jobs == 1 ? " thread" : " threads") << "\n"
      << std::flush;
  std::atomic<int> next{0};
  std::mutex mu;  // guards tally and out
  SwarmTally tally;
  const int progress_every = std::max(options.count / 10, 1);

  auto worker = [&] {
    while (true) {
      const int i = next.fetch_add(1);
      if (i >= options.count) return;
      const uint64_t seed = SwarmSeed(options.base_seed, static_cast<uint64_t>(i));
      const RunOptions run = DeriveOptions(seed, options.overrides);
      RunResult result = Simulation(run).Run();
      std::string line;
      bool nondeterministic = false;
      if (options.check_determinism && result.passed) {
        const RunResult again = Simulation(run).Run();
        nondeterministic = again.trace_hash != result.trace_hash;
        if (nondeterministic) {
          line = absl::StrCat("NONDETERMINISTIC seed ", seed, ": trace hash ",
                              absl::Hex(result.trace_hash), " then ", absl::Hex(again.trace_hash),
                              "; replay: ", run.ReplayCommand(), " --check-determinism\n");
        }
      }
      if (!result.passed) {
        line = absl::StrCat("FAIL seed ", seed, ": ", result.violation->invariant, " at ",
                            result.violation_at, "; replay: ", run.ReplayCommand(), "\n");
      }
      std::lock_guard<std::mutex> lock(mu);
      ++tally.runs;
      tally.events += result.events;
      tally.keep_asides_failed += result.stats.keep_asides_failed;
      tally.ops_not_carried_out += result.stats.ops_not_carried_out;
      tally.simulated += result.simulated;
      tally.failovers += static_cast<uint64_t>(result.accounted_failovers);
      tally.split_brains += static_cast<uint64_t>(result.accounted_split_brains);
      tally.peer_losses += static_cast<uint64_t>(result.peer_losses_checked);
      tally.fences += static_cast<uint64_t>(result.fences_checked);
      if (!result.passed || nondeterministic) {
        ++tally.failed;
        if (nondeterministic) ++tally.nondeterministic;
        tally.failing_seeds.push_back(seed);
        out << line << std::flush;
      }
      if (tally.runs % progress_every == 0 && tally.runs < options.count) {
        out << "swarm: " << tally.runs << "/" << options.count << " done, " << tally.failed
            << " failed\n"
            << std::flush;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int j = 1; j < options.jobs; ++j) threads.emplace_back(worker);
  worker();
  for (std::thread& t : threads) t.join();

  tally.wall_seconds = absl::ToDoubleSeconds(absl::Now() - wall_start);
  out << "swarm: " << tally.runs << " runs, " << tally.runs - tally.failed << " passed, "
      << tally.failed << " failed";
  if (tally.nondeterministic > 0) out << " (" << tally.nondeterministic << " nondeterministic)";
  out << "; " << tally.events << " events, simulated " << absl::FormatDuration(tally.simulated)
      << " in " << absl::FormatDuration(absl::Seconds(tally.wall_seconds)) << " wall ("
      << static_cast<int64_t>(absl::ToDoubleSeconds(tally.simulated) /
                              std::max(tally.wall_seconds, 1e-9))
      << "x)\n";
  out << "swarm accuracy: " << tally.failovers << " failovers and " << tally.split_brains
      << " split brains explained by faults; " << tally.peer_losses
      << " peer-lost declarations and " << tally.fences << " fences checked\n";
  if (tally.keep_asides_failed > 0) {
    out << "swarm keep-asides: " << tally.keep_asides_failed << " failed, "
        << tally.ops_not_carried_out << " operations not carried out after them\n";
  }
  return tally;
}

}  // namespace duet::sim
