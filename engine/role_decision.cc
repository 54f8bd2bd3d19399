#include "engine/role_decision.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace duet {

bool SelfEligible(bool admin_stopped, bool failed, DataState data, AppRole role, bool busy) {
  return !admin_stopped && !failed && data == DataState::kUpToDate && role == AppRole::kSecondary &&
         !busy;
}

bool PeerEligible(bool peer_alive, const std::optional<ModuleView>& peer, uint64_t term,
                  bool alone_acked, bool peer_copy_chosen) {
  if (alone_acked && !peer_copy_chosen) return false;
  return peer_alive && peer && peer->eligible && peer->data == DataState::kUpToDate &&
         peer->term == term;
}

OwnerDecision DecideAsOwner(const OwnerFacts& f) {
  OwnerDecision d;
  bool handoff = f.handoff;
  bool deferred = f.handoff_deferred && !handoff;
  if (deferred && (!f.peer_alive || f.peer_stopped)) {
    d.drop_deferred_handoff = true;
    deferred = false;
  } else if (deferred && f.peer_eligible) {
    d.resume_handoff = true;
    deferred = false;
    handoff = true;
  }
  if (!handoff && f.peer_eligible && f.failback_auto && !f.pinned && !f.default_primary_here &&
      f.role == AppRole::kPrimary && !f.busy) {
    d.begin_failback = true;
    handoff = true;
  }
  // The handshake chose the peer's copy (a split brain's policy, or writes it acknowledged
  // alone): the module goes where its data survives, unless the admin placed it here.
  const bool copy_lost = f.peer_copy_survives && !f.pinned;
  const bool data_ok = DataAllowsPrimary(f.data, f.forced) || f.fenced_possibly_current;
  // At a start, the peer's handshake can end (and its heartbeat say "up to date") a moment
  // before ours does: an owner whose copy is merely undecided waits for its own verdict
  // rather than move the module to the peer and back by failback.
  const bool awaiting_handshake =
      f.data == DataState::kUnknown && f.handshake_pending && f.peer_alive && !f.handoff;
  const bool must_leave =
      f.admin_stopped || f.failed || (!data_ok && !awaiting_handshake) || copy_lost;
  d.begin_leaving_for_peer = copy_lost && f.peer_eligible && !f.leaving_for_peer_copy;
  // A copy that a resync is overwriting cannot serve: a handover in progress goes on (the
  // peer's view may lag the handshake that made this copy the target). Nor is a handover to
  // the copy that survives cancelled while that peer lives: its view may show it not up to
  // date for a moment before our own handshake makes this copy the target (a source whose
  // flush failed is never promotable until repaired), and serving again here would only
  // add writes that copy discards.
  const bool to_survivor = f.peer_copy_survives && f.peer_alive;
  if (handoff && !f.peer_eligible && !f.resync_target && !to_survivor) {
    // The admin asked for the module to be there: a peer that lives and was not stopped
    // there will be eligible again once repaired (e.g. resynced after its flush failed), so
    // the request waits rather than being dropped silently; this copy serves meanwhile.
    if (f.handoff_by_admin && f.peer_alive && !f.peer_stopped) {
      d.defer_handoff = true;
      deferred = true;
    } else {
      d.cancel_handoff = true;
    }
    handoff = false;
  }
  d.handoff_waits = deferred;
  if (handoff || (must_leave && f.peer_eligible)) {
    // Demote fully first; only then pass the token, so there is never a second writer.
    const bool demoted = f.role != AppRole::kPrimary && !f.busy;
    // Writes still held for an outdate will be discarded with this copy (whoever asked for
    // the handover: the split brain's verdict, or the admin): they fail.
    d.fail_held_writes = f.peer_copy_survives && demoted;
    d.pass_when_drained = demoted;
    d.target = f.admin_stopped ? AppRole::kNone : AppRole::kSecondary;
    d.reason = "handing over to the peer";
    return d;
  }
  d.target = AppRole::kNone;
  if (f.admin_stopped) {
    d.reason = "stopped by the admin";
  } else if (f.failed) {
    d.reason = absl::StrCat(f.failed_reason, "; no up-to-date secondary to fail over to");
  } else if (awaiting_handshake) {
    d.reason = "waiting for this copy's data handshake with the peer";
  } else if (!data_ok) {
    d.reason = absl::StrCat("data is ", DataStateName(f.data),
                            " here and the peer is not an up-to-date secondary");
  } else if (f.role != AppRole::kPrimary && f.peer_alive && !f.peer_view_known) {
    // A restart reads the token as persisted: the peer may have taken the module over since
    // (the replication handshake can end before its first heartbeat arrives). Serving now
    // could make two writers; the peer's view, or its silence for heartbeat.timeout, tells.
    d.reason = "waiting for the peer's view of the module (it may have taken it over)";
  } else {
    d.request_lease = f.witness;  // kept fresh so that it can outlive a partition
    d.awaiting_authority = f.witness && !f.has_authority;
    if (!d.awaiting_authority) d.target = AppRole::kPrimary;
  }
  return d;
}

NonOwnerDecision DecideAsNonOwner(const NonOwnerFacts& f) {
  NonOwnerDecision d;
  if (f.admin_stopped) {
    d.target = AppRole::kNone;
    d.reason = "stopped by the admin";
  } else if (f.peer_alive) {
    d.target = AppRole::kSecondary;
    if (f.failed) {
      d.reason = absl::StrCat(f.failed_reason, "; not eligible until restarted by the admin");
    }
  } else if (!f.failover && !f.admin_claim) {
    d.target = AppRole::kSecondary;
    d.reason = "peer lost; failover = off (duetctl prim takes over)";
  } else if (!DataAllowsPrimary(f.data, f.forced)) {
    d.target = AppRole::kNone;
    d.reason = absl::StrCat("peer lost; data is ", DataStateName(f.data), " here");
  } else if (f.witness && !f.lease_valid) {
    d.target = AppRole::kSecondary;
    d.request_lease = true;
    d.awaiting_lease = true;
  } else {
    d.claim = true;
  }
  return d;
}

ShownState ShowState(AppRole role, bool writable, bool replicated, bool admin_stopped, bool busy,
                     std::string reason) {
  ShownState shown{ModuleState::kWait, std::move(reason)};
  if (role == AppRole::kPrimary && writable) {
    shown.state = replicated ? ModuleState::kPrim : ModuleState::kAlone;
  } else if (role == AppRole::kSecondary) {
    shown.state = ModuleState::kSecond;
  } else if (admin_stopped && !busy) {
    shown.state = ModuleState::kStop;
  }
  if (shown.state == ModuleState::kWait && shown.reason.empty()) {
    shown.reason = busy ? "changing role" : "starting";
  }
  return shown;
}

}  // namespace duet
