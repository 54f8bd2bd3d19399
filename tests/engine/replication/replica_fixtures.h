// Set-ups shared by the replica's unit tests (tests/engine/replica_*_test.cc): options, a pair
// in sync, a tree of every kind of name.
#ifndef DUET_TESTS_ENGINE_REPLICATION_REPLICA_FIXTURES_H_
#define DUET_TESTS_ENGINE_REPLICATION_REPLICA_FIXTURES_H_

#include <gtest/gtest.h>

#include <string>

#include "engine/replication/replica.h"
#include "tests/engine/replication/replica_harness.h"

namespace duet {

inline constexpr int kA = 0;
inline constexpr int kB = 1;
inline constexpr uint32_t kZone = 64 * 1024;

inline std::string Bytes(size_t n, char c) { return std::string(n, c); }

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
