// Which zones of a file a byte range touches (DESIGN.md §5: dirty tracking per zone).
#ifndef DUET_ENGINE_REPLICATION_ZONE_MATH_H_
#define DUET_ENGINE_REPLICATION_ZONE_MATH_H_

#include <cstdint>
#include <utility>

#include "engine/replication/mutation.h"

namespace duet {

inline uint64_t ZoneOf(uint64_t offset, uint32_t zone_size) { return offset / zone_size; }

// The zones [first, last] that `length` bytes at `offset` touch (none: the zone at offset).
inline std::pair<uint64_t, uint64_t> ZonesOf(uint64_t offset, uint64_t length, uint32_t zone_size) {
  const uint64_t first = ZoneOf(offset, zone_size);
  return {first, length == 0 ? first : ZoneOf(offset + length - 1, zone_size)};
}
inline std::pair<uint64_t, uint64_t> ZonesOf(const Mutation& m, uint32_t zone_size) {
  return ZonesOf(m.offset, m.data_size(), zone_size);
}

}  // namespace duet

#endif  // DUET_ENGINE_REPLICATION_ZONE_MATH_H_
