// The namespace journal's compaction (engine/replication/activity_log.h AppendToJournal):
// churn on the same names does not grow the journal, and the compacted journal replays to
// the same tree as the original and still names every name the original touched (the
// resync sends those whole when a replay or a crash may have left them different).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "engine/replication/activity_log.h"
#include "tests/engine/wire/record_fixtures.h"

namespace duet {
namespace {

Mutation M(MutationKind kind, std::string path, std::string path2 = {}) {
  return MakeMutation(kind, std::move(path), std::move(path2));
}

std::vector<Mutation> Compacted(const std::vector<Mutation>& entries) {
  std::vector<Mutation> journal;
  for (const Mutation& m : entries) AppendToJournal(journal, m);
  return journal;
}

std::vector<std::string> Described(const std::vector<Mutation>& journal) {
  std::vector<std::string> out;
  for (const Mutation& m : journal) out.push_back(DescribeMutation(m));
  return out;
}

using ::testing::ElementsAre;

// Regression seed 17038750638958553005 (with a later engine change): a setxattr made alone
// was journalled without its value, so the resync's replay gave the peer the name with an
// empty value. The journal keeps a setxattr's value; other kinds carry no data.
TEST(JournalCompactionTest, TheJournalKeepsASetxattrsValueAndNoFileData) {
  Mutation setx = M(MutationKind::kSetxattr, "d");
  setx.xattr_name = "user.tag";
  setx.data = MakePayload("value");
  Mutation truncate = M(MutationKind::kTruncate, "f");
  truncate.offset = 3;
  truncate.data = MakePayload("stray bytes");
  const std::vector<Mutation> journal = Compacted({setx, truncate});
  ASSERT_EQ(journal.size(), 2u);
  ASSERT_NE(journal[0].data, nullptr);
  EXPECT_EQ(*journal[0].data, "value");
  EXPECT_EQ(journal[1].data, nullptr);
}

TEST(JournalCompactionTest, CreateThenUnlinkLeavesOnlyTheNameRemoved) {
  EXPECT_THAT(Described(Compacted({M(MutationKind::kCreate, "t"), M(MutationKind::kUnlink, "t")})),
              ElementsAre("remove-tree(t,,0,0,0)"));
}

TEST(JournalCompactionTest, RepeatedCreateAndUnlinkOfOneNameCostOneEntry) {
  std::vector<Mutation> entries;
  for (int i = 0; i < 1000; ++i) {
    entries.push_back(M(MutationKind::kCreate, "lock"));
    entries.push_back(M(MutationKind::kUnlink, "lock"));
  }
  EXPECT_EQ(Compacted(entries).size(), 1u);
}

TEST(JournalCompactionTest, CreateAfterARemovalThenUnlinkLeavesNothingNew) {
  EXPECT_THAT(Described(Compacted({M(MutationKind::kUnlink, "t"), M(MutationKind::kCreate, "t"),
                                   M(MutationKind::kUnlink, "t")})),
              ElementsAre("unlink(t,,0,0,0)"));
}

TEST(JournalCompactionTest, MkdirThenRmdirCompactsButNotUnlink) {
  EXPECT_EQ(Compacted({M(MutationKind::kMkdir, "d"), M(MutationKind::kRmdir, "d")}).size(), 1u);
  EXPECT_EQ(Compacted({M(MutationKind::kMkdir, "d"), M(MutationKind::kUnlink, "d")}).size(), 2u);
}

TEST(JournalCompactionTest, AChainOfRenamesBecomesOneRename) {
  // Each intermediate name is removed: the first rename replaced whatever it held.
  EXPECT_THAT(
      Described(Compacted({M(MutationKind::kRename, "a", "b"), M(MutationKind::kRename, "b", "c"),
                           M(MutationKind::kRename, "c", "d")})),
      ElementsAre("remove-tree(b,,0,0,0)", "remove-tree(c,,0,0,0)", "rename(a,d,0,0,0)"));
}

TEST(JournalCompactionTest, RenamesThroughOneTemporaryNameStayOneRename) {
  std::vector<Mutation> entries;
  entries.push_back(M(MutationKind::kRename, "a", "tmp"));
  for (int i = 0; i < 100; ++i) {
    entries.push_back(M(MutationKind::kRename, "tmp", "tmp2"));
    entries.push_back(M(MutationKind::kRename, "tmp2", "tmp"));
  }
  EXPECT_THAT(
      Described(Compacted(entries)),
      ElementsAre("remove-tree(tmp,,0,0,0)", "remove-tree(tmp2,,0,0,0)", "rename(a,tmp,0,0,0)"));
}

TEST(JournalCompactionTest, WriteToTemporaryThenRenameOverStaysBounded) {
  std::vector<Mutation> entries;
  for (int i = 0; i < 1000; ++i) {
    Mutation create = M(MutationKind::kCreate, "conf.tmp");
    create.mode = 0600;
    entries.push_back(create);
    entries.push_back(M(MutationKind::kRename, "conf.tmp", "conf"));
  }
  EXPECT_THAT(Described(Compacted(entries)),
              ElementsAre("remove-tree(conf.tmp,,0,0,0)", "remove-tree(conf,,0,0,0)",
                          "create(conf.tmp,,0,384,0)", "rename(conf.tmp,conf,0,0,0)"));
}

// With the data model a create of an existing name changes nothing (C13), so on a copy that
// holds A the replay moves that A, with its owner and xattrs, to B: "create B" would make a
// fresh file there instead (sim seeds 12555825197909023099, 8977485434662302392: owners
// differed after a resync).
TEST(JournalCompactionTest, ASingleCreateThenRenameIsKeptAsItCame) {
  EXPECT_THAT(Described(Compacted(
                  {M(MutationKind::kCreate, "a.tmp"), M(MutationKind::kRename, "a.tmp", "a")})),
              ElementsAre("create(a.tmp,,0,0,0)", "rename(a.tmp,a,0,0,0)"));
}

TEST(JournalCompactionTest, ChangesOfANameItsRemovalMakesMootGo) {
  EXPECT_THAT(
      Described(Compacted({M(MutationKind::kCreate, "t"), M(MutationKind::kSetattr, "t"),
                           M(MutationKind::kTruncate, "t"), M(MutationKind::kUnlink, "t")})),
      ElementsAre("remove-tree(t,,0,0,0)"));
  EXPECT_THAT(
      Described(Compacted({M(MutationKind::kTruncate, "old"), M(MutationKind::kUnlink, "old")})),
      ElementsAre("unlink(old,,0,0,0)"));
}

TEST(JournalCompactionTest, AnEntryInBetweenOnARelatedNameStopsCompaction) {
  EXPECT_EQ(Compacted({M(MutationKind::kCreate, "t"), M(MutationKind::kLink, "t", "u"),
                       M(MutationKind::kUnlink, "t")})
                .size(),
            3u);
  EXPECT_EQ(Compacted({M(MutationKind::kRename, "a", "b"), M(MutationKind::kCreate, "a"),
                       M(MutationKind::kRename, "b", "c")})
                .size(),
            3u);
  // A rename of the directory above the name moves it: not the same name any more.
  EXPECT_EQ(Compacted({M(MutationKind::kCreate, "d/t"), M(MutationKind::kRename, "d", "e"),
                       M(MutationKind::kUnlink, "d/t")})
                .size(),
            3u);
}

Mutation Exchange(std::string a, std::string b) {
  Mutation m = M(MutationKind::kRename, std::move(a), std::move(b));
  m.rename_flags = kRenameExchange;
  return m;
}

// On a copy holding A, "create A" changes nothing and the exchange swaps that A with B.
TEST(JournalCompactionTest, CreateThenExchangeIsKeptAsItCame) {
  EXPECT_THAT(Described(Compacted({M(MutationKind::kCreate, "a"), Exchange("a", "b")})),
              ElementsAre("create(a,,0,0,0)",
                          "rename(a,b,0,0,0,owner 0:0,atime 0,mask 0,xattr "
                          "/0=-,sync 0,node 0,rename 2,set)"));
}

// rename Z->A then exchange A<->B leaves Z's content at B and B's at A: never "rename Z->B".
TEST(JournalCompactionTest, AnExchangeEndsTheRenameChainRule) {
  EXPECT_EQ(Compacted({M(MutationKind::kRename, "z", "a"), Exchange("a", "b")}).size(), 2u);
  EXPECT_EQ(Compacted({Exchange("z", "a"), M(MutationKind::kRename, "a", "b")}).size(), 2u);
  // An exchange removes neither name: a RemoveTree after it stays.
  EXPECT_EQ(Compacted({Exchange("a", "b"), M(MutationKind::kRemoveTree, "a")}).size(), 2u);
}

// A no-replace rename fails where its target exists: merged into "rename Z->B" it would not.
TEST(JournalCompactionTest, ANoReplaceRenameIsKeptAsItCame) {
  Mutation noreplace = M(MutationKind::kRename, "a", "b");
  noreplace.rename_flags = kRenameNoReplace;
  const std::vector<Mutation> journal =
      Compacted({M(MutationKind::kRename, "z", "a"), noreplace, Exchange("c", "d")});
  ASSERT_EQ(journal.size(), 3u);
  EXPECT_EQ(journal[1].rename_flags, kRenameNoReplace);
  EXPECT_EQ(journal[2].rename_flags, kRenameExchange);
}

// ----- Against a model tree -------------------------------------------------------------
// Flat names (no directories) and the contract AppendToJournal assumes: a create is made for
// an absent name, an unlink for a present one. The model applies what a file system would.

struct Node {
  int kind = 0;     // 1 file, 2 symlink
  int content = 0;  // who made it, and how often it was truncated since
  friend bool operator==(const Node&, const Node&) = default;
};
using Tree = std::map<std::string, Node>;

void Apply(Tree& tree, const Mutation& m, int id) {
  switch (m.kind) {
    case MutationKind::kCreate:
      tree.try_emplace(m.path, Node{1, id});
      break;
    case MutationKind::kSymlink:
      tree.try_emplace(m.path, Node{2, id});
      break;
    case MutationKind::kUnlink:
    case MutationKind::kRemoveTree:
      tree.erase(m.path);
      break;
    case MutationKind::kTruncate:
      if (auto it = tree.find(m.path); it != tree.end())
        it->second.content = it->second.content * 7 + 1;
      break;
    case MutationKind::kRename:
      if (m.is_exchange()) {
        // Both names must exist, else the exchange fails and changes nothing.
        if (tree.contains(m.path) && tree.contains(m.path2)) std::swap(tree[m.path], tree[m.path2]);
        break;
      }
      // A no-replace rename onto an existing name fails and changes nothing.
      if ((m.rename_flags & kRenameNoReplace) != 0 && tree.contains(m.path2)) break;
      if (auto it = tree.find(m.path); it != tree.end() && m.path != m.path2) {
        const Node node = it->second;
        tree.erase(it);
        tree[m.path2] = node;
      }
      break;
    default:
      break;
  }
}

std::set<std::string> Touched(const std::vector<Mutation>& journal) {
  std::set<std::string> names;
  for (const Mutation& m : journal) {
    ForEachChangedName(m, [&](const std::string& p) { names.insert(p); });
  }
  return names;
}

RC_GTEST_PROP(JournalCompactionProperty, ReplaysToTheSameTreeAndTouchesEveryName, ()) {
  static const char* const kNames[] = {"a", "b", "c", "t"};
  const auto initial = *rc::gen::container<std::vector<int>>(4, rc::gen::inRange(0, 3));
  const auto ops = *rc::gen::container<std::vector<std::tuple<int, int, int>>>(
      rc::gen::tuple(rc::gen::inRange(0, 7), rc::gen::inRange(0, 4), rc::gen::inRange(0, 4)));
  Tree start;
  for (size_t i = 0; i < 4; ++i) {
    if (initial[i] != 0) start[kNames[i]] = Node{initial[i], -1 - static_cast<int>(i)};
  }
  // The application's view decides which mutations it can make (the contract).
  Tree app = start;
  std::vector<Mutation> original;
  for (const auto& [op, x, y] : ops) {
    const std::string a = kNames[x], b = kNames[y];
    Mutation m;
    if (op == 0 && !app.contains(a))
      m = M(MutationKind::kCreate, a);
    else if (op == 1 && app.contains(a))
      m = M(MutationKind::kUnlink, a);
    else if (op == 2 && app.contains(a))
      m = M(MutationKind::kRename, a, b);
    else if (op == 3 && !app.contains(a))
      m = M(MutationKind::kSymlink, a, "target");
    else if (op == 4 && app.contains(a) && app.at(a).kind == 1)
      m = M(MutationKind::kTruncate, a);
    else if (op == 5 && app.contains(a) && app.contains(b))
      m = Exchange(a, b);
    else if (op == 6 && app.contains(a) && !app.contains(b)) {
      m = M(MutationKind::kRename, a, b);
      m.rename_flags = kRenameNoReplace;
    } else
      continue;
    Apply(app, m, static_cast<int>(original.size()));
    original.push_back(m);
  }
  const std::vector<Mutation> compacted = Compacted(original);
  // Two removals make up for a dropped pair; nothing costs more than the original plus two.
  RC_ASSERT(compacted.size() <= original.size() + 2);
  // Replayed on the copy at the start point, and on any other copy where the original's
  // renames find their sources (an interrupted replay, the target's own changes), both
  // leave the same tree (files that were there keep their identity through renames).
  const auto other = *rc::gen::container<std::vector<int>>(4, rc::gen::inRange(0, 3));
  Tree elsewhere;
  for (size_t i = 0; i < 4; ++i) {
    if (other[i] != 0) elsewhere[kNames[i]] = Node{other[i], -10 - static_cast<int>(i)};
  }
  for (const Tree& copy : {start, elsewhere}) {
    Tree replay_original = copy, replay_compacted = copy;
    bool renames_found_sources = true;
    for (const Mutation& m : original) {
      renames_found_sources &= m.kind != MutationKind::kRename || replay_original.contains(m.path);
      renames_found_sources &= !m.is_exchange() || replay_original.contains(m.path2);
      Apply(replay_original, m, 0);
    }
    if (!renames_found_sources) continue;
    for (const Mutation& m : compacted) Apply(replay_compacted, m, 0);
    RC_ASSERT(replay_original == replay_compacted);
  }
  const std::set<std::string> before = Touched(original), after = Touched(compacted);
  for (const std::string& name : before) RC_ASSERT(after.contains(name));
}

}  // namespace
}  // namespace duet
