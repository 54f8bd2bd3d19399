// Replica, the keep-aside (DESIGN.md §5): a target whose verdict says its divergent changes
// are kept has them preserved before the resync overwrites them (StartTarget asks for it);
// here are the answers: preserved (the resync goes on), failed (the copy stays as it is and
// the failure is retried and logged), and work the adapter could not carry out.
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/replication/replica.h"

namespace duet {

void Replica::OnDivergentPreserved(absl::Time now, const DivergentPreserved& preserved,
                                   Actions& out) {
  auto it = preserving_.find(preserved.preserve_id);
  if (it == preserving_.end()) return;
  const uint64_t generation = it->second;
  preserving_.erase(it);
  if (!preserved.status.ok()) return OnKeepAsideFailed(now, preserved.status, out);
  if (generation != 0 && durable_.preserved_for != generation) {
    Persist({record::SetDivergencePreserved{generation}}, out);
  }
  if (preserved.preserve_id == keep_aside_marker_ || keep_aside_failure_.empty()) return;
  Log(out, "the divergent branch is kept aside now; the resync goes on");
  keep_aside_failure_.clear();
  keep_aside_retry_delay_ = kKeepAsideRetryFirst;
  if (keep_aside_retry_at_ != absl::InfiniteFuture()) {
    // Kept by a later session's copy after an earlier one failed (that failure ended the
    // session): a new one now, which finds the branch kept (preserved_for).
    keep_aside_retry_at_ = absl::InfiniteFuture();
    if (connected_) SendHello(out);
  }
}

void Replica::OnKeepAsideFailed(absl::Time now, const absl::Status& status, Actions& out) {
  // The adapter carried out none of this module's operations issued after the failed one,
  // and carries out none up to its next PreserveDivergent (C5), answering each NotCarriedOut:
  // this one, with no paths, marks where they run again. Nothing is recorded as kept, so the
  // next session keeps the branch aside again (StartTarget).
  const uint64_t marker = NextId();
  preserving_[marker] = 0;
  keep_aside_marker_ = marker;
  out.push_back(PreserveDivergent{module_, {}, marker});
  if (role_ == ReplRole::kPrimary) {
    // Promoted (forced) while the copy ran: this copy is the reference, nothing overwrites it.
    Log(out, absl::StrCat("keeping the divergent branch aside failed: ", status.message(),
                          "; this copy is primary now, so nothing overwrites it"));
    return;
  }
  Log(out, absl::StrCat("keeping the divergent branch aside failed: ", status.message(),
                        "; the resync waits (retried in ",
                        absl::FormatDuration(keep_aside_retry_delay_), ")"));
  keep_aside_failure_ = std::string(status.message());
  keep_aside_retry_at_ = now + keep_aside_retry_delay_;
  keep_aside_retry_delay_ = std::min(2 * keep_aside_retry_delay_, kKeepAsideRetryMax);
  // The session whose resync and stream writes were not carried out ends: nothing of it is
  // acknowledged. The copy stays inconsistent (StartTarget persisted it) and outdated.
  awaiting_listing_keep_aside_ = false;
  held_until_kept_.clear();
  if (target_active_) {
    target_active_ = false;
    block_applies_.clear();
    digest_reads_.clear();
    digested_.clear();
    last_request_waits_ = false;
    done_current_.reset();
    final_flush_started_ = false;
    requested_.clear();
    list_under_here_.clear();
    names_under_waiting_.clear();
    names_under_listing_.clear();
  }
  data_state_ = DataState::kOutdated;
  // Our Hello says it: both sides refuse a session (kKeepAsideFailed) until the retry.
  if (connected_) SendHello(out);
}

void Replica::OnNotCarriedOut(absl::Time now, const Applying& a, Actions& out) {
  switch (a.kind) {
    case Applying::Kind::kLocal:
    case Applying::Kind::kTracked:
      // Issued as a primary forced while the keep-aside ran: it changed nothing here, as a
      // refused call; the application's call fails.
      return a.kind == Applying::Kind::kLocal
                 ? OnLocalApplied(now, a, AsRefusal(NotCarriedOut()), out)
                 : OnTrackedApplied(a, AsRefusal(NotCarriedOut()), out);
    case Applying::Kind::kStream:
    case Applying::Kind::kBlock:
      return;  // never acknowledged; its session ended with the failure (OnKeepAsideFailed)
    case Applying::Kind::kFlush:
      if (a.session == session_) flush_in_flight_ = false;
      return;
    case Applying::Kind::kFinalFlush:
      if (a.session == session_) final_flush_started_ = false;
      return;
    case Applying::Kind::kLocalFlush:
      local_flush_in_flight_ = false;  // flushed again at the next interval
      return;
    case Applying::Kind::kSourceFlush:
    case Applying::Kind::kCleanFlush:
      if (a.session != session_ || !source_active_) return;
      if (a.kind == Applying::Kind::kCleanFlush) clean_flush_in_flight_ = false;
      RestartSessionLater(now);  // what it was for is still in the plan
      return;
  }
}

}  // namespace duet
