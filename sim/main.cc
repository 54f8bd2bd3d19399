// duet-sim: the deterministic fault simulator (DESIGN.md §8). One run per seed, a swarm of
// seeds, or a narrated scenario. See --help.
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "sim/run_options.h"
#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/swarm.h"

ABSL_FLAG(std::optional<uint64_t>, seed, std::nullopt,
          "the run's seed (with --swarm: the base seed); default: from the time of day");
ABSL_FLAG(int, swarm, 0, "run this many seeds derived from the base seed");
ABSL_FLAG(int, jobs, 1, "worker threads for --swarm");
ABSL_FLAG(std::optional<absl::Duration>, duration, std::nullopt,
          "length of the safety phase with faults (simulated; default 60s)");
ABSL_FLAG(std::optional<int>, modules, std::nullopt, "module count (default: 1..8 from the seed)");
ABSL_FLAG(std::optional<std::string>, faults, std::nullopt,
          "comma list of the fault kinds to inject (all, none, or: loss, duplicate, delay, "
          "partition, asymmetric, link-down, flap, crash, daemon-restart, drift, witness-crash, "
          "witness-link, script-fail, script-timeout, checker, admin, isolate, stream-gap); "
          "witness faults (witness-crash, witness-link, isolate) bring a witness; stream-gap "
          "acts in replication mode only; default: a mix from the seed");
ABSL_FLAG(std::optional<bool>, witness, std::nullopt,
          "with or without a witness (default: from the seed)");
ABSL_FLAG(std::optional<bool>, replication, std::nullopt,
          "run the replication engines under an application workload and check the data "
          "invariants (default: from the seed)");
ABSL_FLAG(std::string, trace, "", "write the readable event trace of the run to this file");
ABSL_FLAG(std::string, debug_module, "",
          "print every replication message, disk operation and persist of this module to "
          "stderr (debugging a failing seed)");
ABSL_FLAG(bool, check_determinism, false,
          "run each seed twice and fail loudly if the trace hashes differ");
ABSL_FLAG(std::string, scenario, "", "run a narrated scenario instead: active-active");

namespace duet::sim {
namespace {

constexpr int kExitViolation = 1;
constexpr int kExitNondeterministic = 2;
constexpr int kExitUsage = 64;

// absl flags are spelled with underscores; accept the dashed spelling too
// (--check-determinism is --check_determinism).
std::vector<char*> NormalizeFlagNames(int argc, char** argv, std::vector<std::string>& storage) {
  storage.assign(argv, argv + argc);
  for (size_t i = 1; i < storage.size(); ++i) {
    std::string& arg = storage[i];
    if (arg == "--") break;
    if (arg.rfind("--", 0) != 0) continue;
    const size_t end = std::min(arg.find('='), arg.size());
    for (size_t c = 2; c < end; ++c) {
      if (arg[c] == '-') arg[c] = '_';
    }
  }
  std::vector<char*> out;
  for (std::string& s : storage) out.push_back(s.data());
  return out;
}

uint64_t TimeOfDaySeed() {
  return static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())) % 1'000'000'000'000ull;
}

// Shows where two runs of one seed first differ.
void ShowDivergence(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  std::cerr << "first difference at trace line " << i + 1 << ":\n"
            << "  run 1: " << (i < a.size() ? a[i] : "<end of trace>") << "\n"
            << "  run 2: " << (i < b.size() ? b[i] : "<end of trace>") << "\n";
}

int RunOne(const RunOptions& options, const std::string& trace_path, bool check_determinism) {
  std::cout << "duet-sim: seed " << options.seed << "\n" << options.Describe() << std::flush;
  std::unique_ptr<std::ofstream> trace;
  if (!trace_path.empty()) {
    trace = std::make_unique<std::ofstream>(trace_path);
    if (!*trace) {
      std::cerr << "cannot write the trace to " << trace_path << "\n";
      return kExitUsage;
    }
    *trace << "# duet-sim trace of seed " << options.seed << "\n";
    std::string described = options.Describe();
    size_t start = 0;
    while (start < described.size()) {
      const size_t end = described.find('\n', start);
      *trace << "# " << described.substr(start, end - start) << "\n";
      start = end + 1;
    }
  }
  Simulation first(options);
  if (trace) first.set_trace_sink([&](const std::string& line) { *trace << line << "\n"; });
  if (const std::string module = absl::GetFlag(FLAGS_debug_module); !module.empty()) {
    first.cluster().set_debug(module, [](const std::string& line) { std::cerr << line << "\n"; });
  }
  const RunResult result = first.Run();
  if (trace) {
    trace->flush();
    std::cout << "trace: " << trace_path << " (" << first.cluster().log().size() << " lines)\n";
  }
  std::cout << FormatSummary(options, result);
  if (check_determinism) {
    Simulation second(options);
    const RunResult again = second.Run();
    if (again.trace_hash != result.trace_hash || again.events != result.events) {
      std::cerr << "\n*** NONDETERMINISM: seed " << options.seed << " gave trace hash "
                << absl::StrCat(absl::Hex(result.trace_hash)) << " and then "
                << absl::StrCat(absl::Hex(again.trace_hash)) << " (" << result.events << " vs "
                << again.events << " events) ***\n";
      ShowDivergence(first.cluster().log(), second.cluster().log());
      return kExitNondeterministic;
    }
    std::cout << "determinism: the second run of seed " << options.seed
              << " gave the same trace hash\n";
  }
  if (!result.passed) {
    std::cout << "\n" << result.report << std::flush;
    return kExitViolation;
  }
  return 0;
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "deterministic fault simulator for Duet\n"
      "  duet-sim --seed N [--duration 60s] [--modules M] [--faults LIST] [--witness=BOOL]\n"
      "           [--replication=BOOL]\n"
      "           [--trace FILE] [--check-determinism]\n"
      "  duet-sim --swarm COUNT [--jobs J] [--seed BASE] [--duration D] [--faults LIST]\n"
      "  duet-sim --scenario active-active\n"
      "Flags may be spelled with dashes or underscores.");
  // --help lists this file's flags (absl's default looks for a file named after the program).
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view path) {
    return absl::EndsWith(path, "sim/main.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  std::vector<std::string> storage;
  std::vector<char*> args = NormalizeFlagNames(argc, argv, storage);
  const std::vector<char*> rest =
      absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  if (rest.size() > 1) {
    std::cerr << "unexpected argument: " << rest[1] << " (see --help)\n";
    return kExitUsage;
  }

  if (const std::string scenario = absl::GetFlag(FLAGS_scenario); !scenario.empty()) {
    return RunScenario(scenario, std::cout) ? 0 : kExitViolation;
  }

  Overrides overrides;
  overrides.duration = absl::GetFlag(FLAGS_duration);
  if (overrides.duration && *overrides.duration <= absl::ZeroDuration()) {
    std::cerr << "--duration must be positive\n";
    return kExitUsage;
  }
  overrides.modules = absl::GetFlag(FLAGS_modules);
  if (overrides.modules && (*overrides.modules < 1 || *overrides.modules > 100)) {
    std::cerr << "--modules must be between 1 and 100\n";
    return kExitUsage;
  }
  if (const std::optional<std::string> faults = absl::GetFlag(FLAGS_faults)) {
    absl::StatusOr<std::vector<FaultKind>> kinds = ParseFaultList(*faults);
    if (!kinds.ok()) {
      std::cerr << "--faults: " << kinds.status().message() << "\n";
      return kExitUsage;
    }
    overrides.faults = *std::move(kinds);
  }
  overrides.witness = absl::GetFlag(FLAGS_witness);
  overrides.replication = absl::GetFlag(FLAGS_replication);
  const std::optional<uint64_t> seed = absl::GetFlag(FLAGS_seed);
  const bool check = absl::GetFlag(FLAGS_check_determinism);

  if (const int count = absl::GetFlag(FLAGS_swarm); count > 0) {
    SwarmOptions swarm;
    swarm.base_seed = seed.value_or(TimeOfDaySeed());
    swarm.count = count;
    swarm.jobs = std::max(1, absl::GetFlag(FLAGS_jobs));
    swarm.overrides = overrides;
    swarm.check_determinism = check;
    if (!absl::GetFlag(FLAGS_trace).empty()) {
      std::cerr << "--trace applies to a single run; replay a failing seed to trace it\n";
      return kExitUsage;
    }
    const SwarmTally tally = RunSwarm(swarm, std::cout);
    if (tally.nondeterministic > 0) return kExitNondeterministic;
    return tally.failed > 0 ? kExitViolation : 0;
  }

  const RunOptions options = DeriveOptions(seed.value_or(TimeOfDaySeed()), overrides);
  return RunOne(options, absl::GetFlag(FLAGS_trace), check);
}

}  // namespace
}  // namespace duet::sim

int main(int argc, char** argv) { return duet::sim::Main(argc, argv); }
