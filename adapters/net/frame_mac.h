// The tag of one replication stream frame under one direction's key of one connection
// (stream_auth.h), in either of the two MACs a connection can negotiate:
//   HMAC-SHA256 (32-byte tag): every build speaks it;
//   ChaCha20-Poly1305 (16-byte tag): the RFC 8439 AEAD with an empty plaintext and the frame
//     as its associated data, i.e. Poly1305 under a one-time key ChaCha20 draws from the
//     direction key and the frame's nonce. Several times cheaper per byte than HMAC-SHA256.
// The ChaCha20-Poly1305 nonce is the frame's sequence number (4 zero bytes, then the sequence
// number u64 little-endian). A (key, nonce) pair never repeats: the key is fresh per
// connection and per direction (derived from both sides' random hello nonces), and a
// connection's sealer numbers its frames 0, 1, 2... once each and is never reset.
// The authenticated bytes are the parts given, joined (a frame is MACed where it lies).
#ifndef DUET_ADAPTERS_NET_FRAME_MAC_H_
#define DUET_ADAPTERS_NET_FRAME_MAC_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>

#include "absl/strings/string_view.h"
#include "adapters/net/hmac.h"
#include "engine/types.h"

namespace duet::net {

// A connection uses ChaCha20-Poly1305 when both hellos offer it, else HMAC-SHA256.
enum class StreamMac : uint8_t {
  kHmacSha256 = 0,
  kChaCha20Poly1305 = 1,
};

absl::string_view StreamMacName(StreamMac mac);

class FrameMac {
 public:
  // The key of the frames `sender` sends on the connection whose secret is `secret`: for
  // HMAC, HMAC(secret, "frames from node " || sender) as every build derives it; for
  // ChaCha20-Poly1305, HMAC(secret, "chacha20-poly1305 frames from node " || sender), another
  // label, so the two keys never coincide.
  static FrameMac ForSender(StreamMac mac, const HmacSha256& secret, NodeIndex sender);
  ~FrameMac();
  FrameMac(FrameMac&& other) noexcept;
  FrameMac& operator=(FrameMac&& other) noexcept;
  FrameMac(const FrameMac&) = delete;
  FrameMac& operator=(const FrameMac&) = delete;

  StreamMac mac() const { return mac_; }
  // 32 for HMAC-SHA256, 16 for ChaCha20-Poly1305: the first tag_bytes() of a Tag are used.
  size_t tag_bytes() const;
  // The tag of frame `seq` over `parts` joined (the bytes past tag_bytes() are zero).
  Tag Compute(uint64_t seq, std::initializer_list<std::span<const uint8_t>> parts) const;
  // Whether `tag` (tag_bytes() long) is that tag, compared in constant time.
  bool Verify(uint64_t seq, std::initializer_list<std::span<const uint8_t>> parts,
              std::span<const uint8_t> tag) const;

 private:
  explicit FrameMac(StreamMac mac) : mac_(mac) {}
  void Clear();

  StreamMac mac_;
  std::optional<HmacSha256> hmac_;        // kHmacSha256: the direction key
  std::array<uint8_t, 32> chacha_key_{};  // kChaCha20Poly1305: the direction key
  void* cipher_ = nullptr;                // kChaCha20Poly1305: EVP_CIPHER*, fetched once
};

}  // namespace duet::net

#endif  // DUET_ADAPTERS_NET_FRAME_MAC_H_
