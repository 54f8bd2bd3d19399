// Which zones of a file a byte range touches (DESIGN.md §5: dirty tracking per zone).
#ifndef DUET_ENGINE_REPLICATION_ZONE_MATH_H_
#define DUET_ENGINE_REPLICATION_ZONE_MATH_H_

#include <cstdint>
#include <optional>
#include <utility>

#include "engine/replication/mutation.h"

namespace duet {

inline uint64_t ZoneOf(uint64_t offset, uint32_t zone_size) { return offset / zone_size; }

// The zones [first, last] that `length` bytes at `offset` touch (none: the zone at offset).
inline std::pair<uint64_t, uint64_t> ZonesOf(uint64_t offset, uint64_t length, uint32_t zone_size) {
  const uint64_t first = ZoneOf(offset, zone_size);
  return {first, length == 0 ? first : ZoneOf(offset + length - 1, zone_size)};
}

// The bytes [offset, offset + length) of its file that a data mutation (Mutation::is_data)
// changes as a resync carries them, content and size (not allocation), or none: a write, the
// bytes it writes (none: the zone at its offset); a punch or a zero range, its range; a plain
// allocate that may grow the size, its last byte only (the zone that carries the size: the
// bytes it covers read as zeros before and after); an allocate that keeps the size, none.
struct ChangedBytes {
  uint64_t offset = 0;
  uint64_t length = 0;
};
inline std::optional<ChangedBytes> ChangedBytesOf(const Mutation& m) {
  if (m.kind == MutationKind::kWrite) return ChangedBytes{m.offset, m.data_size()};
  if (m.kind != MutationKind::kFallocate || m.length == 0) return std::nullopt;
  if ((m.fallocate_mode & (kFallocatePunchHole | kFallocateZeroRange)) != 0) {
    return ChangedBytes{m.offset, m.length};
  }
  if ((m.fallocate_mode & kFallocateKeepSize) != 0) return std::nullopt;
  return ChangedBytes{m.offset + m.length - 1, 1};
}
// The zones [first, last] of ChangedBytesOf(m), or none.
inline std::optional<std::pair<uint64_t, uint64_t>> ChangedZones(const Mutation& m,
                                                                 uint32_t zone_size) {
  const std::optional<ChangedBytes> bytes = ChangedBytesOf(m);
  if (!bytes) return std::nullopt;
  return ZonesOf(bytes->offset, bytes->length, zone_size);
}

}  // namespace duet

#endif  // DUET_ENGINE_REPLICATION_ZONE_MATH_H_
