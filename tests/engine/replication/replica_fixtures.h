// Set-ups shared by the replica's unit tests (tests/engine/replica_*_test.cc): options, a pair
// in sync, a tree of every kind of name.
#ifndef DUET_TESTS_ENGINE_REPLICATION_REPLICA_FIXTURES_H_
#define DUET_TESTS_ENGINE_REPLICATION_REPLICA_FIXTURES_H_

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "engine/replication/replica.h"
#include "tests/engine/replication/replica_harness.h"

namespace duet {

inline constexpr int kA = 0;
inline constexpr int kB = 1;
inline constexpr uint32_t kZone = 64 * 1024;

inline std::string Bytes(size_t n, char c) { return std::string(n, c); }

using Ops = std::vector<uint64_t>;  // calls (op ids), as ReplicaPair::CompletedAmong lists them

inline ReplicaOptions Options() {
  ReplicaOptions o;
  o.zone_size = kZone;
  o.timeout = absl::Seconds(5);
  return o;
}

// The options of ReplicaPropertyTest, for the cases it found.
inline ReplicaOptions PropertyOptions() {
  ReplicaOptions o = Options();
  o.zone_size = 4096;
  o.timeout = absl::Seconds(3);
  o.window_count = 8;
  return o;
}

// a primary, b secondary, connected and in sync.
inline void StartInSync(ReplicaPair& pair) {
  pair.SetRole(kA, ReplRole::kPrimary);
  pair.Connect();
  pair.Pump();
  ASSERT_TRUE(pair.replica(kA).attached()) << pair.Log(kA);
}

// StartInSync, with `path` written (`bytes` at offset 0) on both copies.
inline void StartInSyncHolding(ReplicaPair& pair, const std::string& path, std::string bytes) {
  StartInSync(pair);
  pair.Write(kA, path, 0, std::move(bytes));
  pair.Settle();
}

// StartInSync, and b's disk is slow: its completions wait until the test releases them
// (ReplicaPair::ReleaseApplied), in the order it chooses (adapter contract C7).
inline void StartInSyncWithASlowSecondaryDisk(ReplicaPair& pair) {
  StartInSync(pair);
  pair.HoldApplies(kB, true);
}

// b falls behind: with the connection down, `writes` run on a (the primary, alone), a learns
// that b is outdated, and the pair settles, still apart.
template <typename Writes>
void WriteAlone(ReplicaPair& pair, Writes&& writes) {
  pair.Disconnect();
  writes();
  pair.PeerOutdated(kA);
  pair.Settle();
}

// A tree of every kind of name: a directory with a file, a symlink, a file of several zones.
inline void WriteTree(ReplicaPair& pair, int side) {
  pair.Submit(side, MakeMutation(MutationKind::kMkdir, "d"));
  pair.Write(side, "d/f", 0, "in a directory");
  pair.Submit(side, MakeMutation(MutationKind::kSymlink, "link", "d/f"));
  pair.Write(side, "vm.img", 0, Bytes(3 * kZone + 10, 'v'));
  pair.Write(side, "old", 0, "renamed");
  pair.Submit(side, MakeMutation(MutationKind::kRename, "old", "new"));
  pair.Settle();
}

}  // namespace duet

#endif  // DUET_TESTS_ENGINE_REPLICATION_REPLICA_FIXTURES_H_
