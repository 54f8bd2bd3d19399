// What the fixes of the simulator's reference model for seeds of
// tests/sim/regression_seeds_test.cc made it do, pinned as input sequences (the seeds replay
// other runs once the engine's random draws or action order change).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "sim/mem_store.h"
#include "sim/workload.h"

namespace duet::sim {
namespace {

constexpr NodeIndex kA = 0;
constexpr NodeIndex kB = 1;

// Issues module 0's next operations on node `n` until one satisfies `wanted`, failing the
// others (never acknowledged); returns its op id.
template <class Pred>
uint64_t IssueUntil(Workload& workload, NodeIndex n, uint64_t& next_op, Pred wanted) {
  for (int guard = 0; guard < 1000; ++guard) {
    const uint64_t op = next_op++;
    const Mutation m = workload.Next(0, n, op);
    if (wanted(m)) return op;
    workload.Completed(op, absl::AbortedError("not this one"));
  }
  ADD_FAILURE() << "the workload never issued the operation wanted";
  return 0;
}

// The write node a acknowledges alone, then a whole-tree fsync acknowledged by `fsync_on`,
// then a crash with no up-to-date copy left; returns what Verify finds missing from a tree
// that lacks a's write. Uses the first workload seed from 42 on whose operations skipped
// between the two never write vm.img again (such a write would take over a's bytes).
std::vector<Workload::Loss> AloneWriteThenFsyncOn(NodeIndex fsync_on) {
  for (uint64_t seed = 42; seed < 142; ++seed) {
    Workload workload(1, seed);
    uint64_t next_op = 1;
    auto image_write = [](const Mutation& m) {
      return m.kind == MutationKind::kWrite && m.path == "vm.img";
    };
    const uint64_t write = IssueUntil(workload, kA, next_op, image_write);
    workload.Completed(write, absl::OkStatus(), /*alone=*/true);
    bool overwritten = false;
    const uint64_t fsync = IssueUntil(workload, fsync_on, next_op, [&](const Mutation& m) {
      overwritten = overwritten || image_write(m);
      return m.kind == MutationKind::kFsync && m.path.empty();
    });
    if (overwritten) continue;
    workload.Completed(fsync, absl::OkStatus(), /*alone=*/true);
    workload.LoseUnsynced(0);
    return workload.Verify(0, MemStore::Tree{});
  }
  ADD_FAILURE() << "no seed kept the write apart from the fsync";
  return {};
}

// Seed 8080910279283621615: during a split brain not yet seen, a write node a acknowledged
// alone is made durable only by a's own fsync, never by an fsync of node b (serving next,
// it never held the write). Its loss in a's crash is then allowed; after a's own fsync it is
// not (the control: the write is one the model checks).
TEST(ModelSeedBehaviourTest, WriteAcknowledgedAloneIsMadeDurableOnlyByItsOwnNodesFsync) {
  const std::vector<Workload::Loss> own = AloneWriteThenFsyncOn(kA);
  ASSERT_EQ(own.size(), 1u);
  EXPECT_TRUE(own[0].fsynced) << own[0].detail;
  const std::vector<Workload::Loss> other = AloneWriteThenFsyncOn(kB);
  for (const Workload::Loss& loss : other) ADD_FAILURE() << loss.detail;
}

}  // namespace
}  // namespace duet::sim
