// Over 600 lines on purpose: every frame's encoder and its decoder, with the size caps, the
// versions and the verifier's rules they share, read side by side. A mutation (which journal
// records hold too) and the fields the records share are mapped in mutation_codec.cc and
// field_codec.cc.
#include "engine/wire/codec.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "engine/status_macros.h"
#include "engine/wire/duet_generated.h"
#include "engine/wire/field_codec.h"
#include "engine/wire/mutation_codec.h"
#include "flatbuffers/flatbuffers.h"

namespace duet::wire {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;
using flatbuffers::uoffset_t;
// The path-kind mappings of field_codec.h, overloaded with this file's own.
using ::duet::wire::FromWire;
using ::duet::wire::ToWire;

// Size prefix, root offset and file identifier: nothing shorter can be a frame.
constexpr size_t kMinFrameBytes = 3 * sizeof(uoffset_t);
// Tables nest Frame > message > ModuleView (or Mutation): 3 deep. A little slack, no more.
constexpr uoffset_t kMaxVerifyDepth = 8;

// Pairs of numbers as one flat vector (first, second, first, second...), or none if empty.
template <class Item, class PairOf>
Offset<flatbuffers::Vector<uint64_t>> FlatPairs(FlatBufferBuilder& builder,
                                                const std::vector<Item>& items, PairOf pair_of) {
  if (items.empty()) return 0;
  std::vector<uint64_t> flat;
  flat.reserve(2 * items.size());
  for (const Item& item : items) {
    const auto [first, second] = pair_of(item);
    flat.push_back(first);
    flat.push_back(second);
  }
  return builder.CreateVector(flat);
}

// flatbuffers::Verifier checks only the 4-byte alignment of a vector's length, not that of
// its elements (our builder aligns them; a hostile frame need not): reading a misaligned
// uint64_t is undefined behaviour. The frame itself is aligned (VerifyFrame), so the address
// tells.
absl::Status CheckAligned(const flatbuffers::Vector<uint64_t>& numbers, std::string_view subject,
                          std::string_view what) {
  if (numbers.size() > 0 && reinterpret_cast<uintptr_t>(numbers.data()) % alignof(uint64_t) != 0) {
    return Invalid("%s %s not aligned to %d bytes", subject, what, alignof(uint64_t));
  }
  return absl::OkStatus();
}
// A heartbeat holds 2 + (its modules) tables, a replication message at most 3. The verifier
// counts every table it visits, so this also bounds the work on a hostile frame whose offsets
// all point at one table. The slack above kMaxModules lets a frame with a few too many modules
// fail with a clear "exceeds limit" error instead of a bare verification failure.
constexpr uoffset_t kMaxVerifyTables = 2 * kMaxModules + 16;
// Widest scalar in the schema (ulong/long): FlatBuffers reads scalars in place.
constexpr size_t kFrameAlignment = alignof(uint64_t);
// Initial builder buffer: a heartbeat with a handful of modules fits without regrowth.
constexpr size_t kInitialBuilderBytes = 512;

// ----- Encoding -------------------------------------------------------------------------

// Explicit mappings, so that reordering engine/types.h cannot silently change the wire.
fb::ModuleState ToWire(ModuleState state) {
  switch (state) {
    case ModuleState::kStop:
      return fb::ModuleState::Stop;
    case ModuleState::kWait:
      return fb::ModuleState::Wait;
    case ModuleState::kAlone:
      return fb::ModuleState::Alone;
    case ModuleState::kPrim:
      return fb::ModuleState::Prim;
    case ModuleState::kSecond:
      return fb::ModuleState::Second;
  }
  // Not a value of the enum: pass it through, the receiver rejects it.
  return static_cast<fb::ModuleState>(state);
}

fb::DataState ToWire(DataState data) {
  switch (data) {
    case DataState::kUnknown:
      return fb::DataState::Unknown;
    case DataState::kOutdated:
      return fb::DataState::Outdated;
    case DataState::kSyncing:
      return fb::DataState::Syncing;
    case DataState::kUpToDate:
      return fb::DataState::UpToDate;
  }
  return static_cast<fb::DataState>(data);
}

struct Body {
  fb::Message type;
  Offset<void> offset;
};

Body BuildBody(FlatBufferBuilder& builder, const Heartbeat& heartbeat) {
  std::vector<Offset<fb::ModuleView>> views;
  views.reserve(heartbeat.modules.size());
  for (const ModuleView& view : heartbeat.modules) {
    const auto name = builder.CreateString(view.module);
    views.push_back(fb::CreateModuleView(builder, name, ToWire(view.state), ToWire(view.data),
                                         view.sync_percent, view.term, view.owner, view.eligible,
                                         view.pinned, view.writing_alone, view.app_failed));
  }
  const auto modules = builder.CreateVector(views);
  const auto body =
      fb::CreateHeartbeat(builder, heartbeat.from, heartbeat.incarnation, heartbeat.seq,
                          heartbeat.sent_at_ns, heartbeat.echo_sent_at_ns, modules);
  return {fb::Message::Heartbeat, body.Union()};
}

Body BuildBody(FlatBufferBuilder& builder, const SwapRequest& request) {
  const auto name = builder.CreateString(request.module);
  const auto body = fb::CreateSwapRequest(builder, request.from, name, request.term);
  return {fb::Message::SwapRequest, body.Union()};
}

Body BuildBody(FlatBufferBuilder& builder, const LeaseRequest& request) {
  const auto name = builder.CreateString(request.module);
  const auto cluster = builder.CreateString(request.cluster);
  const auto body =
      fb::CreateLeaseRequest(builder, request.from, name, request.request_id, request.peer_outdated,
                             request.forced, cluster, request.release);
  return {fb::Message::LeaseRequest, body.Union()};
}

Body BuildBody(FlatBufferBuilder& builder, const LeaseReply& reply) {
  const auto name = builder.CreateString(reply.module);
  const auto cluster = builder.CreateString(reply.cluster);
  const auto body = fb::CreateLeaseReply(builder, name, reply.request_id, reply.granted,
                                         reply.duration_ns, reply.holder, reply.outdate_recorded,
                                         cluster, reply.witness_run, reply.peer_grants);
  return {fb::Message::LeaseReply, body.Union()};
}

Body BuildBody(FlatBufferBuilder& builder, const ReplHello& hello) {
  const auto name = builder.CreateString(hello.module);
  const fb::Generations gens(hello.gens.current, hello.gens.bitmap,
                             flatbuffers::make_span(hello.gens.history));
  const auto body = fb::CreateReplHello(
      builder, name, &gens, hello.primary, hello.inconsistent, hello.epoch, hello.answers,
      hello.crashed, hello.dirty, hello.alone_acked, hello.discard, hello.stream_start,
      hello.joined, hello.disk_failed, hello.zone_size, hello.keep_aside_failed);
  return {fb::Message::ReplHello, body.Union()};
}

Body BuildBody(FlatBufferBuilder& builder, const ReplTargetZones& target) {
  const auto name = builder.CreateString(target.module);
  const auto path = OptionalString(builder, target.path);
  const auto zones = builder.CreateVector(target.zones);
  Offset<flatbuffers::Vector<uint8_t>> digests = 0;
  const uint8_t digest_bytes =
      target.digests.empty() ? 0 : static_cast<uint8_t>(target.digests.front().size());
  if (!target.digests.empty()) {
    std::vector<uint8_t> flat;
    flat.reserve(target.digests.size() * digest_bytes);
    for (const std::string& digest : target.digests)
      flat.insert(flat.end(), digest.begin(), digest.end());
    digests = builder.CreateVector(flat);
  }
  const auto body = fb::CreateReplTargetZones(builder, name, path, zones, target.last, digest_bytes,
                                              digests, target.names_under);
  return {fb::Message::ReplTargetZones, body.Union()};
}

// `data_after`: the write's data goes after the frame (ReplicationParts), not in the table.
Body BuildBody(FlatBufferBuilder& builder, const ReplWrite& write, bool data_after) {
  const auto name = builder.CreateString(write.module);
  Offset<fb::Mutation> mutation;
  if (data_after) {
    Mutation without_data = write.mutation;
    without_data.data.reset();
    mutation = BuildMutation(builder, without_data);
  } else {
    mutation = BuildMutation(builder, write.mutation);
  }
  const auto body = fb::CreateReplWrite(builder, name, write.lsn, mutation);
  return {fb::Message::ReplWrite, body.Union()};
}

Body BuildBody(FlatBufferBuilder& builder, const ReplAck& ack) {
  const auto name = builder.CreateString(ack.module);
  const auto done_after = FlatPairs(builder, ack.done_after, [](const LsnRange& range) {
    return std::pair(range.first, range.last);
  });
  const auto body = fb::CreateReplAck(builder, name, ack.done_lsn, ack.durable_lsn, done_after);
  return {fb::Message::ReplAck, body.Union()};
}

Body BuildBody(FlatBufferBuilder& builder, const ResyncBlock& block, bool data_after) {
  const auto name = builder.CreateString(block.module);
  const auto path = OptionalString(builder, block.path);
  const auto data = OptionalBytes(builder, data_after ? Payload() : block.data);
  const auto link_target = OptionalString(builder, block.link_target);
  const auto xattrs = OptionalXattrs(builder, block.xattrs);
  const auto link_of = OptionalString(builder, block.link_of);
  const auto hole_ranges = FlatPairs(builder, block.hole_ranges, [](const HoleRange& range) {
    return std::pair(range.offset, range.length);
  });
  const auto body = fb::CreateResyncBlock(
      builder, name, block.block_id, path, block.zone, data, block.read_lsn, ToWire(block.kind),
      block.file_size, block.mode, link_target, block.total_bytes, block.done_bytes, block.uid,
      block.gid, block.atime_ns, block.mtime_ns, xattrs, link_of, block.hole, hole_ranges,
      block.names_under, block.hole_zones > 1 ? block.hole_zones : 0);
  return {fb::Message::ResyncBlock, body.Union()};
}

Body BuildBody(FlatBufferBuilder& builder, const ResyncBlockAck& ack) {
  const auto name = builder.CreateString(ack.module);
  const auto body = fb::CreateResyncBlockAck(builder, name, ack.block_id, ack.stale, ack.durable);
  return {fb::Message::ResyncBlockAck, body.Union()};
}

Body BuildBody(FlatBufferBuilder& builder, const ResyncDone& done) {
  const auto name = builder.CreateString(done.module);
  const auto body = fb::CreateResyncDone(builder, name, done.current, done.requests_seen);
  return {fb::Message::ResyncDone, body.Union()};
}

Body BuildBody(FlatBufferBuilder& builder, const ResyncSame& same) {
  const auto name = builder.CreateString(same.module);
  const auto path = OptionalString(builder, same.path);
  const auto body = fb::CreateResyncSame(
      builder, name, same.block_id, path, same.zone, same.total_bytes, same.done_bytes,
      same.read_lsn, same.mode, same.uid, same.gid, same.atime_ns, same.mtime_ns);
  return {fb::Message::ResyncSame, body.Union()};
}

Body BuildBody(FlatBufferBuilder& builder, const ReplApplyOutcome& outcome) {
  const auto name = builder.CreateString(outcome.module);
  const auto body = fb::CreateReplApplyOutcome(builder, name, outcome.lsn, outcome.refused);
  return {fb::Message::ReplApplyOutcome, body.Union()};
}

// Bytes a replication message's variable-length parts take, so that the builder starts big
// enough for a 4 MiB payload instead of doubling its way there (each doubling copies).
size_t VariableBytes(const ReplTargetZones& target) {
  return target.path.size() + target.zones.size() * sizeof(uint64_t) +
         target.digests.size() * kMaxDigestBytes;
}
size_t VariableBytes(const ReplWrite& write) {
  return write.mutation.path.size() + write.mutation.path2.size() + write.mutation.data_size() +
         write.mutation.xattr_name.size() + XattrBytes(write.mutation.xattrs);
}
size_t VariableBytes(const ResyncBlock& block) {
  return block.path.size() + block.link_target.size() + block.link_of.size() +
         (block.data ? block.data->size() : 0) + XattrBytes(block.xattrs) +
         block.hole_ranges.size() * 2 * sizeof(uint64_t);
}
template <typename T>
size_t VariableBytes(const T&) {
  return 0;
}

// The messages whose data may go after the frame, and that data: a write's or a block's,
// when there is some (empty data stays in the table, which tells it from no data).
Payload TailOf(const ReplWrite& write) {
  const Mutation& m = write.mutation;
  return m.kind == MutationKind::kWrite && m.data != nullptr && !m.data->empty() ? m.data
                                                                                 : Payload();
}
Payload TailOf(const ResyncBlock& block) {
  return block.data != nullptr && !block.data->empty() ? block.data : Payload();
}
template <typename T>
Payload TailOf(const T&) {
  return Payload();
}
template <typename T>
constexpr bool kMayHaveTail = std::is_same_v<T, ReplWrite> || std::is_same_v<T, ResyncBlock>;

// The frame of `message`, its data (`tail`, if not null) left out for the caller to send
// after it. The head is small then, so the copy out of the builder below costs little.
template <typename Variant>
std::vector<uint8_t> Encode(const Variant& message, uint16_t version,
                            size_t initial_bytes = kInitialBuilderBytes,
                            const Payload& tail = nullptr) {
  FlatBufferBuilder builder(initial_bytes);
  const Body body = std::visit(
      [&](const auto& m) {
        if constexpr (kMayHaveTail<std::decay_t<decltype(m)>>) {
          return BuildBody(builder, m, tail != nullptr);
        } else {
          return BuildBody(builder, m);
        }
      },
      message);
  const auto tail_bytes = static_cast<uint32_t>(tail == nullptr ? 0 : tail->size());
  const auto frame = fb::CreateFrame(builder, version, body.type, body.offset, tail_bytes);
  fb::FinishSizePrefixedFrameBuffer(builder, frame);
  const uint8_t* data = builder.GetBufferPointer();
  return std::vector<uint8_t>(data, data + builder.GetSize());
}

// ----- Decoding -------------------------------------------------------------------------

// The decoders, each for the messages of one channel.
enum class Channel { kPeer, kWitness, kReplication };

uint16_t VersionOf(Channel channel) {
  return channel == Channel::kReplication ? kWireVersion : kPeerWireVersion;
}

// The channel a message type travels on; none for NONE and types this build does not know.
std::optional<Channel> ChannelOf(fb::Message type) {
  switch (type) {
    case fb::Message::Heartbeat:
    case fb::Message::SwapRequest:
      return Channel::kPeer;
    case fb::Message::LeaseRequest:
    case fb::Message::LeaseReply:
      return Channel::kWitness;
    case fb::Message::ReplHello:
    case fb::Message::ReplTargetZones:
    case fb::Message::ReplWrite:
    case fb::Message::ReplAck:
    case fb::Message::ResyncBlock:
    case fb::Message::ResyncBlockAck:
    case fb::Message::ResyncDone:
    case fb::Message::ResyncSame:
    case fb::Message::ReplApplyOutcome:
      return Channel::kReplication;
    case fb::Message::NONE:
      break;
  }
  return std::nullopt;
}

// Size limit (`max_bytes`: the channel's, for the frame and the `tail_bytes` after it), size
// prefix, identifier, structure (Verifier), version: the channel's, for a message of this
// channel or of a type this build does not know (a message of another channel is refused as
// such by the decoder), and the tail's size as announced. On success the returned root points
// into `frame` or, if `frame` is not aligned for in-place reads, into `aligned_copy`, which
// must outlive every use of the root.
absl::StatusOr<const fb::Frame*> VerifyFrame(std::span<const uint8_t> frame,
                                             std::vector<uint8_t>& aligned_copy, size_t max_bytes,
                                             Channel channel, size_t tail_bytes = 0) {
  // First, before any copy or Verifier: the Verifier asserts on buffers of 2 GiB and more, and
  // nothing bigger than the limit deserves any work.
  if (tail_bytes > max_bytes || frame.size() > max_bytes - tail_bytes) {
    return Invalid("frame of %d bytes exceeds limit %d", frame.size() + tail_bytes, max_bytes);
  }
  if (frame.size() < kMinFrameBytes) {
    return Invalid("frame of %d bytes is shorter than the minimum %d", frame.size(),
                   kMinFrameBytes);
  }
  if (reinterpret_cast<uintptr_t>(frame.data()) % kFrameAlignment != 0) {
    // A frame cut out of a larger receive buffer may sit anywhere; operator new aligns to at
    // least 16 bytes.
    aligned_copy.assign(frame.begin(), frame.end());
    frame = aligned_copy;
  }
  const uoffset_t prefix = flatbuffers::ReadScalar<uoffset_t>(frame.data());
  if (prefix != frame.size() - sizeof(uoffset_t)) {
    return Invalid("frame of %d bytes does not match its size prefix (%d + %d bytes)", frame.size(),
                   prefix, sizeof(uoffset_t));
  }
  if (!fb::SizePrefixedFrameBufferHasIdentifier(frame.data())) {
    return Invalid("frame does not carry the %s identifier", Quoted(fb::FrameIdentifier()));
  }
  flatbuffers::Verifier::Options options;
  options.max_depth = kMaxVerifyDepth;
  options.max_tables = kMaxVerifyTables;
  options.check_alignment = true;
  options.check_nested_flatbuffers = false;  // the schema has none
  flatbuffers::Verifier verifier(frame.data(), frame.size(), options);
  if (!fb::VerifySizePrefixedFrameBuffer(verifier)) {
    return Invalid("frame failed verification");
  }
  const fb::Frame* root = fb::GetSizePrefixedFrame(frame.data());
  const std::optional<Channel> owner = ChannelOf(root->message_type());
  const uint16_t version = VersionOf(channel);
  if ((!owner || *owner == channel) && root->version() != version) {
    // Said so that a mixed pair's log names the cause (codec.h kWireVersion).
    return Invalid(
        "peer speaks wire version %d, this build %d: both nodes must run builds "
        "of the same wire version",
        root->version(), version);
  }
  // A message of another channel is refused as such by the decoder, whatever follows it.
  if ((!owner || *owner == channel) && root->tail_bytes() != tail_bytes) {
    return Invalid("frame announces %d bytes of data after it, %d follow", root->tail_bytes(),
                   tail_bytes);
  }
  return root;
}

absl::Status CheckNode(uint8_t node, std::string_view what) {
  if (node > 1) return Invalid("%s node index %d is not 0 or 1", what, static_cast<int>(node));
  return absl::OkStatus();
}

// `what` names the holder in errors: "module view", "SwapRequest"...
absl::StatusOr<std::string> ReadModuleName(const flatbuffers::String* name, std::string_view what) {
  if (name == nullptr) return Invalid("%s without a name", what);
  if (name->size() == 0) return Invalid("%s with empty name", what);
  if (name->size() > kMaxModuleNameBytes) {
    return Invalid("%s with a name of %d bytes exceeds limit %d", what, name->size(),
                   kMaxModuleNameBytes);
  }
  return name->str();
}

absl::StatusOr<std::string> ReadClusterName(const flatbuffers::String* name,
                                            std::string_view what) {
  if (name == nullptr || name->size() == 0) return Invalid("%s names no cluster", what);
  if (name->size() > kMaxModuleNameBytes) {
    return Invalid("%s with a cluster name of %d bytes exceeds limit %d", what, name->size(),
                   kMaxModuleNameBytes);
  }
  return name->str();
}

absl::StatusOr<ModuleState> FromWire(fb::ModuleState state, std::string_view module) {
  switch (state) {
    case fb::ModuleState::Stop:
      return ModuleState::kStop;
    case fb::ModuleState::Wait:
      return ModuleState::kWait;
    case fb::ModuleState::Alone:
      return ModuleState::kAlone;
    case fb::ModuleState::Prim:
      return ModuleState::kPrim;
    case fb::ModuleState::Second:
      return ModuleState::kSecond;
  }
  return Invalid("module view %s has unknown state %d", Quoted(module), static_cast<int>(state));
}

absl::StatusOr<DataState> FromWire(fb::DataState data, std::string_view module) {
  switch (data) {
    case fb::DataState::Unknown:
      return DataState::kUnknown;
    case fb::DataState::Outdated:
      return DataState::kOutdated;
    case fb::DataState::Syncing:
      return DataState::kSyncing;
    case fb::DataState::UpToDate:
      return DataState::kUpToDate;
  }
  return Invalid("module view %s has unknown data state %d", Quoted(module),
                 static_cast<int>(data));
}

absl::StatusOr<ModuleView> ReadModuleView(const fb::ModuleView& in) {
  ModuleView out;
  DUET_ASSIGN_OR_RETURN(out.module, ReadModuleName(in.module_(), "module view"));
  DUET_ASSIGN_OR_RETURN(out.state, FromWire(in.state(), out.module));
  DUET_ASSIGN_OR_RETURN(out.data, FromWire(in.data(), out.module));
  if (in.sync_percent() > 100) {
    return Invalid("module view %s has sync_percent %d above 100", Quoted(out.module),
                   static_cast<int>(in.sync_percent()));
  }
  out.sync_percent = in.sync_percent();
  out.term = in.term();
  DUET_RETURN_IF_ERROR(CheckNode(in.owner(), "module view owner"));
  out.owner = in.owner();
  out.eligible = in.eligible();
  out.pinned = in.pinned();
  out.writing_alone = in.writing_alone();
  out.app_failed = in.app_failed();
  return out;
}

absl::StatusOr<Heartbeat> ReadHeartbeat(const fb::Heartbeat& in) {
  Heartbeat out;
  DUET_RETURN_IF_ERROR(CheckNode(in.from(), "Heartbeat sender"));
  out.from = in.from();
  out.incarnation = in.incarnation();
  out.seq = in.seq();
  out.sent_at_ns = in.sent_at_ns();
  if (in.echo_sent_at_ns() < -1) {
    return Invalid("Heartbeat echo_sent_at_ns %d is below -1", in.echo_sent_at_ns());
  }
  out.echo_sent_at_ns = in.echo_sent_at_ns();
  const auto* modules = in.modules();
  if (modules == nullptr) return out;  // an empty vector is omitted by some writers
  if (modules->size() > kMaxModules) {
    return Invalid("heartbeat with %d modules exceeds limit %d", modules->size(), kMaxModules);
  }
  out.modules.reserve(modules->size());
  for (const fb::ModuleView* view : *modules) {
    DUET_ASSIGN_OR_RETURN(ModuleView module, ReadModuleView(*view));
    out.modules.push_back(std::move(module));
  }
  // One view per module: a second one would leave the receiver to guess which is true.
  std::vector<std::string_view> names;
  names.reserve(out.modules.size());
  for (const ModuleView& view : out.modules) names.push_back(view.module);
  std::sort(names.begin(), names.end());
  if (const auto dup = std::adjacent_find(names.begin(), names.end()); dup != names.end()) {
    return Invalid("heartbeat lists module %s twice", Quoted(*dup));
  }
  return out;
}

absl::StatusOr<SwapRequest> ReadSwapRequest(const fb::SwapRequest& in) {
  SwapRequest out;
  DUET_RETURN_IF_ERROR(CheckNode(in.from(), "SwapRequest sender"));
  out.from = in.from();
  DUET_ASSIGN_OR_RETURN(out.module, ReadModuleName(in.module_(), "SwapRequest"));
  out.term = in.term();
  return out;
}

absl::StatusOr<LeaseRequest> ReadLeaseRequest(const fb::LeaseRequest& in) {
  LeaseRequest out;
  DUET_RETURN_IF_ERROR(CheckNode(in.from(), "LeaseRequest sender"));
  out.from = in.from();
  DUET_ASSIGN_OR_RETURN(out.module, ReadModuleName(in.module_(), "LeaseRequest"));
  out.request_id = in.request_id();
  out.peer_outdated = in.peer_outdated();
  out.forced = in.forced();
  DUET_ASSIGN_OR_RETURN(out.cluster, ReadClusterName(in.cluster(), "LeaseRequest"));
  out.release = in.release();
  return out;
}

absl::StatusOr<LeaseReply> ReadLeaseReply(const fb::LeaseReply& in) {
  LeaseReply out;
  DUET_ASSIGN_OR_RETURN(out.module, ReadModuleName(in.module_(), "LeaseReply"));
  out.request_id = in.request_id();
  out.granted = in.granted();
  if (in.duration_ns() < 0) {
    return Invalid("LeaseReply with negative duration_ns %d", in.duration_ns());
  }
  out.duration_ns = in.duration_ns();
  DUET_RETURN_IF_ERROR(CheckNode(in.holder(), "LeaseReply holder"));
  out.holder = in.holder();
  out.outdate_recorded = in.outdate_recorded();
  DUET_ASSIGN_OR_RETURN(out.cluster, ReadClusterName(in.cluster(), "LeaseReply"));
  out.witness_run = in.witness_run();
  out.peer_grants = in.peer_grants();
  return out;
}

// ----- Replication decoding -------------------------------------------------------------

absl::StatusOr<ReplHello> ReadReplHello(const fb::ReplHello& in) {
  ReplHello out;
  DUET_ASSIGN_OR_RETURN(out.module, ReadModuleName(in.module_(), "ReplHello"));
  const fb::Generations* gens = in.gens();
  if (gens == nullptr) return Invalid("ReplHello %s without generations", Quoted(out.module));
  out.gens.current = gens->current();
  out.gens.bitmap = gens->bitmap();
  for (size_t i = 0; i < out.gens.history.size(); ++i) {
    out.gens.history[i] = gens->history()->Get(static_cast<flatbuffers::uoffset_t>(i));
  }
  out.primary = in.primary();
  out.inconsistent = in.inconsistent();
  out.epoch = in.epoch();
  out.answers = in.answers();
  out.crashed = in.crashed();
  out.dirty = in.dirty();
  out.alone_acked = in.alone_acked();
  out.discard = in.discard();
  out.stream_start = in.stream_start();
  out.joined = in.joined();
  out.disk_failed = in.disk_failed();
  out.zone_size = in.zone_size();
  out.keep_aside_failed = in.keep_aside_failed();
  return out;
}

absl::StatusOr<ReplTargetZones> ReadReplTargetZones(const fb::ReplTargetZones& in) {
  ReplTargetZones out;
  DUET_ASSIGN_OR_RETURN(out.module, ReadModuleName(in.module_(), "ReplTargetZones"));
  const std::string subject = "ReplTargetZones " + Quoted(out.module);
  out.last = in.last();
  out.names_under = in.names_under();
  // The message that ends the list may name no file.
  DUET_ASSIGN_OR_RETURN(out.path, ReadRelativePath(in.path(), subject, "path", out.last));
  const auto* zones = in.zones();
  if (zones == nullptr) return out;
  if (zones->size() > kMaxTargetZones) {
    return Invalid("%s with %d zones exceeds limit %d", subject, zones->size(), kMaxTargetZones);
  }
  if (out.path.empty() && zones->size() > 0) {
    return Invalid("%s without a path lists %d zones", subject, zones->size());
  }
  DUET_RETURN_IF_ERROR(CheckAligned(*zones, subject, "zones are"));
  out.zones.assign(zones->begin(), zones->end());
  const auto* digests = in.digests();
  if (digests == nullptr || digests->size() == 0) {
    if (in.digest_bytes() != 0) return Invalid("%s has a digest size but no digests", subject);
    return out;
  }
  const size_t digest_bytes = in.digest_bytes();
  if (digest_bytes == 0 || digest_bytes > kMaxDigestBytes) {
    return Invalid("%s digests of %d bytes: not within 1..%d", subject, digest_bytes,
                   kMaxDigestBytes);
  }
  if (out.zones.size() > kMaxDigestedZones) {
    return Invalid("%s with %d digested zones exceeds limit %d", subject, out.zones.size(),
                   kMaxDigestedZones);
  }
  if (digests->size() != out.zones.size() * digest_bytes) {
    return Invalid("%s has %d bytes of digests for %d zones of %d-byte digests", subject,
                   digests->size(), out.zones.size(), digest_bytes);
  }
  out.digests.reserve(out.zones.size());
  for (size_t i = 0; i < out.zones.size(); ++i) {
    const char* first = reinterpret_cast<const char*>(digests->data()) + i * digest_bytes;
    out.digests.emplace_back(first, digest_bytes);
  }
  return out;
}
// `tail`: the data sent after the frame (null if none), a write's only.
absl::StatusOr<ReplWrite> ReadReplWrite(const fb::ReplWrite& in, Payload tail) {
  ReplWrite out;
  DUET_ASSIGN_OR_RETURN(out.module, ReadModuleName(in.module_(), "ReplWrite"));
  if (in.lsn() == 0) return Invalid("ReplWrite %s with lsn 0", Quoted(out.module));
  out.lsn = in.lsn();
  if (in.mutation() == nullptr) {
    return Invalid("ReplWrite %s without a mutation", Quoted(out.module));
  }
  const std::string subject = "ReplWrite " + Quoted(out.module);
  DUET_ASSIGN_OR_RETURN(out.mutation,
                        ReadMutation(*in.mutation(), MutationHolder::kReplWrite, subject));
  if (tail == nullptr) return out;
  Mutation& m = out.mutation;
  if (m.kind != MutationKind::kWrite || m.data != nullptr) {
    return Invalid(
        "%s %s mutation has %d bytes of data after the frame: only a write without "
        "data in the frame may",
        subject, MutationKindName(m.kind), tail->size());
  }
  // The checks ReadMutation made of data in the table, made of the tail.
  if (tail->size() > kMaxWriteBytes) {
    return Invalid("%s write mutation with %d bytes of data exceeds limit %d", subject,
                   tail->size(), kMaxWriteBytes);
  }
  if (m.offset > kMaxFileOffset - tail->size()) {
    return Invalid("%s write mutation of %d bytes at offset %d ends past the largest file offset",
                   subject, tail->size(), m.offset);
  }
  m.data = std::move(tail);
  return out;
}

absl::StatusOr<ReplAck> ReadReplAck(const fb::ReplAck& in) {
  ReplAck out;
  DUET_ASSIGN_OR_RETURN(out.module, ReadModuleName(in.module_(), "ReplAck"));
  out.done_lsn = in.done_lsn();
  out.durable_lsn = in.durable_lsn();
  const auto* flat = in.done_after();
  if (flat == nullptr || flat->size() == 0) return out;
  const std::string subject = "ReplAck " + Quoted(out.module);
  if (flat->size() % 2 != 0) {
    return Invalid("%s done_after holds %d numbers: not pairs", subject, flat->size());
  }
  if (flat->size() / 2 > kMaxAckRanges) {
    return Invalid("%s with %d done ranges exceeds limit %d", subject, flat->size() / 2,
                   kMaxAckRanges);
  }
  DUET_RETURN_IF_ERROR(CheckAligned(*flat, subject, "done_after is"));
  uint64_t after = out.done_lsn;  // each range starts past this
  for (flatbuffers::uoffset_t i = 0; i < flat->size(); i += 2) {
    const LsnRange range{flat->Get(i), flat->Get(i + 1)};
    if (range.first <= after || range.last < range.first) {
      return Invalid("%s done range %d-%d is not after %d, ascending", subject, range.first,
                     range.last, after);
    }
    out.done_after.push_back(range);
    after = range.last;
  }
  return out;
}

// The holes inside a block's data: pairs of (offset in the zone, length), ascending, not
// touching, none empty, all within the data.
absl::StatusOr<HoleRanges> ReadHoleRanges(const flatbuffers::Vector<uint64_t>* flat,
                                          const ResyncBlock& block, std::string_view subject) {
  HoleRanges ranges;
  if (flat == nullptr || flat->size() == 0) return ranges;
  const uint64_t data_size = block.data ? block.data->size() : 0;
  if (data_size == 0 || block.kind != PathKind::kFile) {
    return Invalid("%s lists hole ranges but carries no file data", subject);
  }
  if (flat->size() % 2 != 0) {
    return Invalid("%s lists %d hole range numbers: pairs of offset and length", subject,
                   flat->size());
  }
  DUET_RETURN_IF_ERROR(CheckAligned(*flat, subject, "hole ranges are"));
  uint64_t end = 0;
  for (flatbuffers::uoffset_t i = 0; i < flat->size(); i += 2) {
    const uint64_t offset = flat->Get(i);
    const uint64_t length = flat->Get(i + 1);
    if (length == 0 || (i > 0 && offset <= end) || offset > data_size ||
        length > data_size - offset) {
      return Invalid("%s has hole range %d+%d: empty, out of order or past its %d bytes of data",
                     subject, offset, length, data_size);
    }
    end = offset + length;
    ranges.push_back(HoleRange{offset, length});
  }
  return ranges;
}

// `tail`: the block's data sent after the frame (null if none).
absl::StatusOr<ResyncBlock> ReadResyncBlock(const fb::ResyncBlock& in, Payload tail) {
  ResyncBlock out;
  DUET_ASSIGN_OR_RETURN(out.module, ReadModuleName(in.module_(), "ResyncBlock"));
  const std::string subject = "ResyncBlock " + Quoted(out.module);
  out.block_id = in.block_id();
  DUET_ASSIGN_OR_RETURN(out.path, ReadRelativePath(in.path(), subject, "path", false));
  out.zone = in.zone();
  out.read_lsn = in.read_lsn();
  DUET_ASSIGN_OR_RETURN(out.kind, FromWire(in.kind(), subject));
  if (out.kind == PathKind::kSymlink) {
    DUET_ASSIGN_OR_RETURN(out.link_target,
                          ReadLinkTarget(in.link_target(), subject, "link_target"));
  } else if (!View(in.link_target()).empty()) {
    return Invalid("%s has a link_target but its path kind is %s", subject,
                   fb::EnumNamePathKind(in.kind()));
  }
  if (in.file_size() > kMaxFileOffset) {
    return Invalid("%s with file_size %d exceeds the largest file size", subject, in.file_size());
  }
  out.file_size = in.file_size();
  if (in.mode() > kMaxModeBits) {
    return Invalid("%s with mode %o: more than permission bits", subject, in.mode());
  }
  out.mode = in.mode();
  out.uid = in.uid();
  out.gid = in.gid();
  out.atime_ns = in.atime_ns();
  out.mtime_ns = in.mtime_ns();
  if (in.xattrs() != nullptr && in.xattrs()->size() > 0 &&
      (out.zone != 0 || out.kind == PathKind::kAbsent)) {
    return Invalid("%s carries xattrs but is not the first zone of a path", subject);
  }
  DUET_ASSIGN_OR_RETURN(out.xattrs, ReadXattrSet(in.xattrs(), subject));
  out.total_bytes = in.total_bytes();
  out.done_bytes = in.done_bytes();
  if (tail == nullptr) {
    DUET_ASSIGN_OR_RETURN(out.data, ReadPayload(in.data(), kMaxResyncBlockBytes, subject));
  } else if (in.data() != nullptr) {
    return Invalid("%s has data in the frame and %d bytes after it", subject, tail->size());
  } else if (tail->size() > kMaxResyncBlockBytes) {
    return Invalid("%s with %d bytes of data exceeds limit %d", subject, tail->size(),
                   kMaxResyncBlockBytes);
  } else {
    out.data = std::move(tail);
  }
  if (!View(in.link_of()).empty()) {
    // Another name of a file sent before: the target links it, so nothing else may come.
    if (out.kind != PathKind::kFile || out.zone != 0 || (out.data && !out.data->empty())) {
      return Invalid("%s names link_of but is not a file's first zone without data", subject);
    }
    DUET_ASSIGN_OR_RETURN(out.link_of, ReadRelativePath(in.link_of(), subject, "link_of", false));
    if (out.link_of == out.path) return Invalid("%s is a link of itself", subject);
  }
  if (in.hole()) {
    // The zone holds no data on the source: the target punches it, so nothing else may come.
    if (out.kind != PathKind::kFile || out.data || !out.link_of.empty()) {
      return Invalid("%s says hole but is not a file's zone without data", subject);
    }
    out.hole = true;
  }
  if (in.hole_zones() > 1) {
    // A run of holes: its zones are zone indexes (the target cuts it at the file's end).
    if (!out.hole || in.hole_zones() > std::numeric_limits<uint64_t>::max() - out.zone) {
      return Invalid("%s covers %d zones but is not a hole a run can cover", subject,
                     in.hole_zones());
    }
    out.hole_zones = in.hole_zones();
  } else if (in.hole_zones() == 1) {
    return Invalid("%s says hole_zones 1, which is written as absent", subject);
  }
  DUET_ASSIGN_OR_RETURN(out.hole_ranges, ReadHoleRanges(in.hole_ranges(), out, subject));
  if (in.names_under()) {
    if (out.kind != PathKind::kDirectory || out.zone != 0) {
      return Invalid("%s says names_under but is not a directory's first zone", subject);
    }
    out.names_under = true;
  }
  return out;
}

absl::StatusOr<ResyncBlockAck> ReadResyncBlockAck(const fb::ResyncBlockAck& in) {
  ResyncBlockAck out;
  DUET_ASSIGN_OR_RETURN(out.module, ReadModuleName(in.module_(), "ResyncBlockAck"));
  out.block_id = in.block_id();
  out.stale = in.stale();
  out.durable = in.durable();
  return out;
}

absl::StatusOr<ResyncDone> ReadResyncDone(const fb::ResyncDone& in) {
  ResyncDone out;
  DUET_ASSIGN_OR_RETURN(out.module, ReadModuleName(in.module_(), "ResyncDone"));
  out.current = in.current();
  out.requests_seen = in.requests_seen();
  return out;
}

absl::StatusOr<ResyncSame> ReadResyncSame(const fb::ResyncSame& in) {
  ResyncSame out;
  DUET_ASSIGN_OR_RETURN(out.module, ReadModuleName(in.module_(), "ResyncSame"));
  const std::string subject = "ResyncSame " + Quoted(out.module);
  DUET_ASSIGN_OR_RETURN(out.path, ReadRelativePath(in.path(), subject, "path", false));
  out.block_id = in.block_id();
  out.zone = in.zone();
  out.total_bytes = in.total_bytes();
  out.done_bytes = in.done_bytes();
  if (in.mode() > kMaxModeBits) {
    return Invalid("%s with mode %o: more than permission bits", subject, in.mode());
  }
  out.read_lsn = in.read_lsn();
  out.mode = in.mode();
  out.uid = in.uid();
  out.gid = in.gid();
  out.atime_ns = in.atime_ns();
  out.mtime_ns = in.mtime_ns();
  return out;
}

absl::StatusOr<ReplApplyOutcome> ReadReplApplyOutcome(const fb::ReplApplyOutcome& in) {
  ReplApplyOutcome out;
  DUET_ASSIGN_OR_RETURN(out.module, ReadModuleName(in.module_(), "ReplApplyOutcome"));
  out.lsn = in.lsn();
  out.refused = in.refused();
  return out;
}

// The union's table for `T`, or an error if the type says T but the table is absent (the
// Verifier accepts an absent union value).
template <typename T>
absl::StatusOr<const T*> BodyOf(const fb::Frame& root) {
  const T* body = root.message_as<T>();
  if (body == nullptr) {
    return Invalid("%s message without a body", fb::EnumNameMessage(root.message_type()));
  }
  return body;
}

const char* ChannelName(Channel channel) {
  switch (channel) {
    case Channel::kPeer:
      return "peer";
    case Channel::kWitness:
      return "witness";
    case Channel::kReplication:
      return "replication";
  }
  return "unknown";
}

// A frame that is no message of the decoder's channel.
absl::Status WrongChannel(fb::Message type, Channel channel) {
  if (type == fb::Message::NONE) return Invalid("frame carries no message");
  const std::optional<Channel> owner = ChannelOf(type);
  if (!owner) return Invalid("unknown message type %d", static_cast<int>(type));
  return Invalid("%s message %s given to the %s decoder", ChannelName(*owner),
                 fb::EnumNameMessage(type), ChannelName(channel));
}

}  // namespace

std::vector<uint8_t> EncodePeer(const PeerMessage& message) {
  return Encode(message, kPeerWireVersion);
}

std::vector<uint8_t> EncodeWitness(const WitnessMessage& message) {
  return Encode(message, kPeerWireVersion);
}

ReplicationParts EncodeReplicationParts(const ReplMessage& message) {
  ReplicationParts parts;
  parts.tail = std::visit([](const auto& m) { return TailOf(m); }, message);
  const size_t variable = std::visit([](const auto& m) { return VariableBytes(m); }, message) -
                          (parts.tail == nullptr ? 0 : parts.tail->size());
  parts.head = Encode(message, kWireVersion, kInitialBuilderBytes + variable, parts.tail);
  return parts;
}

std::vector<uint8_t> EncodeReplication(const ReplMessage& message) {
  ReplicationParts parts = EncodeReplicationParts(message);
  if (parts.tail != nullptr)
    parts.head.insert(parts.head.end(), parts.tail->begin(), parts.tail->end());
  return std::move(parts.head);
}

absl::StatusOr<PeerMessage> DecodePeer(std::span<const uint8_t> frame) {
  std::vector<uint8_t> aligned_copy;
  DUET_ASSIGN_OR_RETURN(const fb::Frame* root,
                        VerifyFrame(frame, aligned_copy, kMaxHeartbeatBytes, Channel::kPeer));
  switch (root->message_type()) {
    case fb::Message::Heartbeat: {
      DUET_ASSIGN_OR_RETURN(const fb::Heartbeat* body, BodyOf<fb::Heartbeat>(*root));
      DUET_ASSIGN_OR_RETURN(Heartbeat heartbeat, ReadHeartbeat(*body));
      return PeerMessage(std::move(heartbeat));
    }
    case fb::Message::SwapRequest: {
      DUET_ASSIGN_OR_RETURN(const fb::SwapRequest* body, BodyOf<fb::SwapRequest>(*root));
      DUET_ASSIGN_OR_RETURN(SwapRequest request, ReadSwapRequest(*body));
      return PeerMessage(std::move(request));
    }
    default:
      return WrongChannel(root->message_type(), Channel::kPeer);
  }
}

absl::StatusOr<WitnessMessage> DecodeWitness(std::span<const uint8_t> frame) {
  std::vector<uint8_t> aligned_copy;
  DUET_ASSIGN_OR_RETURN(const fb::Frame* root,
                        VerifyFrame(frame, aligned_copy, kMaxFrameBytes, Channel::kWitness));
  switch (root->message_type()) {
    case fb::Message::LeaseRequest: {
      DUET_ASSIGN_OR_RETURN(const fb::LeaseRequest* body, BodyOf<fb::LeaseRequest>(*root));
      DUET_ASSIGN_OR_RETURN(LeaseRequest request, ReadLeaseRequest(*body));
      return WitnessMessage(std::move(request));
    }
    case fb::Message::LeaseReply: {
      DUET_ASSIGN_OR_RETURN(const fb::LeaseReply* body, BodyOf<fb::LeaseReply>(*root));
      DUET_ASSIGN_OR_RETURN(LeaseReply reply, ReadLeaseReply(*body));
      return WitnessMessage(std::move(reply));
    }
    default:
      return WrongChannel(root->message_type(), Channel::kWitness);
  }
}

namespace {

// The body of a replication frame of type `T`, read by `read` into the ReplMessage.
template <typename T, typename Read>
absl::StatusOr<ReplMessage> ReadReplication(const fb::Frame& root, Read read) {
  DUET_ASSIGN_OR_RETURN(const T* body, BodyOf<T>(root));
  DUET_ASSIGN_OR_RETURN(auto message, read(*body));
  return ReplMessage(std::move(message));
}

}  // namespace

absl::StatusOr<ReplMessage> DecodeReplication(std::span<const uint8_t> head, Payload tail) {
  if (tail != nullptr && tail->empty()) tail.reset();
  std::vector<uint8_t> aligned_copy;
  DUET_ASSIGN_OR_RETURN(const fb::Frame* root,
                        VerifyFrame(head, aligned_copy, kMaxReplicationFrameBytes,
                                    Channel::kReplication, tail == nullptr ? 0 : tail->size()));
  if (tail != nullptr && root->message_type() != fb::Message::ReplWrite &&
      root->message_type() != fb::Message::ResyncBlock) {
    return Invalid("%s message with %d bytes of data after the frame",
                   fb::EnumNameMessage(root->message_type()), tail->size());
  }
  const auto with_tail = [&tail](auto read) {
    return [&tail, read](const auto& body) { return read(body, std::move(tail)); };
  };
  switch (root->message_type()) {
    case fb::Message::ReplHello:
      return ReadReplication<fb::ReplHello>(*root, ReadReplHello);
    case fb::Message::ReplTargetZones:
      return ReadReplication<fb::ReplTargetZones>(*root, ReadReplTargetZones);
    case fb::Message::ReplWrite:
      return ReadReplication<fb::ReplWrite>(*root, with_tail(ReadReplWrite));
    case fb::Message::ReplAck:
      return ReadReplication<fb::ReplAck>(*root, ReadReplAck);
    case fb::Message::ResyncBlock:
      return ReadReplication<fb::ResyncBlock>(*root, with_tail(ReadResyncBlock));
    case fb::Message::ResyncBlockAck:
      return ReadReplication<fb::ResyncBlockAck>(*root, ReadResyncBlockAck);
    case fb::Message::ResyncDone:
      return ReadReplication<fb::ResyncDone>(*root, ReadResyncDone);
    case fb::Message::ResyncSame:
      return ReadReplication<fb::ResyncSame>(*root, ReadResyncSame);
    case fb::Message::ReplApplyOutcome:
      return ReadReplication<fb::ReplApplyOutcome>(*root, ReadReplApplyOutcome);
    default:
      return WrongChannel(root->message_type(), Channel::kReplication);
  }
}

absl::StatusOr<ReplMessage> DecodeReplication(std::span<const uint8_t> frame) {
  if (frame.size() > kMaxReplicationFrameBytes) {
    return Invalid("frame of %d bytes exceeds limit %d", frame.size(), kMaxReplicationFrameBytes);
  }
  // The head ends where its size prefix says; a prefix that does not fit is the head's error.
  if (frame.size() >= sizeof(uoffset_t)) {
    const size_t head_bytes =
        size_t{flatbuffers::ReadScalar<uoffset_t>(frame.data())} + sizeof(uoffset_t);
    if (head_bytes < frame.size()) {
      const std::span<const uint8_t> rest = frame.subspan(head_bytes);
      return DecodeReplication(frame.first(head_bytes),
                               MakePayload(std::string(rest.begin(), rest.end())));
    }
  }
  return DecodeReplication(frame, nullptr);
}

}  // namespace duet::wire
