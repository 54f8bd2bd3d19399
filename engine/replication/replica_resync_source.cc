// Replica, the resync source (DESIGN.md §5). The plan is the dirty map itself (persisted), the
// zones the activity log says the peer may lack, the target's own requests, and on a full
// resync every name of the listed tree. Zones are read and sent with a window of bytes in
// flight and the bandwidth capped, and forgotten (MarkClean) only once durable on the target
// AND flushed here (replica_resync_window.cc); a zone read as a hole goes with the planned zones
// of the same hole after it, as one block (replica_resync_holes.cc). The namespace
// journal is replayed first as stream writes. The session ends with ResyncDone after a flush of our
// own copy; the target's answer closes the map. Zones the target sent its digest of
// (ReplTargetZones::digests: zones it may hold as we do, as after its crash as primary) are read
// with our digest (ZoneReadContent::kDataAndDigest): equal, a ResyncSame goes instead of the block
// (acknowledged like one); different, the block. The target reads first because it knows those
// zones first: the comparison costs no round trip beyond the request a plain zone needs. Zones read
// before their digest arrived (our own dirty zones, planned at once) go whole, as do zones the
// target asks for again or whole.
// Zones our own crash left hot (a daemon or machine restart as primary, the peer never took
// over) are compared the same way: they stay out of the plan, we list them to the target
// (PlanComparisons, a ReplTargetZones the other way), and it answers with its digests as for
// its own; one round trip more than sending them whole, which only zones that differ pay in
// bytes. The session waits for the end of both of the target's lists. Linked and renamed names:
// replica_resync_links.cc.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/replication/replica.h"
#include "engine/replication/resync_cost.h"
#include "engine/replication/zone_math.h"

namespace duet {

void Replica::AbandonSourceSession() {
  // What the session had read or sent stays in the dirty map: the next session resends it.
  source_active_ = false;
  reads_.clear();
  blocks_.clear();
  resync_inflight_bytes_ = 0;
  reading_.clear();
  unflushed_.clear();
  durable_there_.clear();
  clean_flush_in_flight_ = false;  // its completion belongs to the old session
  target_digests_.clear();         // the next session's target sends them again
  uncompared_paths_.clear();
  same_blocks_.clear();
  probes_.clear();
  linked_files_.clear();
  first_name_blocks_.clear();
  list_id_ = 0;
  list_retry_at_ = absl::InfiniteFuture();
  names_under_.clear();
  names_under_waiting_.clear();
  names_under_listing_.clear();
}

void Replica::OnSourceFlushed(absl::Time now, const Applying& a, const absl::Status& status,
                              Actions& out) {
  if (!status.ok()) {
    // What we sent is not known durable here: the dirty map stays open, and the resync
    // runs again in a new session.
    OnLocalDurabilityFailed(status, out);
    if (a.session == session_ && source_active_) RestartSessionLater(now);
    return;
  }
  if (a.session == session_ && source_active_ && awaiting_done_confirm_) {
    // The target takes our current with this, even if its answer never reaches us.
    std::vector<ReplicaRecord> records;
    ShareCurrent(records);
    Persist(std::move(records), out);
    out.push_back(SendReplication{ResyncDone{name_, durable_.gens.current, target_requests_seen_}});
  }
}

void Replica::StartSource(absl::Time now, Actions& out) {
  std::vector<ReplicaRecord> records;
  // Names a namespace mutation in flight changed (the peer may lack it, or this node lost it
  // in a crash): each goes whole, as it is here (kept hot until the resync is done, so a
  // restart plans them again).
  // A rename or removal among them (their kind is not kept) may have changed the names under
  // them too: a directory goes with them (replica_resync_names_under.cc).
  whole_paths_.clear();
  uncompared_paths_.clear();
  names_under_.clear();
  names_under_waiting_.clear();
  names_under_listing_.clear();
  activity_log_.TakeNamesNotDurable(peer_durable_lsn_, [&](const std::string& path) {
    whole_paths_.insert(path);
    uncompared_paths_.insert(path);
    names_under_.insert(path);
    if (!durable_.dirty.Contains(path, 0)) records.push_back(record::MarkDirty{path, 0, 0});
  });
  // A replay the target may already have applied (an earlier session was interrupted) would
  // rename or truncate today's content there (a name a block has rewritten since): each name
  // the journal touches then goes whole, as it is here. The first replay stays incremental.
  std::vector<std::string> journal_names;
  for (const Mutation& m : durable_.journal) {
    ForEachChangedName(m, [&](const std::string& path) { journal_names.push_back(path); });
  }
  if (journal_replayed_) {
    absl::btree_set<std::string> moved_here;  // the target lists its own names under them
    for (const Mutation& m : durable_.journal) NamesUnderOf(m, names_under_, moved_here);
    for (const std::string& path : journal_names) {
      whole_paths_.insert(path);
      uncompared_paths_.insert(path);
      if (!durable_.dirty.Contains(path, 0)) records.push_back(record::MarkDirty{path, 0, 0});
    }
  }
  journal_replayed_ = !durable_.journal.empty() && !full_resync_;
  // The plan is the dirty map itself (persisted), so an interrupted resync resumes from it.
  // Zones our own crash left hot may differ either way, or not at all: they are compared
  // first (PlanComparisons), and join the plan as the target answers. Zones written and not
  // yet durable there (known differences) go whole, as do zones under names that go whole or
  // that the journal replay renames first.
  const bool compare = !full_resync_ && !durable_.disk_failed;
  absl::btree_map<std::string, std::vector<uint64_t>> compared;
  activity_log_.ForEachNotDurable(peer_durable_lsn_, [&](const ZoneRef& ref) {
    if (durable_.dirty.Contains(ref.path, ref.zone)) return;
    const auto under = [&](const std::string& name) { return PathIsUnder(ref.path, name); };
    if (compare && activity_log_.Recovered(ref) &&
        std::none_of(uncompared_paths_.begin(), uncompared_paths_.end(), under) &&
        std::none_of(journal_names.begin(), journal_names.end(), under)) {
      compared[ref.path].push_back(ref.zone);
      return;
    }
    records.push_back(record::MarkDirty{ref.path, ref.zone, ref.zone});
  });
  Persist(std::move(records), out);
  // Namespace changes first, on the stream, so that the zones land on the right names. A
  // full resync sends every name whole instead.
  if (!full_resync_) {
    for (const Mutation& m : durable_.journal) {
      Submit(now, /*op_id=*/0, m, /*apply_locally=*/false, out);
    }
  }
  // The journal closes with the dirty map: not before the target acknowledged the replay (a
  // replayed change lost on the way would be lost for good).
  replay_end_lsn_ = next_lsn_ - 1;
  source_active_ = true;
  target_zones_complete_ = false;
  target_lasts_seen_ = 0;
  PlanComparisons(std::move(compared), out);
  awaiting_done_confirm_ = false;
  target_requests_seen_ = 0;
  resync_total_ = durable_.dirty.zones() * opt_.zone_size;
  resync_done_ = 0;
  resync_data_sent_ = 0;
  resync_holes_sent_ = 0;
  resync_same_done_ = 0;
  resync_started_ = now;
  next_read_at_ = now;
  if (full_resync_) IssueListTree(out);
  IssueReads(now, out);
}

void Replica::PlanComparisons(absl::btree_map<std::string, std::vector<uint64_t>> zones,
                              Actions& out) {
  // The target reads its digest of each and asks for it with it (or plainly), as for the zones
  // its own crash left hot; its list's end then comes twice, once for each list.
  target_lasts_needed_ = zones.empty() ? 1 : 2;
  if (zones.empty()) return;
  for (auto& file : zones) {  // (clang 14 cannot capture a structured binding)
    std::vector<uint64_t>& list = file.second;
    std::sort(list.begin(), list.end());
    for (size_t start = 0; start < list.size(); start += kMaxDigestsPerRequest) {
      const size_t end = std::min(list.size(), start + kMaxDigestsPerRequest);
      out.push_back(SendReplication{
          ReplTargetZones{name_, file.first,
                          std::vector<uint64_t>(list.begin() + start, list.begin() + end), false}});
    }
  }
  out.push_back(SendReplication{ReplTargetZones{name_, "", {}, true}});
}

void Replica::IssueListTree(Actions& out) {
  names_under_listing_.merge(names_under_waiting_);
  names_under_waiting_.clear();
  list_id_ = NextId();
  list_retry_at_ = absl::InfiniteFuture();
  renames_since_listing_.clear();
  out.push_back(ListTree{module_, list_id_});
}

void Replica::NoteRenameForListing(const Mutation& rename) {
  if (list_id_ != 0) renames_since_listing_.push_back(rename);
}

std::string Replica::NameNowOfListed(std::string path) const {
  for (const Mutation& rename : renames_since_listing_) path = NameAfterRename(rename, path);
  return path;
}

void Replica::OnTreeListed(absl::Time now, const TreeListed& listed, Actions& out) {
  if (listed.list_id != list_id_ || list_id_ == 0) return;  // from an earlier session
  list_id_ = 0;
  if (!listed.status.ok()) {
    Log(out,
        absl::StrCat(full_resync_ ? "full resync" : "names under a directory",
                     ": listing this copy failed (", listed.status.message(), "); retrying in 1s"));
    list_retry_at_ = now + absl::Seconds(1);
    return;
  }
  if (!full_resync_) return OnNamesUnderListed(now, listed, out);
  if (source_active_) {
    std::vector<ReplicaRecord> records;
    std::vector<std::string> paths = listed.paths;
    // Listed before the renames applied here since: their names go where they are now too.
    for (const std::string& path : listed.paths) {
      if (std::string moved = NameNowOfListed(path); moved != path)
        paths.push_back(std::move(moved));
    }
    for (const std::string& path : paths) {
      whole_paths_.insert(path);
      uncompared_paths_.insert(path);
      if (!durable_.dirty.Contains(path, 0)) {
        records.push_back(record::MarkDirty{path, 0, 0});
        resync_total_ += opt_.zone_size;
      }
    }
    Persist(std::move(records), out);
    IssueReads(now, out);
    MaybeFinishSource(out);
  } else if (target_active_) {
    // Every name here goes: kept aside first (never silently deleted), then overwritten with
    // the source's version, or removed where the source has none.
    if (!listed.paths.empty()) {
      const uint64_t id = NextId();
      preserving_[id] = 0;  // a whole copy replaced: no branch to record
      out.push_back(PreserveDivergent{module_, listed.paths, id});
    }
    for (const std::string& path : listed.paths) RequestFromSource(path, {}, false, out);
    RequestFromSource("", {}, true, out);
    // What waited for the keep-aside is applied after it (C5, C7).
    awaiting_listing_keep_aside_ = false;
    std::deque<ReplMessage> held = std::move(held_until_kept_);
    held_until_kept_.clear();
    for (const ReplMessage& message : held) OnMessage(now, message, out);
  }
}

void Replica::OnTargetZones(absl::Time now, const ReplTargetZones& zones, Actions& out) {
  if (!source_active_) return;
  ++target_requests_seen_;
  // A late request (after `last`) reopens a resync that was about to be declared done.
  awaiting_done_confirm_ = false;
  std::vector<ReplicaRecord> records;
  const bool by_digest = !zones.digests.empty() && zones.digests.size() == zones.zones.size();
  if (!zones.path.empty()) {
    if (zones.zones.empty()) {
      // The target changed its names: send it whole (with the names under it, if asked so
      // and a directory here).
      if (zones.names_under) names_under_.insert(zones.path);
      SendWhole(zones.path, records, out);
    }
    for (size_t i = 0; i < zones.zones.size(); ++i) {
      const uint64_t z = zones.zones[i];
      const ZoneRef ref{zones.path, z};
      if (by_digest) {
        // Read or sent already: the block makes the target's zone ours anyway. A path asked
        // for whole is never compared (see above).
        if (!reading_.contains(ref) && !uncompared_paths_.contains(zones.path)) {
          target_digests_[ref] = zones.digests[i];
        }
        if (!durable_.dirty.Contains(zones.path, z)) {
          records.push_back(record::MarkDirty{zones.path, z, z});
          resync_total_ += opt_.zone_size;
        }
        continue;
      }
      target_digests_.erase(ref);  // asked for again without one: it goes whole
      if (!durable_.dirty.Contains(zones.path, z)) {
        records.push_back(record::MarkDirty{zones.path, z, z});
        resync_total_ += opt_.zone_size;
      } else if (reading_.contains(ref)) {
        // Sent already (or being read), but asked again: a live write to it failed on the
        // target since. It goes again.
        ForgetSent(ref);
      }
    }
  }
  Persist(std::move(records), out);
  if (zones.last) {
    // One end for the target's own list, one more for its answer to our comparisons.
    target_zones_complete_ = ++target_lasts_seen_ >= target_lasts_needed_;
    // The target has marked its copy inconsistent (if behind) before sending this: it can
    // no longer take over with an older copy, so writes made alone may complete.
    OnPeerOutdated(now, out);
  }
  IssueReads(absl::InfinitePast(), out);
  MaybeFinishSource(out);
}

void Replica::ExpandWholePath(const std::string& path, const ZoneRead& read, Actions& out) {
  // The target changed this path's names: every zone of our version goes over.
  if (!whole_paths_.contains(path) || read.kind != PathKind::kFile || read.file_size == 0) return;
  const uint64_t last = (read.file_size - 1) / opt_.zone_size;
  const uint64_t before = durable_.dirty.zones();
  Persist({record::MarkDirty{path, 0, last}}, out);
  resync_total_ += (durable_.dirty.zones() - before) * opt_.zone_size;
  // Once: a later read of the path (its other zones) would mark dirty again the zones
  // already sent and cleaned, and a file of more zones than the reads in flight would go
  // over and over (a 256 MiB sparse file: 12 times). Live writes reach the target by the
  // stream; a new request for the whole path comes back here.
  whole_paths_.erase(path);
}

void Replica::OnZoneRead(absl::Time now, const ZoneRead& read, Actions& out) {
  if (auto probe = probes_.find(read.read_id); probe != probes_.end()) {
    const std::string path = probe->second;
    probes_.erase(probe);
    if (read.status.ok()) ExpandWholePath(path, read, out);
    IssueReads(now, out);
    MaybeFinishSource(out);
    return;
  }
  if (OnDigestRead(read, out)) return;  // the target's
  auto it = reads_.find(read.read_id);
  if (it == reads_.end()) return;  // from an earlier connection
  const auto [zone, lsn] = it->second;
  // The target holds the same zone (both digests of a regular file's zone, equal).
  bool same = false;
  if (auto digest = target_digests_.find(zone); digest != target_digests_.end()) {
    same = read.status.ok() && read.kind == PathKind::kFile && !read.digest.empty() &&
           read.digest == digest->second;
    // Used once: a zone read again (its block was stale, or asked for again) goes whole.
    target_digests_.erase(digest);
  }
  // The cap and the window count the bytes that go: a hole (most zones of a sparse file) or
  // a zone the target holds already costs a header.
  const uint64_t cost =
      same ? zone.path.size() + kResyncBlockHeaderBytes : ResyncCostOf(zone, read);
  EndRead(read.read_id, cost);
  if (!read.status.ok()) {
    reading_.erase(zone);
    Log(out, absl::StrCat("resync read of ", zone.path, " failed: ", read.status.message()));
    return;
  }
  const bool names_under = zone.zone == 0 && ListNamesUnderIfAsked(zone.path, read, out);
  if (same) {
    const uint64_t id = NextId();
    SendBlock(id, zone, cost);
    same_blocks_.insert(id);
    ResyncSame answer{name_, id, zone.path, zone.zone, resync_total_, resync_done_};
    answer.read_lsn = lsn;
    CopyAttributes(read, answer);
    out.push_back(SendReplication{std::move(answer)});
    IssueReads(now, out);
    return;
  }
  if (SendAsLinkOrWait(now, zone, lsn, read, out)) return;
  ExpandWholePath(zone.path, read, out);
  ResyncBlock block = BlockOf(zone, lsn, read);
  // A zone with no data goes as a hole: no bytes, and the target punches it, with the zones
  // of the hole after it that are planned and not yet read.
  block.hole = read.kind == PathKind::kFile && read.hole;
  if (!block.hole) {
    block.data = read.data;
    block.hole_ranges = read.hole_ranges;
  } else {
    TakeHoleRun(zone, read, block);  // replica_resync_holes.cc
  }
  if (block.data) resync_data_sent_ += block.data->size();
  if (block.hole) resync_holes_sent_ += block.hole_zones;
  if (zone.zone == 0 && read.kind != PathKind::kAbsent) block.xattrs = read.xattrs;
  block.link_target = read.link_target;
  block.names_under = names_under;
  SendBlock(block.block_id, zone, cost, block.hole_zones);
  if (full_resync_ && zone.zone == 0 && read.link_inode != 0) {
    first_name_blocks_[block.block_id] = {read.link_device, read.link_inode};
  }
  out.push_back(SendReplication{std::move(block)});
  IssueReads(now, out);
}

ResyncBlock Replica::BlockOf(const ZoneRef& zone, uint64_t lsn, const ZoneRead& read) {
  ResyncBlock block;
  block.module = name_;
  block.block_id = NextId();
  block.path = zone.path;
  block.zone = zone.zone;
  block.read_lsn = lsn;
  block.kind = read.kind;
  block.file_size = read.file_size;
  CopyAttributes(read, block);
  block.total_bytes = resync_total_;
  block.done_bytes = resync_done_;
  return block;
}

void Replica::MaybeFinishSource(Actions& out) {
  if (!source_active_ || !target_zones_complete_ || list_id_ != 0 || NamesUnderPending() ||
      list_retry_at_ != absl::InfiniteFuture() || !reads_.empty() || !blocks_.empty() ||
      !probes_.empty() || durable_.dirty.zones() != unflushed_.size() + durable_there_.size() ||
      peer_done_lsn_ < replay_end_lsn_ /* the watermark: the whole replay */ ||
      awaiting_done_confirm_) {
    return;
  }
  awaiting_done_confirm_ = true;
  // What we sent must be durable here too before the dirty map closes: flush, then done.
  const uint64_t id = NextId();
  applying_[id] = Applying{Applying::Kind::kSourceFlush, 0, session_};
  out.push_back(ApplyMutation{module_, id, MakeMutation(MutationKind::kFsync, ""), true});
}

void Replica::CloseSourceSession(Actions& out) {
  // The target holds our data durably: close the dirty map.
  Generations gens = durable_.gens;
  gens.bitmap = 0;
  std::vector<ReplicaRecord> records = {record::ClearDirty{}, record::SetGenerations{gens}};
  journal_replayed_ = false;  // the journal closes
  if (!durable_.disk_failed) activity_log_.ForgetRecovered(records);
  Persist(std::move(records), out);
  source_active_ = false;
  awaiting_done_confirm_ = false;
  unflushed_.clear();
  durable_there_.clear();
  clean_flush_in_flight_ = false;
  peer_outdated_ = false;  // the peer is up to date again
  // Zones sent count whole (the progress counts the ones found the same too); the data and
  // holes say what went.
  Log(out,
      absl::StrCat("resync done: ", resync_done_ - resync_same_done_, " bytes sent (",
                   resync_data_sent_, " bytes of data, ", resync_holes_sent_, " zones as holes); ",
                   resync_same_done_, " bytes the same on both copies by digest, not sent"));
  if (durable_.disk_failed && role_ != ReplRole::kPrimary) {
    // The peer now holds durably what our failed flush may lose: a new session, in which
    // it is the source (it lost nothing), rewrites our hot zones.
    SendHello(out);
  } else {
    RefreshHelloIfStale(out);
  }
}

bool Replica::ReplayStalled(absl::Time now) const {
  return role_ != ReplRole::kPrimary && source_active_ && link_ == Link::kAttached && connected_ &&
         peer_done_lsn_ < replay_end_lsn_ /* the watermark */ &&
         now - last_ack_progress_ >= opt_.timeout;
}

}  // namespace duet
