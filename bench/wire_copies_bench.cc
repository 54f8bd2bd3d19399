// duet-bench lines for the copies a 1 MiB write's data costs between the engine's Payload on
// the primary and the Payload the secondary's engine receives, through the codec (issue 12).
//
// Counted, not guessed: a user-space copy per byte is one for each buffer other than the
// sender's Payload, the receiver's tail buffer and the socket that ends up holding the data
// (`user_copies_per_byte`: 0 for the path duetd takes, wire::ReplicationParts; 2 for the
// joined frame of EncodeReplication/DecodeReplication, one each way, the shape every frame
// had before wire version 3, whose encoder copied once more inside FlatBuffers). The time per
// write is quoted against BM_BaselineMemcpy1MiB of the same run (`memcpy_equivalents`). What
// the link and the kernel add (the HMAC over head and tail where they lie, the socket's two
// copies, the receiver's zero-filled tail buffer) is outside these lines: duet-net-bench and
// the mount's `--profile` show them.
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <variant>
#include <vector>

#include "benchmark/benchmark.h"
#include "engine/replication/mutation.h"
#include "engine/replication/repl_messages.h"
#include "engine/wire/codec.h"

namespace duet {
namespace {

constexpr size_t kWriteBytes = size_t{1} << 20;
using Clock = std::chrono::steady_clock;

ReplWrite OneMiBWrite() {
  Mutation m;
  m.kind = MutationKind::kWrite;
  m.path = "data/postgres/base/16384/2619";
  m.offset = 1 << 30;
  m.data = MakePayload(std::string(kWriteBytes, 'w'));
  return ReplWrite{"db", 42, m};
}

// The time of one plain 1 MiB copy, measured here so that the ratio needs no other line.
double MemcpySeconds() {
  std::vector<char> from(kWriteBytes, 'a'), to(kWriteBytes);
  constexpr int kRounds = 64;
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < kRounds; ++i) {
    std::memcpy(to.data(), from.data(), kWriteBytes);
    benchmark::DoNotOptimize(to.data());
    benchmark::ClobberMemory();
  }
  return std::chrono::duration<double>(Clock::now() - start).count() / kRounds;
}

// `copies`: counted over all iterations; `elapsed`: the wall time of the loop.
void Report(benchmark::State& state, double copies, Clock::duration elapsed,
            double memcpy_seconds) {
  const auto iterations = static_cast<double>(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kWriteBytes));
  state.counters["user_copies_per_byte"] = copies / iterations;
  state.counters["memcpy_equivalents"] =
      std::chrono::duration<double>(elapsed).count() / iterations / memcpy_seconds;
}

// What duetd does: the data goes as the tail, by reference, and is decoded where it lies (the
// link reads it from the socket straight into the tail buffer).
void BM_WireWrite1MiBByReference(benchmark::State& state) {
  const ReplWrite write = OneMiBWrite();
  const double memcpy_seconds = MemcpySeconds();
  double copied = 0;
  const Clock::time_point start = Clock::now();
  for (auto _ : state) {
    wire::ReplicationParts parts = wire::EncodeReplicationParts(write);
    // A head that held the data, or a tail other than the Payload given, is a copy.
    copied += parts.tail.get() == write.mutation.data.get() ? 0 : 1;
    copied += parts.head.size() >= kWriteBytes ? 1 : 0;
    absl::StatusOr<ReplMessage> decoded = wire::DecodeReplication(parts.head, parts.tail);
    if (!decoded.ok()) state.SkipWithError("decode failed");
    const Payload& received = std::get<ReplWrite>(*decoded).mutation.data;
    copied += received.get() == parts.tail.get() ? 0 : 1;
    benchmark::DoNotOptimize(received);
  }
  Report(state, copied, Clock::now() - start, memcpy_seconds);
}

// One joined buffer each way (EncodeReplication, DecodeReplication of a span): the frame
// shape before wire version 3, less the encoder's copy inside FlatBuffers it also had.
void BM_WireWrite1MiBJoined(benchmark::State& state) {
  const ReplWrite write = OneMiBWrite();
  const double memcpy_seconds = MemcpySeconds();
  double copied = 0;
  const Clock::time_point start = Clock::now();
  for (auto _ : state) {
    std::vector<uint8_t> frame = wire::EncodeReplication(write);
    copied += frame.size() >= kWriteBytes ? 1 : 0;
    absl::StatusOr<ReplMessage> decoded = wire::DecodeReplication(frame);
    if (!decoded.ok()) state.SkipWithError("decode failed");
    const Payload& received = std::get<ReplWrite>(*decoded).mutation.data;
    // The received Payload owns a buffer of its own, apart from the frame's.
    copied += received.get() == write.mutation.data.get() ? 0 : 1;
    benchmark::DoNotOptimize(received);
  }
  Report(state, copied, Clock::now() - start, memcpy_seconds);
}

BENCHMARK(BM_WireWrite1MiBByReference);
BENCHMARK(BM_WireWrite1MiBJoined);

}  // namespace
}  // namespace duet
