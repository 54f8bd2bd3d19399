// duet-bench: the replication engine's own cost, measured in memory on one thread.
//
// A primary and a secondary Replica are joined by a FIFO pump that stands in for the driver:
// every ApplyMutation succeeds at once (no store, no disk), every SendReplication reaches
// the other replica immediately, PersistReplica is only counted. What is left is the engine:
// the activity log, the in-flight window, acknowledgements and the copies of the Mutation
// (never of its data: the payload is one shared buffer reused by every write).
//
// DESIGN.md §9 quotes ratios, so the baselines (one plain copy of the payload, what a local
// write costs at least in memory) run in the same process, before the engine's figures.
#include <malloc.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "engine/actions.h"
#include "engine/replication/mutation.h"
#include "engine/replication/replica.h"
#include "engine/replication/zone_map.h"
#include "engine/rng.h"

namespace duet {
namespace {

constexpr uint32_t kZoneSize = 64 * 1024;
constexpr uint64_t kFileBytes = 1ull << 30;  // sequential writes cycle over a 1 GiB file
constexpr char kPath[] = "data/bench.img";

// Two replicas of one module and the events between them, run in FIFO order.
class InMemoryPair {
 public:
  InMemoryPair() {
    ReplicaOptions options;
    options.zone_size = kZoneSize;
    for (int i = 0; i < 2; ++i) {
      rngs_[i] = std::make_unique<Rng>(static_cast<uint64_t>(i) + 1);
      options.default_primary_here = i == 0;
      replicas_[i] =
          std::make_unique<Replica>(0, "bench", options, ReplicaDurableState{}, *rngs_[i]);
    }
  }

  // Makes replica 0 the primary, connects both and pumps until the stream is attached.
  bool Start() {
    replicas_[0]->SetRole(now_, ReplRole::kPrimary, scratch_);
    Execute(0);
    for (int i = 0; i < 2; ++i) {
      replicas_[i]->OnConnected(now_, scratch_);
      Execute(i);
    }
    Pump();
    return replicas_[0]->attached();
  }

  // One application write on the primary, 1 µs after the last, pumped until everything it
  // caused has run. True if its CompleteLocal came, with OK.
  bool Write(uint64_t offset, const Payload& payload) {
    now_ += absl::Microseconds(1);
    for (int i = 0; i < 2; ++i) {
      if (now_ >= replicas_[i]->NextDeadline()) {
        replicas_[i]->OnTick(now_, scratch_);
        Execute(i);
      }
    }
    Mutation m;
    m.kind = MutationKind::kWrite;
    m.path = kPath;
    m.offset = offset;
    m.data = payload;
    const uint64_t op = ++next_op_;
    replicas_[0]->OnLocalMutation(now_, op, std::move(m), scratch_);
    Execute(0);
    Pump();
    return completed_op_ == op && completed_ok_ && !unexpected_;
  }

  uint64_t persists() const { return persists_; }

 private:
  struct Deliver {
    int to;
    ReplMessage message;
  };
  struct Applied {
    int side;
    uint64_t apply_id;
  };
  using Event = std::variant<Deliver, Applied>;

  // Carries out the actions replica `side` left in scratch_ (queueing what it causes).
  void Execute(int side) {
    for (Action& action : scratch_) {
      if (auto* send = std::get_if<SendReplication>(&action)) {
        queue_.push_back(Deliver{1 - side, std::move(send->message)});
      } else if (auto* apply = std::get_if<ApplyMutation>(&action)) {
        queue_.push_back(Applied{side, apply->apply_id});
      } else if (std::holds_alternative<PersistReplica>(action)) {
        ++persists_;
      } else if (auto* done = std::get_if<CompleteLocal>(&action)) {
        completed_op_ = done->op_id;
        completed_ok_ = done->status.ok();
      } else if (std::holds_alternative<ReadZone>(action)) {
        unexpected_ = true;  // no resync is expected between two fresh replicas
      }
    }
    scratch_.clear();
  }

  // Runs queued events until none is left. The queue is a vector read from `head_` and
  // emptied when drained, so steady state allocates nothing here.
  void Pump() {
    while (head_ < queue_.size()) {
      Event event = std::move(queue_[head_++]);
      if (auto* deliver = std::get_if<Deliver>(&event)) {
        replicas_[deliver->to]->OnMessage(now_, deliver->message, scratch_);
        Execute(deliver->to);
      } else {
        const Applied& applied = std::get<Applied>(event);
        replicas_[applied.side]->OnApplied(now_, applied.apply_id, absl::OkStatus(), scratch_);
        Execute(applied.side);
      }
    }
    queue_.clear();
    head_ = 0;
  }

  std::unique_ptr<Rng> rngs_[2];
  std::unique_ptr<Replica> replicas_[2];
  Actions scratch_;
  std::vector<Event> queue_;
  size_t head_ = 0;
  absl::Time now_ = absl::UnixEpoch() + absl::Hours(1);
  uint64_t next_op_ = 0;
  uint64_t completed_op_ = 0;
  bool completed_ok_ = false;
  bool unexpected_ = false;
  uint64_t persists_ = 0;
};

Payload PatternPayload(size_t size) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>('a' + i % 26);
  return MakePayload(std::move(bytes));
}

// Writes of `size` bytes at offsets stepping by `size` and wrapping at `span` bytes.
void RunWrites(benchmark::State& state, size_t size, uint64_t span) {
  const Payload payload = PatternPayload(size);
  InMemoryPair pair;
  if (!pair.Start()) {
    state.SkipWithError("the primary did not attach");
    return;
  }
  const uint64_t persists_before = pair.persists();
  uint64_t offset = 0;
  for (auto _ : state) {
    if (!pair.Write(offset, payload)) {
      state.SkipWithError("a write did not complete");
      break;
    }
    offset += size;
    if (offset + size > span) offset = 0;
  }
  state.counters["persists/op"] = benchmark::Counter(
      static_cast<double>(pair.persists() - persists_before), benchmark::Counter::kAvgIterations);
}

void BaselineMemcpy(benchmark::State& state, size_t size) {
  const Payload payload = PatternPayload(size);
  std::string target(size, '\0');
  for (auto _ : state) {
    std::memcpy(target.data(), payload->data(), size);
    benchmark::DoNotOptimize(target.data());
    benchmark::ClobberMemory();
  }
}

void BM_BaselineMemcpy4KiB(benchmark::State& state) {
  BaselineMemcpy(state, 4096);
  state.SetItemsProcessed(state.iterations());
}

void BM_Write4KiB(benchmark::State& state) {
  RunWrites(state, 4096, kFileBytes);
  state.SetItemsProcessed(state.iterations());
}

void BM_Write4KiBHotSpot(benchmark::State& state) {
  RunWrites(state, 4096, kZoneSize);
  state.SetItemsProcessed(state.iterations());
}

void BM_BaselineMemcpy1MiB(benchmark::State& state) {
  BaselineMemcpy(state, 1 << 20);
  state.SetBytesProcessed(state.iterations() * (int64_t{1} << 20));
}

void BM_Write1MiB(benchmark::State& state) {
  RunWrites(state, 1 << 20, kFileBytes);
  state.SetBytesProcessed(state.iterations() * (int64_t{1} << 20));
}

// Heap bytes in use, to check MemoryBytes() against what malloc really handed out.
double HeapInUse() { return static_cast<double>(mallinfo2().uordblks); }

void BM_DirtyMapOneTiBFileFullyDirty(benchmark::State& state) {
  constexpr uint64_t kZones = (1ull << 40) / kZoneSize;
  for (auto _ : state) {
    const double heap_before = HeapInUse();
    ZoneMap dirty;
    for (uint64_t zone = 0; zone < kZones; ++zone) dirty.MarkZones(kPath, zone, zone);
    state.counters["bytes"] = static_cast<double>(dirty.MemoryBytes());
    state.counters["malloc_bytes"] = HeapInUse() - heap_before;
    state.counters["zones"] = static_cast<double>(dirty.zones());
  }
}

void BM_DirtyMapMillionFiles(benchmark::State& state) {
  constexpr int kFiles = 1000000;
  for (auto _ : state) {
    const double heap_before = HeapInUse();
    ZoneMap dirty;
    for (int i = 0; i < kFiles; ++i) {
      dirty.MarkZones(absl::StrCat("data/dir", i / 1000, "/file", i), 0, 0);
    }
    const auto bytes = static_cast<double>(dirty.MemoryBytes());
    state.counters["bytes"] = bytes;
    state.counters["bytes/file"] = bytes / kFiles;
    state.counters["malloc_bytes"] = HeapInUse() - heap_before;
  }
}

// Baselines first, each next to the engine figure it is a ratio for.
BENCHMARK(BM_BaselineMemcpy4KiB);
BENCHMARK(BM_Write4KiB);
BENCHMARK(BM_Write4KiBHotSpot);
BENCHMARK(BM_BaselineMemcpy1MiB);
BENCHMARK(BM_Write1MiB);
BENCHMARK(BM_DirtyMapOneTiBFileFullyDirty)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DirtyMapMillionFiles)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace duet

BENCHMARK_MAIN();
