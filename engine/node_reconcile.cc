// Node, second half of a step: re-deciding each module marked dirty (DESIGN.md §3, §6).
// node.cc takes the inputs, updates the facts and marks modules dirty; here Settle
// reconciles each dirty module: it decides the role (engine/role_decision.h) as owner or
// not, carries the decision out (token moves of engine/ownership.h, fencing and lease
// requests of engine/write_authority.h), drives the runner and the replica, updates what
// status shows and when the module needs the node again, then sends a heartbeat if due.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/node.h"
#include "engine/ownership.h"
#include "engine/role_decision.h"

namespace duet {

void Node::Settle(absl::Time now) {
  // Reconcile may mark more modules dirty (e.g. a claim); keep going until quiet.
  for (size_t i = 0; i < dirty_.size(); ++i) {
    const ModuleIndex m = dirty_[i];
    is_dirty_[m] = false;
    Reconcile(now, m);
  }
  dirty_.clear();
  if (heartbeat_now_) SendHeartbeat(now);
}

void Node::Reconcile(absl::Time now, ModuleIndex m) {
  Module& mod = modules_[m];
  if (!mod.problem.empty()) {
    UpdateShownState(now, m, mod.problem);
    return;
  }
  std::string reason;
  const AppRole target = mod.token.owner == self_ ? DecideOwnerRole(now, m, mod, reason)
                                                  : DecideNonOwnerRole(now, m, mod, reason);
  mod.runner.Drive(target, next_run_id_, out_);
  // The peer took the module over while our last writes were in flight (we had already
  // stopped writing, so no fence ran): they were never acknowledged, and now fail, so that
  // the replica can become secondary. A planned handover passes the token only once drained.
  if (mod.token.owner != self_ && !mod.runner.writable() && !mod.replica.drained()) {
    mod.replica.Fence(out_);
  }
  // The replica writes while the module is writable here; it gives the primary role up only
  // once everything it sent is acknowledged (the stream drains) and durable on the peer.
  if (mod.runner.writable()) {
    mod.replica.SetRole(now, ReplRole::kPrimary, out_);
  } else if (mod.replica.ReadyToStepDown(now, out_)) {
    mod.replica.SetRole(now, ReplRole::kSecondary, out_);
  }
  mod.replica.OnTick(now, out_);
  // Writes made alone complete once the peer cannot take over with its older copy: it says
  // its copy is not up to date, or it is gone. With a witness, "gone" is the witness's
  // record that the peer's copy is outdated (it then refuses the peer the lease): a peer
  // that is only cut off from us may still reach the witness once our lease ends. Without
  // one, a partition that only looks like a death is the split brain the generations catch.
  if (mod.replica.writing_alone()) {
    if (mod.authority.required() && mod.token.owner == self_) RequestLeaseIfDue(now, mod);
    const bool peer_gone =
        mod.authority.required() ? mod.authority.lease().outdate_recorded() : !liveness_.Alive(now);
    if (peer_gone || (mod.peer_view && mod.peer_view->data != DataState::kUpToDate &&
                      mod.peer_view->term == mod.token.term)) {
      mod.replica.OnPeerOutdated(now, out_);
    }
  }
  // Replica calls above may have changed its verdict: taken quietly (as always).
  mod.data = data_source_.Verdict(m, mod.replica);
  if (mod.token.owner == self_ && mod.runner.writable() && !liveness_.Alive(now) &&
      !mod.token.wrote_alone) {
    mod.token.wrote_alone = true;
    Persist(m);
  }
  UpdateShownState(now, m, reason);
  UpdateDeadline(now, m);
}

AppRole Node::DecideOwnerRole(absl::Time now, ModuleIndex m, Module& mod, std::string& reason) {
  if (mod.authority.required()) {
    // Whatever else is going on (a handover, a restart), a writer without authority stops.
    if (mod.runner.role() == AppRole::kPrimary) RequestLeaseIfDue(now, mod);
    if (mod.authority.MustFence(now, mod.runner.writable())) {
      FenceNow(m, "neither the peer's acknowledgement nor the witness lease is current");
      mod.authority_fence = mod.authority.lease().last_mark();
    }
  }
  const bool fenced_possibly_current = FencedCopyPossiblyCurrent(now, m, mod);
  const OwnerDecision d =
      DecideAsOwner({.role = mod.runner.role(),
                     .busy = mod.runner.Busy(),
                     .admin_stopped = mod.token.admin_stopped,
                     .failed = mod.failed,
                     .failed_reason = mod.failed_reason,
                     .data = mod.data.state,
                     .forced = mod.force.counts(),
                     .pinned = mod.token.pinned,
                     .failback_auto = mod.config->failback == Failback::kAuto,
                     .default_primary_here = self_ == mod.config->default_primary,
                     .peer_eligible = PeerEligible(now, mod),
                     .peer_copy_survives = mod.replica.peer_copy_survives(),
                     .resync_target = mod.replica.resync_target(),
                     .peer_alive = liveness_.Alive(now),
                     .peer_view_known = mod.peer_view.has_value(),
                     .handoff = mod.handoff,
                     .handoff_by_admin = mod.handoff_by_admin,
                     .handoff_deferred = mod.handoff_deferred,
                     .peer_stopped = liveness_.Alive(now) && mod.peer_view &&
                                     mod.peer_view->state == ModuleState::kStop,
                     .handshake_pending = mod.replica.handshake_pending(),
                     .leaving_for_peer_copy = mod.leaving_for_peer_copy,
                     .witness = mod.authority.required(),
                     .has_authority = mod.authority.Has(now),
                     .fenced_possibly_current = fenced_possibly_current});
  mod.awaiting_authority = d.awaiting_authority;
  if (d.begin_failback) {
    Log(m, "failback: the default primary is an up-to-date secondary again");
    mod.handoff = true;
  }
  if (d.begin_leaving_for_peer) {
    mod.leaving_for_peer_copy = true;
    Log(m, "split brain: the peer's copy survives; handing the module over to it");
  }
  const std::string& peer = config_.nodes[Peer(self_)].name;
  if (d.drop_deferred_handoff) {
    mod.handoff_deferred = false;
    mod.handoff_by_admin = false;
    Log(m, absl::StrCat("the admin's handover to ", peer, " dropped: ",
                        liveness_.Alive(now) ? "the module was stopped there by the admin"
                                             : "the peer is lost"));
  }
  if (d.resume_handoff) {
    mod.handoff_deferred = false;
    mod.handoff = true;
    Log(m, absl::StrCat("the admin's handover to ", peer, " goes on: ", peer,
                        " is an up-to-date secondary again"));
  }
  if (d.defer_handoff) {
    mod.handoff = false;
    mod.handoff_deferred = true;
    Log(m, absl::StrCat("the admin's handover to ", peer, " waits: ", PeerNotEligibleWhy(now, mod),
                        "; this node serves until ", peer,
                        " is an up-to-date secondary again, then hands over (duetctl prim here "
                        "keeps the module here instead)"));
  }
  if (d.cancel_handoff) {
    mod.handoff = false;
    mod.handoff_by_admin = false;
    Log(m, "handover cancelled: the peer is no longer an up-to-date secondary");
  }
  if (d.fail_held_writes) mod.replica.Fence(out_);
  if (d.pass_when_drained && mod.replica.ReadyToStepDown(now, out_)) {
    PassToPeer(mod, m);
    return DecideNonOwnerRole(now, m, mod, reason);
  }
  if (d.request_lease) {
    RequestLeaseIfDue(now, mod);
  } else {
    ReleaseOutdateIfDue(now, mod);
  }
  reason = d.awaiting_authority ? mod.authority.OwnerWaitReason(self_, config_.nodes) : d.reason;
  if (d.handoff_waits && reason.empty()) {
    reason =
        absl::StrCat("the admin's handover to ", peer, " waits: ", PeerNotEligibleWhy(now, mod));
  }
  return d.target;
}

AppRole Node::DecideNonOwnerRole(absl::Time now, ModuleIndex m, Module& mod, std::string& reason) {
  const NonOwnerDecision d = DecideAsNonOwner({.admin_stopped = mod.token.admin_stopped,
                                               .failed = mod.failed,
                                               .failed_reason = mod.failed_reason,
                                               .peer_alive = liveness_.Alive(now),
                                               .failover = mod.config->failover,
                                               .admin_claim = mod.admin_claim,
                                               .data = mod.data.state,
                                               .forced = mod.force.counts(),
                                               .witness = mod.authority.required(),
                                               .lease_valid = mod.authority.lease().Valid(now)});
  if (d.request_lease) {
    RequestLeaseIfDue(now, mod);
  } else {
    ReleaseOutdateIfDue(now, mod);
  }
  if (!d.claim) {
    reason = d.awaiting_lease ? mod.authority.TakeoverWaitReason(self_, config_.nodes) : d.reason;
    return d.target;
  }
  Claim(now, mod, m, mod.admin_claim ? "admin prim with the peer lost" : "peer lost");
  return DecideOwnerRole(now, m, mod, reason);
}

void Node::Claim(absl::Time now, Module& mod, ModuleIndex m, const char* why) {
  // A failover is timed from the peer's loss when this run saw it, else from now (the admin
  // asked, or the node started with the peer already gone).
  const bool peer_loss_seen = !mod.admin_claim && peer_lost_at_ != absl::InfinitePast();
  mod.failover_pending = FailoverRecord{
      .from = mod.token.owner,
      .cause = mod.admin_claim ? FailoverCause::kAdminPrim : FailoverCause::kPeerLost,
      .began = peer_loss_seen ? peer_lost_at_ : now,
      .completed = now};
  mod.token = Claimed(mod.token, self_, /*pinned=*/mod.admin_claim);
  mod.authority_fence.reset();
  mod.handoff = false;
  mod.handoff_by_admin = false;
  mod.handoff_deferred = false;
  mod.admin_claim = false;
  mod.failed = false;
  mod.budget.Reset();
  mod.authority.ForgetAck();
  Persist(m);
  Log(m, absl::StrCat("taking over (", why, "), term ", mod.token.term));
  heartbeat_now_ = true;
}

void Node::PassToPeer(Module& mod, ModuleIndex m) {
  mod.failover_pending.reset();
  mod.authority_fence.reset();
  mod.token = HandedTo(mod.token, Peer(self_), /*pinned=*/mod.handoff_by_admin);
  mod.handoff_by_admin = false;
  mod.handoff = false;
  mod.handoff_deferred = false;
  mod.leaving_for_peer_copy = false;
  mod.force.OnTokenNamingPeer();
  mod.authority.ForgetAck();
  mod.authority.lease().Drop();
  Persist(m);
  Log(m,
      absl::StrCat("handed over to ", config_.nodes[Peer(self_)].name, ", term ", mod.token.term));
  heartbeat_now_ = true;
}

void Node::FenceNow(ModuleIndex m, const std::string& why) {
  Module& mod = modules_[m];
  Log(m, "fencing: " + why);
  mod.force.OnFence();
  mod.runner.Fence(out_);
  mod.replica.Fence(out_);
  MarkDirty(m);
}

bool Node::FencedCopyPossiblyCurrent(absl::Time now, ModuleIndex m, Module& mod) {
  if (!mod.authority_fence) return false;
  // Not stepped down yet (or serving again): the copy is still the writer's reference.
  if (mod.replica.role() == ReplRole::kPrimary) return false;
  // A handshake (or a disk fault, or an outdate) has decided this copy since.
  if (!mod.replica.fenced_copy()) {
    mod.authority_fence.reset();
    return false;
  }
  // With a witness the peer takes the module over only once granted the lease: a grant to
  // us from the same witness run that has granted the peer nothing since the fence proves it
  // never wrote as primary, so the copy lacks nothing. The peer's acknowledgement proves
  // nothing: a peer that claimed the term this node went on alone at yields to the default
  // primary's claim and acknowledges it at that term, though it served meanwhile.
  const LeaseClient& lease = mod.authority.lease();
  const bool granted = lease.Valid(now);
  if (!granted && !mod.authority.AcknowledgedAt(now)) return true;  // waits for authority
  if (!granted || !lease.PeerGrantedNothingSince(*mod.authority_fence)) {
    mod.authority_fence.reset();
    Log(m, granted ? "fenced: the witness may have granted the peer the lease since (another run "
                     "of the witness, or a grant to it); this copy stays outdated until resynced"
                   : "fenced: the peer is back before the witness could tell whether it took "
                     "over; this copy stays outdated until resynced");
    return false;
  }
  const std::string why =
      "the witness granted this node the lease and its peer nothing since the fence";
  mod.authority_fence.reset();
  mod.replica.ConfirmFencedCopyCurrent(why, out_);
  mod.data = data_source_.Verdict(m, mod.replica);
  return false;
}

void Node::RequestLeaseIfDue(absl::Time now, Module& mod) {
  // The peer lacks what this node acknowledged alone until a resync from here clears
  // alone_acked: say so after writing stops too (fenced, stopping, restarted), or the
  // witness forgets the outdate and may later grant the peer's older copy the lease.
  const bool alone = mod.token.owner == self_ &&
                     (mod.replica.writing_alone() || mod.replica.durable().alone_acked);
  if (auto request =
          mod.authority.lease().RequestIfDue(now, self_, config_.cluster_name, mod.config->name,
                                             next_request_id_, alone, mod.force.counts())) {
    out_.push_back(SendWitness{*std::move(request)});
  }
}

void Node::ReleaseOutdateIfDue(absl::Time now, Module& mod) {
  // The witness may record the peer as outdated on this node's word, and nothing makes that
  // true any more: nothing this node acknowledged alone is missing there. alone_acked is set
  // before the first write made alone completes and cleared only once the peer has those
  // writes (a resync from here), or they are gone (a replaced disk), or kept aside (a split
  // brain decided against this node). Else the peer, owner after a handover, would be
  // refused the lease at its next partition and fence, and only the admin could bring the
  // module back.
  if (!mod.authority.required() || mod.replica.writing_alone() ||
      mod.replica.durable().alone_acked) {
    return;
  }
  if (auto release = mod.authority.lease().ReleaseIfDue(now, self_, config_.cluster_name,
                                                        mod.config->name, next_request_id_)) {
    out_.push_back(SendWitness{*std::move(release)});
  }
}

void Node::UpdateShownState(absl::Time now, ModuleIndex m, const std::string& reason) {
  Module& mod = modules_[m];
  const bool replicated =
      liveness_.Alive(now) && mod.peer_view && mod.peer_view->state == ModuleState::kSecond &&
      mod.peer_view->data == DataState::kUpToDate && data_source_.PeerFollows(m, mod.replica);
  ShownState shown = ShowState(mod.runner.role(), mod.runner.writable(), replicated,
                               mod.token.admin_stopped, mod.runner.Busy(), reason);
  if (shown.state == ModuleState::kSecond && shown.reason.empty() &&
      !mod.replica.keep_aside_failure().empty()) {
    shown.reason = absl::StrCat("keeping the divergent branch aside failed: ",
                                mod.replica.keep_aside_failure(), "; the resync waits");
  } else if (shown.state == ModuleState::kSecond && shown.reason.empty() &&
             !mod.replica.stream_failure().empty()) {
    // Otherwise a secondary whose disk is full looks like one merely resyncing.
    shown.reason = absl::StrCat("cannot apply the stream here (", mod.replica.stream_failure(),
                                "); resynced once it can");
  }
  if (shown.state == mod.shown && shown.reason == mod.reason) return;
  if (shown.state != mod.shown) {
    Log(m, absl::StrCat(ModuleStateName(mod.shown), " -> ", ModuleStateName(shown.state),
                        shown.reason.empty() ? "" : ": ", shown.reason));
  }
  mod.shown = shown.state;
  mod.reason = std::move(shown.reason);
  heartbeat_now_ = true;
}

void Node::UpdateDeadline(absl::Time now, ModuleIndex m) {
  Module& mod = modules_[m];
  const bool owner = mod.token.owner == self_;
  absl::Time next = mod.authority.NextDeadline(
      /*writing_as_owner=*/owner && mod.runner.writable(),
      WantsLease(owner, mod.runner.role() == AppRole::kPrimary, owner && mod.awaiting_authority,
                 liveness_.Alive(now)));
  next = std::min(next, mod.replica.NextDeadline());
  deadlines_.Set(m, next > now ? next : absl::InfiniteFuture());
}

bool Node::PeerEligible(absl::Time now, const Module& mod) const {
  // Writes made alone here were acknowledged since the pair was last in sync: the peer lacks
  // them whatever it says (it may never have heard the outdate: the witness recorded it, or
  // it was declared lost). It is eligible again once resynced from this copy.
  return duet::PeerEligible(
      liveness_.Alive(now), mod.peer_view, mod.token.term, mod.replica.durable().alone_acked,
      /*peer_copy_chosen=*/mod.replica.peer_copy_survives() || mod.replica.resync_target());
}

std::string Node::PeerNotEligibleWhy(absl::Time now, const Module& mod) const {
  const std::string& peer = config_.nodes[Peer(self_)].name;
  if (!liveness_.Alive(now) || !mod.peer_view) return absl::StrCat(peer, " is not heard");
  const ModuleView& view = *mod.peer_view;
  if (view.data != DataState::kUpToDate) {
    return absl::StrCat("data is ", DataStateName(view.data), " on ", peer,
                        view.data == DataState::kSyncing
                            ? absl::StrCat(" (", view.sync_percent, "%)")
                            : std::string());
  }
  if (mod.replica.durable().alone_acked && !mod.replica.peer_copy_survives() &&
      !mod.replica.resync_target()) {
    return absl::StrCat(peer, " lacks writes acknowledged here alone (until resynced)");
  }
  return absl::StrCat(peer, " is ", ModuleStateName(view.state), ", not an idle secondary");
}

bool Node::SelfEligible(const Module& mod) const {
  return duet::SelfEligible(mod.token.admin_stopped, mod.failed, mod.data.state, mod.runner.role(),
                            mod.runner.Busy());
}

ModuleView Node::ViewOf(const Module& mod) const {
  ModuleView view;
  view.module = mod.config->name;
  view.state = mod.shown;
  view.data = mod.data.state;
  view.sync_percent = mod.data.sync_percent;
  view.term = mod.token.term;
  view.owner = mod.token.owner;
  view.eligible = mod.token.owner != self_ && SelfEligible(mod);
  view.pinned = mod.token.pinned;
  view.writing_alone = mod.token.owner == self_ && mod.replica.writing_alone();
  view.app_failed = mod.failed;
  return view;
}

void Node::SendHeartbeat(absl::Time now) {
  Heartbeat hb = heartbeats_.Stamp(now, rng_);
  hb.modules.reserve(modules_.size());
  for (const Module& mod : modules_) hb.modules.push_back(ViewOf(mod));
  out_.push_back(SendPeer{kAllLinks, std::move(hb)});
  heartbeat_now_ = false;
}

}  // namespace duet
