#include "adapters/net/hmac.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/string_view.h"

namespace duet::net {

void OpenSslBroken(const char* what) {
  std::fprintf(stderr, "duet_net: OpenSSL failed in %s: the crypto library is unusable\n", what);
  std::abort();
}

namespace {

EVP_MAC_CTX* Ctx(void* p) { return static_cast<EVP_MAC_CTX*>(p); }

}  // namespace

HmacSha256::HmacSha256(std::span<const uint8_t> key) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) OpenSslBroken("EVP_MAC_fetch");
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  EVP_MAC_free(mac);  // the context keeps its own reference
  if (ctx == nullptr) OpenSslBroken("EVP_MAC_CTX_new");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(ctx, key.data(), key.size(), params) != 1) OpenSslBroken("EVP_MAC_init");
  context_ = ctx;
}

HmacSha256::~HmacSha256() { EVP_MAC_CTX_free(Ctx(context_)); }

HmacSha256::HmacSha256(HmacSha256&& other) noexcept
    : context_(std::exchange(other.context_, nullptr)) {}

HmacSha256& HmacSha256::operator=(HmacSha256&& other) noexcept {
  if (this != &other) {
    EVP_MAC_CTX_free(Ctx(context_));
    context_ = std::exchange(other.context_, nullptr);
  }
  return *this;
}

Tag HmacSha256::Compute(std::initializer_list<std::span<const uint8_t>> parts) const {
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(Ctx(context_));
  if (ctx == nullptr) OpenSslBroken("EVP_MAC_CTX_dup");
  for (std::span<const uint8_t> part : parts) {
    if (!part.empty() && EVP_MAC_update(ctx, part.data(), part.size()) != 1) {
      OpenSslBroken("EVP_MAC_update");
    }
  }
  Tag tag{};
  size_t written = 0;
  if (EVP_MAC_final(ctx, tag.data(), &written, tag.size()) != 1 || written != tag.size()) {
    OpenSslBroken("EVP_MAC_final");
  }
  EVP_MAC_CTX_free(ctx);
  return tag;
}

HmacSha256 HmacSha256::Derive(std::initializer_list<std::span<const uint8_t>> parts) const {
  Tag subkey = Compute(parts);
  HmacSha256 derived(subkey);
  OPENSSL_cleanse(subkey.data(), subkey.size());
  return derived;
}

bool TagsEqual(std::span<const uint8_t, kTagBytes> a, std::span<const uint8_t, kTagBytes> b) {
  return CRYPTO_memcmp(a.data(), b.data(), kTagBytes) == 0;
}

ClusterId ClusterIdOf(absl::string_view cluster_name) {
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(cluster_name.data(), cluster_name.size(), digest, &length, EVP_sha256(),
                 nullptr) != 1) {
    OpenSslBroken("EVP_Digest");
  }
  ClusterId id{};
  std::memcpy(id.data(), digest, id.size());
  return id;
}

std::span<const uint8_t> AsBytes(absl::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

}  // namespace duet::net
