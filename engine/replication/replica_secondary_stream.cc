// Replica, the secondary's stream (DESIGN.md §4). Stream writes of the decided session are
// applied in lsn order (a gap or an old session's write is ignored, never applied out of
// order); each is acknowledged at the module's ack level (received, applied, durable) as
// soon as it gets there, even before earlier ones (the disk runs different files' operations
// at once, C7): the ack carries the unbroken prefix (done_lsn) and the lsns done past it;
// the tree is flushed every flush_interval and the durable watermark acknowledged after it. A write
// that fails here makes the copy inconsistent and asks for what it touched again (persisted first).
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/replication/replica.h"
#include "engine/replication/zone_math.h"

namespace duet {
namespace {

// A refusal for what the names are (a source or parent missing, a target there, a directory
// not empty or not one): not for the copy's space or rights.
bool RefusedForTheNames(const absl::Status& status) {
  return IsRefusal(status) && (absl::IsNotFound(status) || absl::IsAlreadyExists(status) ||
                               absl::IsFailedPrecondition(status));
}

}  // namespace

void Replica::OnStreamApplied(absl::Time now, const Applying& a, const absl::Status& status,
                              Actions& out) {
  // A refusal changed nothing, durable or not: the primary's outcome decides (refusals.cc).
  if (IsRefusal(status) && OnStreamRefused(a, status, out)) return;
  if (status.ok()) primary_refused_.erase(a.key);  // applied here, refused there: it sets us back
  if (!status.ok() && a.durable) {
    // It may be applied, but is not known durable: never acknowledged. (From an earlier
    // session: that session's plan already holds what was not acknowledged durable.)
    if (a.session == session_) OnDurabilityFailedHere(now, status, out);
    return;
  }
  if (!status.ok()) OnStreamApplyFailed(a, status, out);
  if (a.key == 0 || a.session != session_) return;
  const bool whole_tree_flushed =
      status.ok() && a.mutation == MutationKind::kFsync && a.path.empty();
  MarkStreamDone(a.key, out, whole_tree_flushed);
}

void Replica::OnStreamFlushed(absl::Time now, uint64_t apply_id, const Applying& a,
                              const absl::Status& status, Actions& out) {
  if (a.session != session_) return;  // flushed for an earlier session
  flush_in_flight_ = false;
  if (!status.ok()) OnDurabilityFailedHere(now, status, out);
  if (status.ok()) ForgetSynced(apply_id);
  if (flush_failed_session_ == session_) return;  // nothing more is durable this session
  durable_lsn_ = std::max(durable_lsn_, a.key);
  if (flushed_blocks_upto_ > 0 && SessionDecided()) {
    out.push_back(SendReplication{ResyncBlockAck{name_, flushed_blocks_upto_, false, true}});
    flushed_blocks_upto_ = 0;
  }
  SendAck(out);
}

void Replica::ApplyStream(absl::Time now, const ReplWrite& w, Actions& out) {
  if (role_ == ReplRole::kPrimary) {
    Log(out, "ignored a stream write from the peer: this node is primary");
    return;
  }
  if (!SessionDecided()) {
    // Sent in a session this node never decided (its Hello was answered after it sent
    // another): the peer completes it by the outdate rule and resyncs what it touched.
    Log(out, absl::StrCat("ignored stream write lsn ", w.lsn, ": no session decided"));
    return;
  }
  if (w.lsn != expect_lsn_) {
    Log(out, absl::StrCat("stream out of order: got lsn ", w.lsn, ", expected ", expect_lsn_,
                          "; ignored"));
    return;
  }
  ++expect_lsn_;
  const Mutation& m = w.mutation;
  if (target_active_) {
    if (m.is_data()) {
      if (const auto zones = ChangedZones(m, opt_.zone_size)) {
        for (uint64_t z = zones->first; z <= zones->second; ++z) {
          live_zone_lsn_[ZoneRef{m.path, z}] = w.lsn;
        }
      }
      live_file_lsn_[m.path] = w.lsn;
    } else if (m.kind != MutationKind::kFsync) {
      live_path_lsn_[m.path] = w.lsn;
      if (!m.path2.empty()) live_path_lsn_[m.path2] = w.lsn;
      if (m.kind == MutationKind::kRename) {
        live_rename_lsn_ = w.lsn;
        NoteRenameForListing(m);
        FollowRename(m, out);
      }
    }
  }
  if (m.kind == MutationKind::kRename) NoteRenameAfterOpen(w.lsn, m);
  const bool fsync = m.is_durable();
  const bool durable = fsync || opt_.ack == AckMode::kDurable;
  const bool done_on_receipt = opt_.ack == AckMode::kReceived && !fsync;
  stream_done_[w.lsn] = false;
  const uint64_t id = NextId();
  NoteUnsynced(m, id);
  Applying applying = Touched(Applying::Kind::kStream, done_on_receipt ? 0 : w.lsn, m);
  applying.session = session_;
  applying.durable = durable;
  applying_[id] = std::move(applying);
  out.push_back(ApplyMutation{module_, id, m, durable});
  if (done_on_receipt) MarkStreamDone(w.lsn, out);
  if (next_flush_at_ == absl::InfiniteFuture()) next_flush_at_ = now + opt_.flush_interval;
}

void Replica::OnStreamApplyFailed(const Applying& a, const absl::Status& status, Actions& out) {
  // The primary's own apply may have failed the same way (a rename of a missing name): then
  // the copies still agree, but this side cannot know, so it asks for what the mutation
  // touched. Persisted first: a restart asks again.
  // Mid-resync, a namespace change refused for what this copy's names are is no fault of
  // this copy: they are being made the source's and may differ until then (a split brain's
  // branch, kept aside but not undone; a file a write created on the source after the
  // journal's rename of it, which the replay precedes). Its names go whole from the source
  // as below, and no failure is shown (stream_failure()): one line a session says so.
  if (target_active_ && !IsDataKind(a.mutation) && RefusedForTheNames(status)) {
    if (names_refused_++ == 0) {
      Log(out, absl::StrCat("a namespace change from the source does not apply to this copy's "
                            "names (",
                            status.message(), "); what it names comes whole from the source"));
    }
  } else {
    // A full disk fails every write of the stream: one line each would flood the log. The
    // first of a session is logged, then one in every kStreamFailuresPerLogLine with the count.
    ++stream_failures_;
    last_stream_failure_ = std::string(status.message());
    if (stream_failures_ == 1 || stream_failures_ % kStreamFailuresPerLogLine == 0) {
      Log(out, absl::StrCat("applying the stream failed (", status.message(), ", ",
                            MutationKindName(a.mutation), " ", a.path,
                            "); this copy is inconsistent until resynced",
                            stream_failures_ > 1
                                ? absl::StrCat(" (", stream_failures_, " failures this session)")
                                : ""));
    }
  }
  std::vector<ReplicaRecord> records;
  if (!durable_.inconsistent || durable_.unflushed_only) {
    records.push_back(record::SetInconsistent{true});
  }
  // Where its names are now: the stream's later renames may have been taken before this
  // failure was known (a refusal waits for the primary's outcome).
  const std::vector<Applying> names_now = NamesNow(a);
  std::vector<std::string> whole;
  for (const Applying& now : names_now) {
    if (IsDataKind(now.mutation)) {
      const auto [first, last] = ZonesOf(now.offset, now.length, opt_.zone_size);
      records.push_back(record::MarkDirty{now.path, first, last});
      continue;
    }
    // A name changed: the path (and a rename's target) comes again whole; the journal
    // keeps the names for the next session.
    // (An xattr change is kept as an empty setattr: its name and value are not kept here.)
    const bool xattr =
        now.mutation == MutationKind::kSetxattr || now.mutation == MutationKind::kRemovexattr;
    Mutation names =
        MakeMutation(xattr ? MutationKind::kSetattr : now.mutation, now.path, now.path2);
    names.rename_flags = now.rename_flags;
    records.push_back(record::Journal{std::move(names)});
    ForEachChangedName(now.mutation, now.path, now.path2,
                       [&](const std::string& path) { whole.push_back(path); });
  }
  Persist(std::move(records), out);
  data_state_ = DataState::kOutdated;
  if (!connected_ || role_ == ReplRole::kPrimary) return;
  if (target_active_) {
    // Mid-resync: ask the running session (its ResyncDone waits for this request).
    data_state_ = DataState::kSyncing;
    // A rename or removal refused here: the names under its names may differ too.
    absl::btree_set<std::string> ask_names_under;
    for (const Applying& now : names_now) {
      if (IsDataKind(now.mutation)) {
        std::vector<uint64_t> zones;
        const auto [first, last] = ZonesOf(now.offset, now.length, opt_.zone_size);
        for (uint64_t z = first; z <= last; ++z) {
          zones.push_back(z);
        }
        RequestFromSource(now.path, std::move(zones), false, out);
      } else if (!full_resync_) {
        Mutation names = MakeMutation(now.mutation, now.path, now.path2);
        names.rename_flags = now.rename_flags;
        NamesUnderOf(names, ask_names_under, list_under_here_);
      }
    }
    for (std::string& path : whole) {
      const bool names_under = ask_names_under.contains(path);
      RequestFromSource(std::move(path), {}, false, out, {}, names_under);
    }
  } else if (link_ == Link::kAttached) {
    SendHello(out);  // a new session, in which this copy is the target
  }
}

void Replica::MarkStreamDone(uint64_t lsn, Actions& out, bool flushed_all_before) {
  if (lsn <= done_lsn_) return;
  stream_done_[lsn] = true;
  while (!stream_done_.empty() && stream_done_.begin()->second) {
    done_lsn_ = stream_done_.begin()->first;
    stream_done_.erase(stream_done_.begin());
  }
  if (lsn > done_lsn_) done_after_unsent_.push_back(lsn);
  if (flush_failed_session_ != session_) {
    if (opt_.ack == AckMode::kDurable) durable_lsn_ = done_lsn_;
    // A whole-tree fsync (syncfs) made every apply issued before it durable (C7, C8): the
    // primary learns it in the same acknowledgement, not at the next periodic flush (a
    // planned handover passes the module as soon as this acknowledgement arrives).
    if (flushed_all_before && done_lsn_ >= lsn) durable_lsn_ = std::max(durable_lsn_, lsn);
  }
  SendAck(out);
}

void Replica::SendAck(Actions& out) {
  if (!SessionDecided()) return;
  // Done past the watermark since the last ack, still past it: the primary may complete
  // them now (per mutation), without waiting for the earlier ones still on the disk here.
  std::vector<LsnRange> done_after;
  std::sort(done_after_unsent_.begin(), done_after_unsent_.end());
  for (uint64_t lsn : done_after_unsent_) {
    if (lsn <= done_lsn_) continue;
    if (!done_after.empty() && done_after.back().last + 1 == lsn) {
      done_after.back().last = lsn;
    } else {
      done_after.push_back(LsnRange{lsn, lsn});
    }
  }
  done_after_unsent_.clear();
  if (done_lsn_ == acked_done_ && durable_lsn_ == acked_durable_ && done_after.empty()) return;
  acked_done_ = done_lsn_;
  acked_durable_ = durable_lsn_;
  size_t start = 0;
  do {  // one ack, or more if the ranges do not fit one
    const size_t end = std::min(done_after.size(), start + kMaxAckRanges);
    ReplAck ack{name_, done_lsn_, durable_lsn_};
    ack.done_after.assign(done_after.begin() + static_cast<ptrdiff_t>(start),
                          done_after.begin() + static_cast<ptrdiff_t>(end));
    out.push_back(SendReplication{std::move(ack)});
    start = end;
  } while (start < done_after.size());
}

}  // namespace duet
