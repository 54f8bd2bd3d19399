// A set of zone numbers of one file, compact for both extremes: a few scattered zones cost a
// few bytes each, and every zone of a 1 TiB file (16 Mi zones of 64 KiB) costs 2 MiB.
// Zones are grouped in chunks of 4096; a chunk holds a sorted array of up to 256 offsets
// and switches to a 512-byte bitmap past that (the layout of roaring bitmaps). The bitmap
// lives on the heap, so a chunk of a few zones (the common case: a million small files)
// costs its array, not 512 bytes.
#ifndef DUET_ENGINE_REPLICATION_ZONE_SET_H_
#define DUET_ENGINE_REPLICATION_ZONE_SET_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "absl/container/btree_map.h"

namespace duet {

class ZoneSet {
 public:
  // Adds zones [first, last]; returns how many were not there before.
  uint64_t InsertRange(uint64_t first, uint64_t last);
  bool Insert(uint64_t zone) { return InsertRange(zone, zone) == 1; }
  bool Contains(uint64_t zone) const;
  bool Erase(uint64_t zone);
  // Removes every zone at or above `first` (a truncated file).
  void EraseFrom(uint64_t first);
  void Merge(const ZoneSet& other);
  uint64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear() {
    chunks_.clear();
    size_ = 0;
  }
  // Calls f(zone) for every zone in ascending order.
  template <class F>
  void ForEach(F&& f) const {
    for (const auto& [chunk, container] : chunks_) {
      const uint64_t base = chunk << kChunkBits;
      if (const auto* array = std::get_if<Array>(&container)) {
        for (uint16_t offset : *array) f(base + offset);
      } else {
        const Bitmap& bits = *std::get<BitmapBox>(container);
        for (size_t w = 0; w < bits.size(); ++w) {
          for (uint64_t word = bits[w]; word != 0; word &= word - 1) {
            f(base + w * 64 + static_cast<uint64_t>(__builtin_ctzll(word)));
          }
        }
      }
    }
  }
  // Calls f(first, last) for every run of consecutive zones, in ascending order.
  template <class F>
  void ForEachRun(F&& f) const {
    bool open = false;
    uint64_t first = 0, last = 0;
    ForEach([&](uint64_t zone) {
      if (open && zone == last + 1) {
        last = zone;
        return;
      }
      if (open) f(first, last);
      open = true;
      first = last = zone;
    });
    if (open) f(first, last);
  }
  // Calls f(zone) in ascending order until f returns false; returns false if stopped.
  template <class F>
  bool ForEachWhile(F&& f) const {
    bool go = true;
    for (auto it = chunks_.begin(); go && it != chunks_.end(); ++it) {
      const uint64_t base = it->first << kChunkBits;
      if (const auto* array = std::get_if<Array>(&it->second)) {
        for (size_t i = 0; go && i < array->size(); ++i) go = f(base + (*array)[i]);
      } else {
        const Bitmap& bits = *std::get<BitmapBox>(it->second);
        for (size_t w = 0; go && w < bits.size(); ++w) {
          for (uint64_t word = bits[w]; go && word != 0; word &= word - 1) {
            go = f(base + w * 64 + static_cast<uint64_t>(__builtin_ctzll(word)));
          }
        }
      }
    }
    return go;
  }
  // Approximate heap bytes used (for the compactness benchmark and tests).
  uint64_t MemoryBytes() const;

 private:
  static constexpr int kChunkBits = 12;
  static constexpr uint64_t kChunkZones = 1ull << kChunkBits;
  static constexpr size_t kArrayMax = 256;
  using Array = std::vector<uint16_t>;
  using Bitmap = std::array<uint64_t, kChunkZones / 64>;
  // A heap bitmap with value semantics (ZoneSet is copied with the state it belongs to).
  class BitmapBox {
   public:
    BitmapBox() : bits_(std::make_unique<Bitmap>()) {}
    BitmapBox(const BitmapBox& other) : bits_(std::make_unique<Bitmap>(*other.bits_)) {}
    BitmapBox& operator=(const BitmapBox& other) {
      bits_ = std::make_unique<Bitmap>(*other.bits_);
      return *this;
    }
    BitmapBox(BitmapBox&&) noexcept = default;
    BitmapBox& operator=(BitmapBox&&) noexcept = default;
    Bitmap& operator*() { return *bits_; }
    const Bitmap& operator*() const { return *bits_; }

   private:
    std::unique_ptr<Bitmap> bits_;
  };
  using Container = std::variant<Array, BitmapBox>;

  static uint64_t InsertInChunk(Container& c, uint16_t lo, uint16_t hi);
  static uint64_t Count(const Container& c);

  absl::btree_map<uint64_t, Container> chunks_;
  uint64_t size_ = 0;
};

}  // namespace duet

#endif  // DUET_ENGINE_REPLICATION_ZONE_SET_H_
