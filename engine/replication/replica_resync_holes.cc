// Replica, a resync source's runs of holes (DESIGN.md §5). A zone read as a hole (no data)
// goes as one block with the zones after it in the same hole that are planned and not yet
// sent, up to where data resumes or the file ends: a sparse file of gigabytes costs a few
// blocks, not one per zone. The run's zones are taken as read (their reads in flight are
// dropped, their answers ignored), each under the rules of a zone read with the first; the
// target punches the whole run and acknowledges it with the block.
#include "absl/container/flat_hash_map.h"
#include "engine/replication/replica.h"

namespace duet {
namespace {

// Most zones one hole block covers (4 GiB of 64 KiB zones): a bound on the zones the target
// checks for live changes and tracks for one block.
constexpr uint64_t kMaxHoleRunZones = uint64_t{1} << 16;

}  // namespace

void Replica::TakeHoleRun(const ZoneRef& zone, const ZoneRead& read, ResyncBlock& block) {
  block.hole_zones = HoleRunZones(zone, read);
  // One block id a zone, the block's the last: the target's durable acknowledgement of it
  // covers them all, and each zone is forgotten on its own (OnBlockAck, unflushed_,
  // ForgetSent).
  for (uint64_t i = 1; i < block.hole_zones; ++i) block.block_id = NextId();
}

uint64_t Replica::HoleRunZones(const ZoneRef& zone, const ZoneRead& read) {
  if (read.hole_end <= zone.zone * opt_.zone_size || read.file_size == 0) return 1;
  // The zones wholly in the hole: up to where data resumes, or to the end of the file.
  const uint64_t end = read.hole_end >= read.file_size ? (read.file_size - 1) / opt_.zone_size + 1
                                                       : read.hole_end / opt_.zone_size;
  // The reads in flight of this file's next zones (those issued with this one): taken into
  // the run, their answers are ignored.
  absl::flat_hash_map<uint64_t, uint64_t> in_flight;  // zone -> read id
  for (const auto& [id, read_of] : reads_) {
    const ZoneRef& ref = read_of.first;
    if (ref.zone > zone.zone && ref.zone < end && ref.path == zone.path) in_flight[ref.zone] = id;
  }
  // Only zones planned and not sent (nor compared by digest) join: each as if read with this
  // one, under the same rules.
  uint64_t zones = 1;
  for (; zone.zone + zones < end && zones < kMaxHoleRunZones; ++zones) {
    const ZoneRef next{zone.path, zone.zone + zones};
    if (!durable_.dirty.Contains(next.path, next.zone) || target_digests_.contains(next)) break;
    if (auto read_of = in_flight.find(next.zone); read_of != in_flight.end()) {
      EndRead(read_of->second, /*cost=*/0);  // its zone goes in this block, at no cost
    } else if (reading_.contains(next)) {
      break;  // sent already
    }
    reading_.insert(next);
  }
  return zones;
}

}  // namespace duet
