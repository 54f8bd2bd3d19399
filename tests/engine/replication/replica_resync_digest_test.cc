// Resync by digest (engine/replication/replica_resync_target.cc, replica_resync_source.cc):
// the zones a crashed primary's activity log names are only possibly different, so each is
// compared by digest and sent only where the copies differ.
#include <gtest/gtest.h>

#include <string>

#include "engine/replication/replica.h"
#include "tests/engine/printers.h"
#include "tests/engine/replication/replica_fixtures.h"

namespace duet {
namespace {

constexpr uint32_t kPunch = kFallocatePunchHole | kFallocateKeepSize;

// The crashes below come within the activity log's cooling delay of the writes: every zone
// written is still hot (replica_activity_log_test.cc has the zones that cooled).
ReplicaOptions DigestOptions() {
  ReplicaOptions o = Options();
  o.activity_log_cooling = absl::Hours(1);
  return o;
}

bool Resynced(ReplicaPair& pair, int side, const std::string& path, uint64_t zone) {
  return pair.side(side).zones_resynced.contains({path, zone});
}

// a, primary in sync with b, wrote `f` (4 zones) durably on both; then a writes `late`
// bytes at `offset` of f that never reach b, its own disk keeps them (its pages were written
// back), and its machine crashes. Every zone of f stays hot in a's activity log.
void CrashPrimaryWithALateWrite(ReplicaPair& pair, Mutation late) {
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(4 * kZone, 'x'));
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Settle();
  pair.Hold(kA, true);  // b never gets the late write
  pair.Submit(kA, std::move(late));
  pair.Pump();
  pair.Disconnect();
  ASSERT_TRUE(pair.side(kA).store.Sync("").ok());
  pair.Crash(kA);
}

// The README demo's case: a dies as primary, b takes over and writes alone, a returns. a's
// activity log names every zone of f; b wrote one of them: only that one (and the file b
// made) goes, the other three are found the same by digest and stay as they are on a.
TEST(ReplicaResyncDigestTest, CrashedPrimarysHotZonesEqualOnBothCopiesAreNotSent) {
  ReplicaPair pair(DigestOptions());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(4 * kZone, 'x'));
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Settle();
  pair.Disconnect();
  pair.Crash(kA);
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.PeerOutdated(kB);
  pair.Write(kB, "f", kZone + 5, "written by b alone");
  pair.Write(kB, "g", 0, "new on b");
  pair.Settle();
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_TRUE(Resynced(pair, kA, "f", 1));
  EXPECT_TRUE(Resynced(pair, kA, "g", 0));
  EXPECT_FALSE(Resynced(pair, kA, "f", 0)) << pair.Log(kB);
  EXPECT_FALSE(Resynced(pair, kA, "f", 2));
  EXPECT_FALSE(Resynced(pair, kA, "f", 3));
  EXPECT_EQ(pair.side(kA).sames_received, 3u);
  EXPECT_NE(pair.Log(kB).find(absl::StrCat("; ", 3 * kZone,
                                           " bytes the same on both copies by digest, not sent")),
            std::string::npos)
      << pair.Log(kB);
  EXPECT_EQ(pair.replica(kA).data_state(), DataState::kUpToDate) << pair.Log(kA);
}

// a's late write differs from b's zone: that zone alone goes (a rolls it back to b's), the
// others are the same.
TEST(ReplicaResyncDigestTest, TheOneHotZoneThatDiffersIsSent) {
  ReplicaPair pair(DigestOptions());
  Mutation late = MakeMutation(MutationKind::kWrite, "f");
  late.offset = 2 * kZone + 100;
  late.data = MakePayload("never acknowledged");
  CrashPrimaryWithALateWrite(pair, std::move(late));
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kA).store.live().at("f").data.substr(2 * kZone, kZone), Bytes(kZone, 'x'));
  EXPECT_TRUE(Resynced(pair, kA, "f", 2)) << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kA).blocks_received, 1u);
  EXPECT_EQ(pair.side(kA).sames_received, 3u);
}

// Zeros on the target where the source has a hole: the same bytes, but not the same zone (a
// resync restores the holes too). The zone goes as a hole, and stays one on the target.
// a's late write put the same bytes back under a newer mtime (StampsChangeTime) that b never
// got: the zone is the same by digest and is not sent, but a takes b's attributes with it, as a
// block would give them.
TEST(ReplicaResyncDigestTest, AZoneFoundTheSameStillTakesTheSourcesTimes) {
  ReplicaPair pair(DigestOptions());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(4 * kZone, 'x'));
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Settle();
  pair.Hold(kA, true);  // b never gets the late write
  Mutation late = MakeMutation(MutationKind::kWrite, "f");
  late.offset = 0;
  late.data = MakePayload(Bytes(100, 'x'));  // what f holds there already
  late.mtime_ns = 1'700'000'000'000'000'777;
  pair.Submit(kA, std::move(late));
  pair.Pump();
  ASSERT_TRUE(pair.side(kA).store.Sync("").ok());
  // The machine dies while connected: the write is in a's activity log, not in its dirty map.
  pair.Crash(kA);
  ASSERT_EQ(pair.side(kA).store.live().at("f").mtime_ns, 1'700'000'000'000'000'777);
  pair.Disconnect();
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kA).store.live().at("f").mtime_ns,
            pair.side(kB).store.live().at("f").mtime_ns);
  EXPECT_FALSE(Resynced(pair, kA, "f", 0)) << pair.Log(kB);
  EXPECT_EQ(pair.side(kA).sames_received, 4u);
}

TEST(ReplicaResyncDigestTest, ZerosOnTheTargetWhereTheSourceHasAHoleBecomeAHole) {
  ReplicaPair pair(DigestOptions());
  StartInSync(pair);
  Mutation punch = MakeMutation(MutationKind::kFallocate, "f");
  pair.Write(kA, "f", 0, Bytes(4 * kZone, 'x'));
  punch.offset = kZone;
  punch.length = kZone;
  punch.fallocate_mode = kPunch;
  pair.Submit(kA, punch);
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Settle();
  ASSERT_FALSE(pair.side(kB).store.live().at("f").data.HasData(kZone, kZone));
  pair.Hold(kA, true);
  pair.Write(kA, "f", kZone, Bytes(kZone, '\0'));  // zeros written over the hole, on a only
  pair.Pump();
  pair.Disconnect();
  ASSERT_TRUE(pair.side(kA).store.Sync("").ok());
  pair.Crash(kA);
  ASSERT_TRUE(pair.side(kA).store.live().at("f").data.HasData(kZone, kZone));
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_TRUE(Resynced(pair, kA, "f", 1)) << pair.Log(kA) << pair.Log(kB);
  EXPECT_FALSE(pair.side(kA).store.live().at("f").data.HasData(kZone, kZone));
  EXPECT_EQ(pair.side(kA).sames_received, 3u);
}

// And the other way: a hole on the target where the source has zeros is sent too (as the
// source's zeros), so both copies end with the source's layout.
TEST(ReplicaResyncDigestTest, AHoleOnTheTargetWhereTheSourceHasZerosIsSent) {
  ReplicaPair pair(DigestOptions());
  StartInSync(pair);
  pair.Write(kA, "f", 0, Bytes(kZone, 'x') + Bytes(kZone, '\0') + Bytes(2 * kZone, 'x'));
  pair.Submit(kA, MakeMutation(MutationKind::kFsync, ""));
  pair.Settle();
  Mutation punch = MakeMutation(MutationKind::kFallocate, "f");
  punch.offset = kZone;
  punch.length = kZone;
  punch.fallocate_mode = kPunch;
  CrashPrimaryWithALateWrite(pair, punch);
  ASSERT_FALSE(pair.side(kA).store.live().at("f").data.HasData(kZone, kZone));
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_TRUE(Resynced(pair, kA, "f", 1)) << pair.Log(kA) << pair.Log(kB);
  EXPECT_TRUE(pair.side(kA).store.live().at("f").data.HasData(kZone, kZone));
}

// A digest that cannot be read here (EIO) says nothing about the zone: it is asked for whole,
// and the copies end the same.
TEST(ReplicaResyncDigestTest, AFailedDigestReadAsksForTheZoneWhole) {
  ReplicaPair pair(DigestOptions());
  Mutation late = MakeMutation(MutationKind::kWrite, "f");
  late.offset = 3 * kZone;
  late.data = MakePayload("never acknowledged");
  CrashPrimaryWithALateWrite(pair, std::move(late));
  pair.side(kA).fail_digest_reads = true;
  pair.Connect();
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kA).sames_received, 0u);
  for (uint64_t zone = 0; zone < 4; ++zone) EXPECT_TRUE(Resynced(pair, kA, "f", zone)) << zone;
  EXPECT_NE(pair.Log(kA).find("digest read of f failed (EIO: input/output error); such zones "
                              "are asked for whole"),
            std::string::npos)
      << pair.Log(kA);
  EXPECT_EQ(pair.replica(kA).data_state(), DataState::kUpToDate) << pair.Log(kA);
}

// The file is renamed by the stream while its digests are being read on the target: its zones
// are asked for under the new name, whole, and the copies end the same.
TEST(ReplicaResyncDigestTest, ZonesRenamedWhileTheirDigestsAreReadAreAskedForUnderTheNewName) {
  ReplicaPair pair(DigestOptions());
  Mutation late = MakeMutation(MutationKind::kWrite, "f");
  late.offset = 100;
  late.data = MakePayload("never acknowledged");
  CrashPrimaryWithALateWrite(pair, std::move(late));
  pair.SetRole(kB, ReplRole::kPrimary);
  pair.Connect();
  // b decides first and renames f on the stream at once: a gets the rename after it decided
  // and issued its digest reads, before they are answered.
  for (int i = 0; i < 100 && pair.Log(kB).find("this node is the source") == std::string::npos;
       ++i) {
    ASSERT_TRUE(pair.Step());
  }
  pair.Submit(kB, MakeMutation(MutationKind::kRename, "f", "renamed"));
  pair.Settle();
  EXPECT_EQ(pair.Difference(), "") << pair.Log(kA) << pair.Log(kB);
  EXPECT_EQ(pair.side(kA).store.live().at("renamed").data.substr(0, kZone), Bytes(kZone, 'x'));
}

}  // namespace
}  // namespace duet
