// MemStore: the simulated backing directory, its durability and its disk faults.
#include "sim/mem_store.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/rng.h"

namespace duet::sim {
namespace {

constexpr uint64_t kPage = FileData::kPageSize;

Mutation Write(const std::string& path, uint64_t offset, std::string bytes) {
  Mutation m = MakeMutation(MutationKind::kWrite, path);
  m.offset = offset;
  m.data = MakePayload(std::move(bytes));
  return m;
}

Mutation Truncate(const std::string& path, uint64_t size) {
  Mutation m = MakeMutation(MutationKind::kTruncate, path);
  m.offset = size;
  return m;
}

Mutation Setattr(const std::string& path, uint32_t mode) {
  Mutation m = MakeMutation(MutationKind::kSetattr, path);
  m.attr_mask = kAttrMode | kAttrMtime;
  m.mode = mode;
  m.mtime_ns = 42;
  return m;
}

std::string Pages(uint64_t count, char c) { return std::string(count * kPage, c); }

// Applies mutations that must succeed.
void Do(MemStore& store, std::initializer_list<Mutation> mutations) {
  for (const Mutation& m : mutations) {
    ASSERT_EQ(store.Apply(m), absl::OkStatus()) << MutationKindName(m.kind) << " " << m.path;
  }
}

TEST(MemStoreTest, WritesExtendWithZerosAndReadBack) {
  MemStore store;
  Do(store, {Write("f", 5, "abc"), Write("f", 2 * kPage + 1, "z")});
  const FileData& data = store.live().at("f").data;
  EXPECT_EQ(data.size(), 2 * kPage + 2);
  EXPECT_EQ(data.substr(0, 9), std::string("\0\0\0\0\0abc\0", 9));
  EXPECT_EQ(store.used_bytes(), 2 * kPage);  // page 1 is a hole
  const ZoneRead r = store.Read(3, 7, "f", 4, 3);
  EXPECT_EQ(r.kind, PathKind::kFile);
  EXPECT_EQ(r.file_size, 2 * kPage + 2);
  EXPECT_EQ(*r.data, std::string("\0ab", 3));
  EXPECT_EQ(*store.Read(3, 8, "f", 3 * kPage, 10).data, "");
  EXPECT_EQ(store.Read(3, 9, "g", 0, 10).kind, PathKind::kAbsent);
}

// As the real store (SEEK_DATA): a zone read as a hole says where the file's data resumes,
// or its size if none follows.
TEST(MemStoreTest, ReadOfAHoleSaysWhereTheHoleEnds) {
  MemStore store;
  Do(store, {Write("f", 0, "a"), Write("f", 5 * kPage + 3, "b")});
  Mutation grow = MakeMutation(MutationKind::kTruncate, "f");
  grow.offset = 9 * kPage;
  Do(store, {grow});
  const ZoneRead hole = store.Read(3, 7, "f", kPage, kPage);
  ASSERT_TRUE(hole.hole);
  EXPECT_EQ(hole.hole_end, 5 * kPage);
  const ZoneRead tail = store.Read(3, 8, "f", 6 * kPage, kPage);
  ASSERT_TRUE(tail.hole);
  EXPECT_EQ(tail.hole_end, 9 * kPage);
  EXPECT_EQ(store.Read(3, 9, "f", 5 * kPage, kPage).hole_end, 0u);
}

TEST(MemStoreTest, ApplyIsIdempotent) {
  MemStore store;
  Do(store,
     {Write("f", 0, "keep"), MakeMutation(MutationKind::kCreate, "f"),
      MakeMutation(MutationKind::kMkdir, "d"), MakeMutation(MutationKind::kMkdir, "d"),
      MakeMutation(MutationKind::kUnlink, "gone"), MakeMutation(MutationKind::kRmdir, "gone"),
      MakeMutation(MutationKind::kRemoveTree, "gone")});
  EXPECT_EQ(store.live().at("f").data, "keep");
  EXPECT_EQ(store.Apply(MakeMutation(MutationKind::kRename, "gone", "x")).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store.Apply(Setattr("gone", 0600)).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store.Apply(Write("d", 0, "x")).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.live().size(), 2u);
}

TEST(MemStoreTest, SymlinksHoldTheirTargetAndLinksCopy) {
  MemStore store;
  Do(store, {Write("f", 0, "data"), MakeMutation(MutationKind::kSymlink, "s", "/etc/hosts"),
             MakeMutation(MutationKind::kLink, "f", "h"), Write("h", 0, "H")});
  EXPECT_EQ(store.live().at("s").kind, PathKind::kSymlink);
  EXPECT_EQ(store.live().at("s").data, "/etc/hosts");
  EXPECT_EQ(store.Read(0, 1, "s", 0, 0).link_target, "/etc/hosts");
  EXPECT_EQ(store.live().at("f").data, "data");
  EXPECT_EQ(store.live().at("h").data, "Hata");
}

TEST(MemStoreTest, SyncMakesOnlyThatPathDurable) {
  MemStore store;
  Do(store, {Write("a", 0, "A"), Write("b", 0, "B"), Setattr("a", 0600)});
  ASSERT_EQ(store.Sync("a"), absl::OkStatus());
  EXPECT_EQ(store.durable().at("a").data, "A");
  EXPECT_EQ(store.durable().at("a").mode, 0600u);
  EXPECT_FALSE(store.durable().contains("b"));
  ASSERT_EQ(store.Apply(MakeMutation(MutationKind::kFsync, "")), absl::OkStatus());
  EXPECT_EQ(store.durable(), store.live());
}

TEST(MemStoreTest, FsyncOfANewNameLeavesTheOldNameDurable) {
  MemStore store;
  Do(store,
     {Write("a", 0, "A"), MakeMutation(MutationKind::kFsync, ""),
      MakeMutation(MutationKind::kRename, "a", "b"), MakeMutation(MutationKind::kFsync, "b")});
  EXPECT_EQ(store.durable().at("a").data, "A");
  EXPECT_EQ(store.durable().at("b").data, "A");
  ASSERT_EQ(store.Sync("a"), absl::OkStatus());
  EXPECT_EQ(store.durable(), store.live());
}

TEST(MemStoreTest, CrashLosesUnsyncedWrites) {
  MemStore store;
  Do(store, {Write("f", 0, Pages(2, 'o')), MakeMutation(MutationKind::kMkdir, "d"),
             MakeMutation(MutationKind::kFsync, "")});
  Do(store, {Write("f", kPage - 1, "new"), Truncate("f", kPage + 5), Write("g", 0, "g"),
             MakeMutation(MutationKind::kRename, "d", "e"), Setattr("f", 0600)});
  store.Crash();
  EXPECT_EQ(store.live().at("f").data, Pages(2, 'o'));
  EXPECT_EQ(store.live().at("f").mode, 0644u);
  EXPECT_TRUE(store.live().contains("d"));
  EXPECT_FALSE(store.live().contains("e"));
  EXPECT_FALSE(store.live().contains("g"));
  EXPECT_EQ(store.live(), store.durable());
  EXPECT_EQ(store.used_bytes(), 2 * kPage);
}

TEST(MemStoreTest, TruncatedPagesStayZerosAfterSyncAndCrash) {
  MemStore store;
  Do(store, {Write("f", 0, Pages(3, 'a')), MakeMutation(MutationKind::kFsync, "")});
  Do(store, {Truncate("f", 100), Truncate("f", 3 * kPage), Write("f", 2 * kPage, "b"),
             MakeMutation(MutationKind::kFsync, "f")});
  store.Crash();
  const std::string expected = std::string(100, 'a') + std::string(2 * kPage - 100, '\0') + "b" +
                               std::string(kPage - 1, '\0');
  EXPECT_EQ(store.live().at("f").data, expected);
  EXPECT_EQ(store.used_bytes(), 2 * kPage);
}

TEST(MemStoreTest, RenameOfDirectoryMovesEverythingUnderIt) {
  MemStore store;
  Do(store, {MakeMutation(MutationKind::kMkdir, "d"), MakeMutation(MutationKind::kMkdir, "d/e"),
             Write("d/f", 0, "f"), Write("d/e/g", 0, "g"), Write("d2", 0, "sibling"),
             Write("d.x", 0, "sibling"), MakeMutation(MutationKind::kMkdir, "x"),
             MakeMutation(MutationKind::kFsync, "")});
  Do(store, {Write("d/f", 1, "F"), MakeMutation(MutationKind::kRename, "d", "x")});
  MemStore::Tree expected;
  for (const char* path : {"x", "x/e"}) {
    expected[path].kind = PathKind::kDirectory;
    expected[path].mode = 0;  // as the mkdir said
  }
  expected["x/f"].data = FileData("fF");
  expected["x/e/g"].data = FileData("g");
  expected["d2"].data = FileData("sibling");
  expected["d.x"].data = FileData("sibling");
  EXPECT_EQ(DescribeDifference(store.live(), expected), "");
  // Syncing everything makes both the old names' absence and the new names durable.
  ASSERT_EQ(store.Sync(""), absl::OkStatus());
  EXPECT_EQ(DescribeDifference(store.durable(), expected), "");
  // A rename into a directory of its own is refused (EINVAL), as renameat2 refuses it.
  EXPECT_EQ(store.Apply(MakeMutation(MutationKind::kRename, "x", "x/e/y")).code(),
            absl::StatusCode::kInvalidArgument);
  store.Crash();
  EXPECT_EQ(DescribeDifference(store.live(), expected), "");
}

TEST(MemStoreTest, SyncfsCostDoesNotCopyUnchangedFiles) {
  MemStore store;
  for (int i = 0; i < 50; ++i) Do(store, {Write("f" + std::to_string(i), 0, Pages(16, 'x'))});
  ASSERT_EQ(store.Sync(""), absl::OkStatus());
  EXPECT_EQ(store.synced_pages_ForTest(), 50u * 16u);
  // The durable view shares the live pages: nothing was copied.
  for (uint64_t i = 0; i < 16; ++i) {
    EXPECT_EQ(store.live().at("f7").data.page(i), store.durable().at("f7").data.page(i));
  }
  Do(store, {Write("f7", 3 * kPage + 10, "y"), Write("f7", 3 * kPage + 20, "z")});
  EXPECT_NE(store.live().at("f7").data.page(3), store.durable().at("f7").data.page(3));
  ASSERT_EQ(store.Sync(""), absl::OkStatus());
  EXPECT_EQ(store.synced_pages_ForTest(), 50u * 16u + 1);  // one page: the one written
  EXPECT_EQ(store.live().at("f7").data.page(3), store.durable().at("f7").data.page(3));
  EXPECT_EQ(store.durable().at("f7").data.substr(3 * kPage + 10, 11), "yxxxxxxxxxz");
  ASSERT_EQ(store.Sync(""), absl::OkStatus());
  ASSERT_EQ(store.Sync("f7"), absl::OkStatus());
  EXPECT_EQ(store.synced_pages_ForTest(), 50u * 16u + 1);  // nothing changed since
}

TEST(MemStoreTest, ComparingStoresIsExact) {
  MemStore a;
  MemStore b;
  for (MemStore* s : {&a, &b}) Do(*s, {Write("f", 0, Pages(3, 'x')), Write("g", 0, "g")});
  EXPECT_EQ(a.live(), b.live());
  EXPECT_EQ(DescribeDifference(a.live(), b.live()), "");
  Do(b, {Write("f", 2 * kPage + 7, "y"), Write("h", 0, "h")});
  EXPECT_EQ(DescribeDifference(a.live(), b.live()),
            "differs: f (sizes 12288 vs 12288, kinds 1 vs 1, modes 420 vs 420, first differing "
            "byte 8199)\nonly in second: h\n");
}

// The tree a torn crash starts from: a file of 8 pages of 'o' made durable, then rewritten
// with 'n' and grown to 10 pages, with its mode changed; and namespace changes.
MemStore TornCrashFixture() {
  MemStore store;
  Do(store, {Write("f", 0, Pages(8, 'o')), Write("moved", 0, "m"),
             MakeMutation(MutationKind::kFsync, "")});
  Do(store, {Write("f", 0, Pages(10, 'n')), Setattr("f", 0600), Write("created", 0, "c"),
             MakeMutation(MutationKind::kRename, "moved", "elsewhere")});
  return store;
}

TEST(MemStoreTest, TornCrashKeepsEachPageOldOrNew) {
  int old_pages = 0;
  int new_pages = 0;
  int old_sizes = 0;
  int new_sizes = 0;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    MemStore store = TornCrashFixture();
    Rng rng(seed);
    store.CrashTearingWrites(rng);
    const MemStore::Entry& f = store.live().at("f");
    ASSERT_TRUE(f.data.size() == 8 * kPage || f.data.size() == 10 * kPage) << f.data.size();
    const bool grew = f.data.size() == 10 * kPage;
    (grew ? new_sizes : old_sizes)++;
    EXPECT_EQ(f.mode, grew ? 0600u : 0644u);  // the inode is old or new as a whole
    for (uint64_t i = 0; i < f.data.page_count(); ++i) {
      const std::string page = f.data.substr(i * kPage, kPage);
      const std::string old_page = i < 8 ? Pages(1, 'o') : Pages(1, '\0');
      if (page == old_page) {
        ++old_pages;
      } else {
        EXPECT_EQ(page, Pages(1, 'n')) << "seed " << seed << " page " << i;
        ++new_pages;
      }
    }
    // Namespace changes not synced are lost.
    EXPECT_FALSE(store.live().contains("created"));
    EXPECT_FALSE(store.live().contains("elsewhere"));
    EXPECT_EQ(store.live().at("moved").data, "m");
    // What the crash left is on the disk.
    EXPECT_EQ(store.live(), store.durable());
    EXPECT_EQ(store.used_bytes(), f.data.allocated_pages() * kPage + kPage);
  }
  EXPECT_GT(old_pages, 0);
  EXPECT_GT(new_pages, 0);
  EXPECT_GT(old_sizes, 0);
  EXPECT_GT(new_sizes, 0);
}

TEST(MemStoreTest, TornCrashIsDeterministicInTheRng) {
  for (uint64_t seed = 0; seed < 8; ++seed) {
    MemStore a = TornCrashFixture();
    MemStore b = TornCrashFixture();
    Rng rng_a(seed);
    Rng rng_b(seed);
    a.CrashTearingWrites(rng_a);
    b.CrashTearingWrites(rng_b);
    EXPECT_EQ(a.live(), b.live()) << seed;
  }
}

TEST(MemStoreTest, TornCrashLeavesSyncedFilesWhole) {
  MemStore store = TornCrashFixture();
  ASSERT_EQ(store.Sync("f"), absl::OkStatus());
  Rng rng(1);
  store.CrashTearingWrites(rng);
  EXPECT_EQ(store.live().at("f").data, Pages(10, 'n'));
}

TEST(MemStoreTest, FailedFsyncNeverMakesThoseWritesDurable) {
  MemStore store;
  Do(store, {Write("f", 0, Pages(4, 'o')), MakeMutation(MutationKind::kFsync, "")});
  Do(store, {Write("f", 0, Pages(4, 'n')), Write("new", 0, Pages(1, 'w'))});
  store.set_sync_failure(true);
  const absl::Status failed = store.Apply(MakeMutation(MutationKind::kFsync, "f"));
  EXPECT_EQ(failed.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(failed.message().find("EIO"), std::string::npos) << failed;
  EXPECT_EQ(store.Sync("").code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(store.durable().at("f").data, Pages(4, 'o'));  // nothing became durable
  EXPECT_FALSE(store.durable().contains("new"));
  // Until a crash, the failed writes are still what is read.
  EXPECT_EQ(store.live().at("f").data, Pages(4, 'n'));
  store.set_sync_failure(false);
  Do(store, {Write("f", kPage + 1, "r")});  // page 1 written again after the failure
  ASSERT_EQ(store.Sync(""), absl::OkStatus());
  ASSERT_EQ(store.Sync("f"), absl::OkStatus());
  store.Crash();
  std::string page1 = Pages(1, 'n');
  page1[1] = 'r';
  EXPECT_EQ(store.live().at("f").data, Pages(1, 'o') + page1 + Pages(2, 'o'));
  // The new file's name and size became durable with the later sync; its data did not.
  EXPECT_EQ(store.live().at("new").data, Pages(1, '\0'));
}

TEST(MemStoreTest, TornCrashNeverRevealsAFailedPage) {
  for (uint64_t seed = 0; seed < 16; ++seed) {
    MemStore store;
    Do(store, {Write("f", 0, Pages(4, 'o')), MakeMutation(MutationKind::kFsync, "")});
    Do(store, {Write("f", 0, Pages(2, 'n'))});
    store.set_sync_failure(true);
    EXPECT_EQ(store.Sync("f").code(), absl::StatusCode::kDataLoss);
    store.set_sync_failure(false);
    Do(store, {Setattr("f", 0600)});
    Rng rng(seed);
    store.CrashTearingWrites(rng);
    EXPECT_EQ(store.live().at("f").data, Pages(4, 'o')) << seed;
  }
}

TEST(MemStoreTest, FullDiskRejectsWritesUntilSpaceIsFreed) {
  MemStore store;
  store.set_capacity(4 * kPage);
  Do(store, {Write("a", 0, Pages(3, 'a'))});
  const absl::Status full = store.Apply(Write("b", 0, Pages(2, 'b')));
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(full.message().find("ENOSPC"), std::string::npos) << full;
  EXPECT_FALSE(store.live().contains("b"));  // nothing changed
  EXPECT_EQ(store.Apply(Write("a", 2 * kPage + 1, Pages(2, 'A'))).code(),
            absl::StatusCode::kResourceExhausted);  // it would spill into a fourth and a fifth page
  EXPECT_EQ(store.live().at("a").data, Pages(3, 'a'));
  EXPECT_EQ(store.used_bytes(), 3 * kPage);
  // Overwrites, metadata and truncates take no new space.
  Do(store,
     {Write("a", 0, Pages(3, 'A')), MakeMutation(MutationKind::kCreate, "c"),
      MakeMutation(MutationKind::kMkdir, "d"), MakeMutation(MutationKind::kRename, "a", "d/a"),
      Truncate("c", 1 << 30), MakeMutation(MutationKind::kSymlink, "s", "d/a")});
  Do(store, {Write("b", 0, Pages(1, 'b'))});  // the last page
  EXPECT_EQ(store.used_bytes(), 4 * kPage);
  EXPECT_EQ(store.Apply(Write("c", 0, "c")).code(), absl::StatusCode::kResourceExhausted);
  // Freeing space lets writes through again.
  Do(store, {Truncate("d/a", kPage)});
  Do(store, {Write("c", 0, "c"), Write("b", kPage, "b")});
  EXPECT_EQ(store.used_bytes(), 4 * kPage);
  EXPECT_EQ(store.Apply(Write("e", 0, "e")).code(), absl::StatusCode::kResourceExhausted);
  Do(store, {MakeMutation(MutationKind::kUnlink, "c")});
  Do(store, {Write("e", 0, "e")});
  store.set_capacity(MemStore::kUnlimited);
  Do(store, {Write("e", 0, Pages(100, 'e'))});
  EXPECT_EQ(store.used_bytes(), 103 * kPage);
}

// A failed change is a refusal (engine/inputs.h): decided before anything changed, so the
// engine may take a copy that refused a write for one that never had it.
TEST(MemStoreTest, AWriteRefusedForWantOfSpaceOrAHugeTruncateChangesNothing) {
  MemStore store;
  Do(store, {Write("f", 0, Pages(2, 'f'))});
  ASSERT_TRUE(store.Sync("").ok());
  store.set_capacity(store.used_bytes());
  const MemStore::Tree before = store.live();
  const absl::Status full = store.Apply(Write("f", kPage, Pages(3, 'g')));  // needs a third
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(IsRefusal(full)) << full;
  const absl::Status huge = store.Apply(Truncate("f", MemStore::kMaxFileSize + 1));
  EXPECT_EQ(huge.code(), absl::StatusCode::kOutOfRange);
  EXPECT_NE(huge.message().find("EFBIG"), std::string::npos) << huge;
  EXPECT_TRUE(IsRefusal(huge));
  EXPECT_TRUE(IsRefusal(store.Apply(MakeMutation(MutationKind::kRename, "missing", "g"))));
  EXPECT_EQ(DescribeDifference(store.live(), before), "");
  store.Crash();  // and nothing unsynced either
  EXPECT_EQ(DescribeDifference(store.live(), before), "");
  // A failed sync is no refusal: it may have lost pages.
  store.set_sync_failure(true);
  EXPECT_FALSE(IsRefusal(store.Apply(MakeMutation(MutationKind::kFsync, ""))));
}

}  // namespace
}  // namespace duet::sim
