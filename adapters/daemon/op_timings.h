// Where this node's durable operations spend their time, per module and leg, for whoever
// asks why an fsync through the mount is slow (`kill -USR1` of duetd logs the summary:
// README, Benchmarks; bench/mount_fio_bench.py --profile prints it). It watches the loop's
// inputs and actions (NodeLoop's observer) and times:
//   disk fsync       an ApplyMutation of an fsync or sync write of one path -> its answer
//                    (a disk worker, on either node);
//   disk flush       a whole-tree fsync (the periodic flush, a syncfs) -> its answer;
//   peer fsync ack   primary: a stream fsync sent -> the peer's ReplAck covering its lsn
//                    (the network both ways, the peer's loop and its disk fsync);
//   stream fsync     secondary: a stream fsync received -> this node's ReplAck covering it;
//   loop wait        an input posted by another thread (a mount request, a disk answer) ->
//                    the loop feeding it (the thread hand-off and the queue before it);
//   step             an input fed -> its actions carried out (the loop's own work);
// and the loop's busy share (the steps' time over the time since the last summary).
// Each summary line gives count, mean, p50, p99 and max in µs, and the figures restart.
// Memory stays bounded whether or not anyone asks (duetd always times): per module and leg
// the last kMaxSamples samples give the percentiles (count, mean and max are of all), and
// at most kMaxPending starts wait for their end. Nothing is allocated per operation once a
// leg's buffer is full, and messages are matched to modules by name without copying it.
//
// Not thread-safe: the loop's thread calls it (Post records its time in the posted input).
#ifndef DUET_ADAPTERS_DAEMON_OP_TIMINGS_H_
#define DUET_ADAPTERS_DAEMON_OP_TIMINGS_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/actions.h"
#include "engine/inputs.h"

namespace duet::daemon {

class OpTimings {
 public:
  enum Leg { kDiskFsync, kDiskFlush, kPeerFsyncAck, kStreamFsync, kLoopWait, kStep, kLegs };

  // `modules`: the configured modules' names, by index.
  OpTimings(std::vector<std::string> modules, absl::Time now);

  // An input the loop feeds at `fed`, posted by another thread at `posted` (or fed at once:
  // `posted` == `fed`).
  void OnInput(const Input& input, absl::Time posted, absl::Time fed);
  // The actions of the step fed at `fed`, about to be carried out.
  void OnActions(const Actions& actions, absl::Time fed);
  // That step's actions were carried out by `done`.
  void OnStepDone(absl::Time fed, absl::Time done);

  // One line per leg with samples (module legs prefixed by the module's name), then the
  // loop's busy share; restarts the figures (what is pending stays pending).
  std::vector<std::string> Summary(absl::Time now);

  static const char* LegName(Leg leg);

 private:
  // Samples of one leg, in µs: the last kMaxSamples of them (a ring) for the percentiles;
  // count, sum and max of all since the last summary.
  struct Samples {
    std::vector<int64_t> us;
    size_t next = 0;  // where the ring writes once full
    uint64_t count = 0;
    int64_t sum_us = 0;
    int64_t max_us = 0;
    void Add(absl::Duration d);
  };
  static constexpr size_t kMaxSamples = 4096;
  // Starts not answered after this many are dropped (a session reset, a lost answer).
  static constexpr size_t kMaxPending = 1 << 16;
  using Pending = std::map<uint64_t, absl::Time>;  // lsn -> when
  // A module's legs and its fsyncs waiting for an ack; index modules_.size() is the node's
  // own (loop wait, step), and a message for a module not configured.
  struct ModuleTimings {
    std::array<Samples, kLegs> legs;
    Pending sent_fsyncs;
    Pending received_fsyncs;
  };

  ModuleTimings& Of(ModuleIndex m) { return per_module_[std::min<size_t>(m, modules_.size())]; }
  ModuleTimings& Named(absl::string_view module);
  ModuleTimings& Node() { return per_module_.back(); }
  // Ends the pending starts of `pending` an ack covers (done_lsn, done_after).
  static void EndCovered(Pending& pending, const ReplAck& ack, absl::Time at, Samples& samples);

  std::vector<std::string> modules_;
  absl::flat_hash_map<std::string, ModuleIndex> index_;
  std::vector<ModuleTimings> per_module_;
  absl::Time since_;
  absl::Duration busy_;
  // apply id -> (module, leg, issued at), for the disk legs.
  struct Apply {
    ModuleIndex module = 0;
    Leg leg = kDiskFsync;
    absl::Time issued;
  };
  std::map<uint64_t, Apply> applies_;
};

}  // namespace duet::daemon

#endif  // DUET_ADAPTERS_DAEMON_OP_TIMINGS_H_
