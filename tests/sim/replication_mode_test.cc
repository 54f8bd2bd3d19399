// The simulator's replication mode: the nodes run their replication engines on simulated
// disks under an application workload, and the data invariants are checked.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "sim/cluster.h"
#include "sim/cluster_config.h"
#include "sim/run_options.h"
#include "sim/simulation.h"
#include "sim/workload.h"

namespace duet::sim {
namespace {

RunOptions Options(uint64_t seed, const char* faults, absl::Duration duration) {
  Overrides overrides;
  overrides.duration = duration;
  overrides.modules = 2;
  overrides.faults = *ParseFaultList(faults);
  overrides.replication = true;
  return DeriveOptions(seed, overrides);
}

TEST(ReplicationModeTest, OptionIsReplayed) {
  const RunOptions options = Options(5, "none", absl::Seconds(5));
  EXPECT_TRUE(options.replication);
  EXPECT_NE(options.ReplayCommand().find("--replication=true"), std::string::npos);
  EXPECT_NE(options.Describe().find("data: replication engines"), std::string::npos);
  EXPECT_FALSE(DeriveOptions(5).replication);  // opt-in for now
}

TEST(ReplicationModeTest, ReplicatesWorkloadByteForByte) {
  Simulation sim(Options(11, "none", absl::Seconds(10)));
  const RunResult result = sim.Run();
  ASSERT_TRUE(result.passed) << result.report;
  EXPECT_GT(result.ops_acknowledged, 300u);
  EXPECT_GT(result.writes_verified, 100u);
  EXPECT_GT(result.replicated_bytes, 0u);
  for (ModuleIndex m = 0; m < 2; ++m) {
    EXPECT_EQ(
        DescribeDifference(sim.cluster().store(0, m).live(), sim.cluster().store(1, m).live()), "");
    EXPECT_FALSE(sim.cluster().store(0, m).live().empty());
  }
  const std::string summary = FormatSummary(sim.options(), result);
  EXPECT_NE(summary.find("writes verified: "), std::string::npos);
}

TEST(ReplicationModeTest, SameSeedSameTraceHash) {
  const RunResult a = Simulation(Options(12, "none", absl::Seconds(5))).Run();
  const RunResult b = Simulation(Options(12, "none", absl::Seconds(5))).Run();
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.writes_verified, b.writes_verified);
}

// The transport loses a stream write, or swaps two, and keeps the connection: the secondary
// ignores what is not the next write, the primary stops hearing acknowledgements, drops it
// and resyncs it. (Seed 1's gaps all fall inside a session: the loss of a session's first
// write is not detected yet, as the secondary takes the first write it gets for the start.)
TEST(ReplicationModeTest, StreamGapsAreRecoveredByAResync) {
  const RunOptions options = Options(1, "stream-gap", absl::Seconds(10));
  const RunResult result = Simulation(options).Run();
  EXPECT_TRUE(result.passed) << result.report;
  EXPECT_GT(result.stats.stream_writes_lost, 0u);
  EXPECT_GT(result.stats.stream_writes_swapped, 0u);
  EXPECT_GT(result.resyncs, 0u);
  EXPECT_EQ(Simulation(options).Run().trace_hash, result.trace_hash);
  // The summary reports what the run's faults did (the counts vary as the code changes).
  EXPECT_NE(FormatSummary(options, result)
                .find(absl::StrCat("stream-gap: ", result.stats.stream_writes_lost,
                                   " stream writes lost, ", result.stats.stream_writes_swapped,
                                   " swapped")),
            std::string::npos)
      << FormatSummary(options, result);
}

// A primary writes alone (the witness records its peer as outdated, which the peer never
// hears), then loses the witness too and fences, then its machine crashes: what it wrote
// alone and did not fsync was only there, so the model must allow its loss although the
// node was no longer ALONE when it crashed.
TEST(ReplicationModeTest, WritesMadeAloneMayBeLostInACrashAfterAFence) {
  SimCluster cluster(MakeClusterConfig({.modules = 1, .witness = true}), 21,
                     /*replication=*/true);
  cluster.Start();
  cluster.RunFor(absl::Seconds(5));
  ASSERT_TRUE(cluster.Writable(0, 0));
  cluster.SetPartitioned(true);
  cluster.RunFor(absl::Seconds(5));
  ASSERT_EQ(cluster.Status(0, 0).state, ModuleState::kAlone);
  cluster.witness_link(0).up = false;
  cluster.RunFor(absl::Seconds(8));
  ASSERT_FALSE(cluster.Writable(0, 0));
  ASSERT_EQ(cluster.Status(1, 0).data, DataState::kUpToDate);  // it never heard otherwise
  cluster.CrashNode(0);
  cluster.HealNetwork();
  cluster.RestartNode(0);
  cluster.set_workload_running(false);
  cluster.RunFor(absl::Seconds(30));
  ASSERT_EQ(cluster.workload().outstanding(), 0);
  for (const Workload::Loss& loss : cluster.workload().Verify(0, cluster.store(0, 0).live())) {
    ADD_FAILURE() << loss.detail;
  }
  EXPECT_TRUE(cluster.violations().empty());
}

TEST(ReplicationModeTest, WorkloadModelFindsALostWrite) {
  Workload w(1, 3);
  MemStore store;
  uint64_t op = 1;
  for (int i = 0; i < 200; ++i, ++op) {
    const Mutation m = w.Next(0, 0, op);
    if (m.kind == MutationKind::kFsync) {
      w.Completed(op, absl::OkStatus());
      continue;
    }
    // As the simulator issues it: the application makes its missing directories, and the
    // kernel refuses what it refuses before the store sees it.
    if (auto dir = Workload::MissingDirectory(m, store.live())) {
      ASSERT_TRUE(store.Apply(MakeMutation(MutationKind::kMkdir, *dir)).ok()) << *dir;
    }
    if (absl::Status refused = Workload::LookUpParents(m, store.live()); !refused.ok()) {
      w.Completed(op, refused);
      continue;
    }
    ASSERT_TRUE(store.Apply(m).ok() || m.kind == MutationKind::kRename) << m.path;
    w.Completed(op, absl::OkStatus());
  }
  EXPECT_TRUE(w.Verify(0, store.live()).empty());
  EXPECT_GT(w.writes_verified(), 0u);
  // Flip one byte of a verified file: the model sees it.
  MemStore::Tree tree = store.live();
  auto it = tree.find("vm.img");
  ASSERT_NE(it, tree.end());
  FileData& data = it->second.data;
  uint64_t first = 0;
  while (first < data.size() && data[first] == 0) ++first;
  ASSERT_LT(first, data.size());
  data.Write(first, std::string(1, static_cast<char>(data[first] ^ 1)));
  Workload again(1, 3);
  op = 1;
  for (int i = 0; i < 200; ++i, ++op) {
    again.Next(0, 0, op);
    again.Completed(op, absl::OkStatus());
  }
  EXPECT_FALSE(again.Verify(0, tree).empty());
  // What may be lost is not held against the pair.
  again.LoseAll(0);
  EXPECT_TRUE(again.Verify(0, tree).empty());
}

}  // namespace
}  // namespace duet::sim
