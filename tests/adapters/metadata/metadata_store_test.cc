// MetadataStore (adapters/metadata/metadata_store.h) on real files: what was appended comes
// back after a reopen; a torn tail is dropped and reported, a corrupt record makes its module
// wait with a reason naming the record and file; compaction keeps the state and bounds the
// file; the state directory is created private, and an unusable one is refused clearly.
#include "adapters/metadata/metadata_store.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/adapters/metadata/temp_files.h"
#include "tests/engine/wire/record_fixtures.h"

namespace duet::metadata {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr uint32_t kZone = kFixtureZoneSize;

std::vector<ModuleSpec> TwoModules() { return {{"web", kZone}, {"db store/é", kZone}}; }

// A few batches that exercise every kind of record, deterministically.
std::vector<std::vector<ReplicaRecord>> SomeBatches(int count) {
  std::vector<std::vector<ReplicaRecord>> batches;
  for (int i = 0; i < count; ++i) {
    std::vector<ReplicaRecord> batch;
    for (int j = 0; j < 3; ++j) {
      const int k = i * 3 + j;
      batch.push_back(MakeFixtureRecord(k % kFixtureRecordTypes, k, k / 2, 7919u * k, 104729u * k));
    }
    batches.push_back(std::move(batch));
  }
  return batches;
}

std::string StateAfter(const std::vector<std::vector<ReplicaRecord>>& batches) {
  ReplicaDurableState s;
  for (const auto& batch : batches) {
    for (const ReplicaRecord& r : batch) ApplyRecord(s, r, kZone);
  }
  return DescribeState(s);
}

Recovered MustOpen(const std::string& dir, StoreOptions options = {}) {
  absl::StatusOr<Recovered> r = MetadataStore::Open(dir, TwoModules(), options);
  EXPECT_TRUE(r.ok()) << r.status();
  return std::move(r).value();
}

TEST(MetadataStoreTest, EverythingAppendedComesBackAfterReopen) {
  TempDir tmp;
  const auto batches = SomeBatches(10);
  const PersistedModule web{7, 1, false, true, true};
  {
    Recovered first = MustOpen(tmp.path());
    EXPECT_EQ(first.persisted.incarnation, 0u);
    EXPECT_THAT(first.persisted.modules, IsEmpty());
    EXPECT_THAT(first.notes, IsEmpty());
    ASSERT_TRUE(first.store->Append(PersistIncarnation{3}).ok());
    ASSERT_TRUE(first.store->Append(Action(PersistModule{0, PersistedModule{6, 0}})).ok());
    for (const auto& batch : batches)
      ASSERT_TRUE(first.store->Append(PersistReplica{1, batch}).ok());
    ASSERT_TRUE(first.store->Append(PersistModule{0, web}).ok());
  }
  Recovered again = MustOpen(tmp.path());
  EXPECT_THAT(again.notes, IsEmpty());
  EXPECT_EQ(again.persisted.incarnation, 3u);
  ASSERT_EQ(again.persisted.modules.count("web"), 1u);
  EXPECT_EQ(again.persisted.modules.at("web"), web);
  EXPECT_EQ(again.persisted.replicas.count("web"), 0u);  // never persisted: starts fresh
  ASSERT_EQ(again.persisted.replicas.count("db store/é"), 1u);
  EXPECT_EQ(DescribeState(again.persisted.replicas.at("db store/é")), StateAfter(batches));
  EXPECT_THAT(again.persisted.problems, IsEmpty());
}

// Appends that must fail fail with a reason, and write nothing.
TEST(MetadataStoreTest, AppendRefusesWhatIsNotItsOwn) {
  TempDir tmp;
  Recovered r = MustOpen(tmp.path());
  EXPECT_EQ(r.store->Append(Action(SetVip{0, true})).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.store->Append(PersistModule{5, {}}).message()),
              HasSubstr("no module with index 5"));
}

// A crash during the last append leaves any prefix of its frame: each is dropped whole (the
// batch is all or nothing), reported, and cut off so the next append follows valid data.
TEST(MetadataStoreTest, ATornLastRecordIsDroppedAtEveryByteOffset) {
  TempDir tmp;
  const auto batches = SomeBatches(4);
  std::string file;
  uint64_t before_last = 0, after_last = 0;
  {
    Recovered r = MustOpen(tmp.path());
    for (size_t i = 0; i < batches.size(); ++i) {
      if (i + 1 == batches.size()) before_last = r.store->FileBytes(1);
      ASSERT_TRUE(r.store->Append(PersistReplica{1, batches[i]}).ok());
    }
    after_last = r.store->FileBytes(1);
    file = tmp.path() + "/" + r.store->FileOf(1);
  }
  const std::vector<uint8_t> full = ReadBytes(file);
  ASSERT_EQ(full.size(), after_last);
  const std::vector<std::vector<ReplicaRecord>> all_but_last(batches.begin(), batches.end() - 1);
  for (uint64_t cut = before_last; cut < after_last; ++cut) {
    WriteBytes(file,
               std::vector<uint8_t>(full.begin(), full.begin() + static_cast<ptrdiff_t>(cut)));
    Recovered r = MustOpen(tmp.path());
    ASSERT_EQ(r.persisted.replicas.count("db store/é"), 1u);
    EXPECT_EQ(DescribeState(r.persisted.replicas.at("db store/é")), StateAfter(all_but_last))
        << "cut at " << cut;
    EXPECT_THAT(r.persisted.problems, IsEmpty()) << "cut at " << cut;
    if (cut == before_last) {
      EXPECT_THAT(r.notes, IsEmpty());
    } else {
      ASSERT_THAT(r.notes, SizeIs(1)) << "cut at " << cut;
      EXPECT_THAT(r.notes[0], HasSubstr("dropped a torn append at the end of " + file));
    }
    EXPECT_EQ(ReadBytes(file).size(), before_last) << "the torn bytes are cut off";
  }
  // And the store goes on after a cut: the next append is read back.
  {
    Recovered r = MustOpen(tmp.path());
    ASSERT_TRUE(r.store->Append(PersistReplica{1, batches.back()}).ok());
  }
  EXPECT_EQ(DescribeState(MustOpen(tmp.path()).persisted.replicas.at("db store/é")),
            StateAfter(batches));
}

// The file grew but the last append's bytes never came (zeros): a torn tail too.
TEST(MetadataStoreTest, AZeroFilledTailIsATornTail) {
  TempDir tmp;
  std::string file;
  {
    Recovered r = MustOpen(tmp.path());
    ASSERT_TRUE(r.store->Append(PersistModule{0, PersistedModule{4, 1}}).ok());
    file = tmp.path() + "/" + r.store->FileOf(0);
  }
  std::vector<uint8_t> bytes = ReadBytes(file);
  const size_t valid = bytes.size();
  bytes.resize(valid + 4096, 0);
  WriteBytes(file, bytes);
  Recovered r = MustOpen(tmp.path());
  EXPECT_EQ(r.persisted.modules.at("web").term, 4u);
  EXPECT_THAT(r.notes, SizeIs(1));
  EXPECT_EQ(ReadBytes(file).size(), valid);
}

struct Corrupted {
  std::string file;
  std::vector<uint8_t> bytes;
  std::vector<uint64_t> frame_starts;  // offset of each frame, in order
};

// Two module records and four batches for "db store/é", one record for "web".
Corrupted WriteThenRead(const std::string& dir) {
  Corrupted c;
  Recovered r = MustOpen(dir);
  EXPECT_TRUE(r.store->Append(PersistModule{0, PersistedModule{2, 0}}).ok());
  for (const auto& batch : SomeBatches(4)) {
    c.frame_starts.push_back(r.store->FileBytes(1));
    EXPECT_TRUE(r.store->Append(PersistReplica{1, batch}).ok());
  }
  c.file = dir + "/" + r.store->FileOf(1);
  c.bytes = ReadBytes(c.file);
  return c;
}

TEST(MetadataStoreTest, AFlippedByteInTheMiddleMakesTheModuleWaitWithTheRecordNamed) {
  TempDir tmp;
  Corrupted c = WriteThenRead(tmp.path());
  c.bytes[c.frame_starts[1] + 30] ^= 0x01;  // inside the second record's payload
  WriteBytes(c.file, c.bytes);
  Recovered r = MustOpen(tmp.path());
  ASSERT_EQ(r.persisted.problems.count("db store/é"), 1u);
  EXPECT_EQ(r.persisted.problems.at("db store/é"),
            absl::StrCat("metadata frame 2 at offset ", c.frame_starts[1], " of ", c.file,
                         " is corrupt (its checksum does not match, and a valid frame follows "
                         "at offset ",
                         c.frame_starts[2], ")"));
  // Never a guess: no partial state for it, and the other module is unaffected.
  EXPECT_EQ(r.persisted.replicas.count("db store/é"), 0u);
  EXPECT_EQ(r.persisted.modules.at("web").term, 2u);
  EXPECT_THAT(r.notes, SizeIs(1));
  // Its file is kept as it was, for the admin, and never written.
  EXPECT_EQ(r.store->Append(PersistReplica{1, {record::SetOutdated{true}}}).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadBytes(c.file), c.bytes);
  EXPECT_TRUE(r.store->Append(PersistModule{0, PersistedModule{3, 0}}).ok());
}

TEST(MetadataStoreTest, ADamagedLengthFieldIsCorruptionNotATornTail) {
  TempDir tmp;
  Corrupted c = WriteThenRead(tmp.path());
  c.bytes[c.frame_starts[2] + 1] ^= 0x40;
  WriteBytes(c.file, c.bytes);
  Recovered r = MustOpen(tmp.path());
  EXPECT_EQ(r.persisted.problems.at("db store/é"),
            absl::StrCat("metadata frame 3 at offset ", c.frame_starts[2], " of ", c.file,
                         " is corrupt (its length field is damaged, and a valid frame follows "
                         "at offset ",
                         c.frame_starts[3], ")"));
}

// A complete last frame whose bytes changed reads as a torn tail: a crash can leave one so
// (a middle page of the append never written), and nothing in the file tells the two apart.
TEST(MetadataStoreTest, ADamagedLastRecordIsDroppedAsATornTail) {
  TempDir tmp;
  Corrupted c = WriteThenRead(tmp.path());
  c.bytes[c.bytes.size() - 3] ^= 0x10;
  WriteBytes(c.file, c.bytes);
  Recovered r = MustOpen(tmp.path());
  EXPECT_THAT(r.persisted.problems, IsEmpty());
  const auto batches = SomeBatches(4);
  EXPECT_EQ(DescribeState(r.persisted.replicas.at("db store/é")),
            StateAfter({batches.begin(), batches.end() - 1}));
  ASSERT_THAT(r.notes, SizeIs(1));
  EXPECT_THAT(r.notes[0], HasSubstr("dropped a torn append at the end of " + c.file));
  EXPECT_EQ(ReadBytes(c.file).size(), c.frame_starts[3]);
}

TEST(MetadataStoreTest, ACorruptNodeFileStopsOpenWithTheReason) {
  TempDir tmp;
  {
    Recovered r = MustOpen(tmp.path());
    ASSERT_TRUE(r.store->Append(PersistIncarnation{1}).ok());
    ASSERT_TRUE(r.store->Append(PersistIncarnation{2}).ok());
  }
  const std::string file = tmp.path() + "/metadata/node.log";
  std::vector<uint8_t> bytes = ReadBytes(file);
  bytes[8 + 20] ^= 0xff;
  WriteBytes(file, bytes);
  absl::StatusOr<Recovered> r = MetadataStore::Open(tmp.path(), TwoModules());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("metadata frame 1 at offset 8 of " + file));
}

// Group commit: each run of consecutive Persist actions for one file is one frame and one
// fdatasync.
TEST(MetadataStoreTest, AGroupIsOneFramePerRunOfOneFileAndComesBackAfterReopen) {
  TempDir tmp;
  const auto batches = SomeBatches(3);
  {
    Recovered r = MustOpen(tmp.path());
    const uint64_t web_before = r.store->FileBytes(0), db_before = r.store->FileBytes(1);
    const std::vector<Action> group = {
        PersistModule{0, PersistedModule{5, 1}}, PersistIncarnation{9},
        PersistReplica{1, batches[0]},           PersistReplica{1, batches[1]},
        PersistModule{1, PersistedModule{6, 0}}, PersistReplica{1, batches[2]},
    };
    ASSERT_TRUE(r.store->AppendGroup(group).ok());
    // "web" got a plain frame of one record; "db store/é" one batch frame of four records.
    EXPECT_EQ(r.store->FileBytes(0) - web_before,
              kFrameHeaderBytes + wire::EncodeRecord(PersistedModule{5, 1}).size());
    uint64_t db_payload = 0;
    for (const auto& batch : batches) db_payload += 4 + wire::EncodeRecord(batch).size();
    db_payload += 4 + wire::EncodeRecord(PersistedModule{6, 0}).size();
    EXPECT_EQ(r.store->FileBytes(1) - db_before, kFrameHeaderBytes + db_payload);
  }
  Recovered r = MustOpen(tmp.path());
  EXPECT_EQ(r.persisted.incarnation, 9u);
  EXPECT_EQ(r.persisted.modules.at("web").term, 5u);
  EXPECT_EQ(r.persisted.modules.at("db store/é").term, 6u);
  EXPECT_EQ(DescribeState(r.persisted.replicas.at("db store/é")), StateAfter(batches));
  EXPECT_THAT(r.notes, IsEmpty());
}

// A file's actions split by another file's are separate frames, synced in the given order,
// so a crash keeps a prefix of the actions, as when they were appended one by one (C4).
TEST(MetadataStoreTest, AGroupKeepsTheOrderAcrossFilesWithAFramePerRun) {
  TempDir tmp;
  const auto batches = SomeBatches(2);
  Recovered r = MustOpen(tmp.path());
  const uint64_t db_before = r.store->FileBytes(1);
  const std::vector<Action> group = {PersistReplica{1, batches[0]},
                                     PersistModule{0, PersistedModule{5, 1}},
                                     PersistReplica{1, batches[1]}};
  ASSERT_TRUE(r.store->AppendGroup(group).ok());
  EXPECT_EQ(r.store->FileBytes(1) - db_before, 2 * kFrameHeaderBytes +
                                                   wire::EncodeRecord(batches[0]).size() +
                                                   wire::EncodeRecord(batches[1]).size());
}

// A crash in a group's append leaves any prefix of the file's frame: the whole group's share
// of that file is dropped, never some of its actions.
TEST(MetadataStoreTest, AGroupCutAtEveryByteIsRecoveredAllOrNothing) {
  TempDir tmp;
  const auto batches = SomeBatches(5);
  uint64_t before = 0, after = 0;
  std::string file;
  {
    Recovered r = MustOpen(tmp.path());
    ASSERT_TRUE(r.store->Append(PersistReplica{1, batches[0]}).ok());
    before = r.store->FileBytes(1);
    std::vector<Action> group;
    for (size_t i = 1; i < batches.size(); ++i) group.push_back(PersistReplica{1, batches[i]});
    ASSERT_TRUE(r.store->AppendGroup(group).ok());
    after = r.store->FileBytes(1);
    file = tmp.path() + "/" + r.store->FileOf(1);
  }
  const std::vector<uint8_t> full = ReadBytes(file);
  for (uint64_t cut = before + 1; cut < after; cut += 7) {
    WriteBytes(file,
               std::vector<uint8_t>(full.begin(), full.begin() + static_cast<ptrdiff_t>(cut)));
    Recovered r = MustOpen(tmp.path());
    EXPECT_THAT(r.persisted.problems, IsEmpty()) << "cut at " << cut;
    EXPECT_EQ(DescribeState(r.persisted.replicas.at("db store/é")), StateAfter({batches[0]}))
        << "cut at " << cut;
  }
}

TEST(MetadataStoreTest, AGroupWithARefusedActionWritesNothing) {
  TempDir tmp;
  Recovered r = MustOpen(tmp.path());
  const uint64_t web = r.store->FileBytes(0);
  const std::vector<Action> group = {PersistModule{0, PersistedModule{5, 1}},
                                     PersistModule{7, PersistedModule{5, 1}}};
  EXPECT_EQ(r.store->AppendGroup(group).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.store->FileBytes(0), web);
  const std::vector<Action> not_persist = {PersistModule{0, PersistedModule{5, 1}},
                                           LogEvent{0, "x"}};
  EXPECT_EQ(r.store->AppendGroup(not_persist).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.store->FileBytes(0), web);
  // Neither refusal is a failed append: the store goes on.
  EXPECT_TRUE(r.store->AppendGroup({group.begin(), 1}).ok());
}

TEST(MetadataStoreTest, CompactionBoundsTheFileAndKeepsTheState) {
  TempDir tmp;
  const StoreOptions options{.compact_bytes = 8 << 10};
  const auto batches = SomeBatches(3000);
  uint64_t largest = 0;
  {
    Recovered r = MustOpen(tmp.path(), options);
    for (size_t i = 0; i < batches.size(); ++i) {
      ASSERT_TRUE(r.store->Append(PersistReplica{1, batches[i]}).ok());
      if (i % 100 == 0) {
        ASSERT_TRUE(r.store->Append(PersistModule{1, PersistedModule{i, 1}}).ok());
      }
      largest = std::max(largest, r.store->FileBytes(1));
    }
  }
  // Far less than what was appended (about 3000 frames of 3 records).
  EXPECT_LT(largest, 64u << 10);
  Recovered r = MustOpen(tmp.path(), options);
  EXPECT_THAT(r.notes, IsEmpty());
  EXPECT_EQ(DescribeState(r.persisted.replicas.at("db store/é")), StateAfter(batches));
  EXPECT_EQ(r.persisted.modules.at("db store/é").term, 2900u);
}

TEST(MetadataStoreTest, ExplicitCompactionThenReopenKeepsEverything) {
  TempDir tmp;
  const auto batches = SomeBatches(50);
  {
    Recovered r = MustOpen(tmp.path());
    ASSERT_TRUE(r.store->Append(PersistModule{1, PersistedModule{9, 1, true}}).ok());
    for (const auto& batch : batches) ASSERT_TRUE(r.store->Append(PersistReplica{1, batch}).ok());
    const uint64_t before = r.store->FileBytes(1);
    ASSERT_TRUE(r.store->Compact(1).ok());
    EXPECT_LT(r.store->FileBytes(1), before);
  }
  Recovered r = MustOpen(tmp.path());
  EXPECT_EQ(DescribeState(r.persisted.replicas.at("db store/é")), StateAfter(batches));
  EXPECT_EQ(r.persisted.modules.at("db store/é"), (PersistedModule{9, 1, true}));
}

TEST(MetadataStoreTest, AMissingStateDirIsCreatedPrivate) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/var/lib/duet";
  ::umask(022);
  MustOpen(dir);
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(::stat((dir + "/metadata").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST(MetadataStoreTest, AStateDirThatIsAFileIsRefused) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/state";
  WriteBytes(dir, {'x'});
  absl::StatusOr<Recovered> r = MetadataStore::Open(dir, TwoModules());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(dir + " exists and is not a directory"));
}

// Root writes through permission bits, so the unwritable place is a read-only mount (the
// tests run as root, as CI does; without root this fails, as it should).
TEST(MetadataStoreTest, AStateDirOnAReadOnlyFileSystemIsRefused) {
  TempDir tmp;
  const std::string mount_point = tmp.path() + "/ro";
  ASSERT_EQ(::mkdir(mount_point.c_str(), 0755), 0);
  ASSERT_EQ(::mount("tmpfs", mount_point.c_str(), "tmpfs", MS_RDONLY, nullptr), 0)
      << "mounting a read-only tmpfs needs root: " << std::strerror(errno);
  absl::StatusOr<Recovered> r = MetadataStore::Open(mount_point + "/state", TwoModules());
  ::umount(mount_point.c_str());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("creating directory " + mount_point + "/state: Read-only file system"));
}

}  // namespace
}  // namespace duet::metadata
