// The metadata record codec (engine/wire/record_codec.h): every record a node persists
// survives encode/decode unchanged, and bytes that are not a valid record (torn, flipped,
// forged) are refused with an error saying what is wrong, never decoded into a guess.
#include "engine/wire/record_codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/wire/duet_generated.h"
#include "engine/wire/records_generated.h"
#include "flatbuffers/flatbuffers.h"
#include "tests/engine/wire/record_fixtures.h"

namespace duet::wire {
namespace {

using ::testing::HasSubstr;

// Equal batches rebuild equal states; the state's description covers every field.
std::string Applied(const ReplicaBatch& batch) {
  ReplicaDurableState s;
  for (const ReplicaRecord& r : batch) ApplyRecord(s, r, kFixtureZoneSize);
  return DescribeState(s);
}

TEST(RecordCodecTest, ModuleRecordRoundTrips) {
  const PersistedModule module{42, 1, true, true, true};
  absl::StatusOr<StoredRecord> decoded = DecodeRecord(EncodeRecord(module));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(std::get<PersistedModule>(*decoded), module);
}

TEST(RecordCodecTest, IncarnationRoundTrips) {
  absl::StatusOr<StoredRecord> decoded = DecodeRecord(EncodeRecord(PersistIncarnation{7}));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(std::get<PersistIncarnation>(*decoded).incarnation, 7u);
}

TEST(RecordCodecTest, EveryReplicaRecordTypeRoundTrips) {
  ReplicaBatch batch;
  for (int type = 0; type < kFixtureRecordTypes; ++type) {
    batch.push_back(MakeFixtureRecord(type, type, type + 1, 1000 + type, 7 * type));
  }
  absl::StatusOr<StoredRecord> decoded = DecodeRecord(EncodeRecord(batch));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  const ReplicaBatch& out = std::get<ReplicaBatch>(*decoded);
  ASSERT_EQ(out.size(), batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ(out[i].index(), batch[i].index()) << "record " << i;
    EXPECT_EQ(Applied({out[i]}), Applied({batch[i]})) << "record " << i;
  }
}

TEST(RecordCodecTest, AnEmptyBatchRoundTrips) {
  absl::StatusOr<StoredRecord> decoded = DecodeRecord(EncodeRecord(ReplicaBatch{}));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(std::get<ReplicaBatch>(*decoded).empty());
}

RC_GTEST_PROP(RecordCodecProperty, RandomBatchesDecodeToWhatWasEncoded, ()) {
  const auto batch = *rc::gen::container<ReplicaBatch>(GenReplicaRecord());
  absl::StatusOr<StoredRecord> decoded = DecodeRecord(EncodeRecord(batch));
  RC_ASSERT(decoded.ok());
  const ReplicaBatch& out = std::get<ReplicaBatch>(*decoded);
  RC_ASSERT(out.size() == batch.size());
  for (size_t i = 0; i < batch.size(); ++i) RC_ASSERT(out[i].index() == batch[i].index());
  RC_ASSERT(Applied(out) == Applied(batch));
}

// A record cut short anywhere (a torn write the store's checksum missed) never decodes.
TEST(RecordCodecTest, EveryTruncationIsRefused) {
  const std::vector<uint8_t> bytes =
      EncodeRecord(ReplicaBatch{record::MarkDirty{"dir/file", 3, 9},
                                record::Journal{MakeMutation(MutationKind::kRename, "a", "b")}});
  for (size_t size = 0; size < bytes.size(); ++size) {
    absl::StatusOr<StoredRecord> decoded =
        DecodeRecord(std::span<const uint8_t>(bytes.data(), size));
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << "size " << size;
  }
}

// Flipping any single byte either still decodes (a value changed) or is refused; it never
// crashes or reads out of bounds (the sanitizers watch).
TEST(RecordCodecTest, FlippedBytesAreRefusedOrDecodeSafely) {
  const std::vector<uint8_t> original = EncodeRecord(
      ReplicaBatch{record::SetGenerations{Generations{5, 3, {3, 2}}}, record::HotAdd{"x", 4},
                   record::Journal{MakeMutation(MutationKind::kSymlink, "l", "/abs/target")}});
  int refused = 0;
  for (size_t i = 0; i < original.size(); ++i) {
    std::vector<uint8_t> bytes = original;
    bytes[i] ^= 0x5a;
    absl::StatusOr<StoredRecord> decoded = DecodeRecord(bytes);
    if (!decoded.ok()) {
      EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);
}

TEST(RecordCodecTest, WrongIdentifierIsRefused) {
  std::vector<uint8_t> bytes = EncodeRecord(PersistIncarnation{1});
  bytes[8] = 'X';
  EXPECT_THAT(std::string(DecodeRecord(bytes).status().message()), HasSubstr("DREC"));
}

TEST(RecordCodecTest, OversizedInputIsRefusedBeforeParsing) {
  const std::vector<uint8_t> bytes(kMaxRecordBytes + 1, 0);
  EXPECT_THAT(std::string(DecodeRecord(bytes).status().message()), HasSubstr("exceeds limit"));
}

// Hand-built records that pass the Verifier but break a rule the engine relies on.
std::vector<uint8_t> Finish(flatbuffers::FlatBufferBuilder& b, records::Body type,
                            flatbuffers::Offset<void> body, uint16_t version = kRecordVersion) {
  b.FinishSizePrefixed(records::CreateRecord(b, version, type, body), records::RecordIdentifier());
  return std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

std::vector<uint8_t> BatchOf(flatbuffers::FlatBufferBuilder& b, records::ReplicaBody type,
                             flatbuffers::Offset<void> body, uint16_t version = kRecordVersion) {
  const auto entry = records::CreateReplicaEntry(b, type, body);
  const auto batch = records::CreateReplicaBatch(b, b.CreateVector(&entry, 1));
  return Finish(b, records::Body::ReplicaBatch, batch.Union(), version);
}

// A version-2 record's journal entry (records.fbs JournalMutation), as an older build wrote it.
std::vector<uint8_t> Version2JournalOf(flatbuffers::FlatBufferBuilder& b,
                                       flatbuffers::Offset<records::JournalMutation> m) {
  return BatchOf(b, records::ReplicaBody::Journal, records::CreateJournal(b, m).Union(), 2);
}

std::string ErrorOf(const std::vector<uint8_t>& bytes) {
  absl::StatusOr<StoredRecord> decoded = DecodeRecord(bytes);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(decoded.status().message());
}

// A downgraded build must not guess at what a newer one wrote: the store then keeps the
// module waiting for the admin, as for a corrupt record.
TEST(RecordCodecTest, RecordOfANewerVersionIsRefused) {
  flatbuffers::FlatBufferBuilder b;
  const auto body = records::CreateIncarnation(b, 3).Union();
  EXPECT_THAT(ErrorOf(Finish(b, records::Body::Incarnation, body, kRecordVersion + 1)),
              HasSubstr("record version " + std::to_string(kRecordVersion + 1) +
                        " is newer than this build reads (2 to 3): a newer Duet build wrote it"));
}

TEST(RecordCodecTest, RecordOlderThanTheOldestReadVersionIsRefused) {
  flatbuffers::FlatBufferBuilder b;
  const auto body = records::CreateIncarnation(b, 3).Union();
  EXPECT_THAT(ErrorOf(Finish(b, records::Body::Incarnation, body, kOldestRecordVersion - 1)),
              HasSubstr("record version 1 is older than this build reads (2 to 3)"));
}

// An upgraded node reads the metadata it wrote before: a version-2 batch (journal entries in
// the old table, one zone per hot record) decodes to what that build meant.
TEST(RecordCodecTest, Version2RecordsStillReadAsTheyWereMeant) {
  flatbuffers::FlatBufferBuilder b;
  const auto xattr =
      records::CreateXattr(b, b.CreateString("user.a"), b.CreateVector<uint8_t>({1, 2}));
  const auto replace = records::CreateJournalMutation(b, 14, b.CreateString("d/f"), 0, 0, 0, 0, 0,
                                                      0, 0, 0, 0, 0, b.CreateVector(&xattr, 1));
  const auto exchange =
      records::CreateJournalMutation(b, 6, b.CreateString("a"), b.CreateString("b"), 0, 0, 0, 0, 0,
                                     0, 0, 0, 0, 0, false, 0, 0, kRenameExchange);
  const auto setx = records::CreateJournalMutation(
      b, 12, b.CreateString("f"), 0, 0, 0, 0, 0, 0, 0, 0, b.CreateString("user.v"), kXattrReplace,
      0, false, 0, b.CreateVector<uint8_t>({'v', 'a', 'l'}));
  const auto fifo = records::CreateJournalMutation(b, 15, b.CreateString("p"), 0, 0, 0640, 5, 7, 8,
                                                   6, 0, 0, 0, 0, false, 4);
  const flatbuffers::Offset<records::ReplicaEntry> entries[] = {
      records::CreateReplicaEntry(b, records::ReplicaBody::Journal,
                                  records::CreateJournal(b, replace).Union()),
      records::CreateReplicaEntry(b, records::ReplicaBody::Journal,
                                  records::CreateJournal(b, exchange, true).Union()),
      records::CreateReplicaEntry(b, records::ReplicaBody::Journal,
                                  records::CreateJournal(b, setx).Union()),
      records::CreateReplicaEntry(b, records::ReplicaBody::Journal,
                                  records::CreateJournal(b, fifo).Union()),
      // Version 2 wrote HotAdd and HotRemove without a count: one zone each.
      records::CreateReplicaEntry(
          b, records::ReplicaBody::HotAdd,
          records::CreateHotAdd(b, b.CreateString("f"), 7, /*count=*/1).Union()),
      records::CreateReplicaEntry(
          b, records::ReplicaBody::HotRemove,
          records::CreateHotRemove(b, b.CreateString("f"), 7, /*count=*/1).Union())};
  const auto batch = records::CreateReplicaBatch(b, b.CreateVector(entries, std::size(entries)));
  absl::StatusOr<StoredRecord> decoded =
      DecodeRecord(Finish(b, records::Body::ReplicaBatch, batch.Union(), 2));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  const ReplicaBatch& out = std::get<ReplicaBatch>(*decoded);
  ASSERT_EQ(out.size(), std::size(entries));
  Mutation want_replace = MakeMutation(MutationKind::kReplaceXattrs, "d/f");
  want_replace.xattrs = {{"user.a", "\x01\x02"}};
  Mutation want_exchange = MakeMutation(MutationKind::kRename, "a", "b");
  want_exchange.rename_flags = kRenameExchange;
  Mutation want_setx = MakeMutation(MutationKind::kSetxattr, "f");
  want_setx.xattr_name = "user.v";
  want_setx.xattr_flags = kXattrReplace;
  want_setx.data = MakePayload("val");
  Mutation want_fifo = MakeMutation(MutationKind::kMknod, "p");
  want_fifo.mode = 0640;
  want_fifo.mtime_ns = 5;
  want_fifo.uid = 7;
  want_fifo.gid = 8;
  want_fifo.atime_ns = 6;
  want_fifo.node_kind = PathKind::kFifo;
  const Mutation* want[] = {&want_replace, &want_exchange, &want_setx, &want_fifo};
  for (size_t i = 0; i < std::size(want); ++i) {
    EXPECT_EQ(DescribeMutation(std::get<record::Journal>(out[i]).mutation),
              DescribeMutation(*want[i]))
        << "entry " << i;
  }
  EXPECT_TRUE(std::get<record::Journal>(out[1]).as_is);
  EXPECT_EQ(std::get<record::HotAdd>(out[4]).count, 1u);
  EXPECT_EQ(std::get<record::HotRemove>(out[5]).count, 1u);
  EXPECT_EQ(Applied(out),
            Applied({record::Journal{want_replace}, record::Journal{want_exchange, true},
                     record::Journal{want_setx}, record::Journal{want_fifo}, record::HotAdd{"f", 7},
                     record::HotRemove{"f", 7}}));
}

// Each version's journal entry in its own table: a mix is not a record any build wrote.
TEST(RecordCodecTest, JournalEntryInTheOtherVersionsTableIsRefused) {
  {
    flatbuffers::FlatBufferBuilder b;
    const auto m = records::CreateJournalMutation(b, 4, b.CreateString("f"));
    const auto body = records::CreateJournal(b, m).Union();
    EXPECT_THAT(ErrorOf(BatchOf(b, records::ReplicaBody::Journal, body)),
                HasSubstr("version 3 journal record holds a version 2 mutation"));
  }
  {
    flatbuffers::FlatBufferBuilder b;
    const auto m = fb::CreateMutation(b, fb::MutationKind::Unlink, b.CreateString("f"));
    const auto body = records::CreateJournal(b, 0, false, m).Union();
    EXPECT_THAT(ErrorOf(BatchOf(b, records::ReplicaBody::Journal, body, 2)),
                HasSubstr("version 2 journal record holds a version 3 mutation"));
  }
}

TEST(RecordCodecTest, HotZoneRangesRoundTripAndAnEmptyOrWrappingOneIsRefused) {
  const ReplicaBatch batch = {record::HotAdd{"vm.img", 3, 16384},
                              record::HotRemove{"vm.img", 10, 100}};
  absl::StatusOr<StoredRecord> decoded = DecodeRecord(EncodeRecord(batch));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(Applied(std::get<ReplicaBatch>(*decoded)), Applied(batch));
  for (const auto& [zone, count] : {std::pair<uint64_t, uint64_t>{5, 0}, {~0ull, 2}}) {
    flatbuffers::FlatBufferBuilder b;
    const auto body = records::CreateHotAdd(b, b.CreateString("f"), zone, count).Union();
    EXPECT_THAT(ErrorOf(BatchOf(b, records::ReplicaBody::HotAdd, body)),
                HasSubstr("none, or past the largest zone"));
  }
}

TEST(RecordCodecTest, MissingBodyIsRefused) {
  flatbuffers::FlatBufferBuilder b;
  EXPECT_THAT(ErrorOf(Finish(b, records::Body::NONE, 0)), HasSubstr("unknown type"));
}

TEST(RecordCodecTest, OwnerOtherThanZeroOrOneIsRefused) {
  flatbuffers::FlatBufferBuilder b;
  const auto body = records::CreateModule(b, 1, 2).Union();
  EXPECT_THAT(ErrorOf(Finish(b, records::Body::Module, body)), HasSubstr("owner 2"));
}

TEST(RecordCodecTest, MarkDirtyWithFirstAfterLastIsRefused) {
  flatbuffers::FlatBufferBuilder b;
  const auto body = records::CreateMarkDirty(b, b.CreateString("f"), 9, 3).Union();
  EXPECT_THAT(ErrorOf(BatchOf(b, records::ReplicaBody::MarkDirty, body)),
              HasSubstr("first zone 9 is after its last 3"));
}

TEST(RecordCodecTest, MissingOrEmptyPathIsRefused) {
  {
    flatbuffers::FlatBufferBuilder b;
    const auto body = records::CreateHotAdd(b, 0, 1).Union();
    EXPECT_THAT(ErrorOf(BatchOf(b, records::ReplicaBody::HotAdd, body)),
                HasSubstr("entry 0: HotAdd record has no path"));
  }
  {
    flatbuffers::FlatBufferBuilder b;
    const auto body = records::CreateRemoved(b, b.CreateString("")).Union();
    EXPECT_THAT(ErrorOf(BatchOf(b, records::ReplicaBody::Removed, body)), HasSubstr("no path"));
  }
}

TEST(RecordCodecTest, PathWithNulIsRefused) {
  flatbuffers::FlatBufferBuilder b;
  const auto body = records::CreateHotNameAdd(b, b.CreateString(std::string("a\0b", 3))).Union();
  EXPECT_THAT(ErrorOf(BatchOf(b, records::ReplicaBody::HotNameAdd, body)), HasSubstr("NUL"));
}

TEST(RecordCodecTest, JournalWriteOrUnknownKindIsRefused) {
  const std::pair<uint8_t, const char*> cases[] = {
      {0, "journal entry write mutation: not a namespace change"},
      {10, "journal entry fsync mutation: not a namespace change"},
      {200, "journal entry has unknown mutation kind 200"}};
  for (const auto& [kind, error] : cases) {
    flatbuffers::FlatBufferBuilder b;
    const auto m = records::CreateJournalMutation(b, kind, b.CreateString("f"));
    EXPECT_THAT(ErrorOf(Version2JournalOf(b, m)), HasSubstr(error)) << static_cast<int>(kind);
  }
  // Version 3's table, likewise (a fallocate is tracked by zones too).
  flatbuffers::FlatBufferBuilder b;
  const auto m = fb::CreateMutation(b, fb::MutationKind::Fallocate, b.CreateString("f"), 0, 0, 0, 0,
                                    0, 0, 0, 0, 0, 0, 0, 0, false, fb::PathKind::Absent, 10, 0);
  const auto body = records::CreateJournal(b, 0, false, m).Union();
  EXPECT_THAT(ErrorOf(BatchOf(b, records::ReplicaBody::Journal, body)),
              HasSubstr("journal entry fallocate mutation: not a namespace change"));
}

// The namespace journal keeps the data model's mutations whole: owners, both times and the
// mask of a setattr, a setxattr's name, flags and value, a resync's xattr set, a mknod's kind.
TEST(RecordCodecTest, JournalMutationsOfTheDataModelKeepEveryField) {
  Mutation chown = MakeMutation(MutationKind::kSetattr, "d/f");
  chown.attr_mask = kAttrUid | kAttrGid | kAttrAtime | kAttrMtime | kAttrMode;
  chown.mode = 04755;
  chown.uid = 4000000000u;
  chown.gid = 1234;
  chown.atime_ns = -5;
  chown.mtime_ns = 1700000000123456789;
  Mutation setx = MakeMutation(MutationKind::kSetxattr, "f");
  setx.xattr_name = "user.mime";
  setx.xattr_flags = kXattrCreate;
  setx.data = MakePayload(std::string("a\0b", 3));
  Mutation removex = MakeMutation(MutationKind::kRemovexattr, "f");
  removex.xattr_name = "security.selinux";
  Mutation replace = MakeMutation(MutationKind::kReplaceXattrs, "f");
  replace.xattrs = {{"system.posix_acl_access", std::string(40, '\x02')}, {"user.e", ""}};
  Mutation fifo = MakeMutation(MutationKind::kMknod, "p");
  fifo.node_kind = PathKind::kFifo;
  fifo.mode = 0600;
  fifo.uid = 7;
  fifo.gid = 8;
  Mutation sock = fifo;
  sock.node_kind = PathKind::kSocket;
  Mutation create = MakeMutation(MutationKind::kCreate, "c");
  create.mode = 02640;
  create.uid = 1000;
  create.gid = 100;
  const ReplicaBatch batch = {record::Journal{chown},
                              record::Journal{setx},
                              record::Journal{removex},
                              record::Journal{replace},
                              record::Journal{fifo},
                              record::Journal{sock},
                              record::Journal{create, /*as_is=*/true}};
  absl::StatusOr<StoredRecord> decoded = DecodeRecord(EncodeRecord(batch));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  const ReplicaBatch& out = std::get<ReplicaBatch>(*decoded);
  ASSERT_EQ(out.size(), batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const auto& want = std::get<record::Journal>(batch[i]);
    const auto& got = std::get<record::Journal>(out[i]);
    EXPECT_EQ(DescribeMutation(got.mutation), DescribeMutation(want.mutation)) << "record " << i;
    EXPECT_EQ(got.as_is, want.as_is) << "record " << i;
  }
}

TEST(RecordCodecTest, JournalMknodOfADeviceOrFileIsRefused) {
  for (uint8_t node : {uint8_t{0}, uint8_t{1}, uint8_t{9}}) {
    flatbuffers::FlatBufferBuilder b;
    const auto m = records::CreateJournalMutation(b, 15, b.CreateString("p"), 0, 0, 0600, 0, 0, 0,
                                                  0, 0, 0, 0, 0, false, node);
    EXPECT_THAT(ErrorOf(Version2JournalOf(b, m)),
                HasSubstr(node == 9 ? "unknown path kind 9" : "only a FIFO or a socket"))
        << static_cast<int>(node);
  }
}

TEST(RecordCodecTest, JournalSetxattrWithoutNameOrWithBadFlagsIsRefused) {
  {
    flatbuffers::FlatBufferBuilder b;
    const auto m = records::CreateJournalMutation(b, 12, b.CreateString("f"));
    EXPECT_THAT(ErrorOf(Version2JournalOf(b, m)),
                HasSubstr("journal entry setxattr mutation without an xattr name"));
  }
  {
    flatbuffers::FlatBufferBuilder b;
    const auto m = records::CreateJournalMutation(b, 12, b.CreateString("f"), 0, 0, 0, 0, 0, 0, 0,
                                                  0, b.CreateString("user.a"), 3);
    EXPECT_THAT(ErrorOf(Version2JournalOf(b, m)), HasSubstr("create, replace or neither"));
  }
}

TEST(RecordCodecTest, JournalModeBeyondPermissionBitsOrMaskOutsideSetattrIsRefused) {
  {
    flatbuffers::FlatBufferBuilder b;
    const auto m = records::CreateJournalMutation(b, 2, b.CreateString("f"), 0, 0, 0100644);
    EXPECT_THAT(ErrorOf(Version2JournalOf(b, m)), HasSubstr("more than permission bits"));
  }
  {
    flatbuffers::FlatBufferBuilder b;
    const auto m =
        records::CreateJournalMutation(b, 2, b.CreateString("f"), 0, 0, 0644, 0, 0, 0, 0, 1);
    EXPECT_THAT(ErrorOf(Version2JournalOf(b, m)), HasSubstr("with an attribute mask"));
  }
}

TEST(RecordCodecTest, JournalRenameWithoutTargetIsRefused) {
  flatbuffers::FlatBufferBuilder b;
  const auto m = records::CreateJournalMutation(b, 6, b.CreateString("f"));
  EXPECT_THAT(ErrorOf(Version2JournalOf(b, m)),
              HasSubstr("journal entry rename mutation without a path2"));
}

TEST(RecordCodecTest, JournalRenameFlagsAndExchangedNamesRoundTrip) {
  Mutation exchange = MakeMutation(MutationKind::kRename, "a", "d/b");
  exchange.rename_flags = kRenameExchange;
  Mutation noreplace = MakeMutation(MutationKind::kRename, "c", "e");
  noreplace.rename_flags = kRenameNoReplace;
  const ReplicaBatch batch = {record::Journal{exchange}, record::Journal{noreplace, true},
                              record::Renamed{"a", "d/b", true}, record::Renamed{"x", "y"}};
  absl::StatusOr<StoredRecord> decoded = DecodeRecord(EncodeRecord(batch));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  const ReplicaBatch& out = std::get<ReplicaBatch>(*decoded);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(std::get<record::Journal>(out[0]).mutation.rename_flags, kRenameExchange);
  EXPECT_EQ(std::get<record::Journal>(out[1]).mutation.rename_flags, kRenameNoReplace);
  EXPECT_TRUE(std::get<record::Renamed>(out[2]).blend);
  EXPECT_FALSE(std::get<record::Renamed>(out[3]).blend);
}

TEST(RecordCodecTest, JournalRenameFlagsUnknownBothOrOnAnotherKindAreRefused) {
  const std::pair<int, uint32_t> cases[] = {{6, 3}, {6, 4}, {8, 2}};
  const char* const errors[] = {"rename flags 0x3: noreplace, exchange or neither",
                                "rename flags 0x4: noreplace, exchange or neither",
                                "journal entry link mutation with rename flags"};
  for (size_t i = 0; i < std::size(cases); ++i) {
    flatbuffers::FlatBufferBuilder b;
    const auto m = records::CreateJournalMutation(
        b, static_cast<uint8_t>(cases[i].first), b.CreateString("f"), b.CreateString("g"), 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, false, 0, 0, cases[i].second);
    EXPECT_THAT(ErrorOf(Version2JournalOf(b, m)), HasSubstr(errors[i]));
  }
}

TEST(RecordCodecTest, SetGenerationsWithoutGenerationsIsRefused) {
  flatbuffers::FlatBufferBuilder b;
  const auto body = records::CreateSetGenerations(b, nullptr).Union();
  EXPECT_THAT(ErrorOf(BatchOf(b, records::ReplicaBody::SetGenerations, body)),
              HasSubstr("no generations"));
}

}  // namespace
}  // namespace duet::wire
