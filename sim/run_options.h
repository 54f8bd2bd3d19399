// Everything that shapes one simulator run, derived from its seed (DESIGN.md §8): the cluster
// (modules, heartbeat links, witness), the fault mix and rates, network and script behaviour,
// clock drift. A few options can be fixed on the command line (Overrides); the replay command
// of a run repeats exactly those.
#ifndef DUET_SIM_RUN_OPTIONS_H_
#define DUET_SIM_RUN_OPTIONS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/config.h"

namespace duet::sim {

enum class FaultKind : uint8_t {
  kLoss,           // a link direction loses a share of its messages for a while
  kDuplicate,      // ... duplicates them
  kDelay,          // ... delays them by a random latency (which reorders them)
  kPartition,      // every heartbeat link cut both ways
  kAsymmetric,     // every heartbeat link cut in one direction only
  kLinkDown,       // one heartbeat network down, the others up
  kFlap,           // one heartbeat network goes down and up several times
  kCrash,          // a node crashes and restarts later from its persisted state
  kDaemonRestart,  // a node's daemon dies and restarts at once
  kDrift,          // clocks run fast or slow (within the bound), rates change during the run
  kWitnessCrash,   // the witness crashes and restarts (forgetting its leases)
  kWitnessLink,    // a node loses its link to the witness (or only the replies)
  kScriptFail,     // start scripts fail for a while
  kScriptTimeout,  // scripts hang for a while and are killed at their timeout
  kChecker,        // a checker reports the application failed
  kAdmin,          // an admin command: start, stop, restart, swap, prim, prim --force, second
  // Kinds added later: their mix is drawn after everything else (DeriveOptions), so that
  // adding one leaves the options of existing seeds as they were.
  kIsolate,    // a node loses its peer and the witness at once; the peer still reaches the witness
  kStreamGap,  // the replication transport loses one stream write, or swaps two adjacent ones,
               // and keeps the connection up (replication mode)
  // Disks (replication mode).
  kDiskFull,       // a node's disk is full for a while (writes that need space fail: ENOSPC)
  kDiskEio,        // a node's fsyncs fail for a while (EIO; the failed pages are forgotten)
  kTornCrash,      // a node crashes between two actions of one engine step, its disk keeping a
                   // random part of what was not synced (torn pages)
  kDiskReplace,    // a node crashes and comes back with a new, empty disk (files and metadata
                   // gone); only with --faults: seeds drawn before it keep their fault sequences
  kKeepAsideFail,  // a node cannot keep divergent branches aside for a while (EACCES in its
                   // divergent root; a full disk fails them too, ENOSPC); only with --faults
};
inline constexpr int kFaultKinds = static_cast<int>(FaultKind::kKeepAsideFail) + 1;
inline constexpr int kFirstLateFaultKind = static_cast<int>(FaultKind::kIsolate);

const char* FaultKindName(FaultKind kind);
// "crash,partition,loss" -> kinds; "all" is every kind, "none" (or "") no fault at all.
absl::StatusOr<std::vector<FaultKind>> ParseFaultList(const std::string& list);
std::string FaultListName(const std::vector<FaultKind>& kinds);

// The clock drift a configuration promises to tolerate, in parts per million of true time,
// for each clock: two clocks at +bound and -bound must not disagree, over the longest time a
// node trusts without hearing again, by more than the witness's drift margin. Those times
// are the lease (LeaseClient: request sent + lease - margin, against the witness's grant
// + lease) and the peer's acknowledgement (Node: echo + heartbeat.timeout - margin, against
// the peer's last heard + heartbeat.timeout). Over a trusted time D, the margin M is used up
// at drift M / (2D - M); the bound is 90% of that, for the tighter of the two times.
// (A 6 s lease with the default 500 ms margin: 39130 ppm.)
int64_t DriftBoundPpm(absl::Duration margin, absl::Duration lease,
                      absl::Duration heartbeat_timeout);
// A clock's drift from one random draw, within +-bound_ppm: either sign; a quarter of the
// time log-uniform in 1..bound (small drifts as likely as large ones), a quarter uniform in
// 0..bound, half the time near the bound (80..100% of it), where a missing margin shows.
int64_t DriftFromDraw(uint64_t draw, int64_t bound_ppm);

// What the command line fixed; the seed decides everything else.
struct Overrides {
  std::optional<absl::Duration> duration = std::nullopt;  // safety phase
  std::optional<int> modules = std::nullopt;
  std::optional<std::vector<FaultKind>> faults = std::nullopt;
  std::optional<bool> witness = std::nullopt;
  std::optional<bool> replication = std::nullopt;
};

struct RunOptions {
  uint64_t seed = 0;
  Overrides overrides;

  // Phases: faults for `safety_duration`; then they heal and the pair has `liveness_bound` to
  // converge (admin `prim` undoes admin moves from `settle_period` on) and must then hold
  // still for `stable_period`.
  absl::Duration safety_duration = absl::Seconds(60);
  absl::Duration liveness_bound = absl::Seconds(120);
  absl::Duration settle_period = absl::Seconds(20);
  absl::Duration stable_period = absl::Seconds(5);

  // The cluster.
  int modules = 2;
  int heartbeat_links = 2;
  bool witness = false;
  // The nodes run their replication engines under an application workload (SimCluster), and
  // the data invariants are checked; otherwise the DataOracle invents data states.
  bool replication = false;
  bool all_on_first = false;
  Failback failback = Failback::kAuto;
  uint32_t restart_max = 2;
  absl::Duration script_timeout = absl::Seconds(10);

  // Faults: which kinds happen, their relative weights, how often one is injected.
  std::array<bool, kFaultKinds> enabled{};
  std::array<int, kFaultKinds> weight{};
  absl::Duration mean_fault_interval = absl::Seconds(2);
  absl::Duration max_fault_duration = absl::Seconds(20);

  // Steady behaviour of the network (every link) and of scripts.
  absl::Duration latency_min = absl::Microseconds(100);
  absl::Duration latency_max = absl::Microseconds(500);
  absl::Duration script_latency_min = absl::Milliseconds(5);
  absl::Duration script_latency_max = absl::Milliseconds(50);
  // While a script-fail (script-timeout) fault lasts: chance that a start script fails
  // (that any script hangs).
  double script_failure = 0;
  double script_hang = 0;

  // Clocks: offsets at the start (nodes) and initial drift (nodes, then the witness), within
  // drift_bound_ppm, which follows from the configuration (DriftBoundPpm): the witness's
  // drift margin (the engine's default in 3 runs of 4, else 100..500 ms) over its lease and
  // the heartbeat timeout. Runs without a witness drift within the same bound.
  std::array<absl::Duration, 2> clock_offset{};
  std::array<int64_t, 3> drift_ppm{};
  absl::Duration drift_margin = WitnessConfig{}.drift_margin;
  int64_t drift_bound_ppm = 0;

  bool Enabled(FaultKind kind) const { return enabled[static_cast<int>(kind)]; }
  std::vector<FaultKind> EnabledKinds() const;
  Config MakeConfig() const;
  // Every option, one "name: value" per line, for the run's header.
  std::string Describe() const;
  // The command that replays this run, writing its trace to `trace_path`.
  std::string ReplayCommand(const std::string& trace_path) const;
  // ReplayCommand with the conventional trace path /tmp/duet-<seed>.trace.
  std::string ReplayCommand() const;
};

RunOptions DeriveOptions(uint64_t seed, const Overrides& overrides = {});

// The i-th seed of a swarm started from `base` (distinct, well mixed).
uint64_t SwarmSeed(uint64_t base, uint64_t i);
// Independent generator seeds for the parts of one run (cluster, faults...).
enum class Stream : uint64_t { kCluster = 1, kFaults = 2 };
uint64_t StreamSeed(uint64_t seed, Stream stream);

}  // namespace duet::sim

#endif  // DUET_SIM_RUN_OPTIONS_H_
