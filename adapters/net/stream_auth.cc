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
constexpr size_t kHelloClusterAt = 8;
constexpr size_t kHelloNonceAt = 16;
constexpr size_t kHelloTagAt = 48;

std::span<const uint8_t, 1> OneByte(const uint8_t& b) { return std::span<const uint8_t, 1>(&b, 1); }

}  // namespace

SealedFrame FrameSealer::Seal(std::span<const uint8_t> head, std::span<const uint8_t> tail) {
  SealedFrame frame;
  uint64_t seq = next_seq_++;
  PutLittleEndian<uint32_t>(frame.header.data(), static_cast<uint32_t>(head.size() + tail.size()));
  PutLittleEndian<uint64_t>(frame.header.data() + 4, seq);
  std::span<const uint8_t> header(frame.header);
  frame.tag = key_.Compute({header.subspan(4, 8), header.subspan(0, 4), head, tail});
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
                                                    std::span<const uint8_t, kTagBytes> tag) {
  std::span<const uint8_t> header(header_);
  const size_t size = head.size() + tail.size();
  if (size != GetLittleEndian<uint32_t>(header_.data())) {
    return Drop{DropReason::kMalformed, "payload length differs from its header"};
  }
  Tag expected = key_.Compute({header.subspan(4, 8), header.subspan(0, 4), head, tail});
  uint64_t seq = GetLittleEndian<uint64_t>(header_.data() + 4);
  if (!TagsEqual(expected, tag)) {
    return Drop{DropReason::kBadTag,
                absl::StrCat("frame ", seq, " (", size, " bytes) fails its HMAC")};
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

StreamHandshake::StreamHandshake(const ClusterKey& key, absl::string_view cluster, NodeIndex self)
    : cluster_key_(key.bytes),
      hello_key_(cluster_key_.Derive({AsBytes("duet stream hello v1"), AsBytes(cluster)})),
      cluster_(cluster),
      cluster_id_(ClusterIdOf(cluster)),
      self_(self) {}

absl::StatusOr<StreamHandshake> StreamHandshake::Begin(const ClusterKey& key,
                                                       absl::string_view cluster, NodeIndex self) {
  StreamHandshake handshake(key, cluster, self);
  if (RAND_bytes(handshake.nonce_.data(), static_cast<int>(handshake.nonce_.size())) != 1) {
    return absl::InternalError("the OpenSSL random generator failed: no connection nonce");
  }
  std::array<uint8_t, kStreamHelloBytes>& h = handshake.hello_;
  std::memcpy(h.data(), kHelloMagic, sizeof kHelloMagic);
  h[4] = kHelloVersion;
  h[kHelloSenderAt] = self;
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
  HmacSha256 send_key = secret.Derive({AsBytes("frames from node "), OneByte(self_)});
  HmacSha256 receive_key = secret.Derive({AsBytes("frames from node "), OneByte(sender)});
  StreamSession session{FrameSealer(std::move(send_key)),
                        FrameOpener(std::move(receive_key), max_payload_bytes), SealedFrame{}};
  session.confirmation = session.sealer.Seal({});
  return session;
}

}  // namespace duet::net
