// AdminForce: what starts an admin's force and each thing that ends it (engine/admin_force.h).
#include "engine/admin_force.h"

#include <gtest/gtest.h>

namespace duet {
namespace {

AdminForce Forced() {
  AdminForce force;
  force.OnCommand(/*force=*/true);
  return force;
}

TEST(AdminForceTest, ANewProcessHasNoForce) { EXPECT_FALSE(AdminForce().counts()); }

TEST(AdminForceTest, ACommandWithForceStartsOne) { EXPECT_TRUE(Forced().counts()); }

TEST(AdminForceTest, ACommandWithoutForceStartsNone) {
  AdminForce force;
  force.OnCommand(/*force=*/false);
  EXPECT_FALSE(force.counts());
}

TEST(AdminForceTest, ALaterCommandWithoutForceKeepsAnEarlierForce) {
  AdminForce force = Forced();
  force.OnCommand(/*force=*/false);
  EXPECT_TRUE(force.counts());
}

TEST(AdminForceTest, AFenceEndsIt) {
  AdminForce force = Forced();
  force.OnFence();
  EXPECT_FALSE(force.counts());
}

TEST(AdminForceTest, ATokenNamingThePeerEndsIt) {
  AdminForce force = Forced();
  force.OnTokenNamingPeer();
  EXPECT_FALSE(force.counts());
}

TEST(AdminForceTest, AnUpToDateVerdictEndsItOnlyWhereTheSourceRulesSay) {
  AdminForce kept = Forced();
  kept.OnVerdict(DataState::kUpToDate, /*up_to_date_ends_force=*/false);
  EXPECT_TRUE(kept.counts());  // the replicas' verdicts: the force stays until another end

  AdminForce ended = Forced();
  ended.OnVerdict(DataState::kUpToDate, /*up_to_date_ends_force=*/true);
  EXPECT_FALSE(ended.counts());
}

TEST(AdminForceTest, AVerdictShortOfUpToDateKeepsIt) {
  for (DataState state : {DataState::kUnknown, DataState::kOutdated, DataState::kSyncing}) {
    AdminForce force = Forced();
    force.OnVerdict(state, /*up_to_date_ends_force=*/true);
    EXPECT_TRUE(force.counts()) << DataStateName(state);
  }
}

TEST(AdminForceTest, AForceEndedStartsAgainOnlyAtANewCommandWithForce) {
  AdminForce force = Forced();
  force.OnFence();
  force.OnCommand(/*force=*/false);
  EXPECT_FALSE(force.counts());
  force.OnCommand(/*force=*/true);
  EXPECT_TRUE(force.counts());
}

}  // namespace
}  // namespace duet
