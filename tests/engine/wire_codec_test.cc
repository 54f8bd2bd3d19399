#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/messages.h"
#include "engine/rng.h"
#include "engine/types.h"
#include "engine/wire/codec.h"
#include "engine/wire/duet_generated.h"
#include "flatbuffers/flatbuffers.h"

namespace duet::wire {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

// ----- Helpers ------------------------------------------------------------------------------

// The status is InvalidArgument and its message contains `fragment`.
template <typename T>
::testing::AssertionResult FailsWith(const absl::StatusOr<T>& result, std::string_view fragment) {
  if (result.ok()) return ::testing::AssertionFailure() << "decoded, expected: " << fragment;
  const absl::Status& status = result.status();
  const std::string message(status.message());
  if (status.code() != absl::StatusCode::kInvalidArgument) {
    return ::testing::AssertionFailure() << "wrong code: " << status.ToString();
  }
  if (message.find(fragment) == std::string::npos) {
    return ::testing::AssertionFailure()
           << "message \"" << message << "\" lacks \"" << fragment << "\"";
  }
  return ::testing::AssertionSuccess();
}

ModuleView View(std::string name, ModuleState state, DataState data, uint8_t sync_percent,
                uint64_t term, NodeIndex owner, bool eligible) {
  ModuleView view;
  view.module = std::move(name);
  view.state = state;
  view.data = data;
  view.sync_percent = sync_percent;
  view.term = term;
  view.owner = owner;
  view.eligible = eligible;
  view.pinned = !eligible;
  return view;
}

// A heartbeat whose every field differs from its default, with `modules` module views that
// cover every state and data state.
Heartbeat BusyHeartbeat(size_t modules) {
  Heartbeat heartbeat;
  heartbeat.from = 1;
  heartbeat.incarnation = 0x0123456789abcdefULL;
  heartbeat.seq = 0xfedcba9876543210ULL;
  heartbeat.sent_at_ns = 1'234'567'890'123;
  heartbeat.echo_sent_at_ns = 987'654'321;
  for (size_t i = 0; i < modules; ++i) {
    heartbeat.modules.push_back(View("module-" + std::to_string(i), static_cast<ModuleState>(i % 5),
                                     static_cast<DataState>(i % 4), static_cast<uint8_t>(i % 101),
                                     UINT64_MAX - i, static_cast<NodeIndex>(i % 2), i % 3 == 0));
  }
  return heartbeat;
}

SwapRequest BusySwapRequest() {
  SwapRequest request;
  request.from = 1;
  request.module = "db";
  request.term = 77;
  return request;
}

LeaseRequest BusyLeaseRequest() {
  LeaseRequest request;
  request.from = 1;
  request.module = "web";
  request.request_id = 0xdeadbeefcafeULL;
  return request;
}

LeaseReply BusyLeaseReply() {
  LeaseReply reply;
  reply.module = "mail";
  reply.request_id = 42;
  reply.granted = true;
  reply.duration_ns = 6'000'000'000;
  reply.holder = 1;
  return reply;
}

// The decoded message is one the codec stands behind: it satisfies the documented invariants
// and survives another round trip unchanged.
void ExpectSane(const PeerMessage& message) {
  if (const auto* heartbeat = std::get_if<Heartbeat>(&message)) {
    EXPECT_LE(heartbeat->from, 1);
    EXPECT_GE(heartbeat->echo_sent_at_ns, -1);
    EXPECT_LE(heartbeat->modules.size(), kMaxModules);
    for (const ModuleView& view : heartbeat->modules) {
      EXPECT_FALSE(view.module.empty());
      EXPECT_LE(view.module.size(), kMaxModuleNameBytes);
      EXPECT_LE(static_cast<int>(view.state), static_cast<int>(ModuleState::kSecond));
      EXPECT_LE(static_cast<int>(view.data), static_cast<int>(DataState::kUpToDate));
      EXPECT_LE(view.sync_percent, 100);
      EXPECT_LE(view.owner, 1);
    }
  } else {
    const auto& request = std::get<SwapRequest>(message);
    EXPECT_LE(request.from, 1);
    EXPECT_FALSE(request.module.empty());
  }
  const absl::StatusOr<PeerMessage> again = DecodePeer(EncodePeer(message));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, message);
}

void ExpectSane(const WitnessMessage& message) {
  if (const auto* request = std::get_if<LeaseRequest>(&message)) {
    EXPECT_LE(request->from, 1);
    EXPECT_FALSE(request->module.empty());
  } else {
    const auto& reply = std::get<LeaseReply>(message);
    EXPECT_LE(reply.holder, 1);
    EXPECT_GE(reply.duration_ns, 0);
    EXPECT_FALSE(reply.module.empty());
  }
  const absl::StatusOr<WitnessMessage> again = DecodeWitness(EncodeWitness(message));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, message);
}

// Feeds `frame` to both decoders; whatever they accept must be sane.
void DecodeBothExpectNoHarm(std::span<const uint8_t> frame) {
  if (const auto peer = DecodePeer(frame); peer.ok()) ExpectSane(*peer);
  if (const auto witness = DecodeWitness(frame); witness.ok()) ExpectSane(*witness);
}

void WriteSizePrefix(std::vector<uint8_t>& frame) {
  const auto prefix = static_cast<flatbuffers::uoffset_t>(frame.size() - 4);
  flatbuffers::WriteScalar(frame.data(), prefix);
}

// Finishes a hand-built frame the way the codec does, with any version and message type.
std::vector<uint8_t> FinishFrame(FlatBufferBuilder& builder, fb::Message type, Offset<void> body,
                                 uint16_t version = kWireVersion) {
  const auto frame = fb::CreateFrame(builder, version, type, body);
  fb::FinishSizePrefixedFrameBuffer(builder, frame);
  return std::vector<uint8_t>(builder.GetBufferPointer(),
                              builder.GetBufferPointer() + builder.GetSize());
}

// A hand-built heartbeat frame holding the given module views.
std::vector<uint8_t> HandHeartbeat(FlatBufferBuilder& builder,
                                   const std::vector<Offset<fb::ModuleView>>& views,
                                   uint8_t from = 0, int64_t echo_sent_at_ns = -1) {
  const auto modules = builder.CreateVector(views);
  const auto body = fb::CreateHeartbeat(builder, from, 1, 2, 3, echo_sent_at_ns, modules);
  return FinishFrame(builder, fb::Message::Heartbeat, body.Union());
}

// ----- Round trips --------------------------------------------------------------------------

TEST(WireCodecTest, HeartbeatWithHundredModulesRoundTrips) {
  const PeerMessage message = BusyHeartbeat(100);
  const std::vector<uint8_t> frame = EncodePeer(message);
  const absl::StatusOr<PeerMessage> decoded = DecodePeer(frame);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, message);
}

TEST(WireCodecTest, HeartbeatWithDefaultsAndNoModulesRoundTrips) {
  const PeerMessage message = Heartbeat{};
  const absl::StatusOr<PeerMessage> decoded = DecodePeer(EncodePeer(message));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, message);
  EXPECT_EQ(std::get<Heartbeat>(*decoded).echo_sent_at_ns, -1);
}

TEST(WireCodecTest, SwapRequestRoundTrips) {
  const PeerMessage message = BusySwapRequest();
  const absl::StatusOr<PeerMessage> decoded = DecodePeer(EncodePeer(message));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, message);
}

TEST(WireCodecTest, LeaseRequestRoundTrips) {
  const WitnessMessage message = BusyLeaseRequest();
  const absl::StatusOr<WitnessMessage> decoded = DecodeWitness(EncodeWitness(message));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, message);
}

TEST(WireCodecTest, GrantedAndRefusedLeaseRepliesRoundTrip) {
  LeaseReply refused = BusyLeaseReply();
  refused.granted = false;
  refused.duration_ns = 0;
  for (const WitnessMessage& message :
       {WitnessMessage(BusyLeaseReply()), WitnessMessage(refused)}) {
    const absl::StatusOr<WitnessMessage> decoded = DecodeWitness(EncodeWitness(message));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, message);
  }
}

TEST(WireCodecTest, FrameAtUnalignedAddressDecodes) {
  const PeerMessage message = BusyHeartbeat(3);
  const std::vector<uint8_t> frame = EncodePeer(message);
  std::vector<uint8_t> shifted(frame.size() + 1);
  std::memcpy(shifted.data() + 1, frame.data(), frame.size());
  const absl::StatusOr<PeerMessage> decoded =
      DecodePeer(std::span<const uint8_t>(shifted).subspan(1));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, message);
}

TEST(WireCodecTest, LargestValidHeartbeatFitsFrameLimit) {
  Heartbeat heartbeat = BusyHeartbeat(kMaxModules);
  for (size_t i = 0; i < heartbeat.modules.size(); ++i) {
    std::string name = std::to_string(i) + "-";
    name.resize(kMaxModuleNameBytes, 'x');
    heartbeat.modules[i].module = std::move(name);
  }
  const std::vector<uint8_t> frame = EncodePeer(heartbeat);
  EXPECT_LE(frame.size(), kMaxFrameBytes);
  const absl::StatusOr<PeerMessage> decoded = DecodePeer(frame);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, PeerMessage(heartbeat));
}

// ----- Frame-level rejections ---------------------------------------------------------------

TEST(WireCodecTest, OversizedFrameRejectedBeforeVerification) {
  // A valid frame padded with unused bytes (its size prefix rewritten to match) still verifies:
  // at exactly the limit it decodes, so only the size check can reject it one step above.
  std::vector<uint8_t> frame = EncodePeer(BusyHeartbeat(2));
  frame.resize(kMaxFrameBytes);
  WriteSizePrefix(frame);
  EXPECT_TRUE(DecodePeer(frame).ok());

  frame.resize(2'000'000);
  WriteSizePrefix(frame);
  EXPECT_TRUE(FailsWith(DecodePeer(frame), "frame of 2000000 bytes exceeds limit 1048576"));
  EXPECT_TRUE(FailsWith(DecodeWitness(frame), "frame of 2000000 bytes exceeds limit 1048576"));
}

TEST(WireCodecTest, TruncatedFrameRejected) {
  const std::vector<PeerMessage> messages = {BusyHeartbeat(100), BusySwapRequest()};
  for (const PeerMessage& message : messages) {
    const std::vector<uint8_t> frame = EncodePeer(message);
    for (size_t length = 0; length <= frame.size(); ++length) {
      SCOPED_TRACE(length);
      // A fresh copy of exactly `length` bytes, so ASan catches any read past it.
      const std::vector<uint8_t> prefix(frame.begin(), frame.begin() + length);
      const absl::StatusOr<PeerMessage> decoded = DecodePeer(prefix);
      if (length == frame.size()) {
        ASSERT_TRUE(decoded.ok()) << decoded.status();
        EXPECT_EQ(*decoded, message);
      } else if (length < 12) {
        EXPECT_TRUE(FailsWith(decoded, "is shorter than the minimum 12"));
      } else {
        EXPECT_TRUE(FailsWith(decoded, "does not match its size prefix"));
      }
    }
  }
  const std::vector<uint8_t> frame = EncodeWitness(BusyLeaseReply());
  for (size_t length = 0; length < frame.size(); ++length) {
    const std::vector<uint8_t> prefix(frame.begin(), frame.begin() + length);
    EXPECT_FALSE(DecodeWitness(prefix).ok()) << length;
  }
}

TEST(WireCodecTest, TruncatedFrameWithRewrittenSizePrefixNeverCrashes) {
  // Past the size-prefix check, truncation must be caught by the Verifier (or cut only
  // padding, leaving a message that is still whole).
  const std::vector<uint8_t> frame = EncodePeer(BusyHeartbeat(20));
  int verification_failures = 0;
  for (size_t length = 4; length < frame.size(); ++length) {
    std::vector<uint8_t> prefix(frame.begin(), frame.begin() + length);
    WriteSizePrefix(prefix);
    const absl::StatusOr<PeerMessage> decoded = DecodePeer(prefix);
    if (decoded.ok()) {
      ExpectSane(*decoded);
    } else if (decoded.status().message() == "frame failed verification") {
      ++verification_failures;
    }
  }
  EXPECT_GT(verification_failures, 0);
}

TEST(WireCodecTest, TrailingBytesRejected) {
  std::vector<uint8_t> frame = EncodePeer(BusySwapRequest());
  const size_t size = frame.size();
  frame.push_back(0);
  EXPECT_TRUE(FailsWith(DecodePeer(frame), "frame of " + std::to_string(size + 1) +
                                               " bytes does not match its size prefix (" +
                                               std::to_string(size - 4) + " + 4 bytes)"));
}

TEST(WireCodecTest, ForeignIdentifierRejected) {
  std::vector<uint8_t> frame = EncodePeer(BusySwapRequest());
  frame[8] = 'X';  // after the size prefix and the root offset
  EXPECT_TRUE(FailsWith(DecodePeer(frame), "frame does not carry the 'DUET' identifier"));
}

TEST(WireCodecTest, UnsupportedVersionRejected) {
  for (uint16_t version : {uint16_t{0}, uint16_t{kWireVersion + 1}}) {
    FlatBufferBuilder builder;
    const auto name = builder.CreateString("db");
    const auto body = fb::CreateSwapRequest(builder, 0, name, 1);
    const std::vector<uint8_t> frame =
        FinishFrame(builder, fb::Message::SwapRequest, body.Union(), version);
    EXPECT_TRUE(FailsWith(DecodePeer(frame), "unsupported wire version " + std::to_string(version) +
                                                 " (this build speaks " +
                                                 std::to_string(kWireVersion) + ")"));
  }
}

TEST(WireCodecTest, WitnessFrameRejectedByPeerDecoder) {
  EXPECT_TRUE(FailsWith(DecodePeer(EncodeWitness(BusyLeaseRequest())),
                        "witness message LeaseRequest given to the peer decoder"));
  EXPECT_TRUE(FailsWith(DecodePeer(EncodeWitness(BusyLeaseReply())),
                        "witness message LeaseReply given to the peer decoder"));
}

TEST(WireCodecTest, PeerFrameRejectedByWitnessDecoder) {
  EXPECT_TRUE(FailsWith(DecodeWitness(EncodePeer(BusyHeartbeat(1))),
                        "peer message Heartbeat given to the witness decoder"));
  EXPECT_TRUE(FailsWith(DecodeWitness(EncodePeer(BusySwapRequest())),
                        "peer message SwapRequest given to the witness decoder"));
}

TEST(WireCodecTest, UnknownMessageTypeRejected) {
  // The Verifier lets unknown union types through (forward compatibility); the codec must not.
  FlatBufferBuilder builder;
  const auto name = builder.CreateString("db");
  const auto body = fb::CreateSwapRequest(builder, 0, name, 1);
  const std::vector<uint8_t> frame =
      FinishFrame(builder, static_cast<fb::Message>(7), body.Union());
  EXPECT_TRUE(FailsWith(DecodePeer(frame), "unknown message type 7"));
  EXPECT_TRUE(FailsWith(DecodeWitness(frame), "unknown message type 7"));
}

TEST(WireCodecTest, FrameWithoutMessageRejected) {
  FlatBufferBuilder builder;
  const std::vector<uint8_t> frame = FinishFrame(builder, fb::Message::NONE, 0);
  EXPECT_TRUE(FailsWith(DecodePeer(frame), "frame carries no message"));
  EXPECT_TRUE(FailsWith(DecodeWitness(frame), "frame carries no message"));
}

TEST(WireCodecTest, MessageTypeWithoutBodyRejected) {
  FlatBufferBuilder builder;
  const std::vector<uint8_t> frame = FinishFrame(builder, fb::Message::Heartbeat, 0);
  EXPECT_TRUE(FailsWith(DecodePeer(frame), "Heartbeat message without a body"));
  FlatBufferBuilder witness_builder;
  const std::vector<uint8_t> witness_frame =
      FinishFrame(witness_builder, fb::Message::LeaseReply, 0);
  EXPECT_TRUE(FailsWith(DecodeWitness(witness_frame), "LeaseReply message without a body"));
}

TEST(WireCodecTest, TableFloodRejectedByVerifier) {
  // 100k vector entries all pointing at one table: small on the wire, but the Verifier's table
  // budget stops it long before 100k table checks.
  FlatBufferBuilder builder;
  const auto name = builder.CreateString("db");
  const auto view = fb::CreateModuleView(builder, name);
  const std::vector<Offset<fb::ModuleView>> views(100'000, view);
  const std::vector<uint8_t> frame = HandHeartbeat(builder, views);
  ASSERT_LE(frame.size(), kMaxFrameBytes);
  EXPECT_TRUE(FailsWith(DecodePeer(frame), "frame failed verification"));
}

// ----- Semantic rejections ------------------------------------------------------------------

TEST(WireCodecTest, OutOfRangeEnumRejected) {
  {
    FlatBufferBuilder builder;
    const auto name = builder.CreateString("db");
    const auto view = fb::CreateModuleView(builder, name, static_cast<fb::ModuleState>(9));
    EXPECT_TRUE(FailsWith(DecodePeer(HandHeartbeat(builder, {view})),
                          "module view 'db' has unknown state 9"));
  }
  {
    FlatBufferBuilder builder;
    const auto name = builder.CreateString("db");
    const auto view =
        fb::CreateModuleView(builder, name, fb::ModuleState::Prim, static_cast<fb::DataState>(200));
    EXPECT_TRUE(FailsWith(DecodePeer(HandHeartbeat(builder, {view})),
                          "module view 'db' has unknown data state 200"));
  }
}

TEST(WireCodecTest, NodeIndexOutOfRangeRejected) {
  Heartbeat heartbeat = BusyHeartbeat(1);
  heartbeat.from = 2;
  EXPECT_TRUE(
      FailsWith(DecodePeer(EncodePeer(heartbeat)), "Heartbeat sender node index 2 is not 0 or 1"));
  heartbeat = BusyHeartbeat(1);
  heartbeat.modules[0].owner = 255;
  EXPECT_TRUE(FailsWith(DecodePeer(EncodePeer(heartbeat)),
                        "module view owner node index 255 is not 0 or 1"));
  SwapRequest swap = BusySwapRequest();
  swap.from = 7;
  EXPECT_TRUE(
      FailsWith(DecodePeer(EncodePeer(swap)), "SwapRequest sender node index 7 is not 0 or 1"));
  LeaseRequest request = BusyLeaseRequest();
  request.from = 2;
  EXPECT_TRUE(FailsWith(DecodeWitness(EncodeWitness(request)),
                        "LeaseRequest sender node index 2 is not 0 or 1"));
  LeaseReply reply = BusyLeaseReply();
  reply.holder = 3;
  EXPECT_TRUE(FailsWith(DecodeWitness(EncodeWitness(reply)),
                        "LeaseReply holder node index 3 is not 0 or 1"));
}

TEST(WireCodecTest, EmptyModuleNameRejected) {
  Heartbeat heartbeat = BusyHeartbeat(2);
  heartbeat.modules[1].module.clear();
  EXPECT_TRUE(FailsWith(DecodePeer(EncodePeer(heartbeat)), "module view with empty name"));
  SwapRequest swap = BusySwapRequest();
  swap.module.clear();
  EXPECT_TRUE(FailsWith(DecodePeer(EncodePeer(swap)), "SwapRequest with empty name"));
  LeaseRequest request = BusyLeaseRequest();
  request.module.clear();
  EXPECT_TRUE(FailsWith(DecodeWitness(EncodeWitness(request)), "LeaseRequest with empty name"));
  LeaseReply reply = BusyLeaseReply();
  reply.module.clear();
  EXPECT_TRUE(FailsWith(DecodeWitness(EncodeWitness(reply)), "LeaseReply with empty name"));
}

TEST(WireCodecTest, MissingModuleNameRejected) {
  {
    FlatBufferBuilder builder;
    const auto view = fb::CreateModuleView(builder);  // no name field at all
    EXPECT_TRUE(
        FailsWith(DecodePeer(HandHeartbeat(builder, {view})), "module view without a name"));
  }
  {
    FlatBufferBuilder builder;
    const auto body = fb::CreateLeaseRequest(builder, 0, 0, 5);
    EXPECT_TRUE(
        FailsWith(DecodeWitness(FinishFrame(builder, fb::Message::LeaseRequest, body.Union())),
                  "LeaseRequest without a name"));
  }
}

TEST(WireCodecTest, OverlongModuleNameRejected) {
  SwapRequest swap = BusySwapRequest();
  swap.module.assign(kMaxModuleNameBytes, 'a');
  EXPECT_TRUE(DecodePeer(EncodePeer(swap)).ok());
  swap.module.push_back('a');
  EXPECT_TRUE(FailsWith(DecodePeer(EncodePeer(swap)),
                        "SwapRequest with a name of 129 bytes exceeds limit 128"));
}

TEST(WireCodecTest, ModuleNameBytesAreEscapedInErrors) {
  FlatBufferBuilder builder;
  const auto name = builder.CreateString(std::string("a\nb\0c", 5));
  const auto view = fb::CreateModuleView(builder, name, static_cast<fb::ModuleState>(5));
  EXPECT_TRUE(FailsWith(DecodePeer(HandHeartbeat(builder, {view})),
                        "module view 'a\\nb\\x00\\x63' has unknown state 5"));
}

TEST(WireCodecTest, TooManyModulesRejected) {
  const Heartbeat heartbeat = BusyHeartbeat(kMaxModules + 1);
  EXPECT_TRUE(FailsWith(DecodePeer(EncodePeer(heartbeat)),
                        "heartbeat with 4097 modules exceeds limit 4096"));
}

TEST(WireCodecTest, DuplicateModuleRejected) {
  Heartbeat heartbeat = BusyHeartbeat(5);
  heartbeat.modules[4].module = heartbeat.modules[1].module;
  EXPECT_TRUE(
      FailsWith(DecodePeer(EncodePeer(heartbeat)), "heartbeat lists module 'module-1' twice"));
}

TEST(WireCodecTest, SyncPercentAboveHundredRejected) {
  Heartbeat heartbeat = BusyHeartbeat(1);
  heartbeat.modules[0].sync_percent = 101;
  EXPECT_TRUE(FailsWith(DecodePeer(EncodePeer(heartbeat)),
                        "module view 'module-0' has sync_percent 101 above 100"));
}

TEST(WireCodecTest, EchoBelowMinusOneRejected) {
  Heartbeat heartbeat = BusyHeartbeat(1);
  heartbeat.echo_sent_at_ns = -2;
  EXPECT_TRUE(
      FailsWith(DecodePeer(EncodePeer(heartbeat)), "Heartbeat echo_sent_at_ns -2 is below -1"));
}

TEST(WireCodecTest, NegativeLeaseDurationRejected) {
  LeaseReply reply = BusyLeaseReply();
  reply.duration_ns = -1;
  EXPECT_TRUE(
      FailsWith(DecodeWitness(EncodeWitness(reply)), "LeaseReply with negative duration_ns -1"));
}

// ----- Hostile input ------------------------------------------------------------------------

TEST(WireCodecTest, RandomBytesNeverCrash) {
  // Raw random bytes almost never get past the size prefix, so two thirds of the buffers get a
  // matching size prefix, and half of those the identifier too, to reach the Verifier.
  Rng rng(20261125);
  for (int i = 0; i < 100'000; ++i) {
    const size_t length = rng.Chance(0.05) ? rng.Below(8192) : rng.Below(256);
    std::vector<uint8_t> buffer(length);
    for (uint8_t& byte : buffer) byte = static_cast<uint8_t>(rng.Next());
    const uint64_t mode = rng.Below(3);
    if (mode >= 1 && length >= 4) WriteSizePrefix(buffer);
    if (mode == 2 && length >= 12) std::memcpy(buffer.data() + 8, "DUET", 4);
    DecodeBothExpectNoHarm(buffer);
  }
}

TEST(WireCodecTest, RandomEditsOfValidFramesNeverCrash) {
  const std::vector<std::vector<uint8_t>> frames = {
      EncodePeer(BusyHeartbeat(4)), EncodePeer(BusySwapRequest()),
      EncodeWitness(BusyLeaseRequest()), EncodeWitness(BusyLeaseReply())};
  Rng rng(7);
  for (int i = 0; i < 20'000; ++i) {
    std::vector<uint8_t> frame = frames[rng.Below(frames.size())];
    const uint64_t edits = 1 + rng.Below(4);
    // Edit anything after the size prefix, then restore the identifier (bytes 8..11), so the
    // edits reach the Verifier.
    for (uint64_t e = 0; e < edits; ++e) {
      frame[4 + rng.Below(frame.size() - 4)] = static_cast<uint8_t>(rng.Next());
    }
    std::memcpy(frame.data() + 8, "DUET", 4);
    DecodeBothExpectNoHarm(frame);
  }
}

TEST(WireCodecTest, BitFlipsNeverCrash) {
  const std::vector<uint8_t> frame = EncodePeer(BusyHeartbeat(5));
  int accepted = 0;
  for (size_t bit = 0; bit < frame.size() * 8; ++bit) {
    std::vector<uint8_t> flipped = frame;
    flipped[bit / 8] = static_cast<uint8_t>(flipped[bit / 8] ^ (1u << (bit % 8)));
    const absl::StatusOr<PeerMessage> decoded = DecodePeer(flipped);
    if (decoded.ok()) {
      ++accepted;
      ExpectSane(*decoded);
    }
    if (const auto witness = DecodeWitness(flipped); witness.ok()) ExpectSane(*witness);
  }
  // Flips inside scalar fields (seq, term...) leave a valid, different message.
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace duet::wire
