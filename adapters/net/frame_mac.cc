#include "adapters/net/frame_mac.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <utility>

#include "adapters/net/byte_order.h"
#include "adapters/net/hmac.h"

namespace duet::net {
namespace {

constexpr size_t kPoly1305TagBytes = 16;
constexpr size_t kChaChaNonceBytes = 12;

std::span<const uint8_t, 1> OneByte(const uint8_t& b) { return std::span<const uint8_t, 1>(&b, 1); }

}  // namespace

absl::string_view StreamMacName(StreamMac mac) {
  switch (mac) {
    case StreamMac::kHmacSha256:
      return "HMAC-SHA256";
    case StreamMac::kChaCha20Poly1305:
      return "ChaCha20-Poly1305";
  }
  return "unknown MAC";
}

FrameMac FrameMac::ForSender(StreamMac mac, const HmacSha256& secret, NodeIndex sender) {
  FrameMac frame_mac(mac);
  if (mac == StreamMac::kHmacSha256) {
    frame_mac.hmac_.emplace(secret.Derive({AsBytes("frames from node "), OneByte(sender)}));
    return frame_mac;
  }
  Tag key = secret.Compute({AsBytes("chacha20-poly1305 frames from node "), OneByte(sender)});
  static_assert(sizeof frame_mac.chacha_key_ == kTagBytes);
  std::copy(key.begin(), key.end(), frame_mac.chacha_key_.begin());
  OPENSSL_cleanse(key.data(), key.size());
  EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  if (cipher == nullptr) OpenSslBroken("EVP_CIPHER_fetch(ChaCha20-Poly1305)");
  frame_mac.cipher_ = cipher;
  return frame_mac;
}

void FrameMac::Clear() {
  EVP_CIPHER_free(static_cast<EVP_CIPHER*>(cipher_));
  cipher_ = nullptr;
  OPENSSL_cleanse(chacha_key_.data(), chacha_key_.size());
}

FrameMac::~FrameMac() { Clear(); }

FrameMac::FrameMac(FrameMac&& other) noexcept
    : mac_(other.mac_),
      hmac_(std::move(other.hmac_)),
      chacha_key_(other.chacha_key_),
      cipher_(std::exchange(other.cipher_, nullptr)) {
  OPENSSL_cleanse(other.chacha_key_.data(), other.chacha_key_.size());
}

FrameMac& FrameMac::operator=(FrameMac&& other) noexcept {
  if (this != &other) {
    Clear();
    mac_ = other.mac_;
    hmac_ = std::move(other.hmac_);
    chacha_key_ = other.chacha_key_;
    OPENSSL_cleanse(other.chacha_key_.data(), other.chacha_key_.size());
    cipher_ = std::exchange(other.cipher_, nullptr);
  }
  return *this;
}

size_t FrameMac::tag_bytes() const {
  return mac_ == StreamMac::kHmacSha256 ? kTagBytes : kPoly1305TagBytes;
}

Tag FrameMac::Compute(uint64_t seq, std::initializer_list<std::span<const uint8_t>> parts) const {
  if (mac_ == StreamMac::kHmacSha256) return hmac_->Compute(parts);
  std::array<uint8_t, kChaChaNonceBytes> nonce{};
  PutLittleEndian<uint64_t>(nonce.data() + 4, seq);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) OpenSslBroken("EVP_CIPHER_CTX_new");
  if (EVP_EncryptInit_ex2(ctx, static_cast<EVP_CIPHER*>(cipher_), chacha_key_.data(), nonce.data(),
                          nullptr) != 1) {
    OpenSslBroken("EVP_EncryptInit_ex2");
  }
  int written = 0;
  for (std::span<const uint8_t> part : parts) {
    // The associated data, in pieces an int can count.
    while (!part.empty()) {
      const size_t n = std::min<size_t>(part.size(), size_t{1} << 30);
      if (EVP_EncryptUpdate(ctx, nullptr, &written, part.data(), static_cast<int>(n)) != 1) {
        OpenSslBroken("EVP_EncryptUpdate");
      }
      part = part.subspan(n);
    }
  }
  uint8_t no_output[1];
  Tag tag{};
  if (EVP_EncryptFinal_ex(ctx, no_output, &written) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kPoly1305TagBytes, tag.data()) != 1) {
    OpenSslBroken("EVP_EncryptFinal_ex");
  }
  EVP_CIPHER_CTX_free(ctx);
  return tag;
}

bool FrameMac::Verify(uint64_t seq, std::initializer_list<std::span<const uint8_t>> parts,
                      std::span<const uint8_t> tag) const {
  if (tag.size() != tag_bytes()) return false;
  Tag expected = Compute(seq, parts);
  return CRYPTO_memcmp(expected.data(), tag.data(), tag.size()) == 0;
}

}  // namespace duet::net
