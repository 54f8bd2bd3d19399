// Replica, the primary's stream (DESIGN.md §4). Every local mutation is applied here and,
// attached, sent to the peer in lsn order within the window (count and bytes); it completes
// once applied here and acknowledged there (an fsync: durable on both), each on its own as
// DRBD completes requests: a write to one file does not wait for an earlier fsync of another
// to be durable on the peer. What must stay ordered does (completion_order.h): one file's
// mutations complete in the order issued, an fsync after every earlier write to its file (and
// under its directory), a barrier (namespace change, syncfs) after everything before it.
// Not attached, a mutation is tracked (dirty zones, namespace journal) under a generation the
// peer cannot hold, and completes only once the peer is known outdated (the outdate gate). A
// peer silent for the replication timeout is dropped: what it may lack turns dirty, what is
// in flight completes by the outdate gate. Zones are hot in the activity log before they are
// sent.
//
// Why completing out of lsn order is safe. It changes which calls are answered when, not
// what either copy holds: the secondary still applies what it receives in lsn order on one
// ordered connection, its disk running a barrier only after everything before it (C7). Only
// an acknowledged mutation completes, so the peer holds every mutation whose call returned,
// at its ack level, as before. What is new is that a call (B) may return while an earlier
// one (A) to another file has not: if both nodes then lose what they had not synced, or the
// secondary's durable copy (ack "durable") has B's file flushed and not A's, B survives
// without A. Nobody saw A complete, so this is what a local disk does to the writes in flight
// at a crash (any subset survives); an application that needs A before B waits for A (or
// fsyncs it) before issuing B, and then B is not issued until A is on both. Recovery is
// unchanged: whatever the watermarks (done_lsn, durable_lsn) do not cover keeps its zones and
// names hot in the activity log until durable on both, so a returning node rolls A back or
// compares it like any write in flight; the window, the drop of a silent peer, the dirty
// marking at a drop and cooling use the watermarks, never the acknowledgements past them.
#include <algorithm>
#include <cassert>
#include <limits>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/replication/completion_order.h"
#include "engine/replication/replica.h"
#include "engine/replication/zone_math.h"

namespace duet {

void Replica::OnLocalMutation(absl::Time now, uint64_t op_id, Mutation mutation, Actions& out) {
  if (role_ != ReplRole::kPrimary) {
    out.push_back(
        CompleteLocal{module_, op_id, absl::FailedPreconditionError("read-only: not primary")});
    return;
  }
  const bool handshaking = connected_ && link_ == Link::kHello;
  if (handshaking || (attached() && !pending_.empty())) {
    if (handshaking && pending_.empty()) hello_wait_since_ = now;
    pending_.push_back(Pending{op_id, std::move(mutation)});
    DrainPending(now, out);
    return;
  }
  if (attached()) {
    pending_.push_back(Pending{op_id, std::move(mutation)});
    DrainPending(now, out);
  } else {
    Track(op_id, std::move(mutation), out);
  }
}

void Replica::DrainPending(absl::Time now, Actions& out) {
  while (!pending_.empty()) {
    if (attached()) {
      const uint64_t size = pending_.front().mutation.data_size();
      const bool room = inflight_.empty() || (inflight_.size() < opt_.window_count &&
                                              inflight_bytes_ + size <= opt_.window_bytes);
      if (!room) return;  // backpressure: waits for acknowledgements
      Pending p = std::move(pending_.front());
      pending_.pop_front();
      Submit(now, p.op_id, std::move(p.mutation), /*apply_locally=*/true, out);
    } else if (connected_ && link_ == Link::kHello) {
      return;  // the handshake decides
    } else {
      Pending p = std::move(pending_.front());
      pending_.pop_front();
      Track(p.op_id, std::move(p.mutation), out);
    }
  }
}

void Replica::Submit(absl::Time now, uint64_t op_id, Mutation m, bool apply_locally, Actions& out) {
  const uint64_t lsn = next_lsn_++;
  std::vector<ReplicaRecord> records;
  // A journal replay (not applied here) was tracked when it was made: moving dirty zones
  // again would apply old renames to today's names.
  const uint64_t durable_on_both = std::min(peer_durable_lsn_, local_durable_lsn_);
  if (m.is_namespace() && !linked_files_.empty()) FollowLinkedNames(m, records);
  if (source_active_ && apply_locally && m.kind != MutationKind::kFsync &&
      DiskOrderOf(m) == DiskOrder::kBarrier) {
    ResendChangedNames(m);
  }
  if (m.kind == MutationKind::kRename && apply_locally) {
    NoteRenameForListing(m);
    NoteRenameAfterOpen(lsn, m);
  }
  if (m.is_namespace() && apply_locally) {
    TrackNamespace(m, lsn, records);
    activity_log_.TouchNamespace(m, lsn, now, durable_.hot_names, records);
  }
  if (const auto zones = ChangedZones(m, opt_.zone_size)) {
    activity_log_.Touch(m.path, zones->first, zones->second, lsn, now, durable_on_both,
                        durable_.hot, records);
  }
  // (Names cool in the cooling pass only, idle for its delay: a directory that keeps changing
  // stays hot without records.)
  if (next_cooling_at_ == absl::InfiniteFuture())
    next_cooling_at_ = now + opt_.activity_log_cooling;
  Persist(std::move(records), out);  // hot before sent
  InFlight entry;
  entry.lsn = lsn;
  entry.op_id = op_id;
  entry.local_done = !apply_locally;
  entry.bytes = m.data_size();
  entry.fsync = m.is_durable();
  entry.order = CompletionKey::Of(m);
  entry.plan_open = !durable_.dirty.empty();
  if (apply_locally) {
    const uint64_t id = NextId();
    applying_[id] = Touched(Applying::Kind::kLocal, lsn, m);
    out.push_back(ApplyMutation{module_, id, m, m.is_durable()});
  }
  if (inflight_.empty()) last_ack_progress_ = now;
  inflight_bytes_ += entry.bytes;
  if (m.is_namespace() && apply_locally) {
    Mutation& kept = unacked_namespace_[lsn] = m;
    kept.DropFileData();
  }
  out.push_back(SendReplication{ReplWrite{name_, lsn, std::move(m)}});
  open_order_.Open(lsn, entry.order);
  inflight_.push_back(std::move(entry));
}

bool Replica::ReadyToStepDown(absl::Time now, Actions& out) {
  if (!drained()) return false;
  const uint64_t last = next_lsn_ - 1;
  // Fenced, the peer may serve already: it would never answer the flush.
  if (role_ != ReplRole::kPrimary || fenced_ || !attached() || peer_durable_lsn_ >= last) {
    return true;
  }
  if (step_down_flush_lsn_ == last) return true;  // sent and answered, yet not durable there
  Submit(now, /*op_id=*/0, MakeMutation(MutationKind::kFsync, ""), /*apply_locally=*/true, out);
  step_down_flush_lsn_ = next_lsn_ - 1;
  return false;
}

bool Replica::MovedOnAlone() const {
  return durable_.gens.bitmap != 0 && durable_.drawn_alone == durable_.gens.current;
}

void Replica::MoveGenerationOn(std::vector<ReplicaRecord>& records) {
  // An open dirty map is not enough: the peer may hold our current (a resync target takes it
  // at its end, which may never reach us). Then the writes made alone from now on need a
  // generation of their own, or they would pass for the peer's data at the next handshake.
  if (MovedOnAlone()) return;
  Generations gens = durable_.gens;
  StartTracking(gens, rng_.Next() | 1);
  records.push_back(record::SetGenerations{gens});
  records.push_back(record::SetDrawnAlone{gens.current});
}

void Replica::ShareCurrent(std::vector<ReplicaRecord>& records) {
  if (durable_.drawn_alone != 0) records.push_back(record::SetDrawnAlone{0});
}

void Replica::Track(uint64_t op_id, Mutation m, Actions& out) {
  std::vector<ReplicaRecord> records;
  MoveGenerationOn(records);
  if (const auto zones = ChangedZones(m, opt_.zone_size)) {
    const auto [first, last] = *zones;
    bool all_dirty = true;
    for (uint64_t z = first; z <= last && all_dirty; ++z) {
      all_dirty = durable_.dirty.Contains(m.path, z);
    }
    if (!all_dirty) records.push_back(record::MarkDirty{m.path, first, last});
  } else if (m.is_namespace()) {
    TrackNamespace(m, /*stream_lsn=*/0, records);
  }
  Persist(std::move(records), out);  // dirty before the write completes
  const uint64_t id = NextId();
  Applying& applying = applying_[id] = Touched(Applying::Kind::kTracked, op_id, m);
  applying.primary_term = primary_terms_;
  const bool durable = m.is_durable();
  out.push_back(ApplyMutation{module_, id, std::move(m), durable});
}

void Replica::TrackNamespace(const Mutation& m, uint64_t stream_lsn,
                             std::vector<ReplicaRecord>& records) {
  // A Renamed, Removed or Truncated record that would change neither map is not written (a
  // small file's rename or unlink then persists nothing). Records already in the batch are
  // not applied yet: they may hold zones the maps do not show.
  const auto moves_zones = [&](const std::string& path) {
    return !records.empty() || durable_.dirty.HoldsUnder(path) || durable_.hot.HoldsUnder(path);
  };
  switch (m.kind) {
    case MutationKind::kRename:
      // With flags it may still fail on the disk (EEXIST, ENOENT in a race the kernel's
      // check missed): both names keep what either had, whichever way it ends.
      if (moves_zones(m.path) || moves_zones(m.path2)) {
        records.push_back(record::Renamed{m.path, m.path2, m.rename_flags != 0});
      }
      if (m.rename_flags != 0) {
        activity_log_.Blend(m.path, m.path2, stream_lsn, durable_.hot_names, records);
      } else {
        activity_log_.Rename(m.path, m.path2, stream_lsn, durable_.hot_names, records);
      }
      break;
    case MutationKind::kUnlink:
    case MutationKind::kRmdir:
    case MutationKind::kRemoveTree:
      if (moves_zones(m.path)) records.push_back(record::Removed{m.path});
      activity_log_.Remove(m.path);
      break;
    case MutationKind::kTruncate:
      if (moves_zones(m.path)) records.push_back(record::Truncated{m.path, m.offset});
      break;
    default:
      break;
  }
  if (stream_lsn == 0) {
    Mutation entry = m;
    entry.DropFileData();
    records.push_back(record::Journal{std::move(entry)});
  }
}

uint64_t Replica::PeerAckedUpTo() const { return std::max(peer_done_lsn_, peer_done_past_); }

bool Replica::PeerHas(const InFlight& f) const {
  return !f.alone && (f.lsn <= peer_done_lsn_ || f.peer_done);
}

void Replica::OnPeerDone(const std::vector<LsnRange>& done_after) {
  for (const LsnRange& range : done_after) {
    peer_done_past_ = std::max(peer_done_past_, range.last);
    auto f = std::lower_bound(inflight_.begin(), inflight_.end(), range.first,
                              [](const InFlight& e, uint64_t lsn) { return e.lsn < lsn; });
    for (; f != inflight_.end() && f->lsn <= range.last; ++f) f->peer_done = true;
  }
}

void Replica::CompleteReady(Actions& out) {
  // Attached and not fenced, a mutation completes only with the peer's ack: the pass ends at
  // the last one acknowledged. (What went alone was sent in an earlier session, below it.)
  const uint64_t last =
      attached() && !fenced_ ? PeerAckedUpTo() : std::numeric_limits<uint64_t>::max();
  // Only the open ones are walked, oldest first; each is looked up by lsn (inflight_ holds
  // consecutive lsns), as what a completion calls may complete others (DropPeer).
  for (std::optional<uint64_t> lsn = open_order_.NextOpen(0); lsn && *lsn <= last;
       lsn = open_order_.NextOpen(*lsn + 1)) {
    if (open_order_.BarrierOpenBefore(*lsn)) break;  // it holds everything after it
    assert(!inflight_.empty() && *lsn >= inflight_.front().lsn);
    InFlight& f = inflight_[*lsn - inflight_.front().lsn];
    assert(f.lsn == *lsn && !f.completed);
    const bool peer_has = PeerHas(f);  // by the watermark or its own ack
    // Without the peer's ack, a mutation completes only once the peer is known outdated
    // (it cannot take over with its old copy), or fails if this node is fenced.
    const bool alone = f.alone || !attached();
    if (!f.local_done || !(peer_has || fenced_ || (alone && peer_outdated_)) ||
        open_order_.MustWait(f.lsn, f.order)) {
      continue;
    }
    // (A refused one changed nothing and fails: no write made alone.)
    if (f.op_id != 0 && !peer_has && !fenced_ && !attached() && !MovedOnAlone() &&
        !IsRefusal(f.local_status)) {
      // Sent before the peer was dropped and acknowledged without it: a write made alone,
      // so this branch moves on first, as in Track (else, with equal generations, the next
      // handshake may make the peer, which never got it, the source). Not while attached:
      // this session's resync, with the peer already inconsistent, carries it.
      std::vector<ReplicaRecord> records;
      MoveGenerationOn(records);
      Persist(std::move(records), out);
      RefreshHelloIfStale(out);
    }
    // Refused here and completing without the peer's acknowledgement (the stream detached
    // by a new Hello, not dropped): the peer may still apply it, and its late durable
    // acknowledgement would cool the zones that say so. It goes to the peer again.
    if (!peer_has && !f.alone && !attached()) SettleRefusal(f, out);
    if (f.op_id != 0) {
      absl::Status status = f.local_status;
      if (fenced_ && !peer_has) status = absl::AbortedError("fenced: no longer primary");
      if (status.ok() && f.fsync && durable_.disk_failed) status = DiskFailedError();
      out.push_back(CompleteLocal{module_, f.op_id, status});
    }
    f.completed = true;
    open_order_.Close(f.lsn, f.order);
  }
  // The window and lag count what is not completed in lsn order (a completed one behind an
  // open one stays until that one completes).
  while (!inflight_.empty() && inflight_.front().completed) {
    inflight_bytes_ -= inflight_.front().bytes;
    inflight_.pop_front();
  }
}

void Replica::DropPeer(absl::Time now, const std::string& why, Actions& out) {
  Log(out, "dropping the peer (" + why + "); continuing alone, tracking changes");
  std::vector<ReplicaRecord> records;
  // The generation moves on at the first write made alone (Track) or acknowledged without
  // the peer (CompleteReady), not here: the peer has everything it acknowledged, and if
  // this node crashes now, the peer's copy must still count as the newer one for those
  // zones. The next Hello says we hold a plan (`dirty`).
  // Whatever the peer may lack, by the watermarks (a namespace change the peer acknowledged
  // on its own past them is journaled, as one whose ack was lost on the way would be): zones
  // written but not yet durable there, and namespace changes it has not acknowledged.
  activity_log_.ForEachNotDurable(peer_durable_lsn_, [&](const ZoneRef& ref) {
    if (!durable_.dirty.Contains(ref.path, ref.zone)) {
      records.push_back(record::MarkDirty{ref.path, ref.zone, ref.zone});
    }
  });
  for (const auto& [lsn, m] : unacked_namespace_) {
    if (lsn > peer_done_lsn_) records.push_back(record::Journal{m});
  }
  unacked_namespace_.clear();
  // Not acknowledged (by the watermark or its own ack): its ack will never come. Once alone,
  // a mutation stays alone: one left by an earlier drop lies below this session's
  // watermark, which starts past everything sent before (Decide), yet the peer never had it.
  for (InFlight& f : inflight_) f.alone = !PeerHas(f);
  peer_outdated_ = false;  // this time alone needs its own outdate of the peer
  Persist(std::move(records), out);
  link_ = Link::kDown;
  AbandonSourceSession();
  CompleteReady(out);  // what is applied here completes now: the peer is not needed
  DrainPending(now, out);
}

uint64_t Replica::LocalAppliedLsn() const {
  for (const InFlight& f : inflight_) {
    if (!f.local_done) return f.lsn - 1;
  }
  return next_lsn_ - 1;
}

void Replica::OnLocalApplied(absl::Time now, const Applying& a, const absl::Status& status,
                             Actions& out) {
  auto entry = std::lower_bound(inflight_.begin(), inflight_.end(), a.key,
                                [](const InFlight& f, uint64_t lsn) { return f.lsn < lsn; });
  if (entry == inflight_.end() || entry->lsn != a.key) return;
  entry->local_done = true;
  entry->local_status = status;
  if (IsRefusal(status) && a.mutation != MutationKind::kFsync) {
    OnLocalRefused(*entry, a, out);  // replica_refusals.cc: not a fault of this copy
  } else {
    if (!status.ok()) OnLocalApplyFailed(a, status, out);
    if (entry->peer_refused) SendOutcome(entry->lsn, /*refused=*/false, out);
  }
  CompleteReady(out);
  DrainPending(now, out);
}

void Replica::OnTrackedApplied(const Applying& a, const absl::Status& status, Actions& out) {
  // A write made alone that failed is dirty already; only lost durability matters.
  if (!status.ok() && (a.mutation == MutationKind::kFsync || SyncWriteLostPages(a, status))) {
    OnLocalDurabilityFailed(status, out);
  }
  if (!status.ok() && a.mutation != MutationKind::kWrite && a.mutation != MutationKind::kFsync) {
    // Journalled (and its zones moved) before it failed here, as a no-replace rename whose
    // target appeared in a race: its names go whole at the resync, as this copy has them.
    std::vector<ReplicaRecord> records;
    ForEachChangedName(a.mutation, a.path, a.path2, [&](const std::string& path) {
      activity_log_.AddRecoveredName(path, durable_.hot_names, records);
    });
    Persist(std::move(records), out);
  }
  if (role_ != ReplRole::kPrimary || a.primary_term != primary_terms_) {
    // The node stopped being primary while the write was on its way to the disk (a handover,
    // SetRole failed what it held then): the peer took over without it.
    out.push_back(CompleteLocal{
        module_, a.key, absl::AbortedError("no longer primary: the peer never had this write")});
    return;
  }
  absl::Status result = fenced_ ? absl::AbortedError("fenced: no longer primary") : status;
  if (result.ok() && a.durable && durable_.disk_failed) {
    result = DiskFailedError();
  }
  if (peer_outdated_ || fenced_) {
    out.push_back(CompleteLocal{module_, a.key, result});
  } else {
    held_completions_.emplace_back(a.key, result);  // until the peer is outdated
  }
}

void Replica::CoolIdleZones(absl::Time now, Actions& out) {
  // Durable on both: no crash of either node (nor of both) can leave the zone different, and
  // a write to it after this pass makes it hot again (a HotAdd) before the write is sent.
  const uint64_t durable_on_both = std::min(peer_durable_lsn_, local_durable_lsn_);
  std::vector<ReplicaRecord> records;
  activity_log_.CoolIdle(now - opt_.activity_log_cooling, durable_on_both, records);
  activity_log_.CoolNames(now - opt_.activity_log_cooling, durable_on_both, records);
  Persist(std::move(records), out);
  next_cooling_at_ =
      activity_log_.MayCool() ? now + opt_.activity_log_cooling : absl::InfiniteFuture();
}

void Replica::OnLocalFlushed(uint64_t apply_id, const Applying& a, const absl::Status& status,
                             Actions& out) {
  local_flush_in_flight_ = false;
  if (!status.ok()) OnLocalDurabilityFailed(status, out);
  if (status.ok()) ForgetSynced(apply_id);
  if (status.ok() && !durable_.disk_failed) {
    local_durable_lsn_ = std::max(local_durable_lsn_, a.key);
  }
}

}  // namespace duet
