// ModuleIoQueue against real stores: per module, operations on one file (one path, or one
// inode under several names) run and answer in the order issued, exactly once each;
// operations on different files overlap; barriers wait for everything before them and hold
// everything after (adapter contract C7, C8); modules do not wait for each other.
#include "adapters/store/module_io_queue.h"

#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "adapters/store/backing_store.h"
#include "engine/overloaded.h"
#include "gtest/gtest.h"
#include "tests/adapters/store/store_test_util.h"

namespace duet::store::testing {
namespace {

constexpr auto kTimeout = std::chrono::seconds(30);

// What a completion answers: (module, the id it carries).
struct Answer {
  ModuleIndex module = 0;
  uint64_t id = 0;
  friend bool operator==(const Answer&, const Answer&) = default;
};

// Collects what the queue hands back, from any thread.
class Answers {
 public:
  void Add(Input input) {
    const std::lock_guard lock(mu_);
    inputs_.push_back(std::move(input));
    changed_.notify_all();
  }
  void AddPreserved(ModuleIndex module, absl::StatusOr<std::string> result) {
    const std::lock_guard lock(mu_);
    preserved_.emplace_back(module, std::move(result));
    changed_.notify_all();
  }
  // Waits until `count` inputs arrived; false on timeout.
  bool WaitFor(size_t count) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, kTimeout, [&] { return inputs_.size() >= count; });
  }
  // Whether `count` inputs arrive within `within` (for what must not happen: false is good).
  bool WaitForWithin(size_t count, std::chrono::milliseconds within) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, within, [&] { return inputs_.size() >= count; });
  }
  bool WaitForPreserved(size_t count) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, kTimeout, [&] { return preserved_.size() >= count; });
  }
  std::vector<Input> inputs() {
    const std::lock_guard lock(mu_);
    return inputs_;
  }
  std::vector<std::pair<ModuleIndex, absl::StatusOr<std::string>>> preserved() {
    const std::lock_guard lock(mu_);
    return preserved_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<Input> inputs_;
  std::vector<std::pair<ModuleIndex, absl::StatusOr<std::string>>> preserved_;
};

Answer AnswerOf(const Input& input) {
  return std::visit(Overloaded{[](const MutationApplied& a) {
                                 return Answer{a.module, a.apply_id};
                               },
                               [](const ZoneRead& r) {
                                 return Answer{r.module, r.read_id};
                               },
                               [](const TreeListed& l) {
                                 return Answer{l.module, l.list_id};
                               },
                               [](const DivergentPreserved& p) {
                                 return Answer{p.module, p.preserve_id};
                               },
                               [](const auto&) {
                                 return Answer{999, 0};
                               }},
                    input);
}

absl::Status StatusOf(const Input& input) {
  return std::visit(Overloaded{[](const MutationApplied& a) { return a.status; },
                               [](const ZoneRead& r) { return r.status; },
                               [](const TreeListed& l) { return l.status; },
                               [](const DivergentPreserved& p) { return p.status; },
                               [](const auto&) { return absl::InternalError("not a completion"); }},
                    input);
}

// Holds completions back until opened. A test opens it (absl::Cleanup) before its queue
// joins the workers, so that a failed assertion never leaves a worker waiting.
class Gate {
 public:
  // Called from a completion: records it arrived, then waits for Open.
  void Hold() {
    std::unique_lock lock(mu_);
    held_ = true;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
  }
  bool WaitUntilHeld() {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, kTimeout, [&] { return held_; });
  }
  void Open() {
    const std::lock_guard lock(mu_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool held_ = false;
  bool open_ = false;
};

class ModuleIoQueueTest : public ::testing::Test {
 protected:
  // A store for module `m` over a fresh directory `root<m>`.
  BackingStore StoreFor(ModuleIndex m) {
    const std::string root = tmp_ / ("root" + std::to_string(m));
    EXPECT_EQ(mkdir(root.c_str(), 0700), 0);
    absl::StatusOr<BackingStore> store = BackingStore::Open(root);
    EXPECT_TRUE(store.ok()) << store.status();
    return *std::move(store);
  }
  std::unique_ptr<ModuleIoQueue> StartQueue(int workers,
                                            std::function<void(Input)> deliver = nullptr) {
    if (!deliver) deliver = [this](Input input) { answers_.Add(std::move(input)); };
    absl::StatusOr<std::unique_ptr<ModuleIoQueue>> queue = ModuleIoQueue::Start(
        workers, std::move(deliver), [this](ModuleIndex m, absl::StatusOr<std::string> result) {
          answers_.AddPreserved(m, std::move(result));
        });
    EXPECT_TRUE(queue.ok()) << queue.status();
    return queue.ok() ? *std::move(queue) : nullptr;
  }

  TempDir tmp_;
  Answers answers_;
};

TEST_F(ModuleIoQueueTest, ManyOperationsOfTwoModulesAnswerOnceEachInIssueOrder) {
  std::unique_ptr<ModuleIoQueue> queue = StartQueue(4);
  ASSERT_NE(queue, nullptr);
  ASSERT_TRUE(queue->AddModule(0, StoreFor(0), tmp_ / "kept").ok());
  ASSERT_TRUE(queue->AddModule(1, StoreFor(1), tmp_ / "kept").ok());
  constexpr int kWrites = 400;
  std::map<ModuleIndex, std::vector<uint64_t>> issued;
  std::map<ModuleIndex, std::map<uint64_t, std::string>> expected_reads;
  uint64_t next_id = 1;
  std::string written;
  for (int i = 0; i < kWrites; ++i) {
    const std::string byte(1, static_cast<char>('a' + i % 26));
    written += byte;
    for (const ModuleIndex m : {0u, 1u}) {
      const uint64_t id = next_id++;
      queue->Submit(ApplyMutation{m, id, Write("log", static_cast<uint64_t>(i), byte), false});
      issued[m].push_back(id);
      if (i % 10 == 9) {  // reads what the writes issued before it wrote (C7)
        const uint64_t read_id = next_id++;
        queue->Submit(ReadZone{m, read_id, "log", 0, 1 << 20});
        issued[m].push_back(read_id);
        expected_reads[m][read_id] = written;
      }
    }
  }
  for (const ModuleIndex m : {0u, 1u}) {
    const uint64_t id = next_id++;
    queue->Submit(ListTree{m, id});
    issued[m].push_back(id);
  }
  const size_t total = issued[0].size() + issued[1].size();
  ASSERT_TRUE(answers_.WaitFor(total)) << answers_.inputs().size() << " of " << total;

  std::map<ModuleIndex, std::vector<uint64_t>> answered;
  for (const Input& input : answers_.inputs()) {
    EXPECT_TRUE(StatusOf(input).ok()) << StatusOf(input);
    const Answer a = AnswerOf(input);
    answered[a.module].push_back(a.id);
    if (const auto* read = std::get_if<ZoneRead>(&input)) {
      ASSERT_NE(read->data, nullptr);
      EXPECT_EQ(*read->data, expected_reads[a.module][a.id]) << "read " << a.id;
    }
    if (const auto* listed = std::get_if<TreeListed>(&input)) {
      EXPECT_EQ(listed->paths, std::vector<std::string>{"log"});
    }
  }
  EXPECT_EQ(answered, issued);
  queue->Shutdown();
  EXPECT_EQ(answers_.inputs().size(), total);  // exactly once: nothing more came
  EXPECT_EQ(ReadFile(tmp_ / "root0/log"), written);
  EXPECT_EQ(ReadFile(tmp_ / "root1/log"), written);
}

TEST_F(ModuleIoQueueTest, AModuleStuckInItsCompletionDoesNotHoldUpAnother) {
  Gate gate;
  std::unique_ptr<ModuleIoQueue> queue = StartQueue(2, [&](Input input) {
    if (AnswerOf(input).module == 0) gate.Hold();
    answers_.Add(std::move(input));
  });
  ASSERT_NE(queue, nullptr);
  const absl::Cleanup open_gate = [&] { gate.Open(); };  // before the queue joins
  ASSERT_TRUE(queue->AddModule(0, StoreFor(0), tmp_ / "kept").ok());
  ASSERT_TRUE(queue->AddModule(1, StoreFor(1), tmp_ / "kept").ok());
  queue->Submit(ApplyMutation{0, 1, Write("f", 0, "x"), false});
  queue->Submit(ApplyMutation{0, 2, Write("f", 1, "y"), false});
  ASSERT_TRUE(gate.WaitUntilHeld());
  for (uint64_t id = 1; id <= 50; ++id) {
    queue->Submit(ApplyMutation{1, id, Write("g", id, "z"), true});
  }
  ASSERT_TRUE(answers_.WaitFor(50));
  for (const Input& input : answers_.inputs()) EXPECT_EQ(AnswerOf(input).module, 1u);
  gate.Open();
  ASSERT_TRUE(answers_.WaitFor(52));
  const std::vector<Input> inputs = answers_.inputs();
  EXPECT_EQ(AnswerOf(inputs[50]), (Answer{0, 1}));
  EXPECT_EQ(AnswerOf(inputs[51]), (Answer{0, 2}));
}

TEST_F(ModuleIoQueueTest, FailuresAreAnsweredWithTheirStatus) {
  std::unique_ptr<ModuleIoQueue> queue = StartQueue(2);
  ASSERT_NE(queue, nullptr);
  ASSERT_TRUE(queue->AddModule(0, StoreFor(0), tmp_ / "kept").ok());
  queue->Submit(ApplyMutation{0, 1, MakeMutation(MutationKind::kRename, "a", "b"), false});
  queue->Submit(ApplyMutation{0, 2, Write("../escape", 0, "x"), false});
  queue->Submit(ReadZone{0, 3, "/etc/passwd", 0, 10});
  ASSERT_TRUE(answers_.WaitFor(3));
  std::map<uint64_t, absl::StatusCode> codes;  // the last two name different paths: any order
  for (const Input& input : answers_.inputs()) codes[AnswerOf(input).id] = StatusOf(input).code();
  EXPECT_EQ(AnswerOf(answers_.inputs()[0]).id, 1u);  // a barrier: before what follows it
  EXPECT_EQ(codes[1], absl::StatusCode::kNotFound);
  EXPECT_EQ(codes[2], absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(codes[3], absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(Exists(tmp_ / "escape"));
}

TEST_F(ModuleIoQueueTest, OperationsOfAModuleWithoutAStoreAreAnsweredFailedPrecondition) {
  std::unique_ptr<ModuleIoQueue> queue = StartQueue(1);
  ASSERT_NE(queue, nullptr);
  queue->Submit(ApplyMutation{9, 1, Write("f", 0, "x"), false});
  queue->Submit(ReadZone{9, 2, "f", 0, 10});
  queue->Submit(ListTree{9, 3});
  queue->Submit(PreserveDivergent{9, {"f"}, 4});
  ASSERT_TRUE(answers_.WaitFor(4));
  ASSERT_TRUE(answers_.WaitForPreserved(1));
  const std::vector<Input> inputs = answers_.inputs();
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(AnswerOf(inputs[i]), (Answer{9, i + 1}));
    EXPECT_EQ(StatusOf(inputs[i]).code(), absl::StatusCode::kFailedPrecondition);
  }
  EXPECT_EQ(answers_.preserved()[0].second.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ModuleIoQueueTest, PreserveDivergentKeepsThePathsAsTheEarlierOperationsLeftThem) {
  std::unique_ptr<ModuleIoQueue> queue = StartQueue(2);
  ASSERT_NE(queue, nullptr);
  ASSERT_TRUE(queue->AddModule(0, StoreFor(0), tmp_ / "kept").ok());
  queue->Submit(ApplyMutation{0, 1, Write("f", 0, "divergent"), false});
  queue->Submit(PreserveDivergent{0, {"f"}, 7});
  queue->Submit(ApplyMutation{0, 2, MakeMutation(MutationKind::kRemoveTree, "f"), false});
  ASSERT_TRUE(answers_.WaitFor(3));
  ASSERT_TRUE(answers_.WaitForPreserved(1));
  // The engine hears the copy is done in issue order, between the two applies.
  const std::vector<Input> inputs = answers_.inputs();
  EXPECT_EQ(AnswerOf(inputs[1]), (Answer{0, 7}));
  EXPECT_TRUE(StatusOf(inputs[1]).ok()) << StatusOf(inputs[1]);
  const auto preserved = answers_.preserved();
  ASSERT_TRUE(preserved[0].second.ok()) << preserved[0].second.status();
  EXPECT_EQ(preserved[0].first, 0u);
  EXPECT_EQ(ReadFile(*preserved[0].second + "/f"), "divergent");
  EXPECT_FALSE(Exists(tmp_ / "root0/f"));
}

// C5: after a failed keep-aside, the module's operations up to its next PreserveDivergent
// (the engine's mark that it knows) are answered NotCarriedOut, in order, touching nothing;
// another module runs on; after the mark the module's operations run again, and a retry
// that succeeds keeps the branch as it was.
TEST_F(ModuleIoQueueTest,
       AfterAFailedKeepAsideTheModulesOperationsUpToItsNextPreserveAreNotCarriedOut) {
  std::unique_ptr<ModuleIoQueue> queue = StartQueue(2);
  ASSERT_NE(queue, nullptr);
  // The divergent root's parent is missing: the keep-aside fails (ENOENT) until it is made.
  const std::filesystem::path parent = tmp_ / "state";
  ASSERT_TRUE(queue->AddModule(0, StoreFor(0), parent / "kept").ok());
  ASSERT_TRUE(queue->AddModule(1, StoreFor(1), tmp_ / "kept1").ok());
  queue->Submit(ApplyMutation{0, 1, Write("f", 0, "divergent"), false});
  queue->Submit(PreserveDivergent{0, {"f"}, 2});
  queue->Submit(ApplyMutation{0, 3, Write("f", 0, "RESYNCED!"), false});
  queue->RunHereOrSubmit(ApplyMutation{0, 4, Write("g", 0, "quick"), false});
  queue->Submit(ReadZone{0, 5, "f", 0, 10});
  queue->Submit(ListTree{0, 6});
  queue->Submit(RefusedApply{0, 7, absl::InvalidArgumentError("outside")});
  queue->Submit(ApplyMutation{1, 1, Write("h", 0, "other module"), false});
  ASSERT_TRUE(answers_.WaitFor(8));
  ASSERT_TRUE(answers_.WaitForPreserved(1));
  EXPECT_FALSE(answers_.preserved()[0].second.ok());
  std::vector<Answer> order;
  for (const Input& input : answers_.inputs()) {
    const Answer answer = AnswerOf(input);
    const absl::Status status = StatusOf(input);
    if (answer.module == 1) {
      EXPECT_TRUE(status.ok()) << status;
      continue;
    }
    order.push_back(answer);
    if (answer.id == 1) {
      EXPECT_TRUE(status.ok()) << status;
    }
    if (answer.id == 2) {
      EXPECT_FALSE(status.ok());
      EXPECT_FALSE(IsNotCarriedOut(status)) << status;  // the keep-aside's own error
    }
    if (answer.id > 2) {
      EXPECT_TRUE(IsNotCarriedOut(status)) << answer.id << ": " << status;
    }
  }
  // In issue order as C7 orders them: 3 (f), 4 (g) and 5 (f again) between the two barriers
  // 2 and 6, different files in any order, one file's in issue order.
  ASSERT_EQ(order.size(), 7u);
  EXPECT_EQ(order[0], (Answer{0, 1}));
  EXPECT_EQ(order[1], (Answer{0, 2}));
  const std::vector<Answer> between(order.begin() + 2, order.begin() + 5);
  EXPECT_TRUE(between == (std::vector<Answer>{{0, 3}, {0, 4}, {0, 5}}) ||
              between == (std::vector<Answer>{{0, 3}, {0, 5}, {0, 4}}) ||
              between == (std::vector<Answer>{{0, 4}, {0, 3}, {0, 5}}));
  EXPECT_EQ(order[5], (Answer{0, 6}));
  EXPECT_EQ(order[6], (Answer{0, 7}));
  EXPECT_EQ(ReadFile(tmp_ / "root0/f"), "divergent");
  EXPECT_FALSE(Exists(tmp_ / "root0/g"));
  EXPECT_EQ(ReadFile(tmp_ / "root1/h"), "other module");

  // The engine's mark: a PreserveDivergent with no paths succeeds; what follows runs.
  queue->Submit(PreserveDivergent{0, {}, 8});
  queue->Submit(ReadZone{0, 9, "f", 0, 10});
  ASSERT_TRUE(answers_.WaitFor(10));
  EXPECT_TRUE(StatusOf(answers_.inputs()[8]).ok()) << StatusOf(answers_.inputs()[8]);
  EXPECT_TRUE(StatusOf(answers_.inputs()[9]).ok()) << StatusOf(answers_.inputs()[9]);
  EXPECT_EQ(answers_.preserved().size(), 1u);  // the mark kept nothing and says nothing

  // The cause fixed, the retry keeps the branch as it was.
  ASSERT_EQ(mkdir(parent.c_str(), 0700), 0);
  queue->Submit(PreserveDivergent{0, {"f"}, 10});
  ASSERT_TRUE(answers_.WaitForPreserved(2));
  const auto kept = answers_.preserved()[1].second;
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(ReadFile(*kept + "/f"), "divergent");
}

TEST_F(ModuleIoQueueTest, ShutdownAbandonsWaitingOperationsAndAnswersNothingAfter) {
  Gate gate;
  std::unique_ptr<ModuleIoQueue> queue = StartQueue(1, [&](Input input) {
    gate.Hold();
    answers_.Add(std::move(input));
  });
  ASSERT_NE(queue, nullptr);
  const absl::Cleanup open_gate = [&] { gate.Open(); };  // before the queue joins
  ASSERT_TRUE(queue->AddModule(0, StoreFor(0), tmp_ / "kept").ok());
  for (uint64_t id = 1; id <= 100; ++id) {
    queue->Submit(ApplyMutation{0, id, Write("f", id, "x"), false});
  }
  ASSERT_TRUE(gate.WaitUntilHeld());
  std::thread stopper([&] { queue->Shutdown(); });
  gate.Open();
  stopper.join();
  const size_t answered = answers_.inputs().size();
  EXPECT_GE(answered, 1u);  // the one being run finished and answered
  EXPECT_LE(answered, 100u);
  queue->Submit(ApplyMutation{0, 101, Write("f", 0, "x"), false});
  queue.reset();
  EXPECT_EQ(answers_.inputs().size(), answered);
}

TEST_F(ModuleIoQueueTest, OnlySmallMutationsThatAreNotDurableAreQuick) {
  EXPECT_TRUE(ModuleIoQueue::IsQuick(ApplyMutation{0, 1, Write("f", 0, "x"), false}));
  EXPECT_TRUE(ModuleIoQueue::IsQuick(ApplyMutation{0, 1, Chmod("f", 0600), false}));
  EXPECT_TRUE(ModuleIoQueue::IsQuick(
      ApplyMutation{0, 1, Write("f", 0, std::string(ModuleIoQueue::kMaxQuickBytes, 'x')), false}));
  EXPECT_FALSE(ModuleIoQueue::IsQuick(ApplyMutation{
      0, 1, Write("f", 0, std::string(ModuleIoQueue::kMaxQuickBytes + 1, 'x')), false}));
  EXPECT_FALSE(ModuleIoQueue::IsQuick(ApplyMutation{0, 1, Write("f", 0, "x"), true}));
  EXPECT_FALSE(
      ModuleIoQueue::IsQuick(ApplyMutation{0, 1, MakeMutation(MutationKind::kFsync, "f"), false}));
  EXPECT_FALSE(ModuleIoQueue::IsQuick(
      ApplyMutation{0, 1, MakeMutation(MutationKind::kRemoveTree, "d"), false}));
  EXPECT_FALSE(ModuleIoQueue::IsQuick(ReadZone{0, 1, "f", 0, 10}));
  EXPECT_FALSE(ModuleIoQueue::IsQuick(ListTree{0, 1}));
}

TEST_F(ModuleIoQueueTest, AQuickOperationOfAnIdleModuleRunsAndAnswersOnTheCallersThread) {
  std::thread::id answered_on;
  std::unique_ptr<ModuleIoQueue> queue = StartQueue(2, [&](Input input) {
    answered_on = std::this_thread::get_id();
    answers_.Add(std::move(input));
  });
  ASSERT_NE(queue, nullptr);
  ASSERT_TRUE(queue->AddModule(0, StoreFor(0), tmp_ / "kept").ok());
  queue->RunHereOrSubmit(ApplyMutation{0, 7, Write("f", 0, "hello"), false});
  // Answered before the call returned, here.
  ASSERT_EQ(answers_.inputs().size(), 1u);
  EXPECT_EQ(AnswerOf(answers_.inputs()[0]), (Answer{0, 7}));
  EXPECT_TRUE(StatusOf(answers_.inputs()[0]).ok());
  EXPECT_EQ(answered_on, std::this_thread::get_id());
  EXPECT_EQ(ReadFile(tmp_ / "root0/f"), "hello");
  // A durable one is not quick: a worker runs it.
  queue->RunHereOrSubmit(ApplyMutation{0, 8, Write("f", 5, "!"), true});
  ASSERT_TRUE(answers_.WaitFor(2));
  EXPECT_NE(answered_on, std::this_thread::get_id());
  EXPECT_EQ(ReadFile(tmp_ / "root0/f"), "hello!");
}

TEST_F(ModuleIoQueueTest, AQuickOperationWaitsBehindItsModulesEarlierOnes) {
  Gate gate;
  std::unique_ptr<ModuleIoQueue> queue = StartQueue(2, [&](Input input) {
    if (AnswerOf(input).id == 1) gate.Hold();
    answers_.Add(std::move(input));
  });
  ASSERT_NE(queue, nullptr);
  const absl::Cleanup open_gate = [&] { gate.Open(); };  // before the queue joins
  ASSERT_TRUE(queue->AddModule(0, StoreFor(0), tmp_ / "kept").ok());
  ASSERT_TRUE(queue->AddModule(1, StoreFor(1), tmp_ / "kept").ok());
  queue->Submit(ApplyMutation{0, 1, Write("f", 0, "first"), true});
  ASSERT_TRUE(gate.WaitUntilHeld());  // module 0's first operation has not answered yet
  queue->RunHereOrSubmit(ApplyMutation{0, 2, Write("f", 0, "SECOND"), false});
  // Queued, not run: the file holds what the first one wrote.
  EXPECT_EQ(ReadFile(tmp_ / "root0/f"), "first");
  EXPECT_TRUE(answers_.inputs().empty());
  // Another module, idle, is not held up.
  queue->RunHereOrSubmit(ApplyMutation{1, 3, Write("g", 0, "other"), false});
  ASSERT_EQ(answers_.inputs().size(), 1u);
  EXPECT_EQ(AnswerOf(answers_.inputs()[0]), (Answer{1, 3}));
  gate.Open();
  ASSERT_TRUE(answers_.WaitFor(3));
  const std::vector<Input> inputs = answers_.inputs();
  EXPECT_EQ(AnswerOf(inputs[1]), (Answer{0, 1}));
  EXPECT_EQ(AnswerOf(inputs[2]), (Answer{0, 2}));
  EXPECT_EQ(ReadFile(tmp_ / "root0/f"), "SECOND");
}

TEST_F(ModuleIoQueueTest, QuickAndQueuedOperationsMixedAnswerInIssueOrderAndSeeEarlierOnes) {
  std::unique_ptr<ModuleIoQueue> queue = StartQueue(2);
  ASSERT_NE(queue, nullptr);
  ASSERT_TRUE(queue->AddModule(0, StoreFor(0), tmp_ / "kept").ok());
  std::vector<uint64_t> issued;
  std::map<uint64_t, std::string> expected_reads;
  std::string written;
  uint64_t next_id = 1;
  for (int i = 0; i < 300; ++i) {
    const std::string byte(1, static_cast<char>('a' + i % 26));
    written += byte;
    const uint64_t id = next_id++;
    // Every third write is durable (a worker's), the others quick (here when idle).
    queue->RunHereOrSubmit(
        ApplyMutation{0, id, Write("log", static_cast<uint64_t>(i), byte), i % 3 == 0});
    issued.push_back(id);
    if (i % 7 == 6) {
      const uint64_t read_id = next_id++;
      queue->RunHereOrSubmit(ReadZone{0, read_id, "log", 0, 1 << 20});
      issued.push_back(read_id);
      expected_reads[read_id] = written;
    }
  }
  ASSERT_TRUE(answers_.WaitFor(issued.size()));
  std::vector<uint64_t> answered;
  for (const Input& input : answers_.inputs()) {
    EXPECT_TRUE(StatusOf(input).ok()) << StatusOf(input);
    answered.push_back(AnswerOf(input).id);
    if (const auto* read = std::get_if<ZoneRead>(&input)) {
      ASSERT_NE(read->data, nullptr);
      EXPECT_EQ(*read->data, expected_reads[read->read_id]) << "read " << read->read_id;
    }
  }
  EXPECT_EQ(answered, issued);
  EXPECT_EQ(ReadFile(tmp_ / "root0/log"), written);
}

// Holds the answer of the operation with id `held` (its worker waits inside it).
std::function<void(Input)> HoldingId(uint64_t held, Gate& gate, Answers& answers) {
  return [held, &gate, &answers](Input input) {
    if (AnswerOf(input).id == held) gate.Hold();
    answers.Add(std::move(input));
  };
}

std::vector<uint64_t> AnsweredIds(Answers& answers) {
  std::vector<uint64_t> ids;
  for (const Input& input : answers.inputs()) ids.push_back(AnswerOf(input).id);
  return ids;
}

TEST_F(ModuleIoQueueTest, OperationsOnTwoFilesOverlapWhileOnesOnTheSameFileWait) {
  Gate gate;
  std::unique_ptr<ModuleIoQueue> queue = StartQueue(4, HoldingId(1, gate, answers_));
  ASSERT_NE(queue, nullptr);
  const absl::Cleanup open_gate = [&] { gate.Open(); };  // before the queue joins
  ASSERT_TRUE(queue->AddModule(0, StoreFor(0), tmp_ / "kept").ok());
  queue->Submit(ApplyMutation{0, 1, Write("a", 0, "first"), true});
  ASSERT_TRUE(gate.WaitUntilHeld());  // a's durable write is still running
  queue->Submit(ApplyMutation{0, 2, Write("a", 0, "SECOND"), true});
  queue->Submit(ApplyMutation{0, 3, Write("b", 0, "other file"), true});
  queue->Submit(ReadZone{0, 4, "b", 0, 100});
  // b's write and read run and answer meanwhile, on other workers; a's second write waits.
  ASSERT_TRUE(answers_.WaitFor(2));
  EXPECT_EQ(AnsweredIds(answers_), (std::vector<uint64_t>{3, 4}));
  const std::vector<Input> inputs = answers_.inputs();
  const auto* read = std::get_if<ZoneRead>(&inputs[1]);
  ASSERT_NE(read, nullptr);
  ASSERT_NE(read->data, nullptr);
  EXPECT_EQ(*read->data, "other file");  // it saw the write issued before it
  EXPECT_EQ(ReadFile(tmp_ / "root0/a"), "first");
  gate.Open();
  ASSERT_TRUE(answers_.WaitFor(4));
  EXPECT_EQ(AnsweredIds(answers_), (std::vector<uint64_t>{3, 4, 1, 2}));
  EXPECT_EQ(ReadFile(tmp_ / "root0/a"), "SECOND");
}

TEST_F(ModuleIoQueueTest, ABarrierWaitsForEverythingBeforeItAndHoldsEverythingAfter) {
  Gate gate;
  std::unique_ptr<ModuleIoQueue> queue = StartQueue(4, HoldingId(1, gate, answers_));
  ASSERT_NE(queue, nullptr);
  const absl::Cleanup open_gate = [&] { gate.Open(); };  // before the queue joins
  ASSERT_TRUE(queue->AddModule(0, StoreFor(0), tmp_ / "kept").ok());
  queue->Submit(ApplyMutation{0, 1, Write("a", 0, "x"), false});
  ASSERT_TRUE(gate.WaitUntilHeld());
  queue->Submit(ApplyMutation{0, 2, MakeMutation(MutationKind::kMkdir, "d"), false});
  queue->Submit(ApplyMutation{0, 3, Write("b", 0, "after the barrier"), false});
  queue->RunHereOrSubmit(ApplyMutation{0, 4, Write("c", 0, "quick, after it too"), false});
  // Nothing after the write to a may run: the mkdir waits for it, the rest for the mkdir.
  EXPECT_FALSE(answers_.WaitForWithin(1, std::chrono::milliseconds(300)));
  EXPECT_FALSE(Exists(tmp_ / "root0/d"));
  EXPECT_FALSE(Exists(tmp_ / "root0/b"));
  EXPECT_FALSE(Exists(tmp_ / "root0/c"));
  gate.Open();
  ASSERT_TRUE(answers_.WaitFor(4));
  const std::vector<uint64_t> ids = AnsweredIds(answers_);
  EXPECT_EQ(ids[0], 1u);
  EXPECT_EQ(ids[1], 2u);
  EXPECT_TRUE(Exists(tmp_ / "root0/b"));
  EXPECT_TRUE(Exists(tmp_ / "root0/c"));
}

TEST_F(ModuleIoQueueTest, TwoNamesOfOneFileStayInOrder) {
  Gate gate;
  std::unique_ptr<ModuleIoQueue> queue = StartQueue(4, HoldingId(3, gate, answers_));
  ASSERT_NE(queue, nullptr);
  const absl::Cleanup open_gate = [&] { gate.Open(); };  // before the queue joins
  ASSERT_TRUE(queue->AddModule(0, StoreFor(0), tmp_ / "kept").ok());
  queue->Submit(ApplyMutation{0, 1, Write("f", 0, "........"), false});
  queue->Submit(ApplyMutation{0, 2, MakeMutation(MutationKind::kLink, "f", "g"), false});
  queue->Submit(ApplyMutation{0, 3, Write("f", 0, "via f"), true});
  ASSERT_TRUE(gate.WaitUntilHeld());
  queue->Submit(ApplyMutation{0, 4, Write("g", 0, "VIA G"), true});  // the same inode
  queue->Submit(ApplyMutation{0, 5, Write("h", 0, "another file"), true});
  ASSERT_TRUE(answers_.WaitFor(3));
  EXPECT_EQ(AnsweredIds(answers_), (std::vector<uint64_t>{1, 2, 5}));
  EXPECT_EQ(ReadFile(tmp_ / "root0/g"), "via f...");
  gate.Open();
  ASSERT_TRUE(answers_.WaitFor(5));
  EXPECT_EQ(AnsweredIds(answers_), (std::vector<uint64_t>{1, 2, 5, 3, 4}));
  EXPECT_EQ(ReadFile(tmp_ / "root0/f"), "VIA G...");
}

TEST_F(ModuleIoQueueTest, AQuickOperationOnAnIdleFileRunsHereWhileAnotherFileIsBusy) {
  Gate gate;
  std::unique_ptr<ModuleIoQueue> queue = StartQueue(2, HoldingId(1, gate, answers_));
  ASSERT_NE(queue, nullptr);
  const absl::Cleanup open_gate = [&] { gate.Open(); };  // before the queue joins
  ASSERT_TRUE(queue->AddModule(0, StoreFor(0), tmp_ / "kept").ok());
  queue->Submit(ApplyMutation{0, 1, Write("busy", 0, "x"), true});
  ASSERT_TRUE(gate.WaitUntilHeld());
  queue->RunHereOrSubmit(ApplyMutation{0, 2, Write("idle", 0, "here"), false});
  ASSERT_EQ(AnsweredIds(answers_), (std::vector<uint64_t>{2}));  // before the call returned
  queue->RunHereOrSubmit(ApplyMutation{0, 3, Write("busy", 0, "y"), false});
  EXPECT_EQ(AnsweredIds(answers_), (std::vector<uint64_t>{2}));  // queued behind the busy one
  gate.Open();
  ASSERT_TRUE(answers_.WaitFor(3));
  EXPECT_EQ(AnsweredIds(answers_), (std::vector<uint64_t>{2, 1, 3}));
  EXPECT_EQ(ReadFile(tmp_ / "root0/busy"), "y");
}

TEST_F(ModuleIoQueueTest, StartNeedsAWorkerAndAModuleGetsOneStore) {
  EXPECT_EQ(ModuleIoQueue::Start(
                0, [](Input) {}, [](ModuleIndex, absl::StatusOr<std::string>) {})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  std::unique_ptr<ModuleIoQueue> queue = StartQueue(1);
  ASSERT_NE(queue, nullptr);
  ASSERT_TRUE(queue->AddModule(0, StoreFor(0), tmp_ / "kept").ok());
  EXPECT_EQ(queue->AddModule(0, StoreFor(1), tmp_ / "kept").code(),
            absl::StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace duet::store::testing
