#include "adapters/net/stream_auth.h"

#include <openssl/rand.h>

#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "adapters/net/byte_order.h"

namespace duet::net {
namespace {

constexpr uint8_t kHelloMagic[4] = {'D', 'U', 'S', 'H'};
constexpr uint8_t kHelloVersion = 1;
// Hello layout offsets.
constexpr size_t kHelloSenderAt = 5;
constexpr size_t kHelloMacsAt = 6;
// Bits of the offered-MACs byte.
constexpr uint8_t kOffersChaCha20Poly1305 = 1;
constexpr size_t kHelloClusterAt = 8;
constexpr size_t kHelloNonceAt = 16;
constexpr size_t kHelloTagAt = 48;

}  // namespace

SealedFrame FrameSealer::Seal(std::span<const uint8_t> head, std::span<const uint8_t> tail) {
  SealedFrame frame;
  uint64_t seq = next_seq_++;
  PutLittleEndian<uint32_t>(frame.header.data(), static_cast<uint32_t>(head.size() + tail.size()));
  PutLittleEndian<uint64_t>(frame.header.data() + 4, seq);
  std::span<const uint8_t> header(frame.header);
  frame.tag = mac_.Compute(seq, {header.subspan(4, 8), header.subspan(0, 4), head, tail});
  frame.tag_bytes = mac_.tag_bytes();
  return frame;
}

std::variant<uint32_t, Drop> FrameOpener::OpenHeader(
    std::span<const uint8_t, kFrameHeaderBytes> header) {
  std::memcpy(header_.data(), header.data(), kFrameHeaderBytes);
  uint32_t length = GetLittleEndian<uint32_t>(header.data());
  if (length > max_payload_bytes_) {
    return Drop{DropReason::kOversized,
                absl::StrCat("frame announces ", length, " bytes, above the cap of ",
                             max_payload_bytes_, " (body not read)")};
  }
  return length;
}

std::variant<FrameKind, Drop> FrameOpener::OpenBody(std::span<const uint8_t> head,
                                                    std::span<const uint8_t> tail,
                                                    std::span<const uint8_t> tag) {
  std::span<const uint8_t> header(header_);
  const size_t size = head.size() + tail.size();
  if (size != GetLittleEndian<uint32_t>(header_.data())) {
    return Drop{DropReason::kMalformed, "payload length differs from its header"};
  }
  uint64_t seq = GetLittleEndian<uint64_t>(header_.data() + 4);
  if (!mac_.Verify(seq, {header.subspan(4, 8), header.subspan(0, 4), head, tail}, tag)) {
    return Drop{DropReason::kBadTag, absl::StrCat("frame ", seq, " (", size, " bytes) fails its ",
                                                  StreamMacName(mac_.mac()), " tag")};
  }
  if (seq < expected_seq_) {
    return Drop{DropReason::kReplayed,
                absl::StrCat("frame ", seq, " already received (expected ", expected_seq_, ")")};
  }
  if (seq > expected_seq_) {
    return Drop{DropReason::kReordered,
                absl::StrCat("frame ", seq, " arrived before frame ", expected_seq_)};
  }
  ++expected_seq_;
  if (seq == 0) {
    if (size != 0) {
      return Drop{DropReason::kMalformed, "the confirmation frame 0 carries a payload"};
    }
    return FrameKind::kConfirmation;
  }
  return FrameKind::kData;
}

StreamHandshake::StreamHandshake(const ClusterKey& key, absl::string_view cluster, NodeIndex self,
                                 StreamMac best)
    : cluster_key_(key.bytes),
      hello_key_(cluster_key_.Derive({AsBytes("duet stream hello v1"), AsBytes(cluster)})),
      cluster_(cluster),
      cluster_id_(ClusterIdOf(cluster)),
      self_(self),
      best_(best) {}

absl::StatusOr<StreamHandshake> StreamHandshake::Begin(const ClusterKey& key,
                                                       absl::string_view cluster, NodeIndex self,
                                                       StreamMac best) {
  StreamHandshake handshake(key, cluster, self, best);
  if (RAND_bytes(handshake.nonce_.data(), static_cast<int>(handshake.nonce_.size())) != 1) {
    return absl::InternalError("the OpenSSL random generator failed: no connection nonce");
  }
  std::array<uint8_t, kStreamHelloBytes>& h = handshake.hello_;
  std::memcpy(h.data(), kHelloMagic, sizeof kHelloMagic);
  h[4] = kHelloVersion;
  h[kHelloSenderAt] = self;
  h[kHelloMacsAt] = best == StreamMac::kChaCha20Poly1305 ? kOffersChaCha20Poly1305 : 0;
  std::memcpy(h.data() + kHelloClusterAt, handshake.cluster_id_.data(), sizeof(ClusterId));
  std::memcpy(h.data() + kHelloNonceAt, handshake.nonce_.data(), kNonceBytes);
  Tag tag = handshake.hello_key_.Compute({std::span<const uint8_t>(h).first(kHelloTagAt)});
  std::memcpy(h.data() + kHelloTagAt, tag.data(), kTagBytes);
  return handshake;
}

std::variant<StreamSession, Drop> StreamHandshake::Complete(
    std::span<const uint8_t, kStreamHelloBytes> peer_hello, NodeIndex expected_peer,
    size_t max_payload_bytes) const {
  if (std::memcmp(peer_hello.data(), kHelloMagic, sizeof kHelloMagic) != 0) {
    return Drop{DropReason::kMalformed, "the peer's first bytes are not a Duet stream hello"};
  }
  if (peer_hello[4] != kHelloVersion) {
    return Drop{DropReason::kMalformed, absl::StrCat("hello version ", peer_hello[4],
                                                     ", this build speaks ", kHelloVersion)};
  }
  if (std::memcmp(peer_hello.data() + kHelloClusterAt, cluster_id_.data(), sizeof(ClusterId)) !=
      0) {
    return Drop{DropReason::kWrongCluster,
                absl::StrCat("the hello names another cluster than \"", cluster_, "\"")};
  }
  NodeIndex sender = peer_hello[kHelloSenderAt];
  if (sender != expected_peer) {
    return Drop{DropReason::kWrongSender,
                absl::StrCat("hello from node ", sender, ", expected node ", expected_peer,
                             sender == self_ ? " (our own hello reflected)" : "")};
  }
  Tag expected = hello_key_.Compute({peer_hello.first(kHelloTagAt)});
  if (!TagsEqual(expected, peer_hello.subspan<kHelloTagAt, kTagBytes>())) {
    return Drop{DropReason::kBadTag,
                "the hello fails its HMAC (the peer has another cluster key?)"};
  }
  std::span<const uint8_t> peer_nonce = peer_hello.subspan(kHelloNonceAt, kNonceBytes);
  std::span<const uint8_t> own_nonce(nonce_);
  std::span<const uint8_t> nonce0 = self_ == 0 ? own_nonce : peer_nonce;
  std::span<const uint8_t> nonce1 = self_ == 0 ? peer_nonce : own_nonce;
  HmacSha256 secret =
      cluster_key_.Derive({AsBytes("duet stream session v1"), AsBytes(cluster_), nonce0, nonce1});
  // Unknown bits of the peer's offer are MACs of later builds: ignored.
  const StreamMac mac = best_ == StreamMac::kChaCha20Poly1305 &&
                                (peer_hello[kHelloMacsAt] & kOffersChaCha20Poly1305) != 0
                            ? StreamMac::kChaCha20Poly1305
                            : StreamMac::kHmacSha256;
  StreamSession session{FrameSealer(FrameMac::ForSender(mac, secret, self_)),
                        FrameOpener(FrameMac::ForSender(mac, secret, sender), max_payload_bytes),
                        SealedFrame{}, mac};
  session.confirmation = session.sealer.Seal({});
  return session;
}

}  // namespace duet::net
