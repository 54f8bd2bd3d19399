// LeaseClient, a node's side of one module's witness lease (engine/lease_client.h): when it
// asks, renews and releases, what a reply proves about the peer's grants.
#include "engine/lease_client.h"

#include <gtest/gtest.h>

namespace duet {
namespace {

constexpr absl::Duration kLease = absl::Seconds(6);
const absl::Time kStart = absl::UnixEpoch() + absl::Hours(1);

TEST(LeaseClientTest, ReleaseGoesOnceAfterStartAndAfterEachOutdateUntilAnswered) {
  LeaseClient client(absl::Seconds(2), absl::Milliseconds(100));
  uint64_t id = 1;
  const absl::Time t = kStart;
  // After a start the client cannot know what it told the witness before.
  auto first = client.ReleaseIfDue(t, 0, "shop", "db", id);
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(first->release);
  EXPECT_FALSE(client.ReleaseIfDue(t + absl::Milliseconds(10), 0, "shop", "db", id).has_value());
  // Unanswered: again after the renewal interval.
  auto again = client.ReleaseIfDue(t + absl::Seconds(2), 0, "shop", "db", id);
  ASSERT_TRUE(again.has_value());
  client.OnReply(LeaseReply{"db", again->request_id, false, 0, 0, false, "shop"});
  EXPECT_FALSE(client.release_pending());
  EXPECT_FALSE(client.ReleaseIfDue(t + absl::Seconds(10), 0, "shop", "db", id).has_value());
  // Writing alone again: the witness records the peer outdated on our word once more.
  ASSERT_TRUE(client.RequestIfDue(t + absl::Seconds(11), 0, "shop", "db", id, true).has_value());
  EXPECT_TRUE(client.release_pending());
  client.Drop();  // handed over: the pending release survives the lease
  EXPECT_TRUE(client.ReleaseIfDue(t + absl::Seconds(12), 0, "shop", "db", id).has_value());
}

TEST(LeaseClientTest, GrantOfAnInSyncRequestClearsThePendingRelease) {
  LeaseClient client(absl::Seconds(2), absl::Milliseconds(100));
  uint64_t id = 1;
  auto renewal = client.RequestIfDue(kStart, 0, "shop", "db", id, false);
  ASSERT_TRUE(renewal.has_value());
  client.OnReply(LeaseReply{"db", renewal->request_id, true, absl::ToInt64Nanoseconds(kLease), 0,
                            false, "shop"});
  EXPECT_FALSE(client.release_pending());
}

TEST(LeaseClientTest, AGrantProvesThePeerGrantedNothingOnlyWithinOneRunOfTheWitness) {
  LeaseClient client(absl::Seconds(2), absl::Milliseconds(100));
  uint64_t id = 1;
  auto reply_to = [&](absl::Time at, bool granted, uint64_t run, uint64_t peer_grants) {
    auto request = client.RequestIfDue(at, 0, "shop", "db", id);
    ASSERT_TRUE(request.has_value());
    LeaseReply reply{"db",    request->request_id,
                     granted, granted ? absl::ToInt64Nanoseconds(kLease) : 0,
                     0,       false,
                     "shop"};
    reply.witness_run = run;
    reply.peer_grants = peer_grants;
    client.OnReply(reply);
  };
  reply_to(kStart, /*granted=*/false, /*run=*/7, /*peer_grants=*/3);  // before a fence
  const WitnessMark fence = client.last_mark();
  EXPECT_EQ(fence, (WitnessMark{7, 3}));
  EXPECT_FALSE(client.PeerGrantedNothingSince(fence));  // no grant yet
  reply_to(kStart + absl::Seconds(3), true, 7, 3);
  EXPECT_TRUE(client.PeerGrantedNothingSince(fence));
  reply_to(kStart + absl::Seconds(6), true, 7, 4);  // the peer was granted in between
  EXPECT_FALSE(client.PeerGrantedNothingSince(fence));
  reply_to(kStart + absl::Seconds(9), true, 8, 3);  // another run: its count says nothing
  EXPECT_FALSE(client.PeerGrantedNothingSince(fence));
  // A reply from a build without runs proves nothing either.
  EXPECT_FALSE(client.PeerGrantedNothingSince(WitnessMark{}));
}

TEST(LeaseClientTest, OutdateGoesAtOnceAndCountsOnlyOnceGranted) {
  LeaseClient client(absl::Seconds(2), absl::Milliseconds(100));
  uint64_t id = 1;
  const absl::Time t = kStart;
  auto first = client.RequestIfDue(t, 0, "shop", "db", id);
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(client.RequestIfDue(t + absl::Milliseconds(10), 0, "shop", "db", id).has_value());
  // Writing alone is news: sent before the renewal is due.
  auto alone = client.RequestIfDue(t + absl::Milliseconds(20), 0, "shop", "db", id, true);
  ASSERT_TRUE(alone.has_value());
  EXPECT_TRUE(alone->peer_outdated);
  EXPECT_FALSE(client.outdate_recorded());
  // A late grant of the first request does not record the outdate.
  LeaseReply grant{"db",  first->request_id, true, absl::ToInt64Nanoseconds(kLease), 0, false,
                   "shop"};
  client.OnReply(grant);
  EXPECT_FALSE(client.outdate_recorded());
  LeaseReply recorded{"db",  alone->request_id, true, absl::ToInt64Nanoseconds(kLease), 0, true,
                      "shop"};
  client.OnReply(recorded);
  EXPECT_TRUE(client.outdate_recorded());
  // Back in sync: the record is no longer ours to count on.
  ASSERT_TRUE(
      client.RequestIfDue(t + absl::Milliseconds(30), 0, "shop", "db", id, false).has_value());
  EXPECT_FALSE(client.outdate_recorded());
}

}  // namespace
}  // namespace duet
