#include "engine/replication/replica_state.h"

#include "engine/overloaded.h"

namespace duet {

void ApplyRecord(ReplicaDurableState& s, const ReplicaRecord& r, uint32_t zone_size) {
  std::visit(Overloaded{
                 [&](const record::SetGenerations& x) { s.gens = x.gens; },
                 [&](const record::MarkDirty& x) { s.dirty.MarkZones(x.path, x.first, x.last); },
                 [&](const record::MarkClean& x) { s.dirty.Erase(x.path, x.zone); },
                 [&](const record::ClearDirty&) {
                   s.dirty.clear();
                   s.journal.clear();
                   s.alone_acked = false;
                 },
                 [&](const record::Journal& x) { s.journal.push_back(x.mutation); },
                 [&](const record::HotAdd& x) { s.hot.MarkZones(x.path, x.zone, x.zone); },
                 [&](const record::HotRemove& x) { s.hot.Erase(x.path, x.zone); },
                 [&](const record::ClearHot&) {
                   s.hot.clear();
                   s.hot_names.clear();
                 },
                 [&](const record::HotNameAdd& x) { s.hot_names.insert(x.path); },
                 [&](const record::HotNameRemove& x) { s.hot_names.erase(x.path); },
                 [&](const record::SetInconsistent& x) {
                   s.inconsistent = x.inconsistent;
                   s.unflushed_only = x.inconsistent && x.unflushed_only;
                 },
                 [&](const record::SetOutdated& x) { s.outdated = x.outdated; },
                 [&](const record::SetAloneAcked&) { s.alone_acked = true; },
                 [&](const record::SetLostUnsynced& x) { s.lost_unsynced = x.lost; },
                 [&](const record::SetDiskFailed& x) { s.disk_failed = x.failed; },
                 [&](const record::SetDrawnAlone& x) { s.drawn_alone = x.generation; },
                 [&](const record::SetJoined& x) { s.joined = x.joined; },
                 [&](const record::SetZoneSize& x) { s.zone_size = x.zone_size; },
                 [&](const record::Renamed& x) {
                   s.dirty.Rename(x.from, x.to);
                   s.hot.Rename(x.from, x.to);
                 },
                 [&](const record::Removed& x) {
                   s.dirty.ErasePath(x.path);
                   s.hot.ErasePath(x.path);
                 },
                 [&](const record::Truncated& x) {
                   const uint32_t size = s.zone_size != 0 ? s.zone_size : zone_size;
                   s.dirty.Truncate(x.path, x.size, size);
                   s.hot.Truncate(x.path, x.size, size);
                 },
             },
             r);
}

}  // namespace duet
