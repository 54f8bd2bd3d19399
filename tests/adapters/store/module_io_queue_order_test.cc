// ModuleIoOrder step by step: which operations of a module may run after each issue and each
// answer (adapter contract C7), how often a name's inode is looked up, and, over random
// sequences, that it reports exactly what the rule says, each operation once.
#include "adapters/store/module_io_queue_order.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace duet::store::testing {
namespace {

using OpId = ModuleIoOrder::OpId;
using FileId = ModuleIoOrder::FileId;
using Ids = std::vector<OpId>;

// A directory as the resolver sees it: names to files, changed by the test as a barrier
// would change them; counts the look-ups.
struct Names {
  std::map<std::string, FileId> files;
  std::map<std::string, int> lookups;
  ModuleIoOrder::Resolver Resolver() {
    return [this](const std::string& path) -> std::optional<FileId> {
      ++lookups[path];
      auto it = files.find(path);
      if (it == files.end()) return std::nullopt;
      return it->second;
    };
  }
};

// Drives an order, returning what each call reports runnable.
class Driver {
 public:
  explicit Driver(Names& names) : order_(names.Resolver()) {}
  Ids Write(const std::string& path) { return Add(false, path); }
  Ids Barrier() { return Add(true, ""); }
  Ids Done(OpId id) {
    Ids runnable;
    order_.Done(id, runnable);
    return runnable;
  }
  OpId last() const { return next_ - 1; }
  ModuleIoOrder& order() { return order_; }

 private:
  Ids Add(bool barrier, const std::string& path) {
    Ids runnable;
    order_.Add(next_++, barrier, path, runnable);
    return runnable;
  }
  ModuleIoOrder order_;
  OpId next_ = 1;
};

TEST(ModuleIoOrderTest, OperationsOnDifferentFilesRunAtOnceAndOnOneFileInIssueOrder) {
  Names names;
  names.files = {{"a", {1, 10}}, {"b", {1, 11}}};
  Driver d(names);
  EXPECT_EQ(d.Write("a"), (Ids{1}));
  EXPECT_EQ(d.Write("b"), (Ids{2}));
  EXPECT_EQ(d.Write("a"), Ids{});
  EXPECT_EQ(d.Write("a"), Ids{});
  EXPECT_EQ(d.Write("new"), (Ids{5}));  // a missing name is keyed by its path alone
  EXPECT_EQ(d.Write("new"), Ids{});
  EXPECT_EQ(d.Done(2), Ids{});
  EXPECT_EQ(d.Done(1), (Ids{3}));
  EXPECT_EQ(d.Done(5), (Ids{6}));
  EXPECT_EQ(d.Done(3), (Ids{4}));
  EXPECT_EQ(d.Done(4), Ids{});
  EXPECT_EQ(d.Done(6), Ids{});
  EXPECT_EQ(d.order().size(), 0u);
}

TEST(ModuleIoOrderTest, TwoNamesOfOneFileRunInIssueOrder) {
  Names names;
  names.files = {{"f", {1, 10}}, {"g", {1, 10}}, {"h", {1, 11}}};
  Driver d(names);
  EXPECT_EQ(d.Write("f"), (Ids{1}));
  EXPECT_EQ(d.Write("g"), Ids{});  // the same inode
  EXPECT_EQ(d.Write("h"), (Ids{3}));
  EXPECT_EQ(d.Done(1), (Ids{2}));
}

TEST(ModuleIoOrderTest, AnOperationSharingAPathWithOneAndAFileWithAnotherWaitsForBoth) {
  Names names;
  names.files = {{"f", {1, 10}}, {"g", {1, 10}}};
  Driver d(names);
  EXPECT_EQ(d.Write("f"), (Ids{1}));
  EXPECT_EQ(d.Write("g"), Ids{});  // behind 1 by the file
  EXPECT_EQ(d.Write("g"), Ids{});  // behind 1 by the file and 2 by the path (and the file)
  EXPECT_EQ(d.Done(1), (Ids{2}));  // reported once, though it heads two chains at once
  EXPECT_EQ(d.Done(2), (Ids{3}));
}

TEST(ModuleIoOrderTest, ABarrierWaitsForEverythingBeforeItAndHoldsEverythingAfter) {
  Names names;
  Driver d(names);
  EXPECT_EQ(d.Write("a"), (Ids{1}));
  EXPECT_EQ(d.Write("b"), (Ids{2}));
  EXPECT_EQ(d.Barrier(), Ids{});
  EXPECT_EQ(d.Write("c"), Ids{});
  EXPECT_EQ(d.Write("d"), Ids{});
  EXPECT_EQ(d.Barrier(), Ids{});
  EXPECT_EQ(d.Write("e"), Ids{});
  EXPECT_EQ(d.Done(2), Ids{});
  EXPECT_EQ(d.Done(1), (Ids{3}));
  EXPECT_EQ(d.Done(3), (Ids{4, 5}));
  EXPECT_EQ(d.Done(5), Ids{});
  EXPECT_EQ(d.Done(4), (Ids{6}));
  EXPECT_EQ(d.Done(6), (Ids{7}));
  EXPECT_EQ(d.Barrier(), Ids{});  // behind 7
  EXPECT_EQ(d.Done(7), (Ids{8}));
  EXPECT_EQ(d.Done(8), Ids{});
  EXPECT_EQ(d.Barrier(), (Ids{9}));  // nothing before it: runs at once
}

TEST(ModuleIoOrderTest, ANameIsLookedUpOnceBetweenTwoBarriers) {
  Names names;
  names.files = {{"f", {1, 10}}};
  Driver d(names);
  for (int i = 0; i < 5; ++i) d.Write("f");
  for (int i = 0; i < 3; ++i) d.Write("missing");
  EXPECT_EQ(names.lookups["f"], 1);
  EXPECT_EQ(names.lookups["missing"], 1);
  d.Barrier();
  for (OpId id = 1; id <= 9; ++id) d.Done(id);
  d.Write("f");
  EXPECT_EQ(names.lookups["f"], 2);  // the barrier may have changed what it names
  d.Write("");                       // the root itself: never looked up
  EXPECT_EQ(names.lookups.count(""), 0u);
}

// A name that a barrier gave to another file is looked up again: what is written through it
// after the barrier stays ordered with what is written through that file's other name.
TEST(ModuleIoOrderTest, AfterABarrierRenamedOntoANameItsNewFileIsFound) {
  Names names;
  names.files = {{"x", {1, 10}}, {"y", {1, 20}}, {"z", {1, 20}}};  // z: a link of y
  Driver d(names);
  EXPECT_EQ(d.Write("x"), (Ids{1}));  // x names file 10 now
  EXPECT_EQ(d.Barrier(), Ids{});      // rename z over x
  EXPECT_EQ(d.Done(1), (Ids{2}));
  names.files = {{"x", {1, 20}}, {"y", {1, 20}}};
  EXPECT_EQ(d.Done(2), Ids{});
  EXPECT_EQ(d.Write("y"), (Ids{3}));
  EXPECT_EQ(d.Write("x"), Ids{});  // file 20, as y
  EXPECT_EQ(d.Done(3), (Ids{4}));
}

TEST(ModuleIoOrderTest, NamesKnownAreForgottenPastTheBound) {
  Names names;
  Driver d(names);
  for (size_t i = 0; i <= ModuleIoOrder::kMaxNames; ++i) d.Write("f" + std::to_string(i));
  EXPECT_EQ(names.lookups["f0"], 1);
  d.Write("f0");
  EXPECT_EQ(names.lookups["f0"], 2);
}

// The rule of C7 written plainly: an operation may run when it is a barrier and everything
// issued before it answered, or keyed and no unanswered barrier, nor unanswered operation
// sharing a key with it, was issued before it.
struct ModelOp {
  OpId id = 0;
  bool barrier = false;
  std::string path;
  std::optional<FileId> file;
};

std::set<OpId> RunnableByTheRule(const std::vector<ModelOp>& unanswered) {
  std::set<OpId> runnable;
  for (size_t i = 0; i < unanswered.size(); ++i) {
    const ModelOp& op = unanswered[i];
    bool ok = op.barrier ? i == 0 : true;
    for (size_t j = 0; j < i && ok; ++j) {
      const ModelOp& earlier = unanswered[j];
      ok = !earlier.barrier && earlier.path != op.path && (!op.file || earlier.file != op.file);
    }
    if (ok) runnable.insert(op.id);
  }
  return runnable;
}

TEST(ModuleIoOrderTest, RandomSequencesRunWhatTheRuleAllowsEachOperationOnce) {
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    std::mt19937 random(seed);
    Names names;  // fixed for the run: f0..f5, where f4 and f5 are links of f0; g* missing
    for (int i = 0; i < 4; ++i) names.files["f" + std::to_string(i)] = {1, uint64_t(100 + i)};
    names.files["f4"] = names.files["f5"] = {1, 100};
    const std::vector<std::string> paths = {"f0", "f1", "f2", "f3", "f4", "f5", "g0", "g1"};
    ModuleIoOrder order(names.Resolver());
    std::vector<ModelOp> unanswered;
    std::set<OpId> reported;  // runnable, not answered yet
    std::set<OpId> ever_reported;
    OpId next = 1;
    for (int step = 0; step < 300; ++step) {
      Ids runnable;
      const bool add = reported.empty() || random() % 2 == 0;
      if (add && next < 250) {
        ModelOp op;
        op.id = next++;
        op.barrier = random() % 8 == 0;
        if (!op.barrier) {
          op.path = paths[random() % paths.size()];
          auto it = names.files.find(op.path);
          if (it != names.files.end()) op.file = it->second;
        }
        unanswered.push_back(op);
        order.Add(op.id, op.barrier, op.path, runnable);
      } else if (!reported.empty()) {
        auto it = reported.begin();
        std::advance(it, random() % reported.size());
        const OpId done = *it;
        reported.erase(it);
        std::erase_if(unanswered, [&](const ModelOp& op) { return op.id == done; });
        order.Done(done, runnable);
      } else {
        break;
      }
      for (const OpId id : runnable) {
        ASSERT_TRUE(ever_reported.insert(id).second) << "seed " << seed << ": " << id << " twice";
        reported.insert(id);
      }
      std::set<OpId> expected = RunnableByTheRule(unanswered);
      ASSERT_EQ(reported, expected) << "seed " << seed << ", step " << step;
    }
    // Answering everything reported drains the rest.
    while (!reported.empty()) {
      const OpId done = *reported.begin();
      reported.erase(reported.begin());
      std::erase_if(unanswered, [&](const ModelOp& op) { return op.id == done; });
      Ids runnable;
      order.Done(done, runnable);
      reported.insert(runnable.begin(), runnable.end());
      ASSERT_EQ(reported, RunnableByTheRule(unanswered)) << "seed " << seed;
    }
    EXPECT_TRUE(unanswered.empty()) << "seed " << seed;
    EXPECT_EQ(order.size(), 0u) << "seed " << seed;
  }
}

}  // namespace
}  // namespace duet::store::testing
