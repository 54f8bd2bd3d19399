// Replica, refusals. A refusal is an apply that failed having changed nothing, as the kernel
// refuses a call on a local disk: a truncate past the largest file (EFBIG), an xattr too large
// or a write with no space left (ENOSPC), a name too long... The adapter says so (IsRefusal,
// engine/inputs.h; adapter contract C8). Unlike a lost write (EIO) it is no fault of the copy:
//
//  - Both copies refused a stream write: they are still equal. The application gets the
//    primary's errno, the pair stays attached and in sync, nothing is resynced.
//  - Only one refused, the other applied it: the copies differ. The primary's copy is what
//    the application saw (its call failed, so nothing was acknowledged), so the secondary is
//    the one set back, whichever side refused: a secondary that refused becomes inconsistent
//    and asks for what the write touched (OnStreamApplyFailed, as any failed stream apply); a
//    secondary that applied what the primary refused has it overwritten by a resync from the
//    primary (OnLocalApplyFailed: the touched zones and names go again, in a new session).
//
// Neither side knows the other's outcome, so they tell each other (ReplApplyOutcome). The
// secondary that refused a write says so and holds its acknowledgement of it (its watermark
// stops there; later writes are acknowledged past it) until the primary's outcome arrives; the
// primary sends its outcome of every write it refused as soon as its own apply ends, and answers
// the secondary's refusal of a write it applied. So the secondary's refusal always reaches the
// primary before an acknowledgement covering that write: an acknowledgement that covers a write
// refused here, with no refusal from the peer before it, means the peer applied it.
//
// Nothing is persisted for a refusal: it changed nothing, so after a crash or a new session it
// is as if the write never reached the side that refused it, even when a secondary's refusal
// completes only after its session ended (OnStreamRefused): what the primary sent and the peer
// did not acknowledge is in the next session's plan, as for any write in flight (its zones and
// names are hot in the activity log before it is sent). The activity log needs nothing either: the
// refused write's zones and names cool as any other once the peer acknowledges it durably. A
// namespace change refused by both while a resync plan is open is the exception: Submit moved
// or dropped the plan's zones under its names as if it would succeed, so its names go again in
// a new session (as a one-sided refusal). So is a write refused here that completes before
// the peer's acknowledgement while the stream is detached by a new Hello but the peer not
// dropped (CompleteReady, once the peer is known outdated): the peer may still apply it, and
// its late durable acknowledgement would cool the zones that would have sent it again.
//
// With ack = "received" the secondary acknowledges a write before applying it and cannot hold
// that acknowledgement: a refusal there, on either side, is handled as a one-sided one.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/replication/replica.h"

namespace duet {

namespace {

// The primary's in-flight entry for `lsn`, or end.
template <class Deque>
auto FindInFlight(Deque& inflight, uint64_t lsn) {
  auto entry = std::lower_bound(inflight.begin(), inflight.end(), lsn,
                                [](const auto& f, uint64_t l) { return f.lsn < l; });
  return entry != inflight.end() && entry->lsn == lsn ? entry : inflight.end();
}

// The kinds TrackNamespace changes the dirty map for (before the apply).
bool MovesTrackedZones(MutationKind kind) {
  return kind == MutationKind::kRename || kind == MutationKind::kUnlink ||
         kind == MutationKind::kRmdir || kind == MutationKind::kRemoveTree ||
         kind == MutationKind::kTruncate;
}

}  // namespace

void Replica::SendOutcome(uint64_t lsn, bool refused, Actions& out) {
  if (!attached()) return;  // a new session's plan covers it (see the top of this file)
  out.push_back(SendReplication{ReplApplyOutcome{name_, lsn, refused}});
}

void Replica::OnLocalRefused(InFlight& entry, const Applying& a, Actions& out) {
  entry.refused_here = a;
  if (!entry.alone) SendOutcome(entry.lsn, /*refused=*/true, out);
  // Alone (the peer was dropped before it acknowledged the write): DropPeer put what the
  // peer may lack in the plan; whatever the peer did with the write is set back from here.
  SettleRefusals(out);
}

void Replica::SettleRefusals(Actions& out) {
  for (InFlight& f : inflight_) {
    if (f.lsn > PeerAckedUpTo()) break;
    if (PeerHas(f)) SettleRefusal(f, out);  // acknowledged, by the watermark or its own ack
  }
}

void Replica::SettleRefusal(InFlight& f, Actions& out) {
  if (!f.refused_here) return;
  const Applying a = *std::move(f.refused_here);
  f.refused_here.reset();
  const bool plan_moved = f.plan_open && MovesTrackedZones(a.mutation);
  if (f.peer_refused && !plan_moved) return;  // refused on both: the copies are equal
  Log(out, absl::StrCat(MutationKindName(a.mutation), " ", a.path, " (lsn ", f.lsn, "): ",
                        f.peer_refused ? "refused on both copies while a resync plan is open"
                        : PeerHas(f)   ? "refused here, applied by the peer"
                                       : "refused here, completed before the peer's outcome",
                        "; what it touched goes to the peer again"));
  OnLocalApplyFailed(a, f.local_status, out);
}

bool Replica::OnStreamRefused(const Applying& a, const absl::Status& status, Actions& out) {
  // a.key is 0 for a write acknowledged on receipt (ack = "received"): nothing to hold.
  if (a.key == 0 || a.mutation == MutationKind::kFsync) return false;
  if (a.session != session_ || !SessionDecided()) {
    // Its session ended (the peer gone, or a new Hello) before we acknowledged it: as a
    // refusal held when the session ends, it is as if it never reached us (see the top of
    // this file). Counting it as a failed apply would make this copy partial for a
    // mutation that changed nothing, and a primary back from a crash would then be the
    // source of the zones it lost, which this copy holds acknowledged.
    // A full disk refuses every write in flight: one line until the next session.
    if (late_refusals_++ == 0) {
      Log(out, absl::StrCat(MutationKindName(a.mutation), " ", a.path, " (lsn ", a.key,
                            ") refused here after its session ended: it changed nothing, and "
                            "the sender's next plan holds it (later ones are not logged until "
                            "the next session)"));
    }
    return true;
  }
  const bool peer_primary = peer_hello_.has_value() && peer_hello_->primary;
  if (!peer_primary) return false;
  out.push_back(SendReplication{ReplApplyOutcome{name_, a.key, /*refused=*/true}});
  if (primary_refused_.erase(a.key) > 0) {
    MarkStreamDone(a.key, out);  // refused there too: the copies are equal
    return true;
  }
  refusals_awaiting_.insert_or_assign(a.key, std::make_pair(a, status));
  return true;
}

void Replica::OnApplyOutcome(const ReplApplyOutcome& o, Actions& out) {
  if (role_ == ReplRole::kPrimary) {
    // The secondary refused a write we sent.
    if (!attached() || !o.refused) return;
    auto entry = FindInFlight(inflight_, o.lsn);
    if (entry == inflight_.end() || entry->alone) return;
    entry->peer_refused = true;
    // Not applied here yet: OnLocalApplied answers. Refused here: our outcome went out then.
    // Failed here otherwise: "applied" is the safe answer (the secondary asks for it again).
    if (entry->local_done && !IsRefusal(entry->local_status)) {
      SendOutcome(o.lsn, /*refused=*/false, out);
    }
    return;
  }
  if (!SessionDecided()) return;
  auto held = refusals_awaiting_.find(o.lsn);
  if (held != refusals_awaiting_.end()) {
    auto [a, status] = std::move(held->second);
    refusals_awaiting_.erase(held);
    // The primary applied it: this copy lacks it, as after any failed stream apply.
    if (!o.refused) OnStreamApplyFailed(a, status, out);
    MarkStreamDone(o.lsn, out);
    return;
  }
  // Our own apply of it is still in flight: decided when it ends. Already applied here: the
  // primary sets this copy back (SettleRefusals).
  auto pending = stream_done_.find(o.lsn);
  if (o.refused && pending != stream_done_.end() && !pending->second) {
    primary_refused_.insert(o.lsn);
  }
}

void Replica::ForgetRefusals() {
  refusals_awaiting_.clear();
  primary_refused_.clear();
  renames_after_open_.clear();
}

void Replica::NoteRenameAfterOpen(uint64_t lsn, const Mutation& rename) {
  // Only a mutation still open can fail later: the primary's in flight, the secondary's not
  // yet done (a refusal held for the primary's outcome among them).
  uint64_t oldest_open = lsn;
  if (role_ == ReplRole::kPrimary && !inflight_.empty()) {
    oldest_open = inflight_.front().lsn;
  } else if (role_ != ReplRole::kPrimary && !stream_done_.empty()) {
    oldest_open = stream_done_.begin()->first;
  }
  renames_after_open_.erase(renames_after_open_.begin(),
                            renames_after_open_.upper_bound(oldest_open));
  if (lsn > oldest_open) renames_after_open_.emplace(lsn, rename);
}

std::vector<Replica::Applying> Replica::NamesNow(const Applying& a) const {
  std::vector<Applying> now{a};
  if (a.key == 0) return now;  // acknowledged on receipt: its lsn is not kept
  for (auto it = renames_after_open_.upper_bound(a.key); it != renames_after_open_.end(); ++it) {
    const Mutation& rename = it->second;
    const size_t before = now.size();
    for (size_t i = 0; i < before; ++i) {
      Applying moved = now[i];
      moved.path = NameAfterRename(rename, moved.path);
      // (A symlink's path2 is its target's text, not a name.)
      if (!moved.path2.empty() && moved.mutation != MutationKind::kSymlink) {
        moved.path2 = NameAfterRename(rename, moved.path2);
      }
      if (moved.path == now[i].path && moved.path2 == now[i].path2) continue;
      if (rename.rename_flags != 0) {
        now.push_back(std::move(moved));
      } else {
        now[i] = std::move(moved);
      }
    }
  }
  return now;
}

}  // namespace duet
