// The digest of a zone as a resync compares it (engine/actions.h ZoneReadContent): SHA-256 of
// the file's size, the zone's length within the file, where the holes lie in it, and its
// bytes with holes read as zeros. So a zone that is a hole on one copy and written zeros on
// the other compares different (the resync then makes the target's layout the source's, as
// every block does), and a hole never compares equal to no bytes at all (past the end).
#ifndef DUET_ADAPTERS_STORE_ZONE_DIGEST_H_
#define DUET_ADAPTERS_STORE_ZONE_DIGEST_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/inputs.h"

namespace duet::store {

inline constexpr size_t kZoneDigestBytes = 32;

// The digest of a regular file's zone of `length` bytes read at `offset` (a ZoneRead of kind
// kFile with status OK: its file_size, hole, hole_ranges and data): kZoneDigestBytes raw
// bytes, or empty if libcrypto failed (the zone is then sent whole).
std::string ZoneDigest(const ZoneRead& read, uint64_t offset, uint64_t length);

}  // namespace duet::store

#endif  // DUET_ADAPTERS_STORE_ZONE_DIGEST_H_
