// What a resync block costs the source's byte window and bandwidth cap: its data, its path and
// a fixed allowance for the frame's fields. Shared by the resync source's parts.
#ifndef DUET_ENGINE_REPLICATION_RESYNC_COST_H_
#define DUET_ENGINE_REPLICATION_RESYNC_COST_H_

#include <cstdint>

#include "engine/actions.h"
#include "engine/inputs.h"
#include "engine/replication/zone_map.h"

namespace duet {

// What a block costs the bandwidth cap besides its data: the frame's tables and fields (a
// few dozen bytes) and the path, rounded up. A hole block costs only this.
inline constexpr uint64_t kResyncBlockHeaderBytes = 128;

// The bytes a zone read puts on the link: its data (none for a hole, nor for a read that
// failed and is read again later), the path and the header.
inline uint64_t ResyncCostOf(const ZoneRef& zone, const ZoneRead& read) {
  if (!read.status.ok()) return 0;
  const bool hole = read.kind == PathKind::kFile && read.hole;
  const uint64_t data = hole || read.data == nullptr ? 0 : read.data->size();
  return data + zone.path.size() + kResyncBlockHeaderBytes;
}

}  // namespace duet

#endif  // DUET_ENGINE_REPLICATION_RESYNC_COST_H_
