// The daemon's hand-off of disk actions to the module IO queue (disk_op_issuer.h), against a
// real queue and store: one module's completions come back in the order the engine issued
// them (adapter contract C7), a refused peer mutation included.
#include "adapters/daemon/disk_op_issuer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "adapters/store/backing_store.h"
#include "adapters/store/module_io_queue.h"
#include "tests/adapters/store/store_test_util.h"

namespace duet::daemon {
namespace {

using store::testing::TempDir;
using store::testing::Write;

// The MutationApplied answers the queue hands back (from any thread), in arrival order.
class Completions {
 public:
  void Add(Input input) {
    const std::lock_guard lock(mu_);
    if (const auto* applied = std::get_if<MutationApplied>(&input)) answers_.push_back(*applied);
    changed_.notify_all();
  }
  bool WaitFor(size_t count) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, std::chrono::seconds(30),
                             [&] { return answers_.size() >= count; });
  }
  std::vector<MutationApplied> answers() {
    const std::lock_guard lock(mu_);
    return answers_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<MutationApplied> answers_;
};

TEST(DiskOpIssuerTest, ARefusedPeerMutationAnswersAfterTheOperationsIssuedBeforeIt) {
  TempDir tmp;
  const std::string root = tmp / "root";
  ASSERT_EQ(mkdir(root.c_str(), 0700), 0);
  ASSERT_EQ(mkdir((root + "/0").c_str(), 0755), 0);
  absl::StatusOr<store::BackingStore> backing = store::BackingStore::Open(root);
  ASSERT_TRUE(backing.ok()) << backing.status();
  Completions completions;
  absl::StatusOr<std::unique_ptr<store::ModuleIoQueue>> queue = store::ModuleIoQueue::Start(
      2, [&](Input input) { completions.Add(std::move(input)); },
      [](ModuleIndex, absl::StatusOr<std::string>) {});
  ASSERT_TRUE(queue.ok()) << queue.status();
  ASSERT_TRUE((*queue)->AddModule(0, *std::move(backing), tmp / "kept").ok());
  constexpr size_t kOneDirectory = 1;

  // One step of the engine: a durable write (to a worker), a quick write (held until the
  // step ends), then a write outside the module's directory, which the peer may not name.
  DiskOpIssuer issuer(**queue);
  EXPECT_TRUE(
      issuer.Apply(ApplyMutation{0, 1, Write("0/log", 0, "durable "), true}, kOneDirectory).ok());
  EXPECT_TRUE(
      issuer.Apply(ApplyMutation{0, 2, Write("0/log", 8, "quick"), false}, kOneDirectory).ok());
  const absl::Status refused =
      issuer.Apply(ApplyMutation{0, 3, Write("beside", 0, "escaped"), false}, kOneDirectory);
  EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied) << refused;
  issuer.EndStep();

  ASSERT_TRUE(completions.WaitFor(3)) << completions.answers().size() << " of 3 answers";
  const std::vector<MutationApplied> answers = completions.answers();
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_EQ(answers[0].apply_id, 1u);
  EXPECT_EQ(answers[1].apply_id, 2u);
  EXPECT_EQ(answers[2].apply_id, 3u) << "the refusal overtook the operations issued before it";
  EXPECT_TRUE(answers[0].status.ok()) << answers[0].status;
  EXPECT_TRUE(answers[1].status.ok()) << answers[1].status;
  EXPECT_EQ(answers[2].status.code(), refused.code());
  EXPECT_EQ(answers[2].status.message(), refused.message());
  EXPECT_TRUE(IsRefusal(answers[2].status)) << "never carried out: nothing changed";
  (*queue)->Shutdown();
  EXPECT_EQ(store::testing::ReadFile(root + "/0/log"), "durable quick");
  struct stat st;
  EXPECT_NE(lstat((root + "/beside").c_str(), &st), 0) << "the refused write was applied";
}

}  // namespace
}  // namespace duet::daemon
