// The decision table two nodes apply to their generations on connect (DESIGN.md §5).
#include "engine/replication/generations.h"

#include <gtest/gtest.h>

namespace duet {
namespace {

constexpr uint64_t kOld = 2;  // a generation both nodes held

// Decide is symmetric: checks both directions.
void ExpectDecision(const Generations& a, const Generations& b, SyncDecision a_sees) {
  EXPECT_EQ(Decide(a, b), a_sees) << SyncDecisionName(Decide(a, b));
  SyncDecision b_sees = a_sees;
  if (a_sees == SyncDecision::kSelfIsSource) b_sees = SyncDecision::kPeerIsSource;
  if (a_sees == SyncDecision::kPeerIsSource) b_sees = SyncDecision::kSelfIsSource;
  EXPECT_EQ(Decide(b, a), b_sees) << SyncDecisionName(Decide(b, a));
}

TEST(GenerationsTest, SameCurrentIsInSync) {
  ExpectDecision({7, 0, {}}, {7, 0, {}}, SyncDecision::kInSync);
}

TEST(GenerationsTest, PeerAtOurBitmapIsResyncedFromUs) {
  Generations a{kOld, 0, {}};
  StartTracking(a, 10);  // a writes alone
  ExpectDecision(a, {kOld, 0, {}}, SyncDecision::kSelfIsSource);
}

TEST(GenerationsTest, BothWroteAloneIsASplitBrain) {
  Generations a{kOld, 0, {}};
  Generations b{kOld, 0, {}};
  StartTracking(a, 10);
  StartTracking(b, 20);
  ExpectDecision(a, b, SyncDecision::kSplitBrain);
}

TEST(GenerationsTest, NoCommonGenerationIsUnrelated) {
  ExpectDecision({10, 0, {}}, {20, 0, {}}, SyncDecision::kUnrelated);
}

// Found by the simulator (seed 3240822285581557192): a (map open since 2) resynced b, which
// took a's current, but a never heard the end; then three times over a shared a new current
// that b's failing flush never let it take, while a moved on alone. a's history no longer
// held b's current and the pair refused to connect as "unrelated" for good.
TEST(GenerationsTest, SourceThatMissedResyncEndsStillResyncsAPeerThatTookItsCurrent) {
  Generations a{kOld, 0, {}};
  StartTracking(a, 15651);             // a: {15651, 2, [2, 0]}
  Generations b{15651, 0, {kOld, 0}};  // b took it; a's map stays open at 2
  StartTracking(a, 1738);
  StartTracking(a, 5118);
  StartTracking(a, 3626);
  ASSERT_EQ(a, (Generations{3626, kOld, {5118, 1738}}));
  ExpectDecision(a, b, SyncDecision::kSelfIsSource);
}

// The same shape when b wrote alone itself after taking a's current is a split brain, not
// a resync: the rule needs b without a map of its own.
TEST(GenerationsTest, PeerThatTookOurCurrentAndWroteAloneIsNotResyncedOver) {
  Generations a{3626, kOld, {5118, 1738}};
  Generations b{15651, 0, {kOld, 0}};
  StartTracking(b, 99);
  EXPECT_NE(Decide(a, b), SyncDecision::kSelfIsSource);
  EXPECT_NE(Decide(b, a), SyncDecision::kPeerIsSource);
}

}  // namespace
}  // namespace duet
