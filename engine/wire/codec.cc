// Over 600 lines on purpose: every frame's encoder and its decoder, with the size caps and
// the verifier's rules they share, read side by side. A split by message (heartbeat/witness,
// replication) is worth it once the two record codecs (this and record_codec.cc both map a
// Mutation) share one Mutation table: issue 11.
#include "engine/wire/codec.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "engine/status_macros.h"
#include "engine/wire/duet_generated.h"
#include "flatbuffers/flatbuffers.h"

namespace duet::wire {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;
using flatbuffers::uoffset_t;

// Size prefix, root offset and file identifier: nothing shorter can be a frame.
constexpr size_t kMinFrameBytes = 3 * sizeof(uoffset_t);
// Tables nest Frame > message > ModuleView (or Mutation): 3 deep. A little slack, no more.
constexpr uoffset_t kMaxVerifyDepth = 8;
// A heartbeat holds 2 + (its modules) tables, a replication message at most 3. The verifier
// counts every table it visits, so this also bounds the work on a hostile frame whose offsets
// all point at one table. The slack above kMaxModules lets a frame with a few too many modules
// fail with a clear "exceeds limit" error instead of a bare verification failure.
constexpr uoffset_t kMaxVerifyTables = 2 * kMaxModules + 16;
// Widest scalar in the schema (ulong/long): FlatBuffers reads scalars in place.
constexpr size_t kFrameAlignment = alignof(uint64_t);
// Initial builder buffer: a heartbeat with a handful of modules fits without regrowth.
constexpr size_t kInitialBuilderBytes = 512;
// Largest file offset (off_t): a write or truncate must end at or below it.
constexpr uint64_t kMaxFileOffset = std::numeric_limits<int64_t>::max();

template <typename... Args>
absl::Status Invalid(const absl::FormatSpec<Args...>& format, const Args&... args) {
  return absl::InvalidArgumentError(absl::StrFormat(format, args...));
}

// Module names come from the peer; keep control bytes out of the error text and logs.
// (Debian's absl::string_view is its own type, not std::string_view.)
std::string Quoted(std::string_view name) {
  return "'" + absl::CHexEscape(absl::string_view(name.data(), name.size())) + "'";
}

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
                                         view.pinned, view.writing_alone));
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

fb::MutationKind ToWire(MutationKind kind) {
  switch (kind) {
    case MutationKind::kWrite:
      return fb::MutationKind::Write;
    case MutationKind::kTruncate:
      return fb::MutationKind::Truncate;
    case MutationKind::kCreate:
      return fb::MutationKind::Create;
    case MutationKind::kMkdir:
      return fb::MutationKind::Mkdir;
    case MutationKind::kUnlink:
      return fb::MutationKind::Unlink;
    case MutationKind::kRmdir:
      return fb::MutationKind::Rmdir;
    case MutationKind::kRename:
      return fb::MutationKind::Rename;
    case MutationKind::kSymlink:
      return fb::MutationKind::Symlink;
    case MutationKind::kLink:
      return fb::MutationKind::Link;
    case MutationKind::kSetattr:
      return fb::MutationKind::Setattr;
    case MutationKind::kFsync:
      return fb::MutationKind::Fsync;
    case MutationKind::kRemoveTree:
      return fb::MutationKind::RemoveTree;
    case MutationKind::kSetxattr:
      return fb::MutationKind::Setxattr;
    case MutationKind::kRemovexattr:
      return fb::MutationKind::Removexattr;
    case MutationKind::kReplaceXattrs:
      return fb::MutationKind::ReplaceXattrs;
    case MutationKind::kMknod:
      return fb::MutationKind::Mknod;
    case MutationKind::kFallocate:
      return fb::MutationKind::Fallocate;
  }
  return static_cast<fb::MutationKind>(kind);
}

fb::PathKind ToWire(PathKind kind) {
  switch (kind) {
    case PathKind::kAbsent:
      return fb::PathKind::Absent;
    case PathKind::kFile:
      return fb::PathKind::File;
    case PathKind::kDirectory:
      return fb::PathKind::Directory;
    case PathKind::kSymlink:
      return fb::PathKind::Symlink;
    case PathKind::kFifo:
      return fb::PathKind::Fifo;
    case PathKind::kSocket:
      return fb::PathKind::Socket;
  }
  return static_cast<fb::PathKind>(kind);
}

// An empty string is left out of the frame (the decoder reads an absent string as empty).
Offset<flatbuffers::String> OptionalString(FlatBufferBuilder& builder, const std::string& text) {
  if (text.empty()) return 0;
  return builder.CreateString(text);
}

// A null payload is left out; a present one, even empty, is written, so null and empty
// payloads both survive the round trip.
Offset<flatbuffers::Vector<uint8_t>> OptionalBytes(FlatBufferBuilder& builder,
                                                   const Payload& data) {
  if (data == nullptr) return 0;
  return builder.CreateVector(reinterpret_cast<const uint8_t*>(data->data()), data->size());
}

// An empty set is left out (the decoder reads an absent vector as an empty set).
Offset<flatbuffers::Vector<Offset<fb::Xattr>>> OptionalXattrs(FlatBufferBuilder& builder,
                                                              const XattrSet& xattrs) {
  if (xattrs.empty()) return 0;
  std::vector<Offset<fb::Xattr>> entries;
  entries.reserve(xattrs.size());
  for (const Xattr& x : xattrs) {
    const auto name = builder.CreateString(x.name);
    const auto value =
        builder.CreateVector(reinterpret_cast<const uint8_t*>(x.value.data()), x.value.size());
    entries.push_back(fb::CreateXattr(builder, name, value));
  }
  return builder.CreateVector(entries);
}

size_t XattrBytes(const XattrSet& xattrs) {
  size_t bytes = 0;
  for (const Xattr& x : xattrs) bytes += x.name.size() + x.value.size() + 16;
  return bytes;
}

Body BuildBody(FlatBufferBuilder& builder, const ReplHello& hello) {
  const auto name = builder.CreateString(hello.module);
  const fb::Generations gens(hello.gens.current, hello.gens.bitmap,
                             flatbuffers::make_span(hello.gens.history));
  const auto body = fb::CreateReplHello(builder, name, &gens, hello.primary, hello.inconsistent,
                                        hello.epoch, hello.answers, hello.crashed, hello.dirty,
                                        hello.alone_acked, hello.discard, hello.stream_start,
                                        hello.joined, hello.disk_failed, hello.zone_size);
  return {fb::Message::ReplHello, body.Union()};
}

Body BuildBody(FlatBufferBuilder& builder, const ReplTargetZones& target) {
  const auto name = builder.CreateString(target.module);
  const auto path = OptionalString(builder, target.path);
  const auto zones = builder.CreateVector(target.zones);
  const auto body = fb::CreateReplTargetZones(builder, name, path, zones, target.last);
  return {fb::Message::ReplTargetZones, body.Union()};
}

Body BuildBody(FlatBufferBuilder& builder, const ReplWrite& write) {
  const Mutation& m = write.mutation;
  const auto name = builder.CreateString(write.module);
  const auto path = OptionalString(builder, m.path);
  const auto path2 = OptionalString(builder, m.path2);
  const auto data = OptionalBytes(builder, m.data);
  const auto xattr_name = OptionalString(builder, m.xattr_name);
  const auto xattrs = OptionalXattrs(builder, m.xattrs);
  const auto mutation =
      fb::CreateMutation(builder, ToWire(m.kind), path, path2, m.offset, data, m.mode, m.mtime_ns,
                         m.uid, m.gid, m.atime_ns, m.attr_mask, xattr_name, m.xattr_flags, xattrs,
                         m.sync, ToWire(m.node_kind), m.length, m.fallocate_mode, m.rename_flags);
  const auto body = fb::CreateReplWrite(builder, name, write.lsn, mutation);
  return {fb::Message::ReplWrite, body.Union()};
}

Body BuildBody(FlatBufferBuilder& builder, const ReplAck& ack) {
  const auto name = builder.CreateString(ack.module);
  const auto body = fb::CreateReplAck(builder, name, ack.done_lsn, ack.durable_lsn);
  return {fb::Message::ReplAck, body.Union()};
}

Body BuildBody(FlatBufferBuilder& builder, const ResyncBlock& block) {
  const auto name = builder.CreateString(block.module);
  const auto path = OptionalString(builder, block.path);
  const auto data = OptionalBytes(builder, block.data);
  const auto link_target = OptionalString(builder, block.link_target);
  const auto xattrs = OptionalXattrs(builder, block.xattrs);
  const auto link_of = OptionalString(builder, block.link_of);
  Offset<flatbuffers::Vector<uint64_t>> hole_ranges = 0;
  if (!block.hole_ranges.empty()) {
    std::vector<uint64_t> flat;
    flat.reserve(2 * block.hole_ranges.size());
    for (const HoleRange& range : block.hole_ranges) {
      flat.push_back(range.offset);
      flat.push_back(range.length);
    }
    hole_ranges = builder.CreateVector(flat);
  }
  const auto body = fb::CreateResyncBlock(
      builder, name, block.block_id, path, block.zone, data, block.read_lsn, ToWire(block.kind),
      block.file_size, block.mode, link_target, block.total_bytes, block.done_bytes, block.uid,
      block.gid, block.atime_ns, block.mtime_ns, xattrs, link_of, block.hole, hole_ranges);
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

// Bytes a replication message's variable-length parts take, so that the builder starts big
// enough for a 4 MiB payload instead of doubling its way there (each doubling copies).
size_t VariableBytes(const ReplTargetZones& target) {
  return target.path.size() + target.zones.size() * sizeof(uint64_t);
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

template <typename Variant>
std::vector<uint8_t> Encode(const Variant& message, size_t initial_bytes = kInitialBuilderBytes) {
  // A fresh builder (one heap buffer) per frame: frames are small and this costs little next
  // to the HMAC and the send. If a hot path ever encodes many frames here (e.g. replication
  // data), keep one builder per connection, Clear() it between frames and encode into the
  // caller's buffer to save the copy below.
  FlatBufferBuilder builder(initial_bytes);
  const Body body = std::visit([&](const auto& m) { return BuildBody(builder, m); }, message);
  const auto frame = fb::CreateFrame(builder, kWireVersion, body.type, body.offset);
  fb::FinishSizePrefixedFrameBuffer(builder, frame);
  const uint8_t* data = builder.GetBufferPointer();
  return std::vector<uint8_t>(data, data + builder.GetSize());
}

// ----- Decoding -------------------------------------------------------------------------

// Size limit (`max_bytes`: the channel's), size prefix, identifier, structure (Verifier) and
// version. On success the returned root points into `frame` or, if `frame` is not aligned for
// in-place reads, into `aligned_copy`, which must outlive every use of the root.
absl::StatusOr<const fb::Frame*> VerifyFrame(std::span<const uint8_t> frame,
                                             std::vector<uint8_t>& aligned_copy, size_t max_bytes) {
  // First, before any copy or Verifier: the Verifier asserts on buffers of 2 GiB and more, and
  // nothing bigger than the limit deserves any work.
  if (frame.size() > max_bytes) {
    return Invalid("frame of %d bytes exceeds limit %d", frame.size(), max_bytes);
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
  if (root->version() != kWireVersion) {
    return Invalid("unsupported wire version %d (this build speaks %d)", root->version(),
                   kWireVersion);
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

absl::StatusOr<MutationKind> FromWire(fb::MutationKind kind, std::string_view subject) {
  switch (kind) {
    case fb::MutationKind::Write:
      return MutationKind::kWrite;
    case fb::MutationKind::Truncate:
      return MutationKind::kTruncate;
    case fb::MutationKind::Create:
      return MutationKind::kCreate;
    case fb::MutationKind::Mkdir:
      return MutationKind::kMkdir;
    case fb::MutationKind::Unlink:
      return MutationKind::kUnlink;
    case fb::MutationKind::Rmdir:
      return MutationKind::kRmdir;
    case fb::MutationKind::Rename:
      return MutationKind::kRename;
    case fb::MutationKind::Symlink:
      return MutationKind::kSymlink;
    case fb::MutationKind::Link:
      return MutationKind::kLink;
    case fb::MutationKind::Setattr:
      return MutationKind::kSetattr;
    case fb::MutationKind::Fsync:
      return MutationKind::kFsync;
    case fb::MutationKind::RemoveTree:
      return MutationKind::kRemoveTree;
    case fb::MutationKind::Setxattr:
      return MutationKind::kSetxattr;
    case fb::MutationKind::Removexattr:
      return MutationKind::kRemovexattr;
    case fb::MutationKind::ReplaceXattrs:
      return MutationKind::kReplaceXattrs;
    case fb::MutationKind::Mknod:
      return MutationKind::kMknod;
    case fb::MutationKind::Fallocate:
      return MutationKind::kFallocate;
  }
  return Invalid("%s has unknown mutation kind %d", subject, static_cast<int>(kind));
}

absl::StatusOr<PathKind> FromWire(fb::PathKind kind, std::string_view subject) {
  switch (kind) {
    case fb::PathKind::Absent:
      return PathKind::kAbsent;
    case fb::PathKind::File:
      return PathKind::kFile;
    case fb::PathKind::Directory:
      return PathKind::kDirectory;
    case fb::PathKind::Symlink:
      return PathKind::kSymlink;
    case fb::PathKind::Fifo:
      return PathKind::kFifo;
    case fb::PathKind::Socket:
      return PathKind::kSocket;
  }
  return Invalid("%s has unknown path kind %d", subject, static_cast<int>(kind));
}

// An absent string reads as empty (the encoder leaves empty ones out).
std::string_view View(const flatbuffers::String* text) {
  return text == nullptr ? std::string_view() : std::string_view(text->data(), text->size());
}

// A path inside the module's tree, as the secondary's apply will resolve it under the backing
// directory (which also refuses symlinks out of it: this check is the first line only).
// `subject` and `field` name it in errors: "ReplWrite 'db' rename mutation", "path2".
absl::StatusOr<std::string> ReadRelativePath(const flatbuffers::String* text,
                                             std::string_view subject, std::string_view field,
                                             bool allow_empty) {
  const std::string_view path = View(text);
  if (path.empty()) {
    if (allow_empty) return std::string();
    return Invalid("%s without a %s", subject, field);
  }
  if (path.size() > kMaxPathBytes) {
    return Invalid("%s %s of %d bytes exceeds limit %d", subject, field, path.size(),
                   kMaxPathBytes);
  }
  if (path.find('\0') != std::string_view::npos) {
    return Invalid("%s %s %s contains a NUL byte", subject, field, Quoted(path));
  }
  if (path.front() == '/') {
    return Invalid("%s %s %s is absolute", subject, field, Quoted(path));
  }
  size_t start = 0;
  while (true) {
    const size_t end = std::min(path.find('/', start), path.size());
    const std::string_view component = path.substr(start, end - start);
    if (component.empty()) {
      return Invalid("%s %s %s has an empty component", subject, field, Quoted(path));
    }
    if (component == "." || component == "..") {
      return Invalid("%s %s %s has a '%s' component", subject, field, Quoted(path), component);
    }
    if (end == path.size()) break;
    start = end + 1;
  }
  return std::string(path);
}

// A symlink's target, kept verbatim (the link may point anywhere, as on the primary; what it
// points at is never followed by the apply).
absl::StatusOr<std::string> ReadLinkTarget(const flatbuffers::String* text,
                                           std::string_view subject, std::string_view field) {
  const std::string_view target = View(text);
  if (target.empty()) return Invalid("%s without a %s", subject, field);
  if (target.size() > kMaxPathBytes) {
    return Invalid("%s %s of %d bytes exceeds limit %d", subject, field, target.size(),
                   kMaxPathBytes);
  }
  if (target.find('\0') != std::string_view::npos) {
    return Invalid("%s %s %s contains a NUL byte", subject, field, Quoted(target));
  }
  return std::string(target);
}

// The bytes of `data` (absent: no payload), at most `limit` of them. This copies: the Payload
// must outlive the frame buffer. The adapter could avoid the copy by handing the decoder a
// reference-counted frame buffer and pointing the Payload into it (shared_ptr's aliasing
// constructor), at the price of keeping the whole frame alive as long as the payload.
absl::StatusOr<Payload> ReadPayload(const flatbuffers::Vector<uint8_t>* data, size_t limit,
                                    std::string_view subject) {
  if (data == nullptr) return Payload();
  if (data->size() > limit) {
    return Invalid("%s with %d bytes of data exceeds limit %d", subject, data->size(), limit);
  }
  return MakePayload(std::string(reinterpret_cast<const char*>(data->data()), data->size()));
}

// An xattr name: non-empty, no NUL, at most kMaxXattrNameBytes.
absl::StatusOr<std::string> ReadXattrName(const flatbuffers::String* text,
                                          std::string_view subject) {
  const std::string_view name = View(text);
  if (name.empty()) return Invalid("%s without an xattr name", subject);
  if (name.size() > kMaxXattrNameBytes) {
    return Invalid("%s xattr name of %d bytes exceeds limit %d", subject, name.size(),
                   kMaxXattrNameBytes);
  }
  if (name.find('\0') != std::string_view::npos) {
    return Invalid("%s xattr name %s contains a NUL byte", subject, Quoted(name));
  }
  return std::string(name);
}

// A whole xattr set: valid names in strictly increasing order (sorted, none twice), values
// of at most kMaxXattrValueBytes, at most kMaxXattrSetBytes of names and values in all.
absl::StatusOr<XattrSet> ReadXattrSet(const flatbuffers::Vector<Offset<fb::Xattr>>* in,
                                      std::string_view subject) {
  XattrSet out;
  if (in == nullptr) return out;
  size_t total = 0;
  for (const fb::Xattr* x : *in) {
    Xattr entry;
    DUET_ASSIGN_OR_RETURN(entry.name, ReadXattrName(x->name(), subject));
    const size_t value_size = x->value() == nullptr ? 0 : x->value()->size();
    if (value_size > kMaxXattrValueBytes) {
      return Invalid("%s xattr %s value of %d bytes exceeds limit %d", subject, Quoted(entry.name),
                     value_size, kMaxXattrValueBytes);
    }
    if (value_size > 0) {
      entry.value.assign(reinterpret_cast<const char*>(x->value()->data()), value_size);
    }
    total += entry.name.size() + value_size;
    if (total > kMaxXattrSetBytes) {
      return Invalid("%s xattr set exceeds limit %d bytes", subject, kMaxXattrSetBytes);
    }
    if (!out.empty() && out.back().name >= entry.name) {
      return Invalid("%s xattr set not sorted by name at %s", subject, Quoted(entry.name));
    }
    out.push_back(std::move(entry));
  }
  return out;
}

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
  return out;
}

absl::StatusOr<ReplTargetZones> ReadReplTargetZones(const fb::ReplTargetZones& in) {
  ReplTargetZones out;
  DUET_ASSIGN_OR_RETURN(out.module, ReadModuleName(in.module_(), "ReplTargetZones"));
  const std::string subject = "ReplTargetZones " + Quoted(out.module);
  out.last = in.last();
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
  // flatbuffers::Verifier checks only the 4-byte alignment of a vector's length, not that of
  // its elements (our builder aligns them; a hostile frame need not): reading a misaligned
  // uint64_t is undefined behaviour. The frame itself is aligned (VerifyFrame), so the address
  // tells.
  if (zones->size() > 0 && reinterpret_cast<uintptr_t>(zones->data()) % alignof(uint64_t) != 0) {
    return Invalid("%s zones are not aligned to %d bytes", subject, alignof(uint64_t));
  }
  out.zones.assign(zones->begin(), zones->end());
  return out;
}

// A fallocate's range and mode; no other kind has them.
absl::Status ReadFallocateRange(const fb::Mutation& in, std::string_view subject, Mutation& out) {
  if (out.kind != MutationKind::kFallocate) {
    if (in.length() != 0) return Invalid("%s with a length", subject);
    if (in.fallocate_mode() != 0) return Invalid("%s with a fallocate mode", subject);
    return absl::OkStatus();
  }
  if (!ValidFallocateMode(in.fallocate_mode())) {
    return Invalid(
        "%s with mode %s (%#x): allocate, keep-size, punch-hole|keep-size or "
        "zero-range[|keep-size] only",
        subject, FallocateModeName(in.fallocate_mode()), in.fallocate_mode());
  }
  if (in.length() == 0) return Invalid("%s of length 0", subject);
  if (out.offset > kMaxFileOffset || in.length() > kMaxFileOffset - out.offset) {
    return Invalid("%s of %d bytes at offset %d ends past the largest file offset", subject,
                   in.length(), out.offset);
  }
  out.length = in.length();
  out.fallocate_mode = in.fallocate_mode();
  return absl::OkStatus();
}

absl::StatusOr<Mutation> ReadMutation(const fb::Mutation& in, std::string_view module) {
  Mutation out;
  DUET_ASSIGN_OR_RETURN(out.kind, FromWire(in.kind(), "ReplWrite " + Quoted(module)));
  const std::string subject =
      absl::StrFormat("ReplWrite %s %s mutation", Quoted(module), MutationKindName(out.kind));
  // An fsync without a path covers the whole tree.
  DUET_ASSIGN_OR_RETURN(
      out.path, ReadRelativePath(in.path(), subject, "path", out.kind == MutationKind::kFsync));
  if (out.kind == MutationKind::kRename || out.kind == MutationKind::kLink) {
    DUET_ASSIGN_OR_RETURN(out.path2, ReadRelativePath(in.path2(), subject, "path2", false));
  } else if (out.kind == MutationKind::kSymlink) {
    DUET_ASSIGN_OR_RETURN(out.path2, ReadLinkTarget(in.path2(), subject, "path2"));
  } else if (!View(in.path2()).empty()) {
    return Invalid("%s with a path2", subject);
  }
  const uint64_t data_size = in.data() == nullptr ? 0 : in.data()->size();
  out.offset = in.offset();
  if (out.kind == MutationKind::kWrite) {
    if (data_size > kMaxWriteBytes) {
      return Invalid("%s with %d bytes of data exceeds limit %d", subject, data_size,
                     kMaxWriteBytes);
    }
    if (out.offset > kMaxFileOffset - data_size) {
      return Invalid("%s of %d bytes at offset %d ends past the largest file offset", subject,
                     data_size, out.offset);
    }
  } else if (out.kind == MutationKind::kSetxattr) {
    if (data_size > kMaxXattrValueBytes) {
      return Invalid("%s with a value of %d bytes exceeds limit %d", subject, data_size,
                     kMaxXattrValueBytes);
    }
  } else if (data_size > 0) {
    return Invalid("%s with %d bytes of data", subject, data_size);
  }
  if (out.kind == MutationKind::kSetxattr || out.kind == MutationKind::kRemovexattr) {
    DUET_ASSIGN_OR_RETURN(out.xattr_name, ReadXattrName(in.xattr_name(), subject));
  } else if (!View(in.xattr_name()).empty()) {
    return Invalid("%s with an xattr name", subject);
  }
  const uint32_t flags = in.xattr_flags();
  if (flags != 0 && out.kind != MutationKind::kSetxattr) {
    return Invalid("%s with xattr flags", subject);
  }
  if ((flags & ~uint32_t{kXattrCreate | kXattrReplace}) != 0 ||
      flags == (kXattrCreate | kXattrReplace)) {
    return Invalid("%s with xattr flags %#x: create, replace or neither", subject, flags);
  }
  out.xattr_flags = flags;
  if (in.rename_flags() != 0 && out.kind != MutationKind::kRename) {
    return Invalid("%s with rename flags", subject);
  }
  if (!ValidRenameFlags(in.rename_flags())) {
    return Invalid("%s with rename flags %#x: noreplace, exchange or neither", subject,
                   in.rename_flags());
  }
  out.rename_flags = in.rename_flags();
  if (in.sync() && out.kind != MutationKind::kWrite) return Invalid("%s with sync", subject);
  out.sync = in.sync();
  DUET_ASSIGN_OR_RETURN(out.node_kind, FromWire(in.node_kind(), subject));
  const bool special = out.node_kind == PathKind::kFifo || out.node_kind == PathKind::kSocket;
  if (out.kind == MutationKind::kMknod && !special) {
    return Invalid("%s makes a %s: only a FIFO or a socket", subject,
                   fb::EnumNamePathKind(in.node_kind()));
  }
  if (out.kind != MutationKind::kMknod && out.node_kind != PathKind::kAbsent) {
    return Invalid("%s with a node kind", subject);
  }
  if (out.kind == MutationKind::kReplaceXattrs) {
    DUET_ASSIGN_OR_RETURN(out.xattrs, ReadXattrSet(in.xattrs(), subject));
  } else if (in.xattrs() != nullptr && in.xattrs()->size() > 0) {
    return Invalid("%s with an xattr set", subject);
  }
  if (out.kind == MutationKind::kTruncate && out.offset > kMaxFileOffset) {
    return Invalid("%s to size %d exceeds the largest file size", subject, out.offset);
  }
  DUET_RETURN_IF_ERROR(ReadFallocateRange(in, subject, out));
  DUET_ASSIGN_OR_RETURN(out.data, ReadPayload(in.data(), kMaxWriteBytes, subject));
  if (in.mode() > kMaxModeBits) {
    return Invalid("%s with mode %o: more than permission bits", subject, in.mode());
  }
  if ((in.attr_mask() & ~kAllAttrs) != 0) {
    return Invalid("%s with unknown attribute bits %#x", subject, in.attr_mask() & ~kAllAttrs);
  }
  if (in.attr_mask() != 0 && out.kind != MutationKind::kSetattr) {
    return Invalid("%s with an attribute mask", subject);
  }
  out.mode = in.mode();
  out.uid = in.uid();
  out.gid = in.gid();
  out.atime_ns = in.atime_ns();
  out.mtime_ns = in.mtime_ns();
  out.attr_mask = in.attr_mask();
  return out;
}

absl::StatusOr<ReplWrite> ReadReplWrite(const fb::ReplWrite& in) {
  ReplWrite out;
  DUET_ASSIGN_OR_RETURN(out.module, ReadModuleName(in.module_(), "ReplWrite"));
  if (in.lsn() == 0) return Invalid("ReplWrite %s with lsn 0", Quoted(out.module));
  out.lsn = in.lsn();
  if (in.mutation() == nullptr) {
    return Invalid("ReplWrite %s without a mutation", Quoted(out.module));
  }
  DUET_ASSIGN_OR_RETURN(out.mutation, ReadMutation(*in.mutation(), out.module));
  return out;
}

absl::StatusOr<ReplAck> ReadReplAck(const fb::ReplAck& in) {
  ReplAck out;
  DUET_ASSIGN_OR_RETURN(out.module, ReadModuleName(in.module_(), "ReplAck"));
  out.done_lsn = in.done_lsn();
  out.durable_lsn = in.durable_lsn();
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
  // As ReplTargetZones: the Verifier does not check the elements' alignment.
  if (reinterpret_cast<uintptr_t>(flat->data()) % alignof(uint64_t) != 0) {
    return Invalid("%s hole ranges are not aligned to %d bytes", subject, alignof(uint64_t));
  }
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

absl::StatusOr<ResyncBlock> ReadResyncBlock(const fb::ResyncBlock& in) {
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
  DUET_ASSIGN_OR_RETURN(out.data, ReadPayload(in.data(), kMaxResyncBlockBytes, subject));
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
  DUET_ASSIGN_OR_RETURN(out.hole_ranges, ReadHoleRanges(in.hole_ranges(), out, subject));
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

// Rejections common to the decoders; `channel` names the decoder in errors.
absl::Status WrongChannel(fb::Message type, std::string_view channel) {
  switch (type) {
    case fb::Message::NONE:
      return Invalid("frame carries no message");
    case fb::Message::Heartbeat:
    case fb::Message::SwapRequest:
      return Invalid("peer message %s given to the %s decoder", fb::EnumNameMessage(type), channel);
    case fb::Message::LeaseRequest:
    case fb::Message::LeaseReply:
      return Invalid("witness message %s given to the %s decoder", fb::EnumNameMessage(type),
                     channel);
    case fb::Message::ReplHello:
    case fb::Message::ReplTargetZones:
    case fb::Message::ReplWrite:
    case fb::Message::ReplAck:
    case fb::Message::ResyncBlock:
    case fb::Message::ResyncBlockAck:
    case fb::Message::ResyncDone:
      return Invalid("replication message %s given to the %s decoder", fb::EnumNameMessage(type),
                     channel);
  }
  return Invalid("unknown message type %d", static_cast<int>(type));
}

}  // namespace

std::vector<uint8_t> EncodePeer(const PeerMessage& message) { return Encode(message); }

std::vector<uint8_t> EncodeWitness(const WitnessMessage& message) { return Encode(message); }

std::vector<uint8_t> EncodeReplication(const ReplMessage& message) {
  const size_t variable = std::visit([](const auto& m) { return VariableBytes(m); }, message);
  return Encode(message, kInitialBuilderBytes + variable);
}

absl::StatusOr<PeerMessage> DecodePeer(std::span<const uint8_t> frame) {
  std::vector<uint8_t> aligned_copy;
  DUET_ASSIGN_OR_RETURN(const fb::Frame* root,
                        VerifyFrame(frame, aligned_copy, kMaxHeartbeatBytes));
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
      return WrongChannel(root->message_type(), "peer");
  }
}

absl::StatusOr<WitnessMessage> DecodeWitness(std::span<const uint8_t> frame) {
  std::vector<uint8_t> aligned_copy;
  DUET_ASSIGN_OR_RETURN(const fb::Frame* root, VerifyFrame(frame, aligned_copy, kMaxFrameBytes));
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
      return WrongChannel(root->message_type(), "witness");
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

absl::StatusOr<ReplMessage> DecodeReplication(std::span<const uint8_t> frame) {
  std::vector<uint8_t> aligned_copy;
  DUET_ASSIGN_OR_RETURN(const fb::Frame* root,
                        VerifyFrame(frame, aligned_copy, kMaxReplicationFrameBytes));
  switch (root->message_type()) {
    case fb::Message::ReplHello:
      return ReadReplication<fb::ReplHello>(*root, ReadReplHello);
    case fb::Message::ReplTargetZones:
      return ReadReplication<fb::ReplTargetZones>(*root, ReadReplTargetZones);
    case fb::Message::ReplWrite:
      return ReadReplication<fb::ReplWrite>(*root, ReadReplWrite);
    case fb::Message::ReplAck:
      return ReadReplication<fb::ReplAck>(*root, ReadReplAck);
    case fb::Message::ResyncBlock:
      return ReadReplication<fb::ResyncBlock>(*root, ReadResyncBlock);
    case fb::Message::ResyncBlockAck:
      return ReadReplication<fb::ResyncBlockAck>(*root, ReadResyncBlockAck);
    case fb::Message::ResyncDone:
      return ReadReplication<fb::ResyncDone>(*root, ReadResyncDone);
    default:
      return WrongChannel(root->message_type(), "replication");
  }
}

}  // namespace duet::wire
