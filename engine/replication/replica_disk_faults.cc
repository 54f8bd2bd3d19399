// Replica, disk faults (DESIGN.md §5): an apply that failed and may have changed something
// (or was refused on one side only: replica_refusals.cc), and EIO on a flush. Linux
// forgets the pages a failed flush could not write, so what was applied since the last good
// flush is counted lost: it turns hot, the copy is `disk_failed` (persisted) and never
// acknowledges durability again until a resync from the peer rewrote it. A session that
// failed this way starts again a flush interval later, never in a loop.
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/replication/replica.h"
#include "engine/replication/zone_math.h"

namespace duet {

absl::Status Replica::DiskFailedError() {
  return absl::DataLossError(
      "EIO: an earlier flush of this copy failed; nothing written here is known durable until "
      "it is resynced from the peer");
}

void Replica::RestartSessionLater(absl::Time now) {
  // Not at once: a disk that keeps failing would otherwise spin resync sessions.
  if (restart_session_at_ == absl::InfiniteFuture())
    restart_session_at_ = now + opt_.flush_interval;
}

void Replica::NoteUnsynced(const Mutation& m, uint64_t apply_id) {
  if (m.kind == MutationKind::kFsync) return;
  if (m.is_data()) {
    if (const auto zones = ChangedZones(m, opt_.zone_size)) {
      for (uint64_t z = zones->first; z <= zones->second; ++z) {
        unsynced_zones_[ZoneRef{m.path, z}] = apply_id;
      }
    }
    return;
  }
  // A size or a mode travels with a zone (the last one sets the size, the first the mode):
  // the file need not come whole.
  if (m.kind == MutationKind::kTruncate) {
    const uint64_t last = ZonesOf(0, m.offset, opt_.zone_size).second;  // of the new size
    unsynced_zones_[ZoneRef{m.path, last}] = apply_id;
    return;
  }
  if (m.kind == MutationKind::kSetattr) {
    unsynced_zones_[ZoneRef{m.path, 0}] = apply_id;
    return;
  }
  ForEachChangedName(m, [&](const std::string& path) { unsynced_names_[path] = apply_id; });
}

void Replica::ForgetSynced(uint64_t flush_id) {
  absl::erase_if(unsynced_zones_, [&](const auto& entry) { return entry.second < flush_id; });
  absl::erase_if(unsynced_names_, [&](const auto& entry) { return entry.second < flush_id; });
}

void Replica::MarkUnsyncedLost(std::vector<ReplicaRecord>& records) {
  if (!durable_.disk_failed) records.push_back(record::SetDiskFailed{true});
  for (const auto& [ref, id] : unsynced_zones_) {
    activity_log_.AddRecovered(ref.path, ref.zone, durable_.hot, records);
  }
  for (const auto& [path, id] : unsynced_names_) {
    activity_log_.AddRecoveredName(path, durable_.hot_names, records);
  }
  unsynced_zones_.clear();
  unsynced_names_.clear();
}

void Replica::OnDurabilityFailedHere(absl::Time now, const absl::Status& status, Actions& out) {
  if (role_ == ReplRole::kPrimary) {
    // A flush issued as secondary that ended after a promotion: this is the writer's copy
    // now, never inconsistent (a handshake would overwrite what it acknowledged alone). It
    // lost what it had not synced, as after a failed local flush.
    flush_in_flight_ = false;
    flush_failed_session_ = session_;
    OnLocalDurabilityFailed(status, out);
    return;
  }
  // Linux marks the pages of a failed writeback clean: a later flush that succeeds does not
  // write them, so nothing applied in this session may be called durable any more. The copy
  // is not promotable until a resync rewrote what the primary has not seen durable here (its
  // plan: zones written above our last durable acknowledgement), in a new session.
  Log(out, absl::StrCat("disk: a flush failed (", status.message(),
                        "); this copy is inconsistent until resynced"));
  std::vector<ReplicaRecord> records;
  MarkUnsyncedLost(records);
  if (!durable_.inconsistent) records.push_back(record::SetInconsistent{true, true});
  Persist(std::move(records), out);
  data_state_ = target_active_ ? DataState::kSyncing : DataState::kOutdated;
  fenced_copy_ = false;
  flush_in_flight_ = false;
  flush_failed_session_ = session_;
  RestartSessionLater(now);
}

void Replica::OnLocalDurabilityFailed(const absl::Status& status, Actions& out) {
  // As above, for the writer's own copy: what was not yet durable here when the flush failed
  // may be gone after a crash however later flushes end (persisted: a restart does not
  // mend the disk). Zones written here stay hot (a crash then takes them from the peer,
  // which acknowledged them), the dirty zones (written alone, not yet sent) become hot too,
  // so that closing the dirty map after a resync does not forget them, and every later
  // fsync fails: it could not promise durability. Resyncing this copy from the peer ends it.
  std::vector<ReplicaRecord> records;
  if (!durable_.disk_failed) {
    Log(out, absl::StrCat("disk: a local flush failed (", status.message(),
                          "); fsyncs fail here until this copy is resynced from the peer"));
  }
  MarkUnsyncedLost(records);  // what it applied as a secondary before it was promoted
  for (const auto& file : durable_.dirty.files()) {  // not a structured binding: clang 14
    const std::string& path = file.first;            // captures none in a lambda (fuzz build)
    file.second.ForEach(
        [&](uint64_t z) { activity_log_.AddRecovered(path, z, durable_.hot, records); });
  }
  Persist(std::move(records), out);
}

void Replica::OnLocalApplyFailed(const Applying& a, const absl::Status& status, Actions& out) {
  Log(out, absl::StrCat("local apply failed (", status.message(), ", ",
                        MutationKindName(a.mutation), " ", a.path, ")"));
  if (a.mutation == MutationKind::kFsync) {
    OnLocalDurabilityFailed(status, out);
    return;
  }
  if (SyncWriteLostPages(a, status)) OnLocalDurabilityFailed(status, out);
  // The peer may have applied what failed here (a write the store could not refuse before
  // changing it, or one refused here only): what the mutation touched goes to it again from
  // this copy, in a new session, before the copies count as equal.
  // As its names are now: renames submitted after it moved them before this was known (a
  // refusal settles at the peer's acknowledgement).
  std::vector<ReplicaRecord> records;
  for (const Applying& now : NamesNow(a)) {
    if (IsDataKind(now.mutation)) {
      const auto [first, last] = ZonesOf(now.offset, now.length, opt_.zone_size);
      records.push_back(record::MarkDirty{now.path, first, last});
    } else {
      ForEachChangedName(now.mutation, now.path, now.path2, [&](const std::string& path) {
        activity_log_.AddRecoveredName(path, durable_.hot_names, records);
      });
    }
  }
  Persist(std::move(records), out);
  if (attached()) SendHello(out);
}

}  // namespace duet
