#include "engine/replication/replica_state.h"

#include "engine/overloaded.h"
#include "engine/replication/activity_log.h"

namespace duet {

void ApplyRecord(ReplicaDurableState& s, const ReplicaRecord& r, uint32_t zone_size) {
  std::visit(
      Overloaded{
          [&](const record::SetGenerations& x) { s.gens = x.gens; },
          [&](const record::MarkDirty& x) { s.dirty.MarkZones(x.path, x.first, x.last); },
          [&](const record::MarkClean& x) { s.dirty.Erase(x.path, x.zone); },
          [&](const record::ClearDirty&) {
            s.dirty.clear();
            s.journal.clear();
            s.alone_acked = false;
          },
          [&](const record::Journal& x) {
            if (x.as_is) {
              s.journal.push_back(x.mutation);
            } else {
              AppendToJournal(s.journal, x.mutation);
            }
          },
          [&](const record::HotAdd& x) { s.hot.MarkZones(x.path, x.zone, x.zone + (x.count - 1)); },
          [&](const record::HotRemove& x) {
            s.hot.EraseZones(x.path, x.zone, x.zone + (x.count - 1));
          },
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
          [&](const record::SetDivergencePreserved& x) { s.preserved_for = x.generation; },
          [&](const record::Renamed& x) {
            if (x.blend) {
              s.dirty.Blend(x.from, x.to);
              s.hot.Blend(x.from, x.to);
            } else {
              s.dirty.Rename(x.from, x.to);
              s.hot.Rename(x.from, x.to);
            }
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

std::vector<ReplicaRecord> ToRecords(const ReplicaDurableState& s) {
  std::vector<ReplicaRecord> out;
  // The zone size first: Truncated records replayed after a restore use it.
  if (s.zone_size != 0) out.push_back(record::SetZoneSize{s.zone_size});
  out.push_back(record::SetGenerations{s.gens});
  // Runs of consecutive zones, so a file written end to end costs one record.
  // (Not structured bindings: clang 14 cannot capture them in the lambdas.)
  for (const auto& file : s.dirty.files()) {
    file.second.ForEachRun([&](uint64_t first, uint64_t last) {
      out.push_back(record::MarkDirty{file.first, first, last});
    });
  }
  for (const Mutation& m : s.journal) out.push_back(record::Journal{m, /*as_is=*/true});
  for (const auto& file : s.hot.files()) {
    file.second.ForEachRun([&](uint64_t first, uint64_t last) {
      out.push_back(record::HotAdd{file.first, first, last - first + 1});
    });
  }
  for (const std::string& path : s.hot_names) out.push_back(record::HotNameAdd{path});
  if (s.inconsistent) out.push_back(record::SetInconsistent{true, s.unflushed_only});
  if (s.outdated) out.push_back(record::SetOutdated{true});
  if (s.alone_acked) out.push_back(record::SetAloneAcked{});
  if (s.lost_unsynced) out.push_back(record::SetLostUnsynced{true});
  if (s.disk_failed) out.push_back(record::SetDiskFailed{true});
  if (s.drawn_alone != 0) out.push_back(record::SetDrawnAlone{s.drawn_alone});
  if (s.joined) out.push_back(record::SetJoined{true});
  if (s.preserved_for != 0) out.push_back(record::SetDivergencePreserved{s.preserved_for});
  return out;
}

}  // namespace duet
