// HMAC-SHA256 under one key, computed over several byte ranges without joining them (a 1 MiB
// frame is authenticated where it lies), and a constant-time tag comparison. Also the key
// derivation every authenticated channel uses: a subkey is the HMAC of a label under a parent
// key, so keys for different purposes (hello, datagrams, each stream direction) never mix.
#ifndef DUET_ADAPTERS_NET_HMAC_H_
#define DUET_ADAPTERS_NET_HMAC_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>

#include "absl/strings/string_view.h"

namespace duet::net {

inline constexpr size_t kTagBytes = 32;
using Tag = std::array<uint8_t, kTagBytes>;

// Holds a keyed OpenSSL MAC context; move-only. An OpenSSL failure here means the library is
// broken (no input can cause it): the process aborts with a message rather than go on unkeyed.
class HmacSha256 {
 public:
  explicit HmacSha256(std::span<const uint8_t> key);
  ~HmacSha256();
  HmacSha256(HmacSha256&& other) noexcept;
  HmacSha256& operator=(HmacSha256&& other) noexcept;
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  // The tag of the concatenation of `parts`.
  Tag Compute(std::initializer_list<std::span<const uint8_t>> parts) const;
  // A subkey for `label` (and optional context parts): HMAC(key, label || parts...).
  HmacSha256 Derive(std::initializer_list<std::span<const uint8_t>> parts) const;

 private:
  void* context_ = nullptr;  // EVP_MAC_CTX*, keyed; duplicated for each computation
};

// An OpenSSL call that no input can make fail failed: the library is unusable. Says so on
// stderr and aborts (every MAC and key derivation here uses it).
[[noreturn]] void OpenSslBroken(const char* what);

// Constant-time comparison of two tags.
bool TagsEqual(std::span<const uint8_t, kTagBytes> a, std::span<const uint8_t, kTagBytes> b);

// The 8-byte identifier of a cluster name on the wire (the first bytes of its SHA-256): lets a
// receiver name a frame of another cluster before checking its tag. Not a secret.
using ClusterId = std::array<uint8_t, 8>;
ClusterId ClusterIdOf(absl::string_view cluster_name);

// Bytes of a string literal or string_view, for labels.
std::span<const uint8_t> AsBytes(absl::string_view text);

}  // namespace duet::net

#endif  // DUET_ADAPTERS_NET_HMAC_H_
