// Replica, a resync source's linked and renamed names (engine/replication/replica_resync_links.cc):
// a full resync sends a file's first name with its data and its other names as links to it,
// once the target has the first (SendAsLinkOrWait); names the application renames or removes
// meanwhile move the plan with them (FollowLinkedNames), and zones sent under them are sent
// again as they are now (ResendChangedNames).
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/replication/replica.h"
#include "tests/engine/printers.h"
#include "tests/engine/replication/replica_fixtures.h"

namespace duet {
namespace {

// a primary in sync, then b comes back blank (a new disk) and the connection is up: a full
// resync from a starts. `names` are one file of `zones` zones (link_inode `inode`).
void StartFullResyncOfLinkedNames(ReplicaPair& pair, const std::vector<std::string>& names,
                                  uint64_t zones, uint64_t inode) {
  StartInSync(pair);
  for (const std::string& name : names) {
    for (uint64_t z = 0; z < zones; ++z) pair.Write(kA, name, z * kZone, Bytes(kZone, 'l'));
    pair.side(kA).inode_of[name] = inode;
  }
  pair.Pump();
  pair.Disconnect();
  pair.ReplaceDisk(kB);
  pair.Connect();
}

// A full resync created every name as its own file: hard links were split on the new copy,
// and a later write through one name reached only that name there (issue 12).
TEST(ReplicaResyncLinksTest, FullResyncSendsAFilesOtherNamesAsLinks) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  for (const char* dir : {"mail", "mail/cur", "mail/new", "backup"}) {
    pair.Submit(kA, MakeMutation(MutationKind::kMkdir, dir));
  }
  for (const char* name : {"mail/cur/1", "mail/new/1", "backup/1"}) {
    for (uint64_t z = 0; z < 3; ++z) pair.Write(kA, name, z * kZone, Bytes(kZone, 'm'));
    pair.side(kA).inode_of[name] = 7;  // one file, three names
  }
  pair.Write(kA, "other", 0, "alone");
  pair.Pump();
  pair.Disconnect();
  pair.ReplaceDisk(kB);
  pair.Connect();
  pair.Settle();
  ASSERT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  // One name carried the data (3 zones); the two others came as links to it.
  const auto& links = pair.side(kB).links_applied;
  ASSERT_EQ(links.size(), 2u) << pair.Log(kB);
  EXPECT_EQ(links[0].first, links[1].first);
  std::set<std::string> names = {links[0].first, links[0].second, links[1].second};
  EXPECT_EQ(names, (std::set<std::string>{"mail/cur/1", "mail/new/1", "backup/1"}));
  for (const auto& [existing, name] : links) {
    for (uint64_t z = 1; z < 3; ++z) {
      EXPECT_FALSE(pair.side(kB).zones_resynced.contains({name, z})) << name << " zone " << z;
    }
  }
}

// The application renames both names while the first one's block is on its way: the other
// name is linked to the first one's new name.
TEST(ReplicaResyncLinksTest, FullResyncLinksNoNameToAFirstNameRenamedMeanwhile) {
  ReplicaPair pair(Options());
  StartFullResyncOfLinkedNames(pair, {"a", "b"}, 1, 9);
  // Until the first block of a or b went out.
  while (pair.side(kB).blocks_received == 0) ASSERT_TRUE(pair.Step()) << pair.Log(kA);
  pair.Submit(kA, MakeMutation(MutationKind::kRename, "a", "c"));
  pair.Submit(kA, MakeMutation(MutationKind::kRename, "b", "d"));
  pair.side(kA).inode_of = {{"c", 9}, {"d", 9}};
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  const auto& links = pair.side(kB).links_applied;
  ASSERT_EQ(links.size(), 1u) << pair.Log(kB);
  EXPECT_EQ(links[0], std::make_pair(std::string("c"), std::string("d")));
}

// The application unlinks the name that carried the data while its zones are still on their
// way: a name linked to it takes the whole file (it held only its first zone on the target).
TEST(ReplicaResyncLinksTest, FullResyncResendsALinkedFileWhoseFirstNameIsUnlinked) {
  ReplicaPair pair(Options());
  StartFullResyncOfLinkedNames(pair, {"a", "b"}, 4, 5);
  while (pair.side(kB).links_applied.empty()) ASSERT_TRUE(pair.Step()) << pair.Log(kA);
  pair.Submit(kA, MakeMutation(MutationKind::kUnlink, pair.side(kB).links_applied[0].first));
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

// Found by the simulator (swarm base 97531, seed 15105663163383968103): a resync source sent
// a name's zones, then the application exchanged that name with another (RENAME_EXCHANGE)
// before the target acknowledged them. The acknowledgements then cleaned the zones under the
// name as if sent, though they now held the other file's bytes, dirty and never sent: the
// copies stayed different. A live namespace change now sends its names' zones again.
TEST(ReplicaResyncLinksTest, ANameRenamedWhileItsResyncBlocksAreInFlightIsSentAgainAsItIsNow) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  WriteAlone(pair, [&] {
    pair.Write(kA, "s2", 0, Bytes(kZone + 100, '2'));
    pair.Write(kA, "s6", 0, Bytes(kZone + 100, '6'));
  });
  pair.Connect();
  // Until the target has taken a block of s2, then its answers wait.
  for (int guard = 0; guard < 100000; ++guard) {
    if (pair.side(kB).zones_resynced.contains({"s2", 0})) break;
    ASSERT_TRUE(pair.Step());
  }
  ASSERT_TRUE(pair.side(kB).zones_resynced.contains({"s2", 0}));
  pair.Hold(kB, true);
  Mutation exchange = MakeMutation(MutationKind::kRename, "s2", "s6");
  exchange.rename_flags = kRenameExchange;
  const uint64_t op = pair.Submit(kA, std::move(exchange));
  pair.Pump();
  pair.Hold(kB, false);
  pair.Settle();
  ASSERT_TRUE(pair.Completed(kA, op));
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
}

// The target acknowledges the first name's block late: the other name's read waits for it
// (a link to a name the target does not have yet would fail there), and goes as a link once
// the first name is applied.
TEST(ReplicaResyncLinksTest, ALinkWaitsUntilTheTargetHasAppliedItsFirstName) {
  ReplicaPair pair(Options());
  StartFullResyncOfLinkedNames(pair, {"a", "b"}, 2, 4);
  while (pair.side(kB).blocks_received == 0) ASSERT_TRUE(pair.Step()) << pair.Log(kA);
  pair.Hold(kB, true);  // b's acknowledgements wait
  pair.Pump();
  pair.Advance(absl::Seconds(1));  // b's flush; a's reads of both names are answered
  pair.Pump();
  const std::string first = pair.side(kB).zones_resynced.contains({"a", 0}) ? "a" : "b";
  const std::string other = first == "a" ? "b" : "a";
  ASSERT_TRUE(pair.side(kB).zones_resynced.contains({first, 0})) << pair.Log(kA);
  EXPECT_FALSE(pair.side(kB).zones_resynced.contains({other, 0})) << pair.Log(kA);
  EXPECT_TRUE(pair.side(kB).links_applied.empty()) << pair.Log(kB);
  pair.Hold(kB, false);
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  ASSERT_EQ(pair.side(kB).links_applied.size(), 1u) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).links_applied[0], std::make_pair(first, other));
}

// The application renames the name that is not the first while the first's block is on its
// way: the link is made under the new name, and nothing remains under the old one.
TEST(ReplicaResyncLinksTest, ALinkedNameRenamedDuringTheResyncIsLinkedUnderItsNewName) {
  ReplicaPair pair(Options());
  StartFullResyncOfLinkedNames(pair, {"a", "b"}, 2, 6);
  while (pair.side(kB).blocks_received == 0) ASSERT_TRUE(pair.Step()) << pair.Log(kA);
  ASSERT_TRUE(pair.side(kB).zones_resynced.contains({"a", 0})) << pair.Log(kA);
  pair.Submit(kA, MakeMutation(MutationKind::kRename, "b", "e"));
  pair.side(kA).inode_of = {{"a", 6}, {"e", 6}};
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_FALSE(pair.side(kB).store.live().contains("b"));
  ASSERT_EQ(pair.side(kB).links_applied.size(), 1u) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).links_applied[0], std::make_pair(std::string("a"), std::string("e")));
}

// An incremental resync writes the changed zones into the target's files in place, which keeps
// the links the target has: no name is sent as a link, and the other names' zones go as data.
TEST(ReplicaResyncLinksTest, AnIncrementalResyncWritesLinkedNamesInPlaceAndMakesNoLink) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  for (const char* name : {"a", "b"}) {
    pair.Write(kA, name, 0, Bytes(2 * kZone, 'o'));
    pair.side(kA).inode_of[name] = 8;
  }
  pair.Settle();
  WriteAlone(pair, [&] {
    // MemStore keeps links as copies: the write through one name is made under both.
    for (const char* name : {"a", "b"}) pair.Write(kA, name, 0, Bytes(kZone, 'n'));
  });
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_TRUE(pair.side(kB).links_applied.empty()) << pair.Log(kB);
  EXPECT_TRUE(pair.side(kB).zones_resynced.contains({"a", 0}));
  EXPECT_TRUE(pair.side(kB).zones_resynced.contains({"b", 0}));
}

}  // namespace
}  // namespace duet
