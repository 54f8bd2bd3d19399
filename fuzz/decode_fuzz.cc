// libFuzzer target: arbitrary bytes through both frame decoders of engine/wire/codec.h.
// A finding is a crash, a sanitizer report, or an accepted frame whose message does not come
// back unchanged from an encode/decode round trip (the decoders accept only what the encoders
// can reproduce).
//
// Run: duet_decode_fuzz -max_total_time=60 CORPUS_DIR (an empty directory is fine: the
// mutator below plants valid frames itself).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/messages.h"
#include "engine/types.h"
#include "engine/wire/codec.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

using Random = std::minstd_rand;

template <typename Message, typename Encode, typename Decode>
void ExpectRoundTrip(const Message& message, Encode encode, Decode decode) {
  const auto again = decode(encode(message));
  if (!again.ok() || !(*again == message)) std::abort();
}

uint64_t Draw64(Random& random) { return (uint64_t{random()} << 32) ^ random(); }

// Uniform enough in [0, bound) for picking fuzz inputs.
uint64_t Draw(Random& random, uint64_t bound) { return Draw64(random) % bound; }

std::string ModuleName(Random& random) {
  static constexpr const char* kNames[] = {"db", "web", "mail", "queue", "x"};
  return kNames[Draw(random, std::size(kNames))] + std::to_string(Draw(random, 100));
}

// A valid frame of a random message: a starting point deep enough that mutations exercise
// the Verifier and the semantic checks, not just the size prefix.
std::vector<uint8_t> ValidFrame(Random& random) {
  switch (Draw(random, 4)) {
    case 0: {
      duet::Heartbeat heartbeat;
      heartbeat.from = static_cast<duet::NodeIndex>(Draw(random, 2));
      heartbeat.incarnation = Draw64(random);
      heartbeat.seq = Draw64(random);
      heartbeat.sent_at_ns = static_cast<int64_t>(Draw64(random) >> 1);
      heartbeat.echo_sent_at_ns = Draw(random, 2) == 0 ? -1 : heartbeat.sent_at_ns / 2;
      const uint64_t modules = Draw(random, 6);
      for (uint64_t i = 0; i < modules; ++i) {
        duet::ModuleView view;
        view.module = ModuleName(random) + "-" + std::to_string(i);
        view.state = static_cast<duet::ModuleState>(Draw(random, 5));
        view.data = static_cast<duet::DataState>(Draw(random, 4));
        view.sync_percent = static_cast<uint8_t>(Draw(random, 101));
        view.term = Draw64(random);
        view.owner = static_cast<duet::NodeIndex>(Draw(random, 2));
        view.eligible = Draw(random, 2) == 0;
        heartbeat.modules.push_back(std::move(view));
      }
      return duet::wire::EncodePeer(heartbeat);
    }
    case 1:
      return duet::wire::EncodePeer(duet::SwapRequest{static_cast<duet::NodeIndex>(Draw(random, 2)),
                                                      ModuleName(random), Draw64(random)});
    case 2:
      return duet::wire::EncodeWitness(duet::LeaseRequest{
          static_cast<duet::NodeIndex>(Draw(random, 2)), ModuleName(random), Draw64(random)});
    default:
      return duet::wire::EncodeWitness(
          duet::LeaseReply{ModuleName(random), Draw64(random), Draw(random, 2) == 0,
                           static_cast<int64_t>(Draw(random, 10'000'000'000)),
                           static_cast<duet::NodeIndex>(Draw(random, 2))});
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> frame(data, size);
  if (const auto peer = duet::wire::DecodePeer(frame); peer.ok()) {
    ExpectRoundTrip(*peer, duet::wire::EncodePeer, duet::wire::DecodePeer);
  }
  if (const auto witness = duet::wire::DecodeWitness(frame); witness.ok()) {
    ExpectRoundTrip(*witness, duet::wire::EncodeWitness, duet::wire::DecodeWitness);
  }
  return 0;
}

// Structure-aware help for libFuzzer's own mutations: now and then start over from a valid
// frame, and usually rewrite the size prefix after a mutation changed the length, so that
// mutated frames get past the cheap checks. Deterministic in `seed`, so runs reproduce.
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  Random random(seed);
  if (Draw(random, 16) == 0) {
    const std::vector<uint8_t> frame = ValidFrame(random);
    if (frame.size() <= max_size) {
      std::memcpy(data, frame.data(), frame.size());
      size = frame.size();
      if (Draw(random, 4) == 0) return size;
    }
  }
  size = LLVMFuzzerMutate(data, size, max_size);
  if (size >= 4 && Draw(random, 4) != 0) {
    const auto prefix = static_cast<uint32_t>(size - 4);
    for (size_t i = 0; i < 4; ++i) data[i] = static_cast<uint8_t>(prefix >> (8 * i));
  }
  return size;
}
