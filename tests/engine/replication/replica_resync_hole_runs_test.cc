// Replica, a resync of a sparse file (issue 15): the zones of one hole that the source plans
// to send go as one block, which the target punches at once, but for the zones a live write
// reached since the source's read, which it asks for again.
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/replication/replica.h"
#include "tests/engine/printers.h"
#include "tests/engine/replication/replica_fixtures.h"

namespace duet {
namespace {

constexpr uint32_t kPunch = kFallocatePunchHole | kFallocateKeepSize;

Mutation Fallocate(const std::string& path, uint64_t offset, uint64_t length, uint32_t mode) {
  Mutation m = MakeMutation(MutationKind::kFallocate, path);
  m.offset = offset;
  m.length = length;
  m.fallocate_mode = mode;
  return m;
}

const sim::FileData& DataOn(ReplicaPair& pair, int side, const std::string& path) {
  return pair.side(side).store.live().at(path).data;
}

// A blank peer takes a file of 200 zones with data in zones 0 and 150: each hole between and
// after the data goes as one block, and the copy is as sparse as the source.
TEST(ReplicaResyncHoleRunsTest, AHoleRunGoesAsOneBlock) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "disk.img", 0, Bytes(100, 'a'));
  pair.Write(kA, "disk.img", 150 * kZone + 7, Bytes(100, 'b'));
  pair.Submit(kA, Fallocate("disk.img", 0, 200 * kZone, 0));
  pair.Settle();
  pair.Disconnect();
  pair.ReplaceDisk(kB);
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
  const sim::FileData& b = DataOn(pair, kB, "disk.img");
  EXPECT_EQ(b.size(), 200 * kZone);
  EXPECT_FALSE(b.HasData(kZone, 149 * kZone));
  EXPECT_FALSE(b.HasData(151 * kZone, 49 * kZone));
  // Two zones of data, two runs of holes (zones 1-149 and 151-199).
  EXPECT_EQ(pair.side(kB).blocks_received, 4u) << pair.Log(kA);
  EXPECT_EQ(pair.side(kB).block_zones_received, 200u);
  EXPECT_NE(pair.Log(kA).find("198 zones as holes"), std::string::npos) << pair.Log(kA);
  EXPECT_EQ(pair.side(kB).stale_blocks, 0u);
}

// A run covers only the zones the source plans to send: the holes made alone, not the holes
// around them that both copies share.
TEST(ReplicaResyncHoleRunsTest, AHoleRunCoversOnlyTheZonesPlanned) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "vm.img", 0, Bytes(4 * kZone, 'v'));
  pair.Submit(kA, Fallocate("vm.img", 0, 10 * kZone, 0));  // zones 4-9: holes on both
  pair.Settle();
  pair.Disconnect();
  pair.PeerOutdated(kA);
  pair.Submit(kA, Fallocate("vm.img", kZone, 3 * kZone, kPunch));  // zones 1-3
  pair.Pump();
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kB).blocks_received, 1u) << pair.Log(kA);
  EXPECT_EQ(pair.side(kB).block_zones_received, 3u) << pair.Log(kA);
  EXPECT_FALSE(DataOn(pair, kB, "vm.img").HasData(kZone, 9 * kZone));
}

// A live write after the source read a run, reaching the target before the run's block: the
// target punches the run's other zones, keeps the live write, and asks for that zone again
// (the source sends it as it is then). Every moment of the write in the resync is tried.
TEST(ReplicaResyncHoleRunsTest, AZoneOfAHoleRunWrittenLiveIsAskedForAgain) {
  bool asked_again = false;
  for (int steps = 0; steps < 40; ++steps) {
    SCOPED_TRACE(steps);
    ReplicaPair pair(Options());
    StartInSync(pair);
    pair.Write(kA, "f", 0, Bytes(12 * kZone, 'x'));
    pair.Settle();
    pair.Disconnect();
    pair.PeerOutdated(kA);
    pair.Submit(kA, Fallocate("f", kZone, 10 * kZone, kPunch));  // zones 1-10
    pair.Pump();
    pair.Connect();
    for (int i = 0; i < steps; ++i) pair.Step();
    pair.Write(kA, "f", 5 * kZone + 5, "live");
    pair.Settle();
    ASSERT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
    const sim::FileData& b = DataOn(pair, kB, "f");
    EXPECT_EQ(b.substr(5 * kZone + 5, 4), "live");
    EXPECT_FALSE(b.HasData(kZone, 4 * kZone));
    EXPECT_FALSE(b.HasData(6 * kZone, 5 * kZone));
    const std::vector<uint64_t>& requested = pair.side(kA).zones_requested;
    if (std::find(requested.begin(), requested.end(), 5) != requested.end()) {
      asked_again = true;
      EXPECT_EQ(requested, std::vector<uint64_t>{5}) << "only the zone written live";
    }
  }
  EXPECT_TRUE(asked_again) << "no moment of the write met a run's block on its way";
}

}  // namespace
}  // namespace duet
