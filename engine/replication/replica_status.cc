// Replica, time and status: the deadline-driven work of OnTick (list retries, cooling,
// retries of refused work, the resync's bandwidth cap), the next deadline it asks for, and the
// figures `duetctl status` shows (data state, sync percent, the resync's progress).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/replication/replica.h"
#include "engine/replication/zone_math.h"

namespace duet {

// --- Time --------------------------------------------------------------------------------------

void Replica::OnTick(absl::Time now, Actions& out) {
  if (now >= list_retry_at_ && (source_active_ || target_active_)) IssueListTree(out);
  if (role_ == ReplRole::kPrimary && !inflight_.empty() && attached() &&
      now - last_ack_progress_ >= opt_.timeout) {
    DropPeer(now, absl::StrCat("no acknowledgement for ", absl::FormatDuration(opt_.timeout)), out);
    // The connection may still be up (a stuck peer): offer a new session; if the peer
    // answers, it resyncs what it missed.
    if (connected_ && peer_reachable_) SendHello(out);
  }
  if (role_ == ReplRole::kPrimary && !pending_.empty() && connected_ && link_ == Link::kHello &&
      now - hello_wait_since_ >= opt_.timeout) {
    link_ = Link::kDown;
    DropPeer(now, "no handshake answer", out);
  }
  if (role_ == ReplRole::kPrimary && LocalAppliedLsn() > local_durable_lsn_ &&
      !local_flush_in_flight_) {
    if (next_local_flush_at_ == absl::InfiniteFuture()) {
      next_local_flush_at_ = now + opt_.flush_interval;
    } else if (now >= next_local_flush_at_) {
      next_local_flush_at_ = absl::InfiniteFuture();
      local_flush_in_flight_ = true;
      const uint64_t id = NextId();
      applying_[id] = Applying{Applying::Kind::kLocalFlush, LocalAppliedLsn()};
      out.push_back(ApplyMutation{module_, id, MakeMutation(MutationKind::kFsync, ""), true});
    }
  }
  if (now >= next_flush_at_ && !flush_in_flight_) {
    next_flush_at_ = absl::InfiniteFuture();
    if (done_lsn_ > durable_lsn_ || applied_blocks_upto_ > flushed_blocks_upto_) {
      flush_in_flight_ = true;
      flushed_blocks_upto_ = applied_blocks_upto_;
      const uint64_t id = NextId();
      applying_[id] = Applying{Applying::Kind::kFlush, done_lsn_, session_};
      out.push_back(ApplyMutation{module_, id, MakeMutation(MutationKind::kFsync, ""), true});
    }
  }
  if (ReplayStalled(now)) {
    // A secondary source replays its journal on the stream: a write the transport lost on
    // the way stalls it for good (the target ignores what follows the gap). A new session
    // replays it again.
    Log(out, absl::StrCat("no acknowledgement of the journal replay for ",
                          absl::FormatDuration(opt_.timeout), "; starting a new session"));
    last_ack_progress_ = now;
    SendHello(out);
  }
  if (source_active_) IssueReads(now, out);
  if (now >= next_cooling_at_) CoolIdleZones(now, out);
  if (now >= restart_session_at_) {
    restart_session_at_ = absl::InfiniteFuture();
    if (connected_ && link_ != Link::kRefused) SendHello(out);
  }
  if (now >= keep_aside_retry_at_) {
    // A new session keeps the branch aside again first (StartTarget); the next connection
    // does, if none is up.
    keep_aside_retry_at_ = absl::InfiniteFuture();
    if (connected_) {
      Log(out, "retrying to keep the divergent branch aside: a new session");
      SendHello(out);
    }
  }
}

absl::Time Replica::NextDeadline() const {
  absl::Time next = std::min({next_flush_at_, next_local_flush_at_, restart_session_at_,
                              list_retry_at_, next_cooling_at_, keep_aside_retry_at_});
  if (role_ != ReplRole::kPrimary && source_active_ && link_ == Link::kAttached &&
      peer_done_lsn_ < replay_end_lsn_) {                      // the watermark: the whole replay
    next = std::min(next, last_ack_progress_ + opt_.timeout);  // ReplayStalled
  }
  if (role_ == ReplRole::kPrimary && !inflight_.empty() && attached()) {
    next = std::min(next, last_ack_progress_ + opt_.timeout);
  }
  if (role_ == ReplRole::kPrimary && !pending_.empty() && connected_ && link_ == Link::kHello) {
    next = std::min(next, hello_wait_since_ + opt_.timeout);
  }
  if (source_active_ && opt_.resync_bandwidth != 0 && !durable_.dirty.empty() &&
      ResyncWindowOpen()) {
    next = std::min(next, next_read_at_);
  }
  return next;
}

// --- Status ------------------------------------------------------------------------------------

DataState Replica::data_state() const {
  return role_ == ReplRole::kPrimary ? DataState::kUpToDate : data_state_;
}

uint8_t Replica::sync_percent() const {
  return data_state_ == DataState::kSyncing ? sync_percent_ : 100;
}

ResyncStatus Replica::resync_status(absl::Time now) const {
  ResyncStatus s;
  s.active = source_active_ || target_active_;
  s.source = source_active_;
  s.bytes_total = resync_total_;
  s.bytes_done = resync_done_;
  if (source_active_ && resync_done_ > 0 && now > resync_started_) {
    const double rate =
        opt_.resync_bandwidth != 0
            ? static_cast<double>(opt_.resync_bandwidth)
            : static_cast<double>(resync_done_) / absl::ToDoubleSeconds(now - resync_started_);
    const uint64_t left = resync_total_ > resync_done_ ? resync_total_ - resync_done_ : 0;
    s.eta = absl::Seconds(static_cast<double>(left) / rate);
  }
  return s;
}

}  // namespace duet
