// Replica, the names under a directory a resync sends whole after a rename or removal changed
// it on either copy (engine/replication/replica_resync_names_under.cc, issue 11).
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "engine/replication/replica.h"
#include "tests/engine/printers.h"
#include "tests/engine/replication/replica_fixtures.h"

namespace duet {
namespace {

using Branch = std::function<void(ReplicaPair&, int)>;

// A split brain: a, alone, makes `on_a`; then b, promoted while a is away, makes `on_b`; a is
// primary again when they meet, so b's branch is discarded (kept aside) and b takes a's copy.
void SplitBrain(ReplicaPair& pair, const Branch& on_a, const Branch& on_b) {
  pair.Disconnect();
  on_a(pair, kA);
  pair.Pump();
  pair.SetRole(kA, ReplRole::kSecondary);
  pair.SetRole(kB, ReplRole::kPrimary);
  on_b(pair, kB);
  pair.Pump();
  pair.SetRole(kB, ReplRole::kSecondary);
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.Connect();
  pair.Settle();
}

Branch Rename(std::string from, std::string to) {
  return [=](ReplicaPair& pair, int side) {
    pair.Submit(side, MakeMutation(MutationKind::kRename, from, to));
  };
}

// Removes the directory d with its file d/f, as an application does (the file, then d).
void RemoveD(ReplicaPair& pair, int side) {
  pair.Submit(side, MakeMutation(MutationKind::kUnlink, "d/f"));
  pair.Submit(side, MakeMutation(MutationKind::kRmdir, "d"));
}

// A file written while the peer is away, so that the branch is real.
void WriteElsewhere(ReplicaPair& pair, int side) {
  pair.Write(side, side == kA ? "a-only" : "b-only", 0, "x");
}

// In sync: d holding d/f (two zones), and names beside it that no branch touches: a file
// whose name starts as d's does, and a directory with a file.
void StartWithD(ReplicaPair& pair) {
  StartInSync(pair);
  pair.Submit(kA, MakeMutation(MutationKind::kMkdir, "d"));
  pair.Write(kA, "d/f", 0, Bytes(2 * kZone, 'f'));
  pair.Write(kA, "dx", 0, "beside d");
  pair.Submit(kA, MakeMutation(MutationKind::kMkdir, "o"));
  pair.Write(kA, "o/g", 0, "outside");
  pair.Settle();
  ASSERT_EQ(pair.Difference(), "");
}

bool KeptAside(ReplicaPair& pair, int side, const std::string& path) {
  const std::vector<std::string>& kept = pair.side(side).preserved;
  return std::find(kept.begin(), kept.end(), path) != kept.end();
}

// b's copy is a's, and no resync block touched the names beside d that neither branch
// changed.
void ExpectResyncedAsA(ReplicaPair& pair) {
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
  for (const auto& [path, zone] : pair.side(kB).zones_resynced) {
    EXPECT_NE(path, "dx");
    EXPECT_NE(path, "o");
    EXPECT_NE(path, "o/g");
  }
  EXPECT_EQ(pair.side(kB).store.live().at("dx").data.ToString(), "beside d");
  EXPECT_EQ(pair.side(kB).store.live().at("o/g").data.ToString(), "outside");
}

// Found while pinning seed 17 (the simulator's workload then made no files under its
// directories): a renamed d to e alone, b renamed d to z on its discarded branch. b asks for
// d and z whole, the replay's rename d -> e is refused there and asks for e whole; a directory
// went as the directory alone, so e/f, under e on a, never went. Now e goes with its names.
TEST(ReplicaResyncNamesUnderTest, ADirectoryRenamedOnBothBranchesComesBackWithItsNames) {
  ReplicaPair pair(Options());
  StartWithD(pair);
  SplitBrain(pair, Rename("d", "e"), Rename("d", "z"));
  EXPECT_EQ(pair.side(kB).store.live().at("e/f").data.ToString(), Bytes(2 * kZone, 'f'));
  EXPECT_FALSE(pair.side(kB).store.live().contains("z/f"));
  // b's branch, its d renamed to z, was kept aside before z went.
  EXPECT_TRUE(KeptAside(pair, kB, "z")) << pair.Log(kB);
  ExpectResyncedAsA(pair);
}

TEST(ReplicaResyncNamesUnderTest, ADirectoryRemovedOnTheDiscardedBranchAndRenamedOnTheOther) {
  ReplicaPair pair(Options());
  StartWithD(pair);
  SplitBrain(pair, Rename("d", "e"), RemoveD);
  EXPECT_EQ(pair.side(kB).store.live().at("e/f").data.ToString(), Bytes(2 * kZone, 'f'));
  EXPECT_TRUE(KeptAside(pair, kB, "d")) << pair.Log(kB);
  ExpectResyncedAsA(pair);
}

TEST(ReplicaResyncNamesUnderTest, ADirectoryRenamedOnTheDiscardedBranchAndRemovedOnTheOther) {
  ReplicaPair pair(Options());
  StartWithD(pair);
  SplitBrain(pair, RemoveD, Rename("d", "z"));
  EXPECT_FALSE(pair.side(kB).store.live().contains("z"));
  EXPECT_FALSE(pair.side(kB).store.live().contains("z/f"));
  EXPECT_TRUE(KeptAside(pair, kB, "z")) << pair.Log(kB);
  ExpectResyncedAsA(pair);
}

// Only the discarded branch renamed d: a still holds d/f, which b must get back under d.
TEST(ReplicaResyncNamesUnderTest, ADirectoryRenamedOnlyOnTheDiscardedBranchComesBackWithItsNames) {
  ReplicaPair pair(Options());
  StartWithD(pair);
  SplitBrain(pair, WriteElsewhere, Rename("d", "z"));
  EXPECT_EQ(pair.side(kB).store.live().at("d/f").data.ToString(), Bytes(2 * kZone, 'f'));
  EXPECT_FALSE(pair.side(kB).store.live().contains("z/f"));
  ExpectResyncedAsA(pair);
}

TEST(ReplicaResyncNamesUnderTest, ADirectoryRenamedOnBothBranchesWithFilesCreatedUnderItOnEach) {
  ReplicaPair pair(Options());
  StartWithD(pair);
  SplitBrain(
      pair,
      [](ReplicaPair& p, int side) {
        Rename("d", "e")(p, side);
        p.Write(side, "e/g", 0, Bytes(kZone + 3, 'g'));
      },
      [](ReplicaPair& p, int side) {
        Rename("d", "z")(p, side);
        p.Write(side, "z/h", 0, "made on b");
        p.Write(side, "z/f", 0, "rewritten on b");
      });
  EXPECT_EQ(pair.side(kB).store.live().at("e/f").data.ToString(), Bytes(2 * kZone, 'f'));
  EXPECT_EQ(pair.side(kB).store.live().at("e/g").data.ToString(), Bytes(kZone + 3, 'g'));
  EXPECT_FALSE(pair.side(kB).store.live().contains("z/h"));
  ExpectResyncedAsA(pair);
}

TEST(ReplicaResyncNamesUnderTest, NestedDirectoriesRenamedOnBothBranchesComeBackWhole) {
  ReplicaPair pair(Options());
  StartWithD(pair);
  pair.Submit(kA, MakeMutation(MutationKind::kMkdir, "d/s"));
  pair.Submit(kA, MakeMutation(MutationKind::kMkdir, "d/s/t"));
  pair.Write(kA, "d/s/t/deep", 0, Bytes(3 * kZone, 'n'));
  pair.Settle();
  SplitBrain(pair, Rename("d", "e"), Rename("d", "z"));
  EXPECT_EQ(pair.side(kB).store.live().at("e/s/t/deep").data.ToString(), Bytes(3 * kZone, 'n'));
  EXPECT_EQ(pair.side(kB).store.live().at("e/s/t").kind, PathKind::kDirectory);
  ExpectResyncedAsA(pair);
}

// b moved another directory's names under d (its d removed, x renamed to d), which a holds
// with other names: b's d ends with a's names only, and x comes back with its own.
TEST(ReplicaResyncNamesUnderTest, NamesADiscardedRenameMovedIntoADirectoryTheSourceHoldsGo) {
  ReplicaPair pair(Options());
  StartWithD(pair);
  pair.Submit(kA, MakeMutation(MutationKind::kMkdir, "x"));
  pair.Write(kA, "x/moved", 0, "from x");
  pair.Settle();
  SplitBrain(pair, WriteElsewhere, [](ReplicaPair& p, int side) {
    RemoveD(p, side);
    Rename("x", "d")(p, side);
  });
  EXPECT_FALSE(pair.side(kB).store.live().contains("d/moved"));
  EXPECT_EQ(pair.side(kB).store.live().at("d/f").data.ToString(), Bytes(2 * kZone, 'f'));
  EXPECT_EQ(pair.side(kB).store.live().at("x/moved").data.ToString(), "from x");
  ExpectResyncedAsA(pair);
}

// Found by the simulator once its workload put files in directories (regression seed
// 3173267267034970257): the source's journal exchanged two directories; the target applied
// the replay, then the session broke. The next session replays it again, which swaps them back
// there, so the journal's names go whole: the source sends them with its names under them,
// and the target, which the replay's exchange left with other names under them, loses those.
TEST(ReplicaResyncNamesUnderTest, AJournalExchangeOfDirectoriesReplayedTwiceLeavesTheSourcesNames) {
  ReplicaPair pair(Options());
  StartWithD(pair);
  pair.Submit(kA, MakeMutation(MutationKind::kMkdir, "e"));
  pair.Write(kA, "e/g", 0, "in e");
  pair.Settle();
  pair.Disconnect();
  Mutation exchange = MakeMutation(MutationKind::kRename, "d", "e");
  exchange.rename_flags = kRenameExchange;
  pair.Submit(kA, exchange);
  pair.PeerOutdated(kA);
  pair.Settle();
  pair.Connect();
  for (int guard = 0; guard < 10000 && !pair.side(kB).store.live().contains("d/g"); ++guard) {
    ASSERT_TRUE(pair.Step());
  }
  ASSERT_TRUE(pair.side(kB).store.live().contains("d/g"));  // the replay applied there
  pair.Disconnect();
  pair.Connect();
  pair.Settle();
  ExpectResyncedAsA(pair);
  EXPECT_EQ(pair.side(kB).store.live().at("d/g").data.ToString(), "in e");
  EXPECT_FALSE(pair.side(kB).store.live().contains("d/f"));
  EXPECT_FALSE(pair.side(kB).store.live().contains("e/g"));
}

// A rename in flight when the primary's machine crashed: the rename was lost there, while
// the peer applied it. The names are hot (their kind is not kept), so the directory goes
// with its names either way.
TEST(ReplicaResyncNamesUnderTest, ADirectoryRenameLostInAPrimaryCrashComesBackWithItsNames) {
  ReplicaPair pair(Options());
  StartWithD(pair);
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Settle();
  pair.Submit(kA, MakeMutation(MutationKind::kRename, "d", "e"));
  pair.Pump();
  ASSERT_TRUE(pair.side(kB).store.live().contains("e/f"));
  pair.Disconnect();
  pair.Crash(kA);
  ASSERT_TRUE(pair.side(kA).store.live().contains("d/f"));
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kA).store.live().count("d/f") + pair.side(kA).store.live().count("e/f"), 1u);
}

Mutation ExchangeOfDAndE() {
  Mutation exchange = MakeMutation(MutationKind::kRename, "d", "e");
  exchange.rename_flags = kRenameExchange;
  return exchange;
}

// d/f and an empty e in sync; a exchanges d and e, b applies it, a's machine crashes and loses
// it (d/f on a, e/f on b); a is primary again, not yet connected.
void ExchangeDAndELostInACrashOfA(ReplicaPair& pair) {
  StartWithD(pair);
  pair.Submit(kA, MakeMutation(MutationKind::kMkdir, "e"));
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Settle();
  pair.Submit(kA, ExchangeOfDAndE());
  pair.Pump();
  ASSERT_TRUE(pair.side(kB).store.live().contains("e/f"));
  pair.Disconnect();
  pair.Crash(kA);
  ASSERT_TRUE(pair.side(kA).store.live().contains("d/f"));
  ASSERT_FALSE(pair.side(kA).store.live().contains("e/f"));
  pair.SetRole(kA, ReplRole::kPrimary);
}

// Found by the simulator (regression seed 4352748777900265372): as above with an exchange of d
// and an empty directory e. a, whose crash lost the exchange, sends e (empty here) with its
// names under it because of its own hot names; b's e holds what b's d held (d/f), which a
// never lists. The block says the names under e go, so b lists its own and loses e/f.
TEST(ReplicaResyncNamesUnderTest, ADirectoryExchangeLostInAPrimaryCrashLeavesNoNamesItLacks) {
  ReplicaPair pair(Options());
  ExchangeDAndELostInACrashOfA(pair);
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_FALSE(pair.side(kB).store.live().contains("e/f"));
  EXPECT_EQ(pair.side(kB).store.live().at("d/f").data.ToString(), Bytes(2 * kZone, 'f'));
}

// Found by the simulator (seed 8028214614222481356, torn crash): the source listed its names
// under a directory it sends whole, and the application exchanged that directory with
// another before the listing was answered. The listing (a barrier issued first) names the
// tree before the exchange, and the source sent those names where they no longer were: a
// read of each found nothing there, and the file now under the other directory never went.
// Names listed before a rename applied since go under their new names too.
TEST(ReplicaResyncNamesUnderTest, NamesListedBeforeALiveExchangeOfTheirDirectoryGoWhereTheyAreNow) {
  ReplicaPair pair(Options());
  ExchangeDAndELostInACrashOfA(pair);  // d and e go with their names
  pair.side(kA).hold_list_answers = true;
  pair.Connect();
  pair.Pump();
  // The listing of d/f is in flight; the application swaps d and e again (on both copies:
  // e/f here, d/f on b).
  pair.Submit(kA, ExchangeOfDAndE());
  pair.Pump();
  ASSERT_TRUE(pair.side(kA).store.live().contains("e/f"));
  pair.ReleaseListAnswers(kA);
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("e/f").data.ToString(), Bytes(2 * kZone, 'f'));
}

// A full resync lists both trees: a directory the blank copy holds under the same name loses
// the names the source lacks (kept aside first) and gets the source's, nested ones included.
TEST(ReplicaResyncNamesUnderTest, AFullResyncSendsADirectoryWithItsNamesAndRemovesOthers) {
  ReplicaPair pair(Options());
  StartWithD(pair);
  pair.Submit(kA, MakeMutation(MutationKind::kMkdir, "d/s"));
  pair.Write(kA, "d/s/g", 0, "nested");
  pair.Settle();
  pair.Disconnect();
  pair.ReplaceDisk(kB, {"d/stale"});
  pair.Connect();
  pair.Settle();
  EXPECT_NE(pair.Log(kB).find("full resync; this node is the target"), std::string::npos)
      << pair.Log(kB);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).store.live().at("d/s/g").data.ToString(), "nested");
  EXPECT_FALSE(pair.side(kB).store.live().contains("d/stale"));
  EXPECT_TRUE(KeptAside(pair, kB, "d/stale"));
}

}  // namespace
}  // namespace duet
