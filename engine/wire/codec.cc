#include "engine/wire/codec.h"

#include <algorithm>
#include <cstdint>
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
// Tables nest Frame > message > ModuleView: 3 deep. A little slack, no more.
constexpr uoffset_t kMaxVerifyDepth = 8;
// A heartbeat holds 2 + (its modules) tables. The verifier counts every table it visits, so
// this also bounds the work on a hostile frame whose offsets all point at one table. The
// slack above kMaxModules lets a frame with a few too many modules fail with a clear
// "exceeds limit" error instead of a bare verification failure.
constexpr uoffset_t kMaxVerifyTables = 2 * kMaxModules + 16;
// Widest scalar in the schema (ulong/long): FlatBuffers reads scalars in place.
constexpr size_t kFrameAlignment = alignof(uint64_t);
// Initial builder buffer: a heartbeat with a handful of modules fits without regrowth.
constexpr size_t kInitialBuilderBytes = 512;

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
                                         view.pinned));
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
  const auto body = fb::CreateLeaseRequest(builder, request.from, name, request.request_id);
  return {fb::Message::LeaseRequest, body.Union()};
}

Body BuildBody(FlatBufferBuilder& builder, const LeaseReply& reply) {
  const auto name = builder.CreateString(reply.module);
  const auto body = fb::CreateLeaseReply(builder, name, reply.request_id, reply.granted,
                                         reply.duration_ns, reply.holder);
  return {fb::Message::LeaseReply, body.Union()};
}

template <typename Variant>
std::vector<uint8_t> Encode(const Variant& message) {
  // A fresh builder (one heap buffer) per frame: frames are small and this costs little next
  // to the HMAC and the send. If a hot path ever encodes many frames here (e.g. replication
  // data), keep one builder per connection, Clear() it between frames and encode into the
  // caller's buffer to save the copy below.
  FlatBufferBuilder builder(kInitialBuilderBytes);
  const Body body = std::visit([&](const auto& m) { return BuildBody(builder, m); }, message);
  const auto frame = fb::CreateFrame(builder, kWireVersion, body.type, body.offset);
  fb::FinishSizePrefixedFrameBuffer(builder, frame);
  const uint8_t* data = builder.GetBufferPointer();
  return std::vector<uint8_t>(data, data + builder.GetSize());
}

// ----- Decoding -------------------------------------------------------------------------

// Size limit, size prefix, identifier, structure (Verifier) and version. On success the
// returned root points into `frame` or, if `frame` is not aligned for in-place reads, into
// `aligned_copy`, which must outlive every use of the root.
absl::StatusOr<const fb::Frame*> VerifyFrame(std::span<const uint8_t> frame,
                                             std::vector<uint8_t>& aligned_copy) {
  // First, before any copy or Verifier: the Verifier asserts on buffers of 2 GiB and more, and
  // nothing bigger than the limit deserves any work.
  if (frame.size() > kMaxFrameBytes) {
    return Invalid("frame of %d bytes exceeds limit %d", frame.size(), kMaxFrameBytes);
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

// Rejections common to both decoders; `channel` names the decoder in errors.
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
  }
  return Invalid("unknown message type %d", static_cast<int>(type));
}

}  // namespace

std::vector<uint8_t> EncodePeer(const PeerMessage& message) { return Encode(message); }

std::vector<uint8_t> EncodeWitness(const WitnessMessage& message) { return Encode(message); }

absl::StatusOr<PeerMessage> DecodePeer(std::span<const uint8_t> frame) {
  std::vector<uint8_t> aligned_copy;
  DUET_ASSIGN_OR_RETURN(const fb::Frame* root, VerifyFrame(frame, aligned_copy));
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
  DUET_ASSIGN_OR_RETURN(const fb::Frame* root, VerifyFrame(frame, aligned_copy));
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

}  // namespace duet::wire
