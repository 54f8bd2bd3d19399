// Authentication of the TCP replication connection, sans-IO: the bytes to write and the checks
// of the bytes read; replication_link.h carries them.
//
// Handshake. Each side writes a hello (kStreamHelloBytes) at once:
//   "DUSH" | version 1 | sender node | offered MACs | zero byte | cluster id (8) | nonce (32) |
//   tag (32),
// tag = HMAC-SHA256(hello key, the 48 bytes before it), hello key = HMAC(cluster key,
// "duet stream hello v1" || cluster name). The nonce is fresh from RAND_bytes per connection.
// "Offered MACs" is a bit set of the frame MACs the sender speaks besides HMAC-SHA256 (bit 0:
// ChaCha20-Poly1305, frame_mac.h); builds before it wrote a zero there and never read it, so
// they offer nothing, and a newer peer falls back to HMAC-SHA256 with them (a rolling
// upgrade works). Each side picks the same MAC from the two hellos: ChaCha20-Poly1305 if both
// offer it, else HMAC-SHA256. The byte is under the hello's tag, so nobody without the key
// can strip the offer and force the slower MAC.
// From both hellos each side derives the connection secret HMAC(cluster key, "duet stream
// session v1" || cluster name || nonce of node 0 || nonce of node 1) and one key per
// direction and MAC (frame_mac.h): a frame cannot be reflected back to its sender, and a
// frame recorded on an earlier connection fails the tag on a new one (its key came from
// other nonces). A replayed hello gets nowhere: its replayer cannot produce the confirmation
// below.
//
// Frames. header (kFrameHeaderBytes) = payload length u32 LE | sequence number u64 LE; then the
// payload; then the tag (32 bytes for HMAC-SHA256, 16 for ChaCha20-Poly1305), the MAC under
// the direction key of seq || length || payload (ChaCha20-Poly1305: with the sequence number
// as its nonce). The reader refuses a length above its cap from the header alone, before
// reading the payload. Sequence numbers start at 0 and grow by one per frame; frame 0 of each
// direction is the key confirmation (empty payload): the connection is established only once
// the peer's verifies. Any dropped frame ends the connection (TCP does not lose or reorder,
// so a bad frame is an attack or a bug); the engine resumes on the next one. The payload may
// be sealed and opened in two parts (a head and a tail, e.g. a frame and the file data that
// follows it), each where it lies: the tag is that of the joined payload, so how a payload is
// cut is no part of the wire.
#ifndef DUET_ADAPTERS_NET_STREAM_AUTH_H_
#define DUET_ADAPTERS_NET_STREAM_AUTH_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adapters/net/cluster_key.h"
#include "adapters/net/frame_mac.h"
#include "adapters/net/hmac.h"
#include "adapters/net/net_counters.h"
#include "engine/types.h"

namespace duet::net {

inline constexpr size_t kStreamHelloBytes = 80;
inline constexpr size_t kNonceBytes = 32;
inline constexpr size_t kFrameHeaderBytes = 12;

using FrameHeader = std::array<uint8_t, kFrameHeaderBytes>;

// What goes around a payload: write header, payload, tag (the payload is not copied).
struct SealedFrame {
  FrameHeader header{};
  Tag tag{};
  size_t tag_bytes = kTagBytes;  // of `tag`, what goes on the wire (the connection's MAC)
  std::span<const uint8_t> wire_tag() const {
    return std::span<const uint8_t>(tag).first(tag_bytes);
  }
  // Bytes the frame adds to its payload on the wire.
  size_t overhead_bytes() const { return kFrameHeaderBytes + tag_bytes; }
};

// Seals the frames one side sends on one connection, numbering them.
class FrameSealer {
 public:
  explicit FrameSealer(FrameMac mac) : mac_(std::move(mac)) {}
  // The payload is `head` then `tail`, at most UINT32_MAX bytes (callers stay far below: the
  // engine's frames are capped).
  SealedFrame Seal(std::span<const uint8_t> head, std::span<const uint8_t> tail = {});
  uint64_t next_seq() const { return next_seq_; }
  StreamMac mac() const { return mac_.mac(); }

 private:
  FrameMac mac_;
  uint64_t next_seq_ = 0;
};

enum class FrameKind { kConfirmation, kData };

// Checks the frames one side receives on one connection. After a Drop the connection must be
// closed: the opener is not used again.
class FrameOpener {
 public:
  FrameOpener(FrameMac mac, size_t max_payload_bytes)
      : mac_(std::move(mac)), max_payload_bytes_(max_payload_bytes) {}
  // The payload length announced by `header`, or kOversized when it is above the cap.
  std::variant<uint32_t, Drop> OpenHeader(std::span<const uint8_t, kFrameHeaderBytes> header);
  // The payload (of the length OpenHeader returned) and the tag (tag_bytes()) that follow
  // that header: the tag is checked first (kBadTag), then the sequence number (kReplayed if
  // already seen, kReordered if ahead), then that frame 0 is an empty confirmation
  // (kMalformed otherwise).
  std::variant<FrameKind, Drop> OpenBody(std::span<const uint8_t> payload,
                                         std::span<const uint8_t> tag) {
    return OpenBody(payload, {}, tag);
  }
  // The same for a payload read in two parts, `head` then `tail`.
  std::variant<FrameKind, Drop> OpenBody(std::span<const uint8_t> head,
                                         std::span<const uint8_t> tail,
                                         std::span<const uint8_t> tag);
  // Whether the next frame is the peer's key confirmation (frame 0, empty).
  bool expects_confirmation() const { return expected_seq_ == 0; }
  uint64_t expected_seq() const { return expected_seq_; }
  // Bytes of the tag after each payload.
  size_t tag_bytes() const { return mac_.tag_bytes(); }
  StreamMac mac() const { return mac_.mac(); }

 private:
  FrameMac mac_;
  size_t max_payload_bytes_;
  uint64_t expected_seq_ = 0;
  FrameHeader header_{};  // of the frame whose body comes next
};

// The keys of one established connection, and the confirmation frame to send first.
struct StreamSession {
  FrameSealer sealer;
  FrameOpener opener;
  SealedFrame confirmation;  // frame 0, empty payload: write it before any other frame
  StreamMac mac = StreamMac::kHmacSha256;  // the MAC both hellos agreed on
};

// One side's half of the handshake of one connection.
class StreamHandshake {
 public:
  // Draws this side's nonce. `best` is the best frame MAC this side offers (duetd offers
  // ChaCha20-Poly1305; kHmacSha256 offers nothing more, as builds before the offer did).
  // InternalError if the random generator fails.
  static absl::StatusOr<StreamHandshake> Begin(const ClusterKey& key, absl::string_view cluster,
                                               NodeIndex self,
                                               StreamMac best = StreamMac::kChaCha20Poly1305);
  const std::array<uint8_t, kStreamHelloBytes>& hello() const { return hello_; }
  // Checks the peer's hello (magic and version, cluster, sender is `expected_peer`, tag) and
  // derives the session; received frames are capped at `max_payload_bytes`.
  std::variant<StreamSession, Drop> Complete(std::span<const uint8_t, kStreamHelloBytes> peer_hello,
                                             NodeIndex expected_peer,
                                             size_t max_payload_bytes) const;

 private:
  StreamHandshake(const ClusterKey& key, absl::string_view cluster, NodeIndex self, StreamMac best);

  HmacSha256 cluster_key_;
  HmacSha256 hello_key_;
  std::string cluster_;
  ClusterId cluster_id_;
  NodeIndex self_;
  StreamMac best_;
  std::array<uint8_t, kNonceBytes> nonce_{};
  std::array<uint8_t, kStreamHelloBytes> hello_{};
};

}  // namespace duet::net

#endif  // DUET_ADAPTERS_NET_STREAM_AUTH_H_
