// libFuzzer target: arbitrary bytes through the three frame decoders of engine/wire/codec.h
// (peer, witness, replication). A finding is a crash, a sanitizer report, or an accepted frame
// whose message does not come back unchanged from an encode/decode round trip (the decoders
// accept only what the encoders can reproduce).
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
#include "engine/replication/mutation.h"
#include "engine/replication/repl_messages.h"
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

// Replication messages have no operator== (a Payload compares by pointer). The encoder is
// deterministic and writes every field (null and empty payloads differently), so two messages
// are equal exactly when their encodings are.
void ExpectReplicationRoundTrip(const duet::ReplMessage& message) {
  const std::vector<uint8_t> frame = duet::wire::EncodeReplication(message);
  const auto again = duet::wire::DecodeReplication(frame);
  if (!again.ok() || duet::wire::EncodeReplication(*again) != frame) std::abort();
}

uint64_t Draw64(Random& random) { return (uint64_t{random()} << 32) ^ random(); }

// Uniform enough in [0, bound) for picking fuzz inputs.
uint64_t Draw(Random& random, uint64_t bound) { return Draw64(random) % bound; }

std::string ModuleName(Random& random) {
  static constexpr const char* kNames[] = {"db", "web", "mail", "queue", "x"};
  return kNames[Draw(random, std::size(kNames))] + std::to_string(Draw(random, 100));
}

std::string RelativePath(Random& random) {
  static constexpr const char* kParts[] = {"a", "dir", ".hidden", "file.txt", "..x", "b c"};
  std::string path = kParts[Draw(random, std::size(kParts))];
  for (uint64_t depth = Draw(random, 3); depth > 0; --depth) {
    path += "/";
    path += kParts[Draw(random, std::size(kParts))];
  }
  return path;
}

duet::Payload SomeBytes(Random& random) {
  std::string bytes(Draw(random, 64), '\0');
  for (char& byte : bytes) byte = static_cast<char>(random());
  return duet::MakePayload(std::move(bytes));
}

// A valid replication message of a random type.
duet::ReplMessage ValidReplication(Random& random) {
  switch (Draw(random, 8)) {
    case 0: {
      duet::ReplHello hello;
      hello.module = ModuleName(random);
      hello.gens = {Draw64(random), Draw64(random), {Draw64(random), Draw64(random)}};
      hello.primary = Draw(random, 2) == 0;
      hello.inconsistent = Draw(random, 2) == 0;
      return hello;
    }
    case 1: {
      duet::ReplTargetZones zones{ModuleName(random), RelativePath(random), {}, false};
      for (uint64_t i = Draw(random, 5); i > 0; --i) zones.zones.push_back(Draw64(random));
      if (Draw(random, 2) == 0) {  // with the target's digests (resync by digest)
        const size_t size = 1 + Draw(random, 64);
        for (size_t i = 0; i < zones.zones.size(); ++i) {
          zones.digests.push_back(std::string(size, static_cast<char>(random())));
        }
      }
      return zones;
    }
    case 2: {
      duet::Mutation m;
      m.kind = static_cast<duet::MutationKind>(Draw(random, 17));
      if (m.kind == duet::MutationKind::kMknod) m.node_kind = duet::PathKind::kFifo;
      m.path =
          m.kind == duet::MutationKind::kFsync && Draw(random, 2) == 0 ? "" : RelativePath(random);
      if (m.kind == duet::MutationKind::kRename || m.kind == duet::MutationKind::kLink) {
        m.path2 = RelativePath(random);
      } else if (m.kind == duet::MutationKind::kSymlink) {
        m.path2 = "/" + RelativePath(random) + "/..";
      }
      m.offset = Draw(random, uint64_t{1} << 40);
      if (m.kind == duet::MutationKind::kWrite) m.data = SomeBytes(random);
      m.mode = static_cast<uint32_t>(random()) & duet::kMaxModeBits;
      m.uid = static_cast<uint32_t>(random());
      m.gid = static_cast<uint32_t>(random());
      m.atime_ns = static_cast<int64_t>(Draw64(random));
      m.mtime_ns = static_cast<int64_t>(Draw64(random));
      if (m.kind == duet::MutationKind::kSetxattr || m.kind == duet::MutationKind::kRemovexattr) {
        m.xattr_name = "user." + ModuleName(random);
      }
      if (m.kind == duet::MutationKind::kSetxattr) {
        m.data = SomeBytes(random);
        m.xattr_flags = static_cast<uint32_t>(Draw(random, 3));
      }
      if (m.kind == duet::MutationKind::kReplaceXattrs) {
        m.xattrs = {{"user.a", ModuleName(random)}, {"user.b", ""}};
      }
      if (m.kind == duet::MutationKind::kSetattr) {
        m.attr_mask = static_cast<uint32_t>(random()) & duet::kAllAttrs;
      }
      if (m.kind == duet::MutationKind::kFallocate) {
        m.length = 1 + Draw(random, uint64_t{1} << 30);
        m.fallocate_mode = static_cast<uint32_t>(Draw(random, 8));  // some not replicated
      }
      return duet::ReplWrite{ModuleName(random), 1 + Draw(random, 1'000'000), std::move(m)};
    }
    case 3: {
      duet::ReplAck ack{ModuleName(random), Draw64(random), Draw64(random)};
      for (uint64_t lsn = ack.done_lsn, n = Draw(random, 4); n > 0 && lsn < UINT64_MAX - 8; --n) {
        const uint64_t first = lsn + 1 + Draw(random, 4);
        ack.done_after.push_back(duet::LsnRange{first, first + Draw(random, 4)});
        lsn = ack.done_after.back().last;
      }
      return ack;
    }
    case 4: {
      duet::ResyncBlock block;
      block.module = ModuleName(random);
      block.block_id = Draw64(random);
      block.path = RelativePath(random);
      block.zone = Draw(random, 1'000'000);
      block.read_lsn = Draw64(random);
      block.kind = static_cast<duet::PathKind>(Draw(random, 6));
      if (block.kind == duet::PathKind::kFile) {
        block.data = SomeBytes(random);
        block.file_size = Draw(random, uint64_t{1} << 40);
        if (Draw(random, 4) == 0) {
          block.hole = true;
          block.data.reset();
        } else if (block.data && !block.data->empty() && Draw(random, 2) == 0) {
          block.hole_ranges.push_back({0, 1 + Draw(random, block.data->size())});
        }
      }
      if (block.kind == duet::PathKind::kSymlink) block.link_target = RelativePath(random);
      block.mode = static_cast<uint32_t>(random()) & duet::kMaxModeBits;
      block.uid = static_cast<uint32_t>(random());
      block.gid = static_cast<uint32_t>(random());
      block.atime_ns = static_cast<int64_t>(Draw64(random));
      block.mtime_ns = static_cast<int64_t>(Draw64(random));
      block.total_bytes = Draw64(random);
      block.done_bytes = Draw64(random);
      return block;
    }
    case 5:
      return duet::ResyncBlockAck{ModuleName(random), Draw64(random), Draw(random, 2) == 0,
                                  Draw(random, 2) == 0};
    case 6:
      return duet::ResyncSame{ModuleName(random), Draw64(random), RelativePath(random),
                              Draw64(random),     Draw64(random), Draw64(random)};
    default:
      return duet::ResyncDone{ModuleName(random), Draw64(random)};
  }
}

// A valid frame of a random message: a starting point deep enough that mutations exercise
// the Verifier and the semantic checks, not just the size prefix.
std::vector<uint8_t> ValidFrame(Random& random) {
  switch (Draw(random, 6)) {
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
      return duet::wire::EncodeWitness(
          duet::LeaseRequest{static_cast<duet::NodeIndex>(Draw(random, 2)), ModuleName(random),
                             Draw64(random), false, false, ModuleName(random)});
    case 3:
      return duet::wire::EncodeWitness(duet::LeaseReply{
          ModuleName(random), Draw64(random), Draw(random, 2) == 0,
          static_cast<int64_t>(Draw(random, 10'000'000'000)),
          static_cast<duet::NodeIndex>(Draw(random, 2)), false, ModuleName(random)});
    default:  // two chances in six: replication has the most message types
      return duet::wire::EncodeReplication(ValidReplication(random));
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
  if (const auto replication = duet::wire::DecodeReplication(frame); replication.ok()) {
    ExpectReplicationRoundTrip(*replication);
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
