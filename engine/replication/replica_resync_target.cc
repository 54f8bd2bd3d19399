// Replica, the resync target (DESIGN.md §5). It asks the source for everything it may differ
// in (its own dirty and hot zones, the names its journal touched, on a full resync every name
// it holds), keeping divergent changes aside first when the verdict says so. A block is
// applied only if no live stream write newer than its read reached the zone first. The copy
// is partial (persisted) until ResyncDone, every block applied and a final flush: then it
// takes the source's current generation and is up to date.
// Zones this copy may well hold as the source does (its activity log's: written here as
// primary, maybe not durable on the peer, as after a crash) are read here for their digest
// first and asked for with it: the source answers ResyncSame for each it holds the same, and
// the target keeps that zone's bytes as they are and takes the path's attributes from it, as
// from a block (the same bytes may sit under a newer mtime the source never got). Known differences
// (the dirty map: written without the peer, or a failed apply), names whose attributes may differ
// (asked for whole) and a copy whose disk failed (what it reads may not be what it holds) go whole.
// The list's end waits for the digests; a digest read that fails asks for its zone whole.
// The zones a source lists as left hot by its own crash (OnSourceHotZones) are read and asked
// for the same way, and the end of that list follows their requests.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/replication/replica.h"
#include "engine/replication/zone_math.h"

namespace duet {

void Replica::OnBlockApplied(absl::Time now, const Applying& a, const absl::Status& status,
                             Actions& out) {
  auto block = block_applies_.find(a.key);
  if (block == block_applies_.end()) return;
  if (!status.ok()) {
    // (A full disk.) Never acknowledged: the source keeps the zone in its plan, and the
    // resync starts again in a new session a little later.
    if (!block->second.failed) {
      Log(out, absl::StrCat("applying a resync block failed (", status.message(),
                            "); the resync starts again"));
    }
    block->second.failed = true;
    RestartSessionLater(now);
  }
  if (--block->second.left == 0) {
    const bool failed = block->second.failed;
    const std::string path = std::move(block->second.path);
    std::vector<uint64_t> ask_again = std::move(block->second.ask_again);
    block_applies_.erase(block);
    if (failed) return;
    applied_blocks_upto_ = std::max(applied_blocks_upto_, a.key);
    if (SessionDecided()) {
      out.push_back(SendReplication{ResyncBlockAck{name_, a.key, false, false}});
      // After the acknowledgement, which made them sent: the source reads them again.
      if (!ask_again.empty()) RequestFromSource(path, std::move(ask_again), false, out);
    }
    if (next_flush_at_ == absl::InfiniteFuture()) next_flush_at_ = now + opt_.flush_interval;
  }
  MaybeFinishTarget(out);
}

void Replica::OnFinalFlushed(absl::Time now, uint64_t apply_id, const Applying& a,
                             const absl::Status& status, Actions& out) {
  if (a.session != session_) return;  // flushed for an earlier session's resync
  if (!status.ok()) {
    final_flush_started_ = false;
    OnDurabilityFailedHere(now, status, out);
    return;
  }
  ForgetSynced(apply_id);
  FinishTarget(out);
}

void Replica::RequestFromSource(std::string path, std::vector<uint64_t> zones, bool last,
                                Actions& out, std::vector<std::string> digests, bool names_under) {
  ++target_requests_sent_;
  // A ResyncDone received before this request does not cover it (a stream rename can move
  // requests while the final flush runs): wait for the next one, which the source sends once
  // it served this request. Finishing now would leave the source waiting for block acks
  // that a finished target never sends.
  done_current_.reset();
  if (!path.empty()) {
    Requested& r = requested_[path];
    if (zones.empty()) r.whole = true;
    if (zones.empty() && names_under) r.names_under = true;
    r.zones.insert(r.zones.end(), zones.begin(), zones.end());
  }
  ReplTargetZones request{name_, std::move(path), std::move(zones), last, std::move(digests)};
  request.names_under = names_under && request.zones.empty() && !request.path.empty();
  out.push_back(SendReplication{std::move(request)});
}

bool Replica::LiveChangedSince(const std::string& path, uint64_t zone, uint64_t read_lsn,
                               bool whole_file) const {
  auto newer = [&](const auto& map, const auto& key) {
    auto it = map.find(key);
    return it != map.end() && it->second > read_lsn;
  };
  if (newer(live_zone_lsn_, ZoneRef{path, zone}) || newer(live_path_lsn_, path) ||
      (whole_file && newer(live_file_lsn_, path)) || live_rename_lsn_ > read_lsn) {
    return true;
  }
  // A directory above it removed (or made) since: what was read under it may be gone.
  for (size_t slash = path.find('/'); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    if (newer(live_path_lsn_, path.substr(0, slash))) return true;
  }
  return false;
}

bool Replica::LiveWriteToFileSince(const std::string& path, uint64_t read_lsn) const {
  auto it = live_file_lsn_.find(path);
  return it != live_file_lsn_.end() && it->second > read_lsn;
}

void Replica::IssueBlockSteps(uint64_t block_id, const ZoneRef& zone, std::vector<Mutation> steps,
                              Actions& out, uint64_t zones) {
  block_applies_[block_id] = BlockApply{steps.size(), false};
  for (Mutation& m : steps) {
    const uint64_t id = NextId();
    // The same zone, sent again, makes the path match whatever its kind: not the whole name.
    for (uint64_t i = 0; i < zones; ++i) unsynced_zones_[ZoneRef{zone.path, zone.zone + i}] = id;
    applying_[id] = Applying{Applying::Kind::kBlock, block_id};
    out.push_back(ApplyMutation{module_, id, std::move(m), false});
  }
}

void Replica::FollowRename(const Mutation& rename, Actions& out) {
  // Every moved request is taken before any is made again: an exchange moves requests both
  // ways, and a request made under a new name must not move once more.
  std::vector<std::pair<std::string, Requested>> moved;
  for (const auto& [path, r] : requested_) {
    std::string now = NameAfterRename(rename, path);
    if (now != path) moved.emplace_back(std::move(now), r);
  }
  for (auto& [path, r] : moved) {
    if (!r.zones.empty()) RequestFromSource(path, std::move(r.zones), false, out);
    if (r.whole) RequestFromSource(path, {}, false, out, {}, r.names_under);
  }
  // Names whose names under them are listed here once the source's block comes: under their
  // new names too.
  absl::btree_set<std::string> list_here;
  for (const std::string& name : list_under_here_) list_here.insert(NameAfterRename(rename, name));
  list_under_here_ = std::move(list_here);
  // What it moved here need not be what it moved on the source (a replay that meets a tree an
  // earlier replay already changed): if the source sends the new name as a directory, ours
  // under it are listed too (replica_resync_names_under.cc).
  if (!full_resync_) {
    list_under_here_.insert(rename.path2);
    if (rename.is_exchange()) list_under_here_.insert(rename.path);
  }
  // Zones still waiting for their digest here were read (or are) under the old names: asked
  // for under the new names, whole (by name and zone: the same actions for the same inputs,
  // whatever order the hash map holds them in).
  absl::btree_map<std::string, std::vector<uint64_t>> renamed;
  absl::erase_if(digest_reads_, [&](const auto& entry) {
    std::string now = NameAfterRename(rename, entry.second.path);
    if (now == entry.second.path) return false;
    renamed[std::move(now)].push_back(entry.second.zone);
    return true;
  });
  for (auto it = digested_.begin(); it != digested_.end();) {
    std::string now = NameAfterRename(rename, it->first);
    if (now == it->first) {
      ++it;
      continue;
    }
    std::vector<uint64_t>& zones = renamed[now];
    zones.insert(zones.end(), it->second.first.begin(), it->second.first.end());
    it = digested_.erase(it);
  }
  for (auto& file : renamed) {
    std::sort(file.second.begin(), file.second.end());
    RequestFromSource(file.first, std::move(file.second), false, out);
  }
  SendDigestRequests(out);  // if the renamed zones were the last ones waiting
}

void Replica::StartTarget(bool discard, bool behind, Actions& out) {
  target_active_ = true;
  // Nothing of an earlier session's resync counts: its ResyncDone, blocks and final flush.
  done_current_.reset();
  final_flush_started_ = false;
  block_applies_.clear();
  live_zone_lsn_.clear();
  live_path_lsn_.clear();
  live_file_lsn_.clear();
  live_rename_lsn_ = 0;
  applied_blocks_upto_ = 0;
  flushed_blocks_upto_ = 0;
  target_requests_sent_ = 0;
  requested_.clear();
  digest_reads_.clear();  // an earlier session's: their answers are ignored
  digested_.clear();
  last_request_waits_ = false;
  compare_last_waits_ = false;
  digest_failures_ = 0;
  list_id_ = 0;  // an earlier session's listing: its answer is ignored
  list_retry_at_ = absl::InfiniteFuture();
  names_under_waiting_.clear();
  names_under_listing_.clear();
  list_under_here_.clear();
  // Names a rename or removal changed here: asked for with the names under them
  // (replica_resync_names_under.cc).
  absl::btree_set<std::string> ask_names_under;
  // What this node changed or may hold that the peer lacks, all overwritten by the source:
  // the zones of its dirty map (written alone, or asked for after a failed apply), zones
  // written here as primary and not yet durable on the peer or left hot by a crash, and
  // whole paths for the names its journal touched or a namespace mutation in flight changed.
  std::vector<std::string> renamed;
  for (const Mutation& m : durable_.journal) {
    ForEachChangedName(m, [&](const std::string& path) { renamed.push_back(path); });
    NamesUnderOf(m, ask_names_under, list_under_here_);
  }
  absl::btree_map<std::string, std::vector<uint64_t>> mine;
  for (const auto& file : durable_.dirty.files()) {  // no structured binding: see disk_faults
    const std::string& path = file.first;
    file.second.ForEach([&](uint64_t z) { mine[path].push_back(z); });
  }
  // With a failed disk, every hot zone: this copy may lack it whatever the peer holds.
  const uint64_t peer_durable = durable_.disk_failed ? 0 : peer_durable_lsn_;
  // Of unknown age from now on: if this plan is interrupted before the source has it, the
  // next session's watermark must not make them look durable there.
  std::vector<ZoneRef> hot;
  activity_log_.TakeNotDurable(peer_durable, [&](const ZoneRef& ref) { hot.push_back(ref); });
  // A hot name's change may have been a rename or a removal (its kind is not kept).
  activity_log_.TakeNamesNotDurable(peer_durable, [&](const std::string& path) {
    renamed.push_back(path);
    ask_names_under.insert(path);
    list_under_here_.insert(path);
  });
  std::sort(renamed.begin(), renamed.end());
  renamed.erase(std::unique(renamed.begin(), renamed.end()), renamed.end());
  // Hot zones are compared by digest (this file's contract above says which are not).
  const bool by_digest = !full_resync_ && !durable_.disk_failed;
  absl::btree_map<std::string, std::vector<uint64_t>> maybe_same;
  for (const ZoneRef& ref : hot) {
    const bool whole = std::any_of(renamed.begin(), renamed.end(), [&](const std::string& name) {
      return PathIsUnder(ref.path, name);
    });
    if (by_digest && !whole && !durable_.dirty.Contains(ref.path, ref.zone)) {
      maybe_same[ref.path].push_back(ref.zone);
    } else {
      mine[ref.path].push_back(ref.zone);
    }
  }
  // (`discard`: Decide also passes it for a copy whose branch the source lacks, whatever the
  // fit: an earlier keep-aside of it may have failed, or been cut by a crash.)
  const bool preserving_this_branch =
      std::any_of(preserving_.begin(), preserving_.end(),
                  [&](const auto& entry) { return entry.second == durable_.gens.current; });
  if (discard && (durable_.preserved_for == durable_.gens.current || preserving_this_branch)) {
    Log(out, "this branch's divergent paths were kept aside by an earlier session already");
  } else if (discard) {
    // Keep what we are about to overwrite first, once per discarded branch: a later session
    // would keep aside what this one's resync already overwrote. Recorded once the copy is
    // done (OnDivergentPreserved): a crash before then keeps them aside again next time.
    std::vector<std::string> paths = renamed;
    for (const auto& [path, zones] : durable_.dirty.files()) paths.push_back(path);
    std::sort(paths.begin(), paths.end());
    paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
    if (paths.empty()) {
      Persist({record::SetDivergencePreserved{durable_.gens.current}}, out);  // nothing to keep
    } else {
      const uint64_t id = NextId();
      preserving_[id] = durable_.gens.current;
      out.push_back(PreserveDivergent{module_, paths, id});
    }
  }
  for (auto& [path, zones] : mine) {
    std::sort(zones.begin(), zones.end());
    zones.erase(std::unique(zones.begin(), zones.end()), zones.end());
    RequestFromSource(path, std::move(zones), false, out);
  }
  for (const std::string& path : renamed) {
    RequestFromSource(path, {}, false, out, {}, !full_resync_ && ask_names_under.contains(path));
  }
  if (full_resync_) list_under_here_.clear();  // every name is listed and asked for anyway
  for (auto& file : maybe_same) {
    std::sort(file.second.begin(), file.second.end());
    file.second.erase(std::unique(file.second.begin(), file.second.end()), file.second.end());
  }
  ReadDigests(maybe_same, out);
  // A full resync asks for every name this copy holds first: the last request follows the
  // listing (OnTreeListed); with digests to read, it follows them (SendDigestRequests).
  held_until_kept_.clear();
  awaiting_listing_keep_aside_ = full_resync_;
  if (full_resync_) {
    IssueListTree(out);
  } else if (!last_request_waits_) {
    RequestFromSource("", {}, true, out);
  }
  // Overwritten with a copy that differs from ours (newer, or ours diverged): partial until
  // done. Zones asked for only because a flush failed here come back the same.
  const bool overwritten =
      behind || discard || !durable_.dirty.empty() || !durable_.journal.empty();
  if (behind || discard || !mine.empty() || !renamed.empty() || !maybe_same.empty() ||
      durable_.inconsistent || durable_.disk_failed) {
    if (!durable_.inconsistent || (overwritten && durable_.unflushed_only)) {
      Persist({record::SetInconsistent{true}}, out);
    }
    data_state_ = DataState::kSyncing;
    sync_percent_ = 0;
  } else if (durable_.outdated) {
    // Told it was outdated, yet the generations match: the primary wrote nothing alone.
    Persist({record::SetOutdated{false}}, out);
    data_state_ = DataState::kUpToDate;
    last_stream_failure_.clear();
  } else {
    data_state_ = DataState::kUpToDate;
    last_stream_failure_.clear();
  }
}

namespace {

// What makes the block's path exist with its kind, owner and mode (a symlink's mode is none).
Mutation CreationOf(MutationKind kind, const ResyncBlock& b) {
  Mutation m = MakeMutation(kind, b.path, kind == MutationKind::kSymlink ? b.link_target : "");
  if (kind != MutationKind::kSymlink) m.mode = b.mode;
  m.uid = b.uid;
  m.gid = b.gid;
  return m;
}

// Gives the block's path the attributes the source read (a symlink's mode is not its own).
Mutation AttributesOf(const ResyncBlock& b) {
  Mutation m = MakeMutation(MutationKind::kSetattr, b.path);
  m.attr_mask = b.kind == PathKind::kSymlink ? kAllAttrs & ~kAttrMode : kAllAttrs;
  CopyAttributes(b, m);
  if (b.kind == PathKind::kSymlink) m.mode = 0;
  return m;
}

// What makes the block's path what the source read (its data, size, kind).
std::vector<Mutation> ContentSteps(const ResyncBlock& b, uint64_t zone_size) {
  std::vector<Mutation> steps;
  switch (b.kind) {
    case PathKind::kAbsent:
      steps.push_back(MakeMutation(MutationKind::kRemoveTree, b.path));
      break;
    case PathKind::kDirectory:
      steps.push_back(CreationOf(MutationKind::kMkdir, b));
      break;
    case PathKind::kSymlink:
      steps.push_back(CreationOf(MutationKind::kSymlink, b));
      break;
    case PathKind::kFifo:
    case PathKind::kSocket: {
      Mutation mknod = CreationOf(MutationKind::kMknod, b);
      mknod.node_kind = b.kind;
      steps.push_back(std::move(mknod));
      break;
    }
    case PathKind::kFile: {
      const uint64_t start = b.zone * zone_size;
      if (b.hole) {
        // No data on the source: a hole here too (it reads as zeros, takes no space).
        Mutation punch = MakeMutation(MutationKind::kFallocate, b.path);
        punch.offset = start;
        punch.length = zone_size;
        punch.fallocate_mode = kFallocatePunchHole | kFallocateKeepSize;
        steps.push_back(std::move(punch));
      } else if (b.data && !b.data->empty()) {
        Mutation write = MakeMutation(MutationKind::kWrite, b.path);
        write.offset = start;
        write.data = b.data;
        steps.push_back(std::move(write));
        // The zeros written where the source has holes become holes again.
        for (const HoleRange& range : b.hole_ranges) {
          Mutation punch = MakeMutation(MutationKind::kFallocate, b.path);
          punch.offset = start + range.offset;
          punch.length = range.length;
          punch.fallocate_mode = kFallocatePunchHole | kFallocateKeepSize;
          steps.push_back(std::move(punch));
        }
      }
      if (b.file_size <= start + zone_size) {
        Mutation truncate = MakeMutation(MutationKind::kTruncate, b.path);
        truncate.offset = b.file_size;
        steps.push_back(std::move(truncate));
      }
      if (steps.empty()) steps.push_back(CreationOf(MutationKind::kCreate, b));
      break;
    }
  }
  return steps;
}

// What makes the `zones` zones of a run of holes from b.zone holes here, but for those in
// `ask_again` (ascending; a live write reached them since the read): one punch for each run
// of zones between them, and the size if the run's last zone sets it and is not asked again.
std::vector<Mutation> HoleRunSteps(const ResyncBlock& b, uint64_t zones,
                                   const std::vector<uint64_t>& ask_again, uint64_t zone_size) {
  std::vector<Mutation> steps;
  auto punch = [&](uint64_t first, uint64_t end) {
    if (first == end) return;
    Mutation m = MakeMutation(MutationKind::kFallocate, b.path);
    m.offset = first * zone_size;
    m.length = (end - first) * zone_size;
    m.fallocate_mode = kFallocatePunchHole | kFallocateKeepSize;
    steps.push_back(std::move(m));
  };
  uint64_t first = b.zone;
  for (const uint64_t skipped : ask_again) {
    punch(first, skipped);
    first = skipped + 1;
  }
  const uint64_t end = b.zone + zones;
  punch(first, end);
  if (first < end && b.file_size <= end * zone_size) {
    Mutation truncate = MakeMutation(MutationKind::kTruncate, b.path);
    truncate.offset = b.file_size;
    steps.push_back(std::move(truncate));
  }
  return steps;
}

}  // namespace

void Replica::ApplyBlock(const ResyncBlock& b, Actions& out) {
  if (!target_active_) return;
  if (b.total_bytes > 0) {
    sync_percent_ =
        static_cast<uint8_t>(std::min<uint64_t>(99, 100 * b.done_bytes / b.total_bytes));
  }
  // A block that sets the file's size (its last zone) or removes the path is stale after any
  // newer live write to the file, not only to its own zone: the size it carries is old. (A
  // zone that ends exactly at the end of file sets the size too: the target may be longer.)
  // A run of holes covers zones of the file only (a longer one is cut at its end).
  const uint64_t last_zone = b.file_size == 0 ? 0 : (b.file_size - 1) / opt_.zone_size;
  const uint64_t zones =
      b.zone >= last_zone ? 1 : std::min<uint64_t>(b.hole_zones, last_zone - b.zone + 1);
  const bool sets_size =
      b.kind != PathKind::kFile || b.file_size <= (b.zone + zones) * opt_.zone_size;
  // The source sends the names under this directory, as it holds them: ours under it are
  // listed once it is applied (even if this block is stale: the one read again may not say
  // so), and the source answers the ones it lacks as absent.
  if (b.names_under) list_under_here_.insert(b.path);
  // A link is stale too if the name it links to changed since the read.
  auto first_lsn = b.link_of.empty() ? live_path_lsn_.end() : live_path_lsn_.find(b.link_of);
  // A run's zones a live write reached since the read are asked for again, one by one (as a
  // stale block's zone is read again); the others are punched. Stale if none is left.
  std::vector<uint64_t> ask_again;
  for (uint64_t i = 0; i < zones; ++i) {
    if (LiveChangedSince(b.path, b.zone + i, b.read_lsn, sets_size && i + 1 == zones)) {
      ask_again.push_back(b.zone + i);
    }
  }
  if (ask_again.size() == zones ||
      (first_lsn != live_path_lsn_.end() && first_lsn->second > b.read_lsn)) {
    out.push_back(SendReplication{ResyncBlockAck{name_, b.block_id, true, false}});
    return;
  }
  std::vector<Mutation> steps;
  if (zones > 1) {
    steps = HoleRunSteps(b, zones, ask_again, opt_.zone_size);
  } else if (!b.link_of.empty()) {
    // Another name of a file this resync created: one inode, as on the source (what held
    // the name here is replaced). Its attributes and xattrs are the first name's.
    steps.push_back(MakeMutation(MutationKind::kLink, b.link_of, b.path));
  } else {
    steps = ContentSteps(b, opt_.zone_size);
  }
  // The path may exist here with other attributes (made by a journal replay, changed on one
  // side only, or its times moved by the writes just made): every block leaves them as the
  // source read them.
  const bool sets_attributes = b.kind != PathKind::kAbsent && b.link_of.empty();
  if (sets_attributes) {
    Mutation attributes = AttributesOf(b);
    // A live write to another zone of the file since the read gave it a newer mtime here, as
    // on the source (StampsChangeTime): the read's is older.
    if (LiveWriteToFileSince(b.path, b.read_lsn)) attributes.attr_mask &= ~kAttrMtime;
    steps.push_back(std::move(attributes));
  }
  if (sets_attributes && b.zone == 0) {
    // The first zone carries the path's whole xattr set (ACLs included): this copy's set
    // becomes exactly that one.
    Mutation xattrs = MakeMutation(MutationKind::kReplaceXattrs, b.path);
    xattrs.xattrs = b.xattrs;
    steps.push_back(std::move(xattrs));
  }
  // Blocks come in the order the source's reads complete, so a name's block may come before
  // its directory's: the store makes the missing directories (root's, kMadeParentMode) until
  // that block gives them the source's owner and mode.
  for (Mutation& step : steps) step.make_parents = true;
  IssueBlockSteps(b.block_id, ZoneRef{b.path, b.zone}, std::move(steps), out, zones);
  if (!ask_again.empty()) {
    BlockApply& apply = block_applies_[b.block_id];
    apply.path = b.path;
    apply.ask_again = std::move(ask_again);
  }
  // A directory that a rename may have moved names into here: our names under it that the
  // source lacks must go (listed after the block's steps, which it sees done).
  if (b.zone == 0 && b.kind == PathKind::kDirectory && list_under_here_.erase(b.path) > 0) {
    ListNamesUnder(b.path, out);
  }
}

void Replica::OnResyncDone(const ResyncDone& done, Actions& out) {
  if (awaiting_done_confirm_ && source_active_) return CloseSourceSession(out);
  if (!target_active_) return;
  // Sent before the source saw our late request: the next ResyncDone covers it.
  if (done.requests_seen < target_requests_sent_) return;
  done_current_ = done.current;
  MaybeFinishTarget(out);
}

void Replica::MaybeFinishTarget(Actions& out) {
  // (A listing of names under a directory here asks for more before the end.)
  if (!done_current_ || !block_applies_.empty() || final_flush_started_ || NamesUnderPending()) {
    return;
  }
  // A flush failed in this session: Linux forgot the pages it could not write, so no later
  // flush makes this session's blocks durable. The session restarts (RestartSessionLater),
  // and the source, without our ResyncDone, still holds every zone in its plan.
  if (flush_failed_session_ == session_) return;
  final_flush_started_ = true;
  flush_requests_sent_ = target_requests_sent_;
  const uint64_t id = NextId();
  applying_[id] = Applying{Applying::Kind::kFinalFlush, 0, session_};
  out.push_back(ApplyMutation{module_, id, MakeMutation(MutationKind::kFsync, ""), true});
}

void Replica::FinishTarget(Actions& out) {
  final_flush_started_ = false;
  if (!target_active_ || flush_failed_session_ == session_) return;  // as above
  if (target_requests_sent_ != flush_requests_sent_) {
    // A request went out during the flush: blocks answering it are not covered by this
    // flush. Flush again once a ResyncDone covering it arrived and they are applied.
    MaybeFinishTarget(out);
    return;
  }
  if (!done_current_) return;
  Generations gens = durable_.gens;
  if (gens.current != *done_current_) {
    gens.history[1] = gens.history[0];
    gens.history[0] = gens.current;
  }
  gens.current = *done_current_;
  gens.bitmap = 0;
  std::vector<ReplicaRecord> records = {
      record::ClearDirty{},           record::ClearHot{},         record::SetGenerations{gens},
      record::SetInconsistent{false}, record::SetOutdated{false}, record::SetDiskFailed{false}};
  if (!durable_.joined) records.push_back(record::SetJoined{true});  // a full resync's end
  ShareCurrent(records);  // the source's current, now ours too
  Persist(std::move(records), out);
  activity_log_.Clear();
  target_active_ = false;
  done_current_.reset();
  data_state_ = DataState::kUpToDate;
  last_stream_failure_.clear();
  sync_percent_ = 100;
  live_zone_lsn_.clear();
  live_path_lsn_.clear();
  live_file_lsn_.clear();
  requested_.clear();
  list_under_here_.clear();
  out.push_back(SendReplication{ResyncDone{name_, gens.current, 0}});
  Log(out, "resync done: this copy is up to date");
  RefreshHelloIfStale(out);
}

}  // namespace duet
