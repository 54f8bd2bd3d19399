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
//
// Not thread-safe: the loop's thread calls it (Post records its time in the posted input).
#ifndef DUET_ADAPTERS_DAEMON_OP_TIMINGS_H_
#define DUET_ADAPTERS_DAEMON_OP_TIMINGS_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

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
  // Samples of one leg, in µs; beyond kMaxSamples only the count grows (the mean and
  // percentiles are of the first ones).
  struct Samples {
    std::vector<int64_t> us;
    uint64_t count = 0;
    int64_t max_us = 0;
    void Add(absl::Duration d);
  };
  static constexpr size_t kMaxSamples = 1 << 20;
  // Starts not answered after this many are dropped (a session reset, a lost answer).
  static constexpr size_t kMaxPending = 1 << 16;

  Samples& Of(const std::string& module, Leg leg) { return samples_[{module, leg}]; }
  const std::string& NameOf(ModuleIndex m) const;
  // Ends the pending starts of `pending` an ack covers (done_lsn, done_after).
  void EndCovered(std::map<uint64_t, absl::Time>& pending, const ReplAck& ack, absl::Time at,
                  Samples& samples);

  std::vector<std::string> modules_;
  absl::Time since_;
  absl::Duration busy_;
  std::map<std::pair<std::string, int>, Samples> samples_;
  // apply id -> (module, leg, issued at), for the disk legs; per module name: lsn -> when.
  std::map<uint64_t, std::pair<std::pair<std::string, Leg>, absl::Time>> applies_;
  std::map<std::string, std::map<uint64_t, absl::Time>> sent_fsyncs_;
  std::map<std::string, std::map<uint64_t, absl::Time>> received_fsyncs_;
};

}  // namespace duet::daemon

#endif  // DUET_ADAPTERS_DAEMON_OP_TIMINGS_H_
