// The ownership token's rules (engine/ownership.h): who may be primary, and how the token
// moves by claim, handover and the meeting of two tokens.
#include "engine/ownership.h"

#include <gtest/gtest.h>

namespace duet {
namespace {

constexpr NodeIndex kA = 0;
constexpr NodeIndex kB = 1;

ModuleView View(uint64_t term, NodeIndex owner, bool pinned = false) {
  ModuleView view;
  view.module = "db";
  view.term = term;
  view.owner = owner;
  view.pinned = pinned;
  return view;
}

TEST(OwnershipTest, PeersHigherTermBecomesOurs) {
  const PersistedModule mine{.term = 3, .owner = kA, .admin_stopped = true, .wrote_alone = true};
  const MergedToken merged = Merge(mine, View(4, kB, /*pinned=*/true), /*default_primary=*/kA);
  EXPECT_EQ(merged.merge, TokenMerge::kPeerNewer);
  EXPECT_EQ(merged.token.term, 4u);
  EXPECT_EQ(merged.token.owner, kB);
  EXPECT_TRUE(merged.token.pinned);
  EXPECT_FALSE(merged.token.wrote_alone);   // the peer's term is the module's now
  EXPECT_TRUE(merged.token.admin_stopped);  // this node's own setting stays
}

TEST(OwnershipTest, OlderOrEqualTokenFromThePeerChangesNothing) {
  const PersistedModule mine{.term = 5, .owner = kA, .wrote_alone = true};
  for (const ModuleView& view : {View(4, kB), View(5, kA)}) {
    const MergedToken merged = Merge(mine, view, kB);
    EXPECT_EQ(merged.merge, TokenMerge::kKept);
    EXPECT_EQ(merged.token, mine);
  }
}

TEST(OwnershipTest, BothClaimedTheSameTermAndBothSidesGiveItToTheDefaultPrimary) {
  const PersistedModule a{.term = 7, .owner = kA, .wrote_alone = true};
  const PersistedModule b{.term = 7, .owner = kB};
  const MergedToken at_a = Merge(a, View(b.term, b.owner), /*default_primary=*/kB);
  const MergedToken at_b = Merge(b, View(a.term, a.owner), /*default_primary=*/kB);
  EXPECT_EQ(at_a.merge, TokenMerge::kBothClaimed);
  EXPECT_EQ(at_b.merge, TokenMerge::kBothClaimed);
  EXPECT_EQ(at_a.token.owner, kB);
  EXPECT_EQ(at_b.token.owner, kB);
  EXPECT_EQ(at_a.token.term, 7u);  // agreed without another round trip, at the same term
  EXPECT_FALSE(at_a.token.wrote_alone);
}

TEST(OwnershipTest, ClaimHandoverAndGoingOnAloneEachStartANewTerm) {
  const PersistedModule token{.term = 2, .owner = kB, .pinned = true};
  const PersistedModule claimed = Claimed(token, kA, /*pinned=*/false);
  EXPECT_EQ(claimed.term, 3u);
  EXPECT_EQ(claimed.owner, kA);
  EXPECT_FALSE(claimed.pinned);

  const PersistedModule handed = HandedTo(claimed, kB, /*pinned=*/true);
  EXPECT_EQ(handed.term, 4u);
  EXPECT_EQ(handed.owner, kB);
  EXPECT_TRUE(handed.pinned);

  const PersistedModule alone = ContinuedAlone(handed);
  EXPECT_EQ(alone.term, 5u);
  EXPECT_EQ(alone.owner, kB);
}

// Two claims in a partition: one side goes on alone (term + 1), the other claims (term + 1);
// they meet at the same term, which Merge sees as both having claimed.
TEST(OwnershipTest, ClaimsOnBothSidesOfAPartitionMeetAtOneTerm) {
  const PersistedModule before{.term = 1, .owner = kA};
  const PersistedModule a = ContinuedAlone(before);
  const PersistedModule b = Claimed(before, kB, false);
  EXPECT_EQ(Merge(a, View(b.term, b.owner), kA).merge, TokenMerge::kBothClaimed);
}

TEST(OwnershipTest, OnlyTheOwnerIsAcknowledgedAndOnlyAtItsTerm) {
  const PersistedModule mine{.term = 4, .owner = kA};
  EXPECT_TRUE(Agree(mine, View(4, kA)));
  EXPECT_TRUE(AcknowledgesOwner(mine, View(4, kA), kA));
  EXPECT_FALSE(AcknowledgesOwner(mine, View(4, kA), kB));  // kB is not the owner
  EXPECT_FALSE(AcknowledgesOwner(mine, View(3, kA), kA));  // an older term
  EXPECT_FALSE(Agree(mine, View(4, kB)));
}

}  // namespace
}  // namespace duet
