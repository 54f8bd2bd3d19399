#include "adapters/store/zone_digest.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <memory>

namespace duet::store {
namespace {

struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// Feeds the digest; remembers a failure (which only an allocation failure makes).
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    ok_ = ctx_ != nullptr && EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) == 1;
  }
  void Add(const void* data, size_t size) {
    ok_ = ok_ && EVP_DigestUpdate(ctx_.get(), data, size) == 1;
  }
  void AddNumber(uint64_t value) {
    std::array<unsigned char, 8> bytes;
    for (size_t i = 0; i < bytes.size(); ++i) {
      bytes[i] = static_cast<unsigned char>(value >> (8 * i));
    }
    Add(bytes.data(), bytes.size());
  }
  // Empty if a step failed: no digest, which the engine takes as "send the zone".
  std::string Finish() {
    std::string digest(kZoneDigestBytes, '\0');
    unsigned int size = 0;
    ok_ = ok_ && EVP_DigestFinal_ex(ctx_.get(), reinterpret_cast<unsigned char*>(digest.data()),
                                    &size) == 1;
    if (!ok_ || size != kZoneDigestBytes) return std::string();
    return digest;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx_;
  bool ok_ = false;
};

}  // namespace

std::string ZoneDigest(const ZoneRead& read, uint64_t offset, uint64_t length) {
  // What the zone holds within the file (a read past the end: nothing). A hole's read has no
  // bytes: its length within the file comes from the size.
  const uint64_t in_file = read.hole
                               ? std::min(length, read.file_size - std::min(offset, read.file_size))
                               : (read.data ? read.data->size() : 0);
  Sha256 sha;
  static constexpr char kTag[] = "duet zone digest 1";
  sha.Add(kTag, sizeof kTag - 1);
  sha.AddNumber(read.file_size);
  sha.AddNumber(in_file);
  if (read.hole) {
    // One hole over the whole zone, then its bytes as zeros: the zone's real content.
    sha.AddNumber(1);
    sha.AddNumber(0);
    sha.AddNumber(in_file);
    static constexpr std::array<unsigned char, 4096> kZeros{};
    for (uint64_t left = in_file; left > 0;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(left, kZeros.size()));
      sha.Add(kZeros.data(), n);
      left -= n;
    }
  } else {
    sha.AddNumber(read.hole_ranges.size());
    for (const HoleRange& range : read.hole_ranges) {
      sha.AddNumber(range.offset);
      sha.AddNumber(range.length);
    }
    if (read.data) sha.Add(read.data->data(), read.data->size());
  }
  return sha.Finish();
}

}  // namespace duet::store
