// Replica, fallocate and holes (issues 12 and 15): a fallocate is a data mutation tracked by
// the zones whose bytes or size it changes; a resync sends a zone that holds no data as a
// hole, which the target punches instead of writing zeros.
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/replication/replica.h"
#include "engine/wire/record_codec.h"
#include "tests/engine/printers.h"
#include "tests/engine/replication/replica_fixtures.h"

namespace duet {
namespace {

Mutation Fallocate(const std::string& path, uint64_t offset, uint64_t length, uint32_t mode) {
  Mutation m = MakeMutation(MutationKind::kFallocate, path);
  m.offset = offset;
  m.length = length;
  m.fallocate_mode = mode;
  return m;
}

constexpr uint32_t kPunch = kFallocatePunchHole | kFallocateKeepSize;

const sim::MemStore::Entry& FileOn(ReplicaPair& pair, int side, const std::string& path) {
  return pair.side(side).store.live().at(path);
}

// In sync with `bytes` at the start of `path` on both, then a alone (its peer outdated).
void WrittenThenAlone(ReplicaPair& pair, const std::string& path, const std::string& bytes) {
  StartInSync(pair);
  pair.Write(kA, path, 0, bytes);
  pair.Settle();
  pair.Disconnect();
  pair.PeerOutdated(kA);
}

TEST(ReplicaFallocateTest, StreamAppliesEveryModeOnTheSecondary) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "vm.img", 0, Bytes(4 * kZone, 'v'));
  const uint64_t punch = pair.Submit(kA, Fallocate("vm.img", kZone, kZone, kPunch));
  const uint64_t zero = pair.Submit(kA, Fallocate("vm.img", 3 * kZone + 10, kZone, 0x4));
  const uint64_t grow = pair.Submit(kA, Fallocate("vm.img", 0, 6 * kZone, 0));
  const uint64_t keep = pair.Submit(kA, Fallocate("vm.img", 0, 9 * kZone, kFallocateKeepSize));
  pair.Pump();
  for (const uint64_t op : {punch, zero, grow, keep}) {
    ASSERT_TRUE(pair.Completed(kA, op)) << op << pair.Log(kA);
    EXPECT_TRUE(pair.Result(kA, op).ok()) << pair.Result(kA, op);
  }
  const sim::FileData& b = FileOn(pair, kB, "vm.img").data;
  EXPECT_EQ(b.size(), 6 * kZone);  // grown by the allocate, not by the keep-size one
  EXPECT_EQ(b.substr(kZone, kZone), Bytes(kZone, '\0'));
  EXPECT_FALSE(b.HasData(kZone, kZone));  // punched: a hole, not zeros written
  EXPECT_EQ(b.substr(3 * kZone, 10), Bytes(10, 'v'));
  EXPECT_EQ(b.substr(3 * kZone + 10, kZone), Bytes(kZone, '\0'));
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

// While alone, a fallocate marks dirty the zones whose bytes it changes (a punch or a zero
// range: its range; a plain allocate: the zone that carries the size it sets; an allocate
// that keeps the size: none), not the namespace journal.
TEST(ReplicaFallocateTest, AloneFallocateMarksTheZonesWhoseBytesOrSizeItChanges) {
  ReplicaPair pair(Options());
  WrittenThenAlone(pair, "vm.img", Bytes(4 * kZone, 'v'));
  pair.Submit(kA, Fallocate("vm.img", kZone, 2 * kZone, kPunch));
  pair.Submit(kA, Fallocate("vm.img", 0, 10 * kZone, 0));
  pair.Submit(kA, Fallocate("vm.img", 0, 50 * kZone, kFallocateKeepSize));
  pair.Pump();
  const ZoneMap& dirty = pair.side(kA).disk.dirty;
  EXPECT_TRUE(dirty.Contains("vm.img", 1));
  EXPECT_TRUE(dirty.Contains("vm.img", 2));
  EXPECT_TRUE(dirty.Contains("vm.img", 9));
  EXPECT_EQ(dirty.zones(), 3u);
  EXPECT_TRUE(pair.side(kA).disk.journal.empty());
}

// The zones a punch made holes while alone come back to the peer as holes: no bytes sent,
// and the peer's copy is sparse where the primary's is.
TEST(ReplicaFallocateTest, ResyncAfterAlonePunchSendsHolesNotZeros) {
  ReplicaPair pair(Options());
  WrittenThenAlone(pair, "vm.img", Bytes(4 * kZone, 'v'));
  pair.Submit(kA, Fallocate("vm.img", kZone, 2 * kZone, kPunch));
  pair.Submit(kA, Fallocate("vm.img", 4 * kZone, 2 * kZone, kFallocateZeroRange));
  pair.Pump();
  const uint64_t bytes_before = pair.side(kB).block_bytes_received;
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  const sim::FileData& b = FileOn(pair, kB, "vm.img").data;
  EXPECT_EQ(b.size(), 6 * kZone);
  EXPECT_FALSE(b.HasData(kZone, 2 * kZone));
  EXPECT_FALSE(b.HasData(4 * kZone, 2 * kZone));
  for (const uint64_t zone : {1, 2, 4, 5}) {
    EXPECT_TRUE(pair.side(kB).zones_resynced.contains({"vm.img", zone})) << zone;
  }
  EXPECT_EQ(pair.side(kB).block_bytes_received, bytes_before) << pair.Log(kB);
  EXPECT_NE(pair.Log(kA).find("(0 bytes of data, 4 zones as holes)"), std::string::npos)
      << pair.Log(kA);
}

// A blank peer takes a sparse file whole: only its data travels, and its holes stay holes.
TEST(ReplicaFallocateTest, FullResyncOfASparseFileSendsOnlyItsData) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Write(kA, "disk.img", 0, Bytes(100, 'a'));
  pair.Write(kA, "disk.img", 500 * kZone + 7, Bytes(2 * kZone, 'b'));
  pair.Submit(kA, Fallocate("disk.img", 0, 1000 * kZone, 0));  // 1000 zones, 4 with data
  pair.Settle();
  ASSERT_EQ(pair.Difference(), "");
  pair.Disconnect();
  pair.ReplaceDisk(kB);
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  const sim::FileData& b = FileOn(pair, kB, "disk.img").data;
  EXPECT_EQ(b.size(), 1000 * kZone);
  EXPECT_FALSE(b.HasData(kZone, 499 * kZone));
  // The three zones with data are read whole (the zeros around the data in them too).
  EXPECT_LE(pair.side(kB).block_bytes_received, 4 * kZone) << pair.Log(kB);
  EXPECT_NE(pair.Log(kA).find("996 zones as holes"), std::string::npos) << pair.Log(kA);
}

// "disk.img", `zones` zones allocated and 100 bytes of data in the first, on a, and a full
// resync of it to b begun (b's disk replaced).
void FullResyncOfASparseFile(ReplicaPair& pair, uint64_t zones) {
  StartInSync(pair);
  pair.Write(kA, "disk.img", 0, Bytes(100, 'a'));
  pair.Submit(kA, Fallocate("disk.img", 0, zones * kZone, 0));
  pair.Settle();
  pair.Disconnect();
  pair.ReplaceDisk(kB);
  pair.Connect();
}

// The zones of `path` in the state ToRecords snapshots, after the snapshot went through the
// record codec and was replayed (what a metadata store rebuilds at a restart).
uint64_t ReplayedZones(const ReplicaDurableState& state, const std::string& path, bool hot) {
  const std::vector<ReplicaRecord> records = ToRecords(state);
  absl::StatusOr<wire::StoredRecord> decoded = wire::DecodeRecord(wire::EncodeRecord(records));
  EXPECT_TRUE(decoded.ok()) << decoded.status();
  ReplicaDurableState replayed;
  for (const ReplicaRecord& r : std::get<wire::ReplicaBatch>(*decoded)) {
    ApplyRecord(replayed, r, kZone);
  }
  const ZoneMap& zones = hot ? replayed.hot : replayed.dirty;
  const auto file = zones.files().find(path);
  return file == zones.files().end() ? 0 : file->second.size();
}

// A punch (or zero range) over many zones makes them hot in one record, not one per zone:
// punching 1 GiB costs as few records as punching one zone, and a restart rebuilds every
// zone of it. Cooling them later is a record a run too.
TEST(ReplicaFallocateTest, PunchOfAGibibyteCostsAFewRecordsAndReplaysEveryZone) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  constexpr uint64_t kGiB = uint64_t{1} << 30;
  constexpr uint64_t kZones = kGiB / kZone;  // 16384
  pair.Write(kA, "vm.img", kGiB - 1, "x");
  pair.Settle();
  const auto& a = pair.side(kA);
  auto cost_of = [&](const Mutation& m) {
    const uint64_t persists = a.persists, records = a.records_persisted;
    pair.Submit(kA, m);
    pair.Pump();
    return std::pair{a.persists - persists, a.records_persisted - records};
  };
  const auto one_zone = cost_of(Fallocate("vm.img", 0, kZone, kPunch));
  const auto whole = cost_of(Fallocate("vm.img", kZone, kGiB - kZone, kPunch));
  EXPECT_EQ(whole.first, one_zone.first);
  EXPECT_LE(whole.second, 3u) << "one-zone punch: " << one_zone.second << " records";
  EXPECT_EQ(a.disk.hot.files().at("vm.img").size(), kZones);  // as persisted, record by record
  EXPECT_EQ(ReplayedZones(a.disk, "vm.img", /*hot=*/true), kZones);
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "");
  // Durable on both now: the next write cools what is over the log's capacity.
  Mutation other = MakeMutation(MutationKind::kWrite, "other");
  other.data = MakePayload("x");
  const auto cooling = cost_of(other);
  EXPECT_LE(cooling.second, 4u);
  EXPECT_LT(a.disk.hot.zones(), kZones);
  // Alone, the same punch is one dirty range.
  pair.Disconnect();
  const auto alone = cost_of(Fallocate("vm.img", 0, kGiB, kFallocateZeroRange));
  EXPECT_LE(alone.second, 4u);
  EXPECT_EQ(ReplayedZones(a.disk, "vm.img", /*hot=*/false), kZones);
}

// The resync's bandwidth cap counts the bytes that go: a zone that is a hole costs its
// block's header, not a zone of data, so a sparse file resyncs at the pace of its data.
TEST(ReplicaFallocateTest, BandwidthCapDoesNotChargeHoleZonesAsData) {
  ReplicaOptions options = Options();
  options.resync_bandwidth = 10 * kZone;  // 10 zones of data a second
  ReplicaPair pair(options);
  constexpr uint64_t kZones = 200;  // 20 s at the cap if every zone counted whole
  FullResyncOfASparseFile(pair, kZones);
  // Time in small steps, as a driver ticks at the engine's next deadline (a hole's header
  // takes 0.2 ms at this cap; Settle's 100 ms steps would pace any read at one a step).
  for (int ms = 0; ms < 3000 && pair.replica(kB).data_state() != DataState::kUpToDate; ++ms) {
    pair.Pump();
    pair.Advance(absl::Milliseconds(1));
  }
  pair.Settle(absl::Milliseconds(200));
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kA);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_GE(pair.side(kB).block_zones_received, kZones);
}

// ... and a zone of data still costs a zone: the cap holds for data.
TEST(ReplicaFallocateTest, BandwidthCapStillPacesZonesOfData) {
  ReplicaOptions options = Options();
  options.resync_bandwidth = 10 * kZone;
  ReplicaPair pair(options);
  StartInSync(pair);
  constexpr uint64_t kZones = 50;  // 5 s at the cap
  pair.Write(kA, "data.bin", 0, Bytes(kZones * kZone, 'd'));
  pair.Settle();
  pair.Disconnect();
  pair.ReplaceDisk(kB);
  pair.Connect();
  for (int ms = 0; ms < 3000; ++ms) {
    pair.Pump();
    pair.Advance(absl::Milliseconds(1));
  }
  EXPECT_NE(pair.replica(kB).data_state(), DataState::kUpToDate);
  EXPECT_LE(pair.side(kB).blocks_received, 31u);  // 10 a second
  pair.Settle(absl::Seconds(5));
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kA);
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
}

// Found with the e2e sparse resync: a full resync planned a file's zones again at every read
// of it, so the zones already sent and cleaned went again, and a file of many zones (more
// than the reads in flight, with the target's flushes coming between) went many times over.
TEST(ReplicaFallocateTest, FullResyncSendsEachZoneOfALargeFileOnce) {
  ReplicaOptions options = Options();
  options.resync_bandwidth = 50 * kZone;  // 50 zones a second: flushes come between reads
  ReplicaPair pair(options);
  constexpr uint64_t kZones = 200;
  FullResyncOfASparseFile(pair, kZones);
  pair.Settle(absl::Seconds(30));
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.replica(kB).data_state(), DataState::kUpToDate) << pair.Log(kB);
  EXPECT_LE(pair.side(kB).block_zones_received, kZones + 2) << pair.Log(kA);
}

// A zone partly sparse on the source is written, then its holes punched: the copy's holes
// are the source's, so a later punch of the data around them leaves both zones holes.
TEST(ReplicaFallocateTest, ResyncedZoneKeepsTheHolesInsideIt) {
  ReplicaPair pair(Options());
  StartInSync(pair);
  pair.Disconnect();
  pair.PeerOutdated(kA);
  pair.Write(kA, "vm.img", 4096 * 3, Bytes(100, 'd'));  // one page of data in zone 0
  pair.Write(kA, "vm.img", 2 * kZone - 1, "e");
  pair.Pump();
  pair.Connect();
  pair.Settle();
  ASSERT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  const sim::FileData& b = FileOn(pair, kB, "vm.img").data;
  EXPECT_TRUE(b.HasData(4096 * 3, 4096));
  EXPECT_FALSE(b.HasData(0, 4096 * 3));
  EXPECT_FALSE(b.HasData(4096 * 4, kZone - 4096 * 4));
  pair.Submit(kA, Fallocate("vm.img", 4096 * 3, 4096, kPunch));
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_FALSE(FileOn(pair, kB, "vm.img").data.HasData(0, kZone));
}

// A hole block read before a live write to its zone is stale on the target, like any other:
// the live write is never punched away.
TEST(ReplicaFallocateTest, HoleBlockNeverPunchesANewerLiveWrite) {
  ReplicaPair pair(Options());
  WrittenThenAlone(pair, "f", Bytes(3 * kZone, 'x'));
  pair.Submit(kA, Fallocate("f", kZone, kZone, kPunch));
  pair.Pump();
  pair.Connect();
  // Let the resync start, then write into the punched zone while its block may be on the way.
  for (int i = 0; i < 8; ++i) pair.Step();
  pair.Write(kA, "f", kZone + 5, "live");
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(FileOn(pair, kB, "f").data.substr(kZone + 5, 4), "live");
}

// A run of holes (the zones of one hole the source plans to send) goes as one block, which
// the target punches at once, but for the zones a live write reached since the source's
// read, which it asks for again.

// A blank peer takes a file of 200 zones with data in zones 0 and 150: each hole between and
// after the data goes as one block, and the copy is as sparse as the source.
TEST(ReplicaFallocateTest, AHoleRunGoesAsOneBlock) {
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
  const sim::FileData& b = FileOn(pair, kB, "disk.img").data;
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
TEST(ReplicaFallocateTest, AHoleRunCoversOnlyTheZonesPlanned) {
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
  EXPECT_FALSE(FileOn(pair, kB, "vm.img").data.HasData(kZone, 9 * kZone));
}

// A live write after the source read a run, reaching the target before the run's block: the
// target punches the run's other zones, keeps the live write, and asks for that zone again
// (the source sends it as it is then). Every moment of the write in the resync is tried.
TEST(ReplicaFallocateTest, AZoneOfAHoleRunWrittenLiveIsAskedForAgain) {
  bool asked_again = false;
  for (int steps = 0; steps < 40; ++steps) {
    SCOPED_TRACE(steps);
    ReplicaPair pair(Options());
    WrittenThenAlone(pair, "f", Bytes(12 * kZone, 'x'));
    pair.Submit(kA, Fallocate("f", kZone, 10 * kZone, kPunch));  // zones 1-10
    pair.Pump();
    pair.Connect();
    for (int i = 0; i < steps; ++i) pair.Step();
    pair.Write(kA, "f", 5 * kZone + 5, "live");
    pair.Settle();
    ASSERT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
    const sim::FileData& b = FileOn(pair, kB, "f").data;
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
