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
                      const std::string& cluster = "prod",
                      StreamMac best = StreamMac::kChaCha20Poly1305) {
  absl::StatusOr<StreamHandshake> h = StreamHandshake::Begin(key, cluster, self, best);
  EXPECT_TRUE(h.ok());
  return *std::move(h);
}

// Node 0 offering `best0`, node 1 `best1` (kHmacSha256: a build from before the offer).
Pair Connect(StreamMac best0 = StreamMac::kChaCha20Poly1305,
             StreamMac best1 = StreamMac::kChaCha20Poly1305, const ClusterKey& key = TestKey()) {
  StreamHandshake h0 = Begin(0, key, "prod", best0);
  StreamHandshake h1 = Begin(1, key, "prod", best1);
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
  return opener.OpenBody(payload, frame.wire_tag());
}

DropReason ReasonOf(const std::variant<FrameKind, Drop>& result) {
  EXPECT_TRUE(std::holds_alternative<Drop>(result));
  return std::holds_alternative<Drop>(result) ? std::get<Drop>(result).reason
                                              : DropReason::kMalformed;
}

// Each frame test runs with both MACs a connection can negotiate.
class StreamAuthEachMac : public testing::TestWithParam<StreamMac> {};

INSTANTIATE_TEST_SUITE_P(BothMacs, StreamAuthEachMac,
                         testing::Values(StreamMac::kHmacSha256, StreamMac::kChaCha20Poly1305),
                         [](const testing::TestParamInfo<StreamMac>& param) {
                           return param.param == StreamMac::kHmacSha256 ? "HmacSha256"
                                                                        : "ChaCha20Poly1305";
                         });

TEST_P(StreamAuthEachMac, ConfirmationThenFramesFlowBothWays) {
  Pair p = Connect(GetParam(), GetParam());
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

TEST_P(StreamAuthEachMac, ForgedPayloadFailsTheTag) {
  Pair p = Connect(GetParam(), GetParam());
  Deliver(p.node1.opener, p.node0.confirmation, {});
  std::vector<uint8_t> data = Bytes("write 4096 bytes at 0");
  SealedFrame frame = p.node0.sealer.Seal(data);
  data[0] ^= 1;
  EXPECT_EQ(ReasonOf(Deliver(p.node1.opener, frame, data)), DropReason::kBadTag);
}

TEST_P(StreamAuthEachMac, ReplayedFrameIsDropped) {
  Pair p = Connect(GetParam(), GetParam());
  Deliver(p.node1.opener, p.node0.confirmation, {});
  std::vector<uint8_t> data = Bytes("once");
  SealedFrame frame = p.node0.sealer.Seal(data);
  EXPECT_TRUE(std::holds_alternative<FrameKind>(Deliver(p.node1.opener, frame, data)));
  EXPECT_EQ(ReasonOf(Deliver(p.node1.opener, frame, data)), DropReason::kReplayed);
}

TEST_P(StreamAuthEachMac, ReorderedFrameIsDropped) {
  Pair p = Connect(GetParam(), GetParam());
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

TEST_P(StreamAuthEachMac, FrameFromAnEarlierConnectionFailsOnANewOne) {
  Pair first = Connect(GetParam(), GetParam());
  std::vector<uint8_t> data = Bytes("recorded by an attacker");
  SealedFrame recorded = first.node0.sealer.Seal(data);  // frame 1 of the first connection
  Pair second = Connect(GetParam(), GetParam());
  Deliver(second.node1.opener, second.node0.confirmation, {});
  EXPECT_EQ(ReasonOf(Deliver(second.node1.opener, recorded, data)), DropReason::kBadTag);
}

TEST_P(StreamAuthEachMac, ConfirmationFromAnEarlierConnectionFailsOnANewOne) {
  Pair first = Connect(GetParam(), GetParam());
  Pair second = Connect(GetParam(), GetParam());
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

TEST_P(StreamAuthEachMac, FrameCannotBeReflectedToItsSender) {
  Pair p = Connect(GetParam(), GetParam());
  Deliver(p.node0.opener, p.node1.confirmation, {});
  std::vector<uint8_t> data = Bytes("from node 0");
  SealedFrame frame = p.node0.sealer.Seal(data);
  EXPECT_EQ(ReasonOf(Deliver(p.node0.opener, frame, data)), DropReason::kBadTag);
}

TEST_P(StreamAuthEachMac, FrameSealedUnderAnotherClusterKeyFailsTheTag) {
  Pair ours = Connect(GetParam(), GetParam());
  Pair theirs = Connect(GetParam(), GetParam(), TestKey(99));
  Deliver(ours.node1.opener, ours.node0.confirmation, {});
  std::vector<uint8_t> data = Bytes("write 1 byte");
  SealedFrame forged = theirs.node0.sealer.Seal(data);  // frame 1, as the opener expects
  EXPECT_EQ(ReasonOf(Deliver(ours.node1.opener, forged, data)), DropReason::kBadTag);
}

TEST_P(StreamAuthEachMac, EveryFlippedBitOfSequencePayloadOrTagFailsTheTag) {
  const std::vector<uint8_t> data = Bytes("truncate f to 0");
  const size_t tag_bytes = GetParam() == StreamMac::kHmacSha256 ? 32 : 16;
  // Bytes 0 to 3 (the length) are left out: a changed length is refused before the tag.
  for (size_t bit = 8 * 4; bit < 8 * (kFrameHeaderBytes + data.size() + tag_bytes); ++bit) {
    Pair p = Connect(GetParam(), GetParam());  // an opener is not used after a drop
    Deliver(p.node1.opener, p.node0.confirmation, {});
    SealedFrame frame = p.node0.sealer.Seal(data);
    ASSERT_EQ(frame.tag_bytes, tag_bytes);
    std::vector<uint8_t> payload = data;
    const size_t byte = bit / 8;
    const auto mask = static_cast<uint8_t>(1u << (bit % 8));
    if (byte < kFrameHeaderBytes) {
      frame.header[byte] ^= mask;
    } else if (byte < kFrameHeaderBytes + data.size()) {
      payload[byte - kFrameHeaderBytes] ^= mask;
    } else {
      frame.tag[byte - kFrameHeaderBytes - data.size()] ^= mask;
    }
    EXPECT_EQ(ReasonOf(Deliver(p.node1.opener, frame, payload)), DropReason::kBadTag)
        << "bit " << bit;
  }
}

TEST_P(StreamAuthEachMac, HowAPayloadIsCutDoesNotChangeItsTag) {
  Pair p = Connect(GetParam(), GetParam());
  Deliver(p.node1.opener, p.node0.confirmation, {});
  std::vector<uint8_t> data(100000, 'd');
  data[0] = 'h';
  std::span<const uint8_t> whole(data);
  SealedFrame frame = p.node0.sealer.Seal(whole.first(10), whole.subspan(10));
  ASSERT_TRUE(std::holds_alternative<uint32_t>(p.node1.opener.OpenHeader(frame.header)));
  auto kind = p.node1.opener.OpenBody(whole.first(99999), whole.subspan(99999), frame.wire_tag());
  EXPECT_EQ(std::get<FrameKind>(kind), FrameKind::kData);
}

TEST(StreamAuth, BothOfferingItTheyAgreeOnChaCha20Poly1305) {
  Pair p = Connect();
  EXPECT_EQ(p.node0.mac, StreamMac::kChaCha20Poly1305);
  EXPECT_EQ(p.node1.mac, StreamMac::kChaCha20Poly1305);
  EXPECT_EQ(p.node0.confirmation.tag_bytes, 16u);
  EXPECT_EQ(p.node1.opener.tag_bytes(), 16u);
}

// A build from before the offer writes zero in its place: a newer peer keeps HMAC-SHA256 with
// it, whichever node is the older, and frames flow both ways.
TEST(StreamAuth, AnOlderPeerOnEitherSideKeepsHmacSha256) {
  for (bool node0_is_older : {true, false}) {
    Pair p = node0_is_older ? Connect(StreamMac::kHmacSha256, StreamMac::kChaCha20Poly1305)
                            : Connect(StreamMac::kChaCha20Poly1305, StreamMac::kHmacSha256);
    EXPECT_EQ(p.node0.mac, StreamMac::kHmacSha256);
    EXPECT_EQ(p.node1.mac, StreamMac::kHmacSha256);
    EXPECT_EQ(p.node0.confirmation.tag_bytes, kTagBytes);
    EXPECT_EQ(std::get<FrameKind>(Deliver(p.node1.opener, p.node0.confirmation, {})),
              FrameKind::kConfirmation);
    EXPECT_EQ(std::get<FrameKind>(Deliver(p.node0.opener, p.node1.confirmation, {})),
              FrameKind::kConfirmation);
    std::vector<uint8_t> data = Bytes("replicated bytes");
    EXPECT_EQ(std::get<FrameKind>(Deliver(p.node1.opener, p.node0.sealer.Seal(data), data)),
              FrameKind::kData);
    EXPECT_EQ(std::get<FrameKind>(Deliver(p.node0.opener, p.node1.sealer.Seal(data), data)),
              FrameKind::kData);
  }
}

// An attacker who clears the offer in a hello, to force the slower MAC, breaks its tag.
TEST(StreamAuth, AHelloWithItsOfferStrippedFailsItsTag) {
  StreamHandshake h0 = Begin(0);
  StreamHandshake h1 = Begin(1);
  std::array<uint8_t, kStreamHelloBytes> stripped = h0.hello();
  ASSERT_EQ(stripped[6], 1);
  stripped[6] = 0;
  auto s1 = h1.Complete(stripped, 0, kCap);
  ASSERT_TRUE(std::holds_alternative<Drop>(s1));
  EXPECT_EQ(std::get<Drop>(s1).reason, DropReason::kBadTag);
}

// The same payload under the same key gives another tag for each frame: the sequence number is
// the nonce, so no two frames of a connection share one.
TEST(StreamAuth, ChaCha20Poly1305TagsDifferPerFrameForTheSamePayload) {
  Pair p = Connect();
  std::vector<uint8_t> data = Bytes("same");
  SealedFrame first = p.node0.sealer.Seal(data);
  SealedFrame second = p.node0.sealer.Seal(data);
  EXPECT_NE(first.tag, second.tag);
}

}  // namespace
}  // namespace duet::net
