// DeadlineQueue: one pending deadline per module, popped when due (engine/deadline_queue.h).
// Node sets a module's deadline after each change, sleeps until Earliest() and, on a tick,
// re-evaluates exactly the modules PopDue returns.
#include "engine/deadline_queue.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace duet {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kT0 = absl::FromUnixSeconds(1000);

TEST(DeadlineQueueTest, EmptyQueueHasNoDeadline) {
  DeadlineQueue q(3);
  EXPECT_EQ(q.Earliest(), absl::InfiniteFuture());
  EXPECT_THAT(q.PopDue(kT0 + absl::Hours(1000)), IsEmpty());
}

TEST(DeadlineQueueTest, EarliestIsTheSoonestModuleDeadline) {
  DeadlineQueue q(3);
  q.Set(0, kT0 + absl::Seconds(5));
  q.Set(1, kT0 + absl::Seconds(2));
  q.Set(2, kT0 + absl::Seconds(9));
  EXPECT_EQ(q.Earliest(), kT0 + absl::Seconds(2));
}

TEST(DeadlineQueueTest, ModuleIsDueExactlyAtItsDeadline) {
  DeadlineQueue q(1);
  q.Set(0, kT0);
  EXPECT_THAT(q.PopDue(kT0 - absl::Nanoseconds(1)), IsEmpty());
  EXPECT_THAT(q.PopDue(kT0), ElementsAre(0u));
}

TEST(DeadlineQueueTest, PopDueReturnsOnlyDueModulesInDeadlineOrder) {
  DeadlineQueue q(4);
  q.Set(0, kT0 + absl::Seconds(3));
  q.Set(1, kT0 + absl::Seconds(1));
  q.Set(2, kT0 + absl::Seconds(10));
  q.Set(3, kT0 + absl::Seconds(2));
  EXPECT_THAT(q.PopDue(kT0 + absl::Seconds(3)), ElementsAre(1u, 3u, 0u));
  EXPECT_EQ(q.Earliest(), kT0 + absl::Seconds(10));
}

TEST(DeadlineQueueTest, ModulesWithTheSameDeadlineAreAllDueInIndexOrder) {
  DeadlineQueue q(3);
  q.Set(2, kT0);
  q.Set(0, kT0);
  q.Set(1, kT0);
  EXPECT_THAT(q.PopDue(kT0), ElementsAre(0u, 1u, 2u));
}

TEST(DeadlineQueueTest, PoppedModuleIsNotDueAgainUntilSetAgain) {
  DeadlineQueue q(1);
  q.Set(0, kT0);
  EXPECT_THAT(q.PopDue(kT0), ElementsAre(0u));
  EXPECT_EQ(q.Earliest(), absl::InfiniteFuture());
  EXPECT_THAT(q.PopDue(kT0 + absl::Seconds(1)), IsEmpty());
  // Setting the same time as before the pop counts: the pop cleared it.
  q.Set(0, kT0);
  EXPECT_THAT(q.PopDue(kT0 + absl::Seconds(1)), ElementsAre(0u));
}

TEST(DeadlineQueueTest, SettingAgainReplacesTheModuleDeadline) {
  DeadlineQueue q(2);
  q.Set(0, kT0 + absl::Seconds(1));
  q.Set(0, kT0 + absl::Seconds(5));  // later: the old one no longer fires
  EXPECT_EQ(q.Earliest(), kT0 + absl::Seconds(5));
  EXPECT_THAT(q.PopDue(kT0 + absl::Seconds(4)), IsEmpty());
  q.Set(0, kT0 + absl::Seconds(2));  // earlier
  EXPECT_THAT(q.PopDue(kT0 + absl::Seconds(2)), ElementsAre(0u));
  EXPECT_THAT(q.PopDue(kT0 + absl::Seconds(5)), IsEmpty());  // no leftover entry
}

TEST(DeadlineQueueTest, SettingTheSameDeadlineTwiceKeepsOneEntry) {
  DeadlineQueue q(1);
  q.Set(0, kT0);
  q.Set(0, kT0);
  EXPECT_THAT(q.PopDue(kT0), ElementsAre(0u));
}

TEST(DeadlineQueueTest, InfiniteFutureClearsTheDeadline) {
  DeadlineQueue q(2);
  q.Set(0, kT0);
  q.Set(1, kT0 + absl::Seconds(1));
  q.Set(0, absl::InfiniteFuture());
  EXPECT_EQ(q.Earliest(), kT0 + absl::Seconds(1));
  EXPECT_THAT(q.PopDue(kT0 + absl::Seconds(1)), ElementsAre(1u));
  q.Set(1, absl::InfiniteFuture());  // clearing a module with no deadline is harmless
  EXPECT_EQ(q.Earliest(), absl::InfiniteFuture());
}

TEST(DeadlineQueueTest, PastDeadlineIsDueAtOnce) {
  DeadlineQueue q(1);
  q.Set(0, kT0 - absl::Hours(1));
  EXPECT_EQ(q.Earliest(), kT0 - absl::Hours(1));
  EXPECT_THAT(q.PopDue(kT0), ElementsAre(0u));
}

}  // namespace
}  // namespace duet
