// What the admin verbs do to a module, and their refusals (engine/admin_verbs.h).
#include "engine/admin_verbs.h"

#include <gtest/gtest.h>

namespace duet {
namespace {

// The owner of "db", serving, next to an up-to-date secondary peer.
AdminFacts OwnerWithPeer(AdminVerb verb) {
  return {.verb = verb,
          .module = "db",
          .owner = true,
          .peer_alive = true,
          .peer_eligible = true,
          .data = DataState::kUpToDate,
          .data_allows_primary = true};
}

// The secondary of "db", up to date, next to its live owner.
AdminFacts SecondaryWithPeer(AdminVerb verb) {
  return {.verb = verb,
          .module = "db",
          .owner = false,
          .peer_alive = true,
          .self_eligible = true,
          .data = DataState::kUpToDate,
          .data_allows_primary = true};
}

void ExpectRefused(const AdminPlan& plan, absl::StatusCode code, const std::string& message) {
  EXPECT_EQ(plan.status.code(), code);
  EXPECT_EQ(plan.status.message(), message);
  EXPECT_FALSE(plan.stop || plan.run_here || plan.restart_app || plan.hand_to_peer ||
               plan.take_here || plan.ask_peer || plan.claim || plan.discard);
}

TEST(AdminVerbsTest, StartRunsTheModuleHereAgain) {
  const AdminPlan plan = PlanAdmin(SecondaryWithPeer(AdminVerb::kStart));
  EXPECT_TRUE(plan.status.ok());
  EXPECT_TRUE(plan.run_here);
}

TEST(AdminVerbsTest, StopStopsItHere) {
  const AdminPlan plan = PlanAdmin(OwnerWithPeer(AdminVerb::kStop));
  EXPECT_TRUE(plan.status.ok());
  EXPECT_TRUE(plan.stop);
  EXPECT_FALSE(plan.run_here);
}

TEST(AdminVerbsTest, DiscardIsTheDataSourcesToAnswer) {
  EXPECT_TRUE(PlanAdmin(SecondaryWithPeer(AdminVerb::kDiscard)).discard);
}

TEST(AdminVerbsTest, RestartIsRefusedWhileAScriptRuns) {
  AdminFacts f = OwnerWithPeer(AdminVerb::kRestart);
  f.busy = true;
  ExpectRefused(PlanAdmin(f), absl::StatusCode::kUnavailable,
                "db: a script is running; retry later");
  f.busy = false;
  const AdminPlan plan = PlanAdmin(f);
  EXPECT_TRUE(plan.run_here);
  EXPECT_TRUE(plan.restart_app);
}

TEST(AdminVerbsTest, SwapOnTheOwnerHandsTheModuleToAnUpToDateSecondary) {
  const AdminPlan plan = PlanAdmin(OwnerWithPeer(AdminVerb::kSwap));
  EXPECT_TRUE(plan.status.ok());
  EXPECT_TRUE(plan.hand_to_peer);
  EXPECT_TRUE(PlanAdmin(OwnerWithPeer(AdminVerb::kSecond)).hand_to_peer);
}

TEST(AdminVerbsTest, MovingToAPeerThatIsNotAnUpToDateSecondaryIsRefused) {
  for (AdminVerb verb : {AdminVerb::kSwap, AdminVerb::kSecond}) {
    AdminFacts f = OwnerWithPeer(verb);
    f.peer_eligible = false;
    ExpectRefused(PlanAdmin(f), absl::StatusCode::kFailedPrecondition,
                  "db: the peer is not an up-to-date secondary");
  }
}

TEST(AdminVerbsTest, SecondWhereThePeerOwnsItJustRunsAsSecondary) {
  const AdminPlan plan = PlanAdmin(SecondaryWithPeer(AdminVerb::kSecond));
  EXPECT_TRUE(plan.status.ok());
  EXPECT_TRUE(plan.run_here);
  EXPECT_FALSE(plan.ask_peer);
}

TEST(AdminVerbsTest, PrimOnTheOwnerKeepsItHereOnlyWithDataThatAllows) {
  AdminFacts f = OwnerWithPeer(AdminVerb::kPrim);
  EXPECT_TRUE(PlanAdmin(f).take_here);

  f.data = DataState::kOutdated;
  f.data_allows_primary = false;
  ExpectRefused(PlanAdmin(f), absl::StatusCode::kFailedPrecondition,
                "db: data is outdated here; use --force to promote");
  f.force = true;
  const AdminPlan forced = PlanAdmin(f);
  EXPECT_TRUE(forced.take_here);
  EXPECT_TRUE(forced.run_here);
}

TEST(AdminVerbsTest, PrimOrSwapOnALiveSecondaryAsksThePeer) {
  for (AdminVerb verb : {AdminVerb::kPrim, AdminVerb::kSwap}) {
    const AdminPlan plan = PlanAdmin(SecondaryWithPeer(verb));
    EXPECT_TRUE(plan.status.ok());
    EXPECT_TRUE(plan.ask_peer);
    EXPECT_FALSE(plan.claim);
  }
  AdminFacts f = SecondaryWithPeer(AdminVerb::kPrim);
  f.self_eligible = false;
  f.force = true;  // force does not make a copy the peer could hand to
  ExpectRefused(PlanAdmin(f), absl::StatusCode::kFailedPrecondition,
                "db: this node is not an up-to-date secondary");
}

TEST(AdminVerbsTest, PrimWithThePeerLostClaimsOnlyUpToDateDataUnlessForced) {
  AdminFacts f = SecondaryWithPeer(AdminVerb::kPrim);
  f.peer_alive = false;
  AdminPlan plan = PlanAdmin(f);
  EXPECT_TRUE(plan.claim);
  EXPECT_TRUE(plan.run_here);

  f.data = DataState::kUnknown;
  f.data_allows_primary = false;
  ExpectRefused(PlanAdmin(f), absl::StatusCode::kFailedPrecondition,
                "db: peer lost and data is unknown here; use --force");
  f.force = true;
  plan = PlanAdmin(f);
  EXPECT_TRUE(plan.status.ok());
  EXPECT_TRUE(plan.claim);
}

}  // namespace
}  // namespace duet
