#include "sim/run_options.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/rng.h"
#include "sim/cluster_config.h"

namespace duet::sim {
namespace {

constexpr const char* kFaultNames[kFaultKinds] = {
    "loss",          "duplicate",    "delay",           "partition",      "asymmetric",
    "link-down",     "flap",         "crash",           "daemon-restart", "drift",
    "witness-crash", "witness-link", "script-fail",     "script-timeout", "checker",
    "admin",         "isolate",      "stream-gap",      "disk-full",      "disk-eio",
    "torn-crash",    "disk-replace", "keep-aside-fail",
};

bool NeedsWitness(FaultKind kind) {
  return kind == FaultKind::kWitnessCrash || kind == FaultKind::kWitnessLink ||
         kind == FaultKind::kIsolate;
}

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Uniform on a log scale between lo and hi: short and long values equally likely.
absl::Duration LogUniform(Rng& rng, absl::Duration lo, absl::Duration hi) {
  const double a = std::log(absl::ToDoubleSeconds(lo));
  const double b = std::log(absl::ToDoubleSeconds(hi));
  const double u = static_cast<double>(rng.Next() >> 11) * 0x1.0p-53;
  return absl::Milliseconds(std::round(std::exp(a + (b - a) * u) * 1000));
}

double Uniform(Rng& rng, double lo, double hi) {
  return lo + (hi - lo) * static_cast<double>(rng.Next() >> 11) * 0x1.0p-53;
}

absl::Duration Between(Rng& rng, absl::Duration lo, absl::Duration hi) {
  return absl::Nanoseconds(rng.Between(absl::ToInt64Nanoseconds(lo), absl::ToInt64Nanoseconds(hi)));
}

std::string Ms(absl::Duration d) {
  return absl::FormatDuration(absl::Trunc(d, absl::Microseconds(1)));
}

std::string Ppm(int64_t ppm) { return absl::StrCat(ppm >= 0 ? "+" : "", ppm, " ppm"); }

}  // namespace

const char* FaultKindName(FaultKind kind) { return kFaultNames[static_cast<int>(kind)]; }

absl::StatusOr<std::vector<FaultKind>> ParseFaultList(const std::string& list) {
  std::vector<FaultKind> kinds;
  if (list == "none" || list.empty()) return kinds;
  if (list == "all") {
    for (int k = 0; k < kFaultKinds; ++k) kinds.push_back(static_cast<FaultKind>(k));
    return kinds;
  }
  const std::vector<std::string> names = absl::StrSplit(list, ',', absl::SkipEmpty());
  for (const std::string& name : names) {
    bool found = false;
    for (int k = 0; k < kFaultKinds; ++k) {
      if (name == kFaultNames[k]) {
        found = true;
        if (std::find(kinds.begin(), kinds.end(), static_cast<FaultKind>(k)) == kinds.end()) {
          kinds.push_back(static_cast<FaultKind>(k));
        }
      }
    }
    if (!found) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown fault kind \"", name, "\"; known: ",
          absl::StrJoin(std::begin(kFaultNames), std::end(kFaultNames), ","), " (or all, none)"));
    }
  }
  return kinds;
}

std::string FaultListName(const std::vector<FaultKind>& kinds) {
  if (kinds.empty()) return "none";
  std::vector<std::string> names;
  for (FaultKind k : kinds) names.push_back(FaultKindName(k));
  return absl::StrJoin(names, ",");
}

uint64_t SwarmSeed(uint64_t base, uint64_t i) { return Mix(base ^ Mix(i + 1)); }

uint64_t StreamSeed(uint64_t seed, Stream stream) {
  return Mix(Mix(seed) ^ (static_cast<uint64_t>(stream) * 0xd1b54a32d192ed03ULL));
}

// The share of seeds that run the replication engines (the others use the DataOracle).
constexpr double kReplicationShare = 0;

int64_t DriftBoundPpm(absl::Duration margin, absl::Duration lease,
                      absl::Duration heartbeat_timeout) {
  const double m = absl::ToDoubleSeconds(margin);
  if (m <= 0) return 0;
  // The longer the time trusted, the more two clocks disagree over it. A time no longer
  // than the margin is never trusted at all (e.g. acknowledgements with a margin past the
  // heartbeat timeout).
  double rate = 1;
  for (absl::Duration trusted : {lease, heartbeat_timeout}) {
    const double d = absl::ToDoubleSeconds(trusted);
    if (d > m) rate = std::min(rate, m / (2 * d - m));
  }
  return std::max<int64_t>(1, static_cast<int64_t>(0.9 * rate * 1e6));
}

int64_t DriftFromDraw(uint64_t draw, int64_t bound_ppm) {
  if (bound_ppm <= 0) return 0;
  const bool negative = (draw & 1) != 0;
  const uint64_t shape = (draw >> 1) & 3;
  const double u = static_cast<double>(draw >> 11) * 0x1.0p-53;
  const double bound = static_cast<double>(bound_ppm);
  const double magnitude = shape == 0   ? std::exp(u * std::log(bound))  // log-uniform 1..bound
                           : shape == 1 ? u * bound                      // uniform 0..bound
                                        : (0.8 + 0.2 * u) * bound;       // near the bound
  const int64_t ppm = std::min<int64_t>(bound_ppm, std::llround(magnitude));
  return negative ? -ppm : ppm;
}

// Every draw from the seed comes first, in a fixed order (each option drawn where it always
// was, later additions after them); then overrides and what follows from them.
RunOptions DeriveOptions(uint64_t seed, const Overrides& overrides) {
  Rng rng(Mix(seed ^ 0x6f7074696f6e73ULL));  // the options' own stream ("options")
  RunOptions o;
  o.seed = seed;
  o.overrides = overrides;
  if (overrides.duration) o.safety_duration = *overrides.duration;

  o.modules = static_cast<int>(1 + rng.Below(8));
  if (overrides.modules) o.modules = *overrides.modules;
  o.heartbeat_links = static_cast<int>(1 + rng.Below(3));
  o.witness = rng.Chance(0.5);
  o.all_on_first = rng.Chance(0.2);
  o.failback = rng.Chance(0.15) ? Failback::kManual : Failback::kAuto;
  o.restart_max = static_cast<uint32_t>(rng.Between(1, 3));
  o.script_timeout = absl::Seconds(rng.Between(2, 15));

  // The fault mix: each kind in or out, with a weight (the later kinds are drawn below).
  for (int k = 0; k < kFirstLateFaultKind; ++k) {
    o.enabled[k] = rng.Chance(0.5);
    o.weight[k] = static_cast<int>(rng.Between(1, 10));
  }
  o.mean_fault_interval = LogUniform(rng, absl::Milliseconds(200), absl::Seconds(5));
  o.max_fault_duration = absl::Seconds(rng.Between(3, 30));

  o.latency_min = Between(rng, absl::Microseconds(50), absl::Milliseconds(2));
  o.latency_max = o.latency_min + Between(rng, absl::ZeroDuration(), absl::Milliseconds(5));
  o.script_latency_min = Between(rng, absl::Milliseconds(1), absl::Milliseconds(100));
  o.script_latency_max =
      o.script_latency_min + Between(rng, absl::ZeroDuration(), absl::Milliseconds(900));
  o.script_failure = std::round(Uniform(rng, 0.05, 0.5) * 100) / 100;
  o.script_hang = std::round(Uniform(rng, 0.02, 0.3) * 100) / 100;

  for (absl::Duration& offset : o.clock_offset) {
    offset = absl::Milliseconds(rng.Between(0, 10'000'000));
  }
  // Scaled to the bound below, once the configuration is known.
  std::array<uint64_t, 3> drift_draws{};
  for (uint64_t& draw : drift_draws) draw = rng.Next();
  const bool replication = rng.Chance(kReplicationShare);
  // Drawn after the rest, so that existing seeds keep their options: the drift margin, then
  // the later fault kinds (in the order they were added).
  const bool default_margin = rng.Chance(0.75);
  const int64_t margin_ms = rng.Between(100, 500);
  for (int k = kFirstLateFaultKind; k < static_cast<int>(FaultKind::kDiskReplace); ++k) {
    // Isolations are what tests the leases (and the drift margin): more often than the rest.
    o.enabled[k] = rng.Chance(static_cast<FaultKind>(k) == FaultKind::kIsolate ? 0.75 : 0.5);
    o.weight[k] = static_cast<int>(rng.Between(1, 10));
  }

  // Kinds added after the last drawn one are off unless --faults asks: a fixed weight.
  for (int k = static_cast<int>(FaultKind::kDiskReplace); k < kFaultKinds; ++k) o.weight[k] = 3;

  o.replication = overrides.replication.value_or(replication);
  // --faults fixes the set.
  if (overrides.faults) {
    o.enabled.fill(false);
    for (FaultKind k : *overrides.faults) {
      o.enabled[static_cast<int>(k)] = true;
      if (NeedsWitness(k)) o.witness = true;  // asked for witness faults: have a witness
    }
  }
  if (overrides.witness) o.witness = *overrides.witness;
  for (int k = 0; k < kFaultKinds; ++k) {
    if (!o.witness && NeedsWitness(static_cast<FaultKind>(k))) o.enabled[k] = false;
  }
  // The transport's stream only exists in replication mode.
  // So do the simulated disks.
  if (!o.replication) {
    for (FaultKind k :
         {FaultKind::kStreamGap, FaultKind::kDiskFull, FaultKind::kDiskEio, FaultKind::kTornCrash,
          FaultKind::kDiskReplace, FaultKind::kKeepAsideFail}) {
      o.enabled[static_cast<int>(k)] = false;
    }
  }

  o.drift_margin = default_margin ? WitnessConfig{}.drift_margin : absl::Milliseconds(margin_ms);
  const Config config = o.MakeConfig();
  const WitnessConfig witness = config.witness.value_or(WitnessConfig{});
  o.drift_bound_ppm = DriftBoundPpm(o.drift_margin, witness.lease, config.heartbeat.timeout);
  // Every clock drifts (physics, not a fault: it stays through the liveness phase); drift
  // faults change the rates during the run.
  for (size_t c = 0; c < o.drift_ppm.size(); ++c) {
    o.drift_ppm[c] = DriftFromDraw(drift_draws[c], o.drift_bound_ppm);
  }
  return o;
}

std::vector<FaultKind> RunOptions::EnabledKinds() const {
  std::vector<FaultKind> kinds;
  for (int k = 0; k < kFaultKinds; ++k) {
    if (enabled[k]) kinds.push_back(static_cast<FaultKind>(k));
  }
  return kinds;
}

Config RunOptions::MakeConfig() const {
  Config config = MakeClusterConfig(ClusterShape{.modules = modules,
                                                 .heartbeat_links = heartbeat_links,
                                                 .witness = witness,
                                                 .all_on_first = all_on_first,
                                                 .failback = failback,
                                                 .failover = true,
                                                 .restart_max = restart_max});
  for (ModuleConfig& m : config.modules) m.script_timeout = script_timeout;
  if (config.witness) config.witness->drift_margin = drift_margin;
  return config;
}

std::string RunOptions::Describe() const {
  std::string faults;
  for (int k = 0; k < kFaultKinds; ++k) {
    if (!enabled[k]) continue;
    absl::StrAppend(&faults, faults.empty() ? "" : " ", kFaultNames[k], "(weight ", weight[k], ")");
  }
  if (faults.empty()) faults = "none";
  std::string text;
  absl::StrAppend(&text, "seed: ", seed, "\n");
  absl::StrAppend(&text, "cluster: ", modules, modules == 1 ? " module" : " modules",
                  all_on_first ? " (all homed on a)" : " (homed alternately on a and b)", ", ",
                  heartbeat_links, heartbeat_links == 1 ? " heartbeat link" : " heartbeat links",
                  ", witness: ",
                  witness ? absl::StrCat("yes (drift margin ", Ms(drift_margin), ")") : "no", "\n");
  absl::StrAppend(&text, "data: ",
                  replication ? "replication engines under an application workload"
                              : "data states from the oracle",
                  "\n");
  absl::StrAppend(&text, "modules: failback ", failback == Failback::kAuto ? "auto" : "manual",
                  ", restart budget ", restart_max, " per 1m, script timeout ", Ms(script_timeout),
                  "\n");
  absl::StrAppend(&text, "phases: safety ", Ms(safety_duration), " with faults, then liveness ",
                  "within ", Ms(liveness_bound), " (prim on default primaries from +",
                  Ms(settle_period), ", stable for ", Ms(stable_period), ")\n");
  absl::StrAppend(&text, "faults: ", faults, "\n");
  absl::StrAppend(&text, "fault rate: one every ", Ms(mean_fault_interval),
                  " on average, lasting up to ", Ms(max_fault_duration), "\n");
  absl::StrAppend(&text, "network: latency ", Ms(latency_min), "..", Ms(latency_max),
                  " on every link\n");
  absl::StrAppend(&text, "scripts: latency ", Ms(script_latency_min), "..", Ms(script_latency_max),
                  ", failure rate ", script_failure, " (during script-fail), hang rate ",
                  script_hang, " (during script-timeout)\n");
  absl::StrAppend(&text, "clocks: a reads +", Ms(clock_offset[0]), " drift ", Ppm(drift_ppm[0]),
                  "; b reads +", Ms(clock_offset[1]), " drift ", Ppm(drift_ppm[1]));
  if (witness) absl::StrAppend(&text, "; witness drift ", Ppm(drift_ppm[2]));
  absl::StrAppend(&text, " (bound +-", drift_bound_ppm, " ppm: 90% of what a ", Ms(drift_margin),
                  " drift margin covers)\n");
  return text;
}

std::string RunOptions::ReplayCommand(const std::string& trace_path) const {
  std::string command = absl::StrCat("duet-sim --seed ", seed);
  if (overrides.duration) {
    absl::StrAppend(&command, " --duration ", absl::FormatDuration(*overrides.duration));
  }
  if (overrides.modules) absl::StrAppend(&command, " --modules ", *overrides.modules);
  if (overrides.faults) absl::StrAppend(&command, " --faults ", FaultListName(*overrides.faults));
  if (overrides.witness)
    absl::StrAppend(&command, " --witness=", *overrides.witness ? "true" : "false");
  if (overrides.replication)
    absl::StrAppend(&command, " --replication=", *overrides.replication ? "true" : "false");
  absl::StrAppend(&command, " --trace ", trace_path);
  return command;
}

std::string RunOptions::ReplayCommand() const {
  return ReplayCommand(absl::StrCat("/tmp/duet-", seed, ".trace"));
}

}  // namespace duet::sim
