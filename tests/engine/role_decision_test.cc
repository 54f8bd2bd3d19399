// Which role a module should take on this node (engine/role_decision.h), decided from facts.
#include "engine/role_decision.h"

#include <gtest/gtest.h>

#include "tests/engine/printers.h"

namespace duet {
namespace {

// An owner serving as primary with up-to-date data, no witness, the peer not eligible.
OwnerFacts ServingOwner() {
  return {.role = AppRole::kPrimary, .data = DataState::kUpToDate, .default_primary_here = true};
}

// A secondary whose peer is lost, with up-to-date data, no witness.
NonOwnerFacts SecondaryWithPeerLost() {
  return {.peer_alive = false, .data = DataState::kUpToDate};
}

TEST(RoleDecisionTest, OwnerWithUpToDateDataIsPrimary) {
  const OwnerDecision d = DecideAsOwner(ServingOwner());
  EXPECT_EQ(d.target, AppRole::kPrimary);
  EXPECT_EQ(d.reason, "");
  EXPECT_FALSE(d.request_lease);
}

TEST(RoleDecisionTest, AnOwnerNotYetServingWaitsForALivePeersViewBeforeServing) {
  OwnerFacts f = ServingOwner();
  f.role = AppRole::kNone;  // just (re)started
  f.peer_alive = true;
  f.peer_view_known = false;
  OwnerDecision d = DecideAsOwner(f);
  EXPECT_EQ(d.target, AppRole::kNone);
  EXPECT_NE(d.reason.find("waiting for the peer's view"), std::string::npos) << d.reason;
  f.peer_view_known = true;
  EXPECT_EQ(DecideAsOwner(f).target, AppRole::kPrimary);
  f.peer_view_known = false;
  f.peer_alive = false;  // silent for heartbeat.timeout: its view cannot be waited for
  EXPECT_EQ(DecideAsOwner(f).target, AppRole::kPrimary);
  f = ServingOwner();  // already serving: a view not heard again changes nothing
  f.peer_alive = true;
  EXPECT_EQ(DecideAsOwner(f).target, AppRole::kPrimary);
}

// Every cold start of the real pair (a started, b 0.3 s later; sim seed 15940316544201993213):
// b's handshake decided first and its heartbeat said "up to date" while a's own verdict was
// still on its way, so a, its copy undecided, handed alpha to b, and failback brought it back.
TEST(RoleDecisionTest, AnOwnerWhoseHandshakeIsUnderWayWaitsForItsVerdictInsteadOfHandingOver) {
  OwnerFacts f = ServingOwner();
  f.role = AppRole::kNone;  // just started
  f.data = DataState::kUnknown;
  f.peer_alive = true;
  f.peer_view_known = true;
  f.peer_eligible = true;  // the peer decided first: up to date, same term
  f.handshake_pending = true;
  OwnerDecision d = DecideAsOwner(f);
  EXPECT_FALSE(d.pass_when_drained);
  EXPECT_EQ(d.target, AppRole::kNone);
  EXPECT_NE(d.reason.find("waiting for this copy's data handshake"), std::string::npos) << d.reason;
  f.data = DataState::kUpToDate;  // the verdict came: serve
  EXPECT_EQ(DecideAsOwner(f).target, AppRole::kPrimary);
  // No handshake under way (no connection): an undecided copy hands over to the peer's.
  f.data = DataState::kUnknown;
  f.handshake_pending = false;
  EXPECT_TRUE(DecideAsOwner(f).pass_when_drained);
  // A copy known bad never waits for a handshake: it hands over.
  f.data = DataState::kOutdated;
  f.handshake_pending = true;
  EXPECT_TRUE(DecideAsOwner(f).pass_when_drained);
}

TEST(RoleDecisionTest, OwnerWithWitnessKeepsTheLeaseFreshAndServesWithAuthority) {
  OwnerFacts f = ServingOwner();
  f.witness = true;
  f.has_authority = true;
  const OwnerDecision d = DecideAsOwner(f);
  EXPECT_EQ(d.target, AppRole::kPrimary);
  EXPECT_TRUE(d.request_lease);
}

TEST(RoleDecisionTest, OwnerWithoutAuthorityWaitsForIt) {
  OwnerFacts f = ServingOwner();
  f.witness = true;
  f.has_authority = false;
  const OwnerDecision d = DecideAsOwner(f);
  EXPECT_EQ(d.target, AppRole::kNone);
  EXPECT_TRUE(d.awaiting_authority);
  EXPECT_TRUE(d.request_lease);
}

// Fenced for want of authority, with the peer still looking eligible (its last view): the
// copy is current unless the peer took over, so the owner waits for authority to tell rather
// than hand the module to a peer it may not reach.
TEST(RoleDecisionTest, OwnerFencedForWantOfAuthorityWaitsForItInsteadOfHandingOver) {
  OwnerFacts f = ServingOwner();
  f.role = AppRole::kNone;
  f.data = DataState::kOutdated;
  f.witness = true;
  f.has_authority = false;
  f.peer_eligible = true;
  f.fenced_possibly_current = true;
  const OwnerDecision d = DecideAsOwner(f);
  EXPECT_EQ(d.target, AppRole::kNone);
  EXPECT_TRUE(d.awaiting_authority);
  EXPECT_TRUE(d.request_lease);
  EXPECT_FALSE(d.pass_when_drained);
  f.fenced_possibly_current = false;  // the copy is outdated for certain: it goes to the peer
  EXPECT_TRUE(DecideAsOwner(f).pass_when_drained);
}

TEST(RoleDecisionTest, OwnerWithOutdatedDataWaitsWithoutAnEligiblePeer) {
  OwnerFacts f = ServingOwner();
  f.role = AppRole::kNone;
  f.data = DataState::kOutdated;
  const OwnerDecision d = DecideAsOwner(f);
  EXPECT_EQ(d.target, AppRole::kNone);
  EXPECT_EQ(d.reason, "data is outdated here and the peer is not an up-to-date secondary");
}

TEST(RoleDecisionTest, ForcedOwnerServesDespiteItsData) {
  OwnerFacts f = ServingOwner();
  f.data = DataState::kOutdated;
  f.forced = true;
  EXPECT_EQ(DecideAsOwner(f).target, AppRole::kPrimary);
}

TEST(RoleDecisionTest, StoppedOrFailedOwnerWithoutPeerSaysWhy) {
  OwnerFacts stopped = ServingOwner();
  stopped.admin_stopped = true;
  EXPECT_EQ(DecideAsOwner(stopped).target, AppRole::kNone);
  EXPECT_EQ(DecideAsOwner(stopped).reason, "stopped by the admin");

  OwnerFacts failed = ServingOwner();
  failed.failed = true;
  failed.failed_reason = "start_prim failed (exit 1)";
  EXPECT_EQ(DecideAsOwner(failed).target, AppRole::kNone);
  EXPECT_EQ(DecideAsOwner(failed).reason,
            "start_prim failed (exit 1); no up-to-date secondary to fail over to");
}

TEST(RoleDecisionTest, OwnerThatMustLeaveDemotesFullyBeforePassing) {
  OwnerFacts f = ServingOwner();
  f.failed = true;
  f.peer_eligible = true;
  const OwnerDecision primary = DecideAsOwner(f);  // still primary: demote first
  EXPECT_EQ(primary.target, AppRole::kSecondary);
  EXPECT_EQ(primary.reason, "handing over to the peer");
  EXPECT_FALSE(primary.pass_when_drained);

  f.role = AppRole::kSecondary;
  f.busy = true;  // stop scripts still run
  EXPECT_FALSE(DecideAsOwner(f).pass_when_drained);

  f.busy = false;
  EXPECT_TRUE(DecideAsOwner(f).pass_when_drained);
}

TEST(RoleDecisionTest, StoppedOwnerHandsOverAndRunsNothingHere) {
  OwnerFacts f = ServingOwner();
  f.admin_stopped = true;
  f.peer_eligible = true;
  const OwnerDecision d = DecideAsOwner(f);
  EXPECT_EQ(d.target, AppRole::kNone);
  EXPECT_EQ(d.reason, "handing over to the peer");
}

TEST(RoleDecisionTest, FailbackStartsOnAnIdlePrimaryThatIsNotTheDefaultOne) {
  OwnerFacts f = ServingOwner();
  f.default_primary_here = false;
  f.failback_auto = true;
  f.peer_eligible = true;
  const OwnerDecision d = DecideAsOwner(f);
  EXPECT_TRUE(d.begin_failback);
  EXPECT_EQ(d.target, AppRole::kSecondary);  // demotes for the handover

  OwnerFacts pinned = f;
  pinned.pinned = true;  // an admin placed it here
  OwnerFacts manual = f;
  manual.failback_auto = false;
  OwnerFacts busy = f;
  busy.busy = true;
  OwnerFacts home = f;
  home.default_primary_here = true;
  OwnerFacts no_peer = f;
  no_peer.peer_eligible = false;
  for (const OwnerFacts& no : {pinned, manual, busy, home, no_peer}) {
    EXPECT_FALSE(DecideAsOwner(no).begin_failback);
    EXPECT_EQ(DecideAsOwner(no).target, AppRole::kPrimary);
  }
}

// The split brain's survivor may show its copy not up to date for a moment (a resync source
// whose flush failed) before our handshake makes this copy the target: the handover to it
// goes on while it lives (seed 7737520649210495389, the order the first fix missed). Once it
// is lost, this node serves again.
TEST(RoleDecisionTest, HandoverToTheSurvivingCopyGoesOnWhileThatPeerLives) {
  OwnerFacts f = ServingOwner();
  f.handoff = true;
  f.peer_eligible = false;
  f.peer_copy_survives = true;
  f.peer_alive = true;
  OwnerDecision d = DecideAsOwner(f);
  EXPECT_FALSE(d.cancel_handoff);
  EXPECT_NE(d.target, AppRole::kPrimary);
  f.peer_alive = false;
  d = DecideAsOwner(f);
  EXPECT_TRUE(d.cancel_handoff);
  EXPECT_EQ(d.target, AppRole::kPrimary);
}

TEST(RoleDecisionTest, HandoverIsCancelledWhenThePeerIsNoLongerEligible) {
  OwnerFacts f = ServingOwner();
  f.handoff = true;
  f.peer_eligible = false;
  const OwnerDecision d = DecideAsOwner(f);
  EXPECT_TRUE(d.cancel_handoff);
  EXPECT_EQ(d.target, AppRole::kPrimary);
}

// Issue 11: a peer the admin hands the module to may stop being eligible before the token
// passes (its copy needs a resync after a failed flush). The admin's request waits, this node
// serving meanwhile, and goes on once the peer is eligible again; never dropped silently.
TEST(RoleDecisionTest, AnAdminsHandoverWaitsForThePeerToBeEligibleAgainWhileThisNodeServes) {
  OwnerFacts f = ServingOwner();
  f.role = AppRole::kSecondary;  // demoted for the handover already
  f.handoff = true;
  f.handoff_by_admin = true;
  f.peer_alive = true;
  f.peer_view_known = true;
  f.peer_eligible = false;
  OwnerDecision d = DecideAsOwner(f);
  EXPECT_FALSE(d.cancel_handoff);
  EXPECT_TRUE(d.defer_handoff);
  EXPECT_TRUE(d.handoff_waits);
  EXPECT_EQ(d.target, AppRole::kPrimary);
  f.handoff = false;  // Node carries the deferral out
  f.handoff_deferred = true;
  f.role = AppRole::kPrimary;
  d = DecideAsOwner(f);
  EXPECT_TRUE(d.handoff_waits);
  EXPECT_FALSE(d.resume_handoff);
  EXPECT_EQ(d.target, AppRole::kPrimary);
  f.peer_eligible = true;  // resynced
  d = DecideAsOwner(f);
  EXPECT_TRUE(d.resume_handoff);
  EXPECT_FALSE(d.handoff_waits);
  EXPECT_EQ(d.target, AppRole::kSecondary);
}

TEST(RoleDecisionTest, AWaitingHandoverIsDroppedWhenThePeerIsLostOrStoppedThere) {
  OwnerFacts f = ServingOwner();
  f.handoff_by_admin = true;
  f.handoff_deferred = true;
  f.peer_alive = false;
  OwnerDecision d = DecideAsOwner(f);
  EXPECT_TRUE(d.drop_deferred_handoff);
  EXPECT_FALSE(d.handoff_waits);
  EXPECT_EQ(d.target, AppRole::kPrimary);
  f.peer_alive = true;
  f.peer_stopped = true;
  d = DecideAsOwner(f);
  EXPECT_TRUE(d.drop_deferred_handoff);
  // A handover in progress to a peer stopped there is cancelled, not deferred.
  f.handoff_deferred = false;
  f.handoff = true;
  d = DecideAsOwner(f);
  EXPECT_TRUE(d.cancel_handoff);
  EXPECT_FALSE(d.defer_handoff);
}

TEST(RoleDecisionTest, HandoverGoesOnWhileAResyncOverwritesThisCopy) {
  OwnerFacts f = ServingOwner();
  f.role = AppRole::kSecondary;
  f.handoff = true;
  f.peer_eligible = false;  // the peer's view may lag the handshake
  f.resync_target = true;
  const OwnerDecision d = DecideAsOwner(f);
  EXPECT_FALSE(d.cancel_handoff);
  EXPECT_TRUE(d.pass_when_drained);
}

TEST(RoleDecisionTest, SplitBrainLoserGoesWhereItsDataSurvivesAndFailsHeldWrites) {
  OwnerFacts f = ServingOwner();
  f.peer_copy_survives = true;
  f.peer_eligible = true;
  OwnerDecision d = DecideAsOwner(f);
  EXPECT_TRUE(d.begin_leaving_for_peer);  // said once
  EXPECT_EQ(d.target, AppRole::kSecondary);
  EXPECT_FALSE(d.fail_held_writes);  // not before it is demoted

  f.leaving_for_peer_copy = true;
  f.role = AppRole::kSecondary;
  d = DecideAsOwner(f);
  EXPECT_FALSE(d.begin_leaving_for_peer);
  EXPECT_TRUE(d.fail_held_writes);
  EXPECT_TRUE(d.pass_when_drained);
}

TEST(RoleDecisionTest, SplitBrainLoserPinnedByTheAdminStays) {
  OwnerFacts f = ServingOwner();
  f.peer_copy_survives = true;
  f.peer_eligible = true;
  f.pinned = true;
  const OwnerDecision d = DecideAsOwner(f);
  EXPECT_FALSE(d.begin_leaving_for_peer);
  EXPECT_EQ(d.target, AppRole::kPrimary);
}

TEST(RoleDecisionTest, NonOwnerIsSecondaryWhileThePeerLives) {
  NonOwnerFacts f = SecondaryWithPeerLost();
  f.peer_alive = true;
  NonOwnerDecision d = DecideAsNonOwner(f);
  EXPECT_EQ(d.target, AppRole::kSecondary);
  EXPECT_EQ(d.reason, "");
  EXPECT_FALSE(d.claim);

  f.failed = true;
  f.failed_reason = "prestart failed (exit 3)";
  d = DecideAsNonOwner(f);
  EXPECT_EQ(d.target, AppRole::kSecondary);
  EXPECT_EQ(d.reason, "prestart failed (exit 3); not eligible until restarted by the admin");
}

TEST(RoleDecisionTest, NonOwnerStoppedByTheAdminRunsNothing) {
  NonOwnerFacts f = SecondaryWithPeerLost();
  f.admin_stopped = true;
  const NonOwnerDecision d = DecideAsNonOwner(f);
  EXPECT_EQ(d.target, AppRole::kNone);
  EXPECT_EQ(d.reason, "stopped by the admin");
  EXPECT_FALSE(d.claim);
}

TEST(RoleDecisionTest, UpToDateSecondaryClaimsTheModuleOfALostPeer) {
  EXPECT_TRUE(DecideAsNonOwner(SecondaryWithPeerLost()).claim);
}

TEST(RoleDecisionTest, FailoverOffWaitsForTheAdmin) {
  NonOwnerFacts f = SecondaryWithPeerLost();
  f.failover = false;
  NonOwnerDecision d = DecideAsNonOwner(f);
  EXPECT_FALSE(d.claim);
  EXPECT_EQ(d.target, AppRole::kSecondary);
  EXPECT_EQ(d.reason, "peer lost; failover = off (duetctl prim takes over)");

  f.admin_claim = true;  // duetctl prim
  EXPECT_TRUE(DecideAsNonOwner(f).claim);
}

TEST(RoleDecisionTest, CopyNotKnownUpToDateNeverTakesOverByItself) {
  for (DataState data : {DataState::kUnknown, DataState::kOutdated, DataState::kSyncing}) {
    NonOwnerFacts f = SecondaryWithPeerLost();
    f.data = data;
    const NonOwnerDecision d = DecideAsNonOwner(f);
    EXPECT_FALSE(d.claim);
    EXPECT_EQ(d.target, AppRole::kNone);
    EXPECT_EQ(d.reason, std::string("peer lost; data is ") + DataStateName(data) + " here");
    f.forced = true;  // an admin may force it
    EXPECT_TRUE(DecideAsNonOwner(f).claim);
  }
}

TEST(RoleDecisionTest, WithAWitnessTakeoverWaitsForTheLease) {
  NonOwnerFacts f = SecondaryWithPeerLost();
  f.witness = true;
  f.lease_valid = false;
  NonOwnerDecision d = DecideAsNonOwner(f);
  EXPECT_FALSE(d.claim);
  EXPECT_TRUE(d.awaiting_lease);
  EXPECT_TRUE(d.request_lease);
  EXPECT_EQ(d.target, AppRole::kSecondary);

  f.lease_valid = true;
  d = DecideAsNonOwner(f);
  EXPECT_TRUE(d.claim);
  EXPECT_FALSE(d.awaiting_lease);
}

TEST(RoleDecisionTest, PeerIsEligibleOnlyAliveUpToDateAndAtOurTerm) {
  ModuleView view;
  view.eligible = true;
  view.data = DataState::kUpToDate;
  view.term = 4;
  const std::optional<ModuleView> peer = view;
  EXPECT_TRUE(PeerEligible(true, peer, 4, false, false));
  EXPECT_FALSE(PeerEligible(false, peer, 4, false, false));         // lost
  EXPECT_FALSE(PeerEligible(true, std::nullopt, 4, false, false));  // never heard
  EXPECT_FALSE(PeerEligible(true, peer, 5, false, false));          // another term

  ModuleView syncing = view;
  syncing.data = DataState::kSyncing;
  EXPECT_FALSE(PeerEligible(true, syncing, 4, false, false));
  ModuleView busy = view;
  busy.eligible = false;
  EXPECT_FALSE(PeerEligible(true, busy, 4, false, false));
}

TEST(RoleDecisionTest, PeerLacksWhatThisCopyAcknowledgedAloneUnlessItsCopyWasChosen) {
  ModuleView view;
  view.eligible = true;
  view.data = DataState::kUpToDate;
  EXPECT_FALSE(PeerEligible(true, view, 0, /*alone_acked=*/true, /*peer_copy_chosen=*/false));
  EXPECT_TRUE(PeerEligible(true, view, 0, /*alone_acked=*/true, /*peer_copy_chosen=*/true));
}

TEST(RoleDecisionTest, SelfIsEligibleAsAnIdleUpToDateSecondary) {
  EXPECT_TRUE(SelfEligible(false, false, DataState::kUpToDate, AppRole::kSecondary, false));
  EXPECT_FALSE(SelfEligible(true, false, DataState::kUpToDate, AppRole::kSecondary, false));
  EXPECT_FALSE(SelfEligible(false, true, DataState::kUpToDate, AppRole::kSecondary, false));
  EXPECT_FALSE(SelfEligible(false, false, DataState::kSyncing, AppRole::kSecondary, false));
  EXPECT_FALSE(SelfEligible(false, false, DataState::kUpToDate, AppRole::kNone, false));
  EXPECT_FALSE(SelfEligible(false, false, DataState::kUpToDate, AppRole::kSecondary, true));
}

TEST(RoleDecisionTest, ShownStateFollowsTheRoleHeld) {
  EXPECT_EQ(ShowState(AppRole::kPrimary, true, true, false, false, "").state, ModuleState::kPrim);
  EXPECT_EQ(ShowState(AppRole::kPrimary, true, false, false, false, "").state, ModuleState::kAlone);
  EXPECT_EQ(ShowState(AppRole::kSecondary, false, false, false, false, "").state,
            ModuleState::kSecond);
  EXPECT_EQ(ShowState(AppRole::kNone, false, false, true, false, "").state, ModuleState::kStop);
  // Stopping is shown as WAIT until the stop scripts are done.
  const ShownState stopping = ShowState(AppRole::kNone, false, false, true, true, "");
  EXPECT_EQ(stopping.state, ModuleState::kWait);
  EXPECT_EQ(stopping.reason, "changing role");
  // A fenced primary (not writable) waits too.
  EXPECT_EQ(ShowState(AppRole::kPrimary, false, true, false, true, "").state, ModuleState::kWait);
  EXPECT_EQ(ShowState(AppRole::kNone, false, false, false, false, "").reason, "starting");
  EXPECT_EQ(ShowState(AppRole::kNone, false, false, false, false, "peer lost").reason, "peer lost");
}

}  // namespace
}  // namespace duet
