#include "adapters/net/stream_auth.h"

#include <string>
#include <variant>
#include <vector>

#include "adapters/net/hmac.h"
#include "gtest/gtest.h"
#include "net_test_util.h"

namespace duet::net {
namespace {

constexpr size_t kCap = 1 << 20;

struct Pair {
  StreamSession node0;
  StreamSession node1;
};

StreamHandshake Begin(NodeIndex self, const ClusterKey& key = TestKey(),
                      const std::string& cluster = "prod") {
  absl::StatusOr<StreamHandshake> h = StreamHandshake::Begin(key, cluster, self);
  EXPECT_TRUE(h.ok());
  return *std::move(h);
}

Pair Connect() {
  StreamHandshake h0 = Begin(0);
  StreamHandshake h1 = Begin(1);
  auto s0 = h0.Complete(h1.hello(), 1, kCap);
  auto s1 = h1.Complete(h0.hello(), 0, kCap);
  EXPECT_TRUE(std::holds_alternative<StreamSession>(s0));
  EXPECT_TRUE(std::holds_alternative<StreamSession>(s1));
  return Pair{std::get<StreamSession>(std::move(s0)), std::get<StreamSession>(std::move(s1))};
}

std::vector<uint8_t> Bytes(const std::string& text) { return {text.begin(), text.end()}; }

// Feeds one sealed frame to an opener as a stream reader would.
std::variant<FrameKind, Drop> Deliver(FrameOpener& opener, const SealedFrame& frame,
                                      std::span<const uint8_t> payload) {
  auto length = opener.OpenHeader(frame.header);
  if (const Drop* drop = std::get_if<Drop>(&length)) return *drop;
  return opener.OpenBody(payload, frame.tag);
}

DropReason ReasonOf(const std::variant<FrameKind, Drop>& result) {
  EXPECT_TRUE(std::holds_alternative<Drop>(result));
  return std::holds_alternative<Drop>(result) ? std::get<Drop>(result).reason
                                              : DropReason::kMalformed;
}

TEST(StreamAuth, ConfirmationThenFramesFlowBothWays) {
  Pair p = Connect();
  EXPECT_EQ(std::get<FrameKind>(Deliver(p.node1.opener, p.node0.confirmation, {})),
            FrameKind::kConfirmation);
  EXPECT_EQ(std::get<FrameKind>(Deliver(p.node0.opener, p.node1.confirmation, {})),
            FrameKind::kConfirmation);
  std::vector<uint8_t> data = Bytes("replicated bytes");
  SealedFrame frame = p.node0.sealer.Seal(data);
  EXPECT_EQ(std::get<FrameKind>(Deliver(p.node1.opener, frame, data)), FrameKind::kData);
  SealedFrame back = p.node1.sealer.Seal(data);
  EXPECT_EQ(std::get<FrameKind>(Deliver(p.node0.opener, back, data)), FrameKind::kData);
}

TEST(StreamAuth, ForgedPayloadFailsTheTag) {
  Pair p = Connect();
  Deliver(p.node1.opener, p.node0.confirmation, {});
  std::vector<uint8_t> data = Bytes("write 4096 bytes at 0");
  SealedFrame frame = p.node0.sealer.Seal(data);
  data[0] ^= 1;
  EXPECT_EQ(ReasonOf(Deliver(p.node1.opener, frame, data)), DropReason::kBadTag);
}

TEST(StreamAuth, ReplayedFrameIsDropped) {
  Pair p = Connect();
  Deliver(p.node1.opener, p.node0.confirmation, {});
  std::vector<uint8_t> data = Bytes("once");
  SealedFrame frame = p.node0.sealer.Seal(data);
  EXPECT_TRUE(std::holds_alternative<FrameKind>(Deliver(p.node1.opener, frame, data)));
  EXPECT_EQ(ReasonOf(Deliver(p.node1.opener, frame, data)), DropReason::kReplayed);
}

TEST(StreamAuth, ReorderedFrameIsDropped) {
  Pair p = Connect();
  Deliver(p.node1.opener, p.node0.confirmation, {});
  std::vector<uint8_t> data = Bytes("x");
  p.node0.sealer.Seal(data);  // frame 1, never delivered
  SealedFrame second = p.node0.sealer.Seal(data);
  EXPECT_EQ(ReasonOf(Deliver(p.node1.opener, second, data)), DropReason::kReordered);
}

TEST(StreamAuth, OversizedLengthIsRefusedFromTheHeaderAlone) {
  StreamHandshake h0 = Begin(0);
  StreamHandshake h1 = Begin(1);
  auto s1 = h1.Complete(h0.hello(), 0, /*max_payload_bytes=*/100);
  FrameOpener& opener = std::get<StreamSession>(s1).opener;
  FrameHeader header{};
  header[0] = 101;  // length 101, little-endian
  auto length = opener.OpenHeader(header);
  ASSERT_TRUE(std::holds_alternative<Drop>(length));
  EXPECT_EQ(std::get<Drop>(length).reason, DropReason::kOversized);
  header[0] = 100;
  EXPECT_EQ(std::get<uint32_t>(opener.OpenHeader(header)), 100u);
}

TEST(StreamAuth, FrameFromAnEarlierConnectionFailsOnANewOne) {
  Pair first = Connect();
  std::vector<uint8_t> data = Bytes("recorded by an attacker");
  SealedFrame recorded = first.node0.sealer.Seal(data);  // frame 1 of the first connection
  Pair second = Connect();
  Deliver(second.node1.opener, second.node0.confirmation, {});
  EXPECT_EQ(ReasonOf(Deliver(second.node1.opener, recorded, data)), DropReason::kBadTag);
}

TEST(StreamAuth, ConfirmationFromAnEarlierConnectionFailsOnANewOne) {
  Pair first = Connect();
  Pair second = Connect();
  EXPECT_EQ(ReasonOf(Deliver(second.node1.opener, first.node0.confirmation, {})),
            DropReason::kBadTag);
}

TEST(StreamAuth, HelloOfAnotherKeyFailsItsTag) {
  StreamHandshake h0 = Begin(0, TestKey(99));
  StreamHandshake h1 = Begin(1);
  auto s1 = h1.Complete(h0.hello(), 0, kCap);
  ASSERT_TRUE(std::holds_alternative<Drop>(s1));
  EXPECT_EQ(std::get<Drop>(s1).reason, DropReason::kBadTag);
}

TEST(StreamAuth, HelloOfAnotherClusterIsNamed) {
  StreamHandshake h0 = Begin(0, TestKey(), "staging");
  StreamHandshake h1 = Begin(1);
  auto s1 = h1.Complete(h0.hello(), 0, kCap);
  ASSERT_TRUE(std::holds_alternative<Drop>(s1));
  EXPECT_EQ(std::get<Drop>(s1).reason, DropReason::kWrongCluster);
}

TEST(StreamAuth, ReflectedHelloIsRefused) {
  StreamHandshake h0 = Begin(0);
  auto s0 = h0.Complete(h0.hello(), 1, kCap);
  ASSERT_TRUE(std::holds_alternative<Drop>(s0));
  EXPECT_EQ(std::get<Drop>(s0).reason, DropReason::kWrongSender);
}

TEST(StreamAuth, FrameCannotBeReflectedToItsSender) {
  Pair p = Connect();
  Deliver(p.node0.opener, p.node1.confirmation, {});
  std::vector<uint8_t> data = Bytes("from node 0");
  SealedFrame frame = p.node0.sealer.Seal(data);
  EXPECT_EQ(ReasonOf(Deliver(p.node0.opener, frame, data)), DropReason::kBadTag);
}

}  // namespace
}  // namespace duet::net
