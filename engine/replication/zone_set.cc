#include "engine/replication/zone_set.h"

#include <algorithm>
#include <cassert>

namespace duet {
namespace {

int PopCount(uint64_t w) { return __builtin_popcountll(w); }

}  // namespace

uint64_t ZoneSet::InsertInChunk(Container& c, uint16_t lo, uint16_t hi) {
  if (auto* array = std::get_if<Array>(&c)) {
    const size_t span = static_cast<size_t>(hi - lo) + 1;
    if (array->size() + span <= kArrayMax) {
      uint64_t added = 0;
      for (uint32_t z = lo; z <= hi; ++z) {
        auto it = std::lower_bound(array->begin(), array->end(), static_cast<uint16_t>(z));
        if (it == array->end() || *it != z) {
          array->insert(it, static_cast<uint16_t>(z));
          ++added;
        }
      }
      return added;
    }
    BitmapBox box;
    for (uint16_t z : *array) (*box)[z / 64] |= 1ull << (z % 64);
    c = std::move(box);
  }
  Bitmap& bits = *std::get<BitmapBox>(c);
  uint64_t added = 0;
  for (uint32_t z = lo; z <= hi;) {
    const uint32_t word = z / 64;
    const uint32_t first_bit = z % 64;
    const uint32_t last_bit = std::min<uint32_t>(63, hi - word * 64);
    const uint64_t mask = (last_bit - first_bit == 63)
                              ? ~0ull
                              : (((1ull << (last_bit - first_bit + 1)) - 1) << first_bit);
    added += static_cast<uint64_t>(PopCount(mask & ~bits[word]));
    bits[word] |= mask;
    z = word * 64 + last_bit + 1;
  }
  return added;
}

uint64_t ZoneSet::InsertRange(uint64_t first, uint64_t last) {
  assert(first <= last);
  uint64_t added = 0;
  for (uint64_t chunk = first >> kChunkBits; chunk <= (last >> kChunkBits); ++chunk) {
    const uint64_t base = chunk << kChunkBits;
    const auto lo = static_cast<uint16_t>(std::max(first, base) - base);
    const auto hi = static_cast<uint16_t>(std::min(last, base + kChunkZones - 1) - base);
    added += InsertInChunk(chunks_[chunk], lo, hi);
  }
  size_ += added;
  return added;
}

bool ZoneSet::Contains(uint64_t zone) const {
  auto it = chunks_.find(zone >> kChunkBits);
  if (it == chunks_.end()) return false;
  const auto offset = static_cast<uint16_t>(zone & (kChunkZones - 1));
  if (const auto* array = std::get_if<Array>(&it->second)) {
    return std::binary_search(array->begin(), array->end(), offset);
  }
  return ((*std::get<BitmapBox>(it->second))[offset / 64] >> (offset % 64)) & 1;
}

bool ZoneSet::Erase(uint64_t zone) {
  auto it = chunks_.find(zone >> kChunkBits);
  if (it == chunks_.end()) return false;
  const auto offset = static_cast<uint16_t>(zone & (kChunkZones - 1));
  bool erased = false;
  bool now_empty = false;
  if (auto* array = std::get_if<Array>(&it->second)) {
    auto pos = std::lower_bound(array->begin(), array->end(), offset);
    if (pos != array->end() && *pos == offset) {
      array->erase(pos);
      erased = true;
    }
    now_empty = array->empty();
  } else {
    Bitmap& bits = *std::get<BitmapBox>(it->second);
    const uint64_t bit = 1ull << (offset % 64);
    erased = (bits[offset / 64] & bit) != 0;
    bits[offset / 64] &= ~bit;
    now_empty = std::all_of(bits.begin(), bits.end(), [](uint64_t w) { return w == 0; });
  }
  if (now_empty) chunks_.erase(it);
  if (erased) --size_;
  return erased;
}

void ZoneSet::EraseFrom(uint64_t first) {
  const uint64_t boundary = first >> kChunkBits;
  for (auto it = chunks_.upper_bound(boundary); it != chunks_.end();) {
    size_ -= Count(it->second);
    it = chunks_.erase(it);
  }
  if (chunks_.contains(boundary)) {
    for (uint64_t z = first; z < (boundary + 1) << kChunkBits; ++z) Erase(z);
  }
}

uint64_t ZoneSet::Count(const Container& c) {
  if (const auto* array = std::get_if<Array>(&c)) return array->size();
  uint64_t n = 0;
  for (uint64_t w : *std::get<BitmapBox>(c)) n += static_cast<uint64_t>(PopCount(w));
  return n;
}

void ZoneSet::Merge(const ZoneSet& other) {
  other.ForEach([&](uint64_t z) { Insert(z); });
}

uint64_t ZoneSet::MemoryBytes() const {
  uint64_t bytes = sizeof(*this);
  for (const auto& [chunk, container] : chunks_) {
    bytes += sizeof(chunk) + sizeof(container) + 16;  // btree node share, roughly
    if (const auto* array = std::get_if<Array>(&container)) {
      bytes += array->capacity() * sizeof(uint16_t);
    } else {
      bytes += sizeof(Bitmap);
    }
  }
  return bytes;
}

}  // namespace duet
