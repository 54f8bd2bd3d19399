// record_file.h on real files: what AppendFile writes, and how ScanFile reads a file a crash
// left behind. Only the last frame can be unsynced at a crash (one frame per fdatasync), so
// whatever follows the last valid frame without a valid frame after it (zeros, a cut frame,
// garbage, a batch whose pages landed out of order) is a torn tail; a bad frame with a valid
// one after it is corruption, reported with its offset.
#include "adapters/metadata/record_file.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tests/adapters/metadata/temp_files.h"

namespace duet::metadata {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kName[] = "records.log";

std::vector<uint8_t> Record(int i) {
  // Sizes 1 to 300 bytes, contents that differ from record to record.
  std::vector<uint8_t> r(1 + (i * 37) % 300);
  for (size_t k = 0; k < r.size(); ++k) r[k] = static_cast<uint8_t>(i * 131 + k * 7 + 1);
  return r;
}

std::vector<std::vector<uint8_t>> Records(int from, int count) {
  std::vector<std::vector<uint8_t>> out;
  for (int i = from; i < from + count; ++i) out.push_back(Record(i));
  return out;
}

class RecordFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_fd_ = ::open(tmp_.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(dir_fd_, 0);
    ASSERT_TRUE(ReplaceFile(dir_fd_, kName, {}).ok());
  }
  void TearDown() override { ::close(dir_fd_); }

  std::string path() const { return tmp_.path() + "/" + kName; }

  // Appends each group as one batch; returns the file's size after each.
  std::vector<uint64_t> AppendGroups(const std::vector<std::vector<std::vector<uint8_t>>>& groups) {
    absl::StatusOr<AppendFile> file = AppendFile::Open(dir_fd_, kName);
    EXPECT_TRUE(file.ok()) << file.status();
    std::vector<uint64_t> ends;
    for (const auto& group : groups) {
      EXPECT_TRUE(file->AppendBatch(group).ok());
      ends.push_back(file->size());
    }
    return ends;
  }

  ScannedFile Scan() {
    absl::StatusOr<ScannedFile> scanned = ScanFile(dir_fd_, kName);
    EXPECT_TRUE(scanned.ok()) << scanned.status();
    return *std::move(scanned);
  }

  TempDir tmp_;
  int dir_fd_ = -1;
};

TEST_F(RecordFileTest, ABatchIsOneFrameReadBackRecordByRecordInOrder) {
  const auto batch = Records(0, 20);
  const std::vector<uint64_t> ends = AppendGroups({batch});
  uint64_t payload = 0;
  for (const auto& r : batch) payload += kBatchRecordHeaderBytes + r.size();
  EXPECT_EQ(ends[0], kFileMagicBytes + kFrameHeaderBytes + payload) << "one frame header";
  const ScannedFile scanned = Scan();
  EXPECT_THAT(scanned.payloads, ElementsAreArray(batch));
  EXPECT_FALSE(scanned.torn_tail);
  EXPECT_FALSE(scanned.corrupt_frame);
  EXPECT_EQ(scanned.valid_bytes, ends[0]);
}

// A batch of one is the plain frame earlier builds wrote and read, and both kinds mix.
TEST_F(RecordFileTest, ABatchOfOneIsAPlainFrameAndBothKindsReadInOrder) {
  const auto one = Records(0, 1);
  EXPECT_EQ(BatchFrame(one), Frame(one[0]));
  {
    absl::StatusOr<AppendFile> file = AppendFile::Open(dir_fd_, kName);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE(file->Append(Record(0)).ok());
    ASSERT_TRUE(file->AppendBatch(Records(1, 3)).ok());
    ASSERT_TRUE(file->Append(Record(4)).ok());
  }
  EXPECT_THAT(Scan().payloads, ElementsAreArray(Records(0, 5)));
}

// A crash during a batch's append leaves any prefix of its frame: the whole batch goes,
// every earlier one stays.
TEST_F(RecordFileTest, ABatchCutAtEveryByteIsDroppedWhole) {
  const std::vector<uint64_t> ends = AppendGroups({Records(0, 3), Records(3, 5)});
  const std::vector<uint8_t> full = ReadBytes(path());
  for (uint64_t cut = ends[0] + 1; cut < ends[1]; ++cut) {
    WriteBytes(path(), std::vector<uint8_t>(full.begin(), full.begin() + cut));
    const ScannedFile scanned = Scan();
    EXPECT_THAT(scanned.payloads, ElementsAreArray(Records(0, 3))) << "cut at " << cut;
    EXPECT_TRUE(scanned.torn_tail) << "cut at " << cut;
    EXPECT_FALSE(scanned.corrupt_frame) << "cut at " << cut;
    EXPECT_EQ(scanned.valid_bytes, ends[0]);
  }
}

TEST_F(RecordFileTest, ZerosAfterTheLastValidFrameAreATornTail) {
  const std::vector<uint64_t> ends = AppendGroups({Records(0, 4)});
  std::vector<uint8_t> bytes = ReadBytes(path());
  bytes.resize(bytes.size() + 8192, 0);
  WriteBytes(path(), bytes);
  const ScannedFile scanned = Scan();
  EXPECT_THAT(scanned.payloads, ElementsAreArray(Records(0, 4)));
  EXPECT_TRUE(scanned.torn_tail);
  EXPECT_EQ(scanned.valid_bytes, ends[0]);
  EXPECT_EQ(scanned.file_bytes, ends[0] + 8192);
}

// A file system that shows a new block's old contents can leave anything there.
TEST_F(RecordFileTest, GarbageAfterTheLastValidFrameIsATornTail) {
  const std::vector<uint64_t> ends = AppendGroups({Records(0, 2), Records(2, 2)});
  const std::vector<uint8_t> valid = ReadBytes(path());
  std::mt19937 rng(15);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<uint8_t> bytes = valid;
    const size_t garbage = 1 + rng() % 5000;
    for (size_t i = 0; i < garbage; ++i) bytes.push_back(static_cast<uint8_t>(rng()));
    WriteBytes(path(), bytes);
    const ScannedFile scanned = Scan();
    EXPECT_THAT(scanned.payloads, ElementsAreArray(Records(0, 4))) << "trial " << trial;
    EXPECT_TRUE(scanned.torn_tail) << "trial " << trial;
    EXPECT_EQ(scanned.valid_bytes, ends[1]);
  }
}

// The last batch's pages reached the disk out of order: its later part is there, its start
// is zeros (or its start is there and a middle page is zeros). Neither is a valid frame, and
// nothing valid follows: torn, and the batch is dropped whole.
TEST_F(RecordFileTest, ALastBatchWithPagesMissingInAnyOrderIsATornTail) {
  std::vector<std::vector<uint8_t>> big;
  for (int i = 0; i < 60; ++i) big.push_back(Record(i));  // about 9 KiB: three pages
  const std::vector<uint64_t> ends = AppendGroups({Records(100, 2), big});
  const std::vector<uint8_t> full = ReadBytes(path());
  for (const auto& [from, to] : std::vector<std::pair<uint64_t, uint64_t>>{
           {ends[0], ends[0] + 4096}, {ends[0] + 4096, ends[0] + 8192}, {ends[1] - 100, ends[1]}}) {
    std::vector<uint8_t> bytes = full;
    std::fill(bytes.begin() + from, bytes.begin() + to, 0);
    WriteBytes(path(), bytes);
    const ScannedFile scanned = Scan();
    EXPECT_THAT(scanned.payloads, ElementsAreArray(Records(100, 2))) << "zeros from " << from;
    EXPECT_TRUE(scanned.torn_tail) << "zeros from " << from;
    EXPECT_FALSE(scanned.corrupt_frame);
  }
}

// A synced frame can only be bad if the disk damaged it: a valid frame after it proves it
// was synced (the writer writes a frame only once every earlier one is synced).
TEST_F(RecordFileTest, AZeroedFrameBeforeAValidOneIsCorruptionWithItsOffset) {
  const std::vector<uint64_t> ends = AppendGroups({Records(0, 2), Records(2, 3), Records(5, 1)});
  std::vector<uint8_t> bytes = ReadBytes(path());
  std::fill(bytes.begin() + ends[0], bytes.begin() + ends[1], 0);
  WriteBytes(path(), bytes);
  const ScannedFile scanned = Scan();
  ASSERT_TRUE(scanned.corrupt_frame);
  EXPECT_EQ(*scanned.corrupt_frame, 2u);
  EXPECT_EQ(scanned.corrupt_offset, ends[0]);
  EXPECT_EQ(scanned.corruption,
            "its length field is damaged, and a valid frame follows at offset " +
                std::to_string(ends[1]));
  EXPECT_FALSE(scanned.torn_tail);
  EXPECT_THAT(scanned.payloads, ElementsAreArray(Records(0, 2)));
}

TEST_F(RecordFileTest, AFlippedPayloadByteBeforeAValidFrameIsCorruption) {
  const std::vector<uint64_t> ends = AppendGroups({Records(0, 2), Records(2, 3), Records(5, 4)});
  std::vector<uint8_t> bytes = ReadBytes(path());
  bytes[ends[0] + kFrameHeaderBytes + 10] ^= 0x04;
  WriteBytes(path(), bytes);
  const ScannedFile scanned = Scan();
  ASSERT_TRUE(scanned.corrupt_frame);
  EXPECT_EQ(scanned.corrupt_offset, ends[0]);
  EXPECT_THAT(scanned.corruption, HasSubstr("its checksum does not match"));
}

// A damaged length field hides where the next frame starts: it is found byte by byte.
TEST_F(RecordFileTest, ADamagedLengthBeforeAValidFrameIsCorruptionNotATornTail) {
  const std::vector<uint64_t> ends = AppendGroups({Records(0, 1), Records(1, 3), Records(4, 2)});
  std::vector<uint8_t> bytes = ReadBytes(path());
  bytes[ends[0] + 1] ^= 0x40;
  WriteBytes(path(), bytes);
  const ScannedFile scanned = Scan();
  ASSERT_TRUE(scanned.corrupt_frame);
  EXPECT_EQ(scanned.corrupt_offset, ends[0]);
  EXPECT_THAT(scanned.corruption, HasSubstr("follows at offset " + std::to_string(ends[1])));
}

// The last frame damaged in place reads as torn: after a crash it may be exactly that (a
// middle page never written), and nothing in the file can tell the two apart.
TEST_F(RecordFileTest, ADamagedLastFrameIsATornTail) {
  const std::vector<uint64_t> ends = AppendGroups({Records(0, 2), Records(2, 3)});
  std::vector<uint8_t> bytes = ReadBytes(path());
  bytes[bytes.size() - 3] ^= 0x10;
  WriteBytes(path(), bytes);
  const ScannedFile scanned = Scan();
  EXPECT_TRUE(scanned.torn_tail);
  EXPECT_FALSE(scanned.corrupt_frame);
  EXPECT_EQ(scanned.valid_bytes, ends[0]);
}

TEST_F(RecordFileTest, AppendsAfterATornTailIsCutAreReadBack) {
  const std::vector<uint64_t> ends = AppendGroups({Records(0, 2)});
  std::vector<uint8_t> bytes = ReadBytes(path());
  bytes.resize(bytes.size() + 100, 0);
  WriteBytes(path(), bytes);
  ASSERT_TRUE(TruncateFile(dir_fd_, kName, Scan().valid_bytes).ok());
  AppendGroups({Records(2, 3)});
  const ScannedFile scanned = Scan();
  EXPECT_THAT(scanned.payloads, ElementsAreArray(Records(0, 5)));
  EXPECT_FALSE(scanned.torn_tail);
  EXPECT_GT(scanned.valid_bytes, ends[0]);
}

TEST_F(RecordFileTest, AnEmptyFileHasNoRecordsAndNoTail) {
  const ScannedFile scanned = Scan();
  EXPECT_THAT(scanned.payloads, IsEmpty());
  EXPECT_FALSE(scanned.torn_tail);
  EXPECT_EQ(scanned.valid_bytes, kFileMagicBytes);
}

// A file as AppendFile writes it: the header, then one frame per group.
struct BuiltFile {
  std::vector<uint8_t> bytes;
  std::vector<uint64_t> starts;  // each frame's offset
  std::vector<std::vector<std::vector<uint8_t>>> groups;
};

BuiltFile GenFile() {
  BuiltFile f;
  f.bytes.assign(kFileMagic, kFileMagic + kFileMagicBytes);
  const int groups = *rc::gen::inRange(1, 7);
  int next = 0;
  for (int g = 0; g < groups; ++g) {
    const int count = *rc::gen::inRange(1, 9);
    f.groups.push_back(Records(next, count));
    next += count;
    f.starts.push_back(f.bytes.size());
    const std::vector<uint8_t> frame = BatchFrame(f.groups.back());
    f.bytes.insert(f.bytes.end(), frame.begin(), frame.end());
  }
  return f;
}

std::vector<std::vector<uint8_t>> RecordsOfGroups(const BuiltFile& f, size_t groups) {
  std::vector<std::vector<uint8_t>> out;
  for (size_t g = 0; g < groups; ++g) out.insert(out.end(), f.groups[g].begin(), f.groups[g].end());
  return out;
}

absl::StatusOr<ScannedFile> ScanBytes(const std::vector<uint8_t>& bytes) {
  TempDir tmp;
  WriteBytes(tmp.path() + "/" + kName, bytes);
  const int dir_fd = ::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  absl::StatusOr<ScannedFile> scanned = ScanFile(dir_fd, kName);
  ::close(dir_fd);
  return scanned;
}

// A crash while the last frame was unsynced leaves it any length (up to a few pages past
// its end), each 512-byte sector of it as written, zeros or garbage: the reader keeps every
// earlier frame, keeps the last only if it is whole, and never reports corruption.
RC_GTEST_PROP(RecordFileProperty, AfterACrashOnlyTheLastFrameCanGoAndNothingReadsAsCorrupt, ()) {
  const BuiltFile f = GenFile();
  const uint64_t last = f.starts.back(), end = f.bytes.size();
  std::vector<uint8_t> bytes = f.bytes;
  bytes.resize(*rc::gen::inRange<uint64_t>(last, end + 4096), 0);
  for (uint64_t sector = last; sector < bytes.size(); sector += 512) {
    const int fate = *rc::gen::inRange(0, 3);  // 0 as written, 1 zeros, 2 garbage
    for (uint64_t i = sector; i < std::min<uint64_t>(sector + 512, bytes.size()); ++i) {
      if (fate == 1 || (fate == 0 && i >= end)) bytes[i] = 0;
      if (fate == 2) bytes[i] = *rc::gen::arbitrary<uint8_t>();
    }
  }
  const bool whole = bytes.size() >= end &&
                     std::equal(f.bytes.begin() + last, f.bytes.end(), bytes.begin() + last);
  absl::StatusOr<ScannedFile> scanned = ScanBytes(bytes);
  RC_ASSERT(scanned.ok());
  RC_ASSERT(!scanned->corrupt_frame);
  const size_t kept = f.groups.size() - (whole ? 0 : 1);
  RC_ASSERT(scanned->payloads == RecordsOfGroups(f, kept));
  RC_ASSERT(scanned->valid_bytes == (whole ? end : last));
  RC_ASSERT(scanned->torn_tail == (bytes.size() > scanned->valid_bytes));
}

// Any damage to a frame that a later frame follows is corruption, at that frame's offset.
RC_GTEST_PROP(RecordFileProperty, DamageToAFrameBeforeTheLastIsCorruptionAtItsOffset, ()) {
  const BuiltFile f = GenFile();
  RC_PRE(f.groups.size() >= 2);
  const size_t frame = *rc::gen::inRange<size_t>(0, f.groups.size() - 1);
  const uint64_t at = *rc::gen::inRange<uint64_t>(f.starts[frame], f.starts[frame + 1]);
  std::vector<uint8_t> bytes = f.bytes;
  bytes[at] = static_cast<uint8_t>(bytes[at] ^ *rc::gen::inRange<int>(1, 256));
  absl::StatusOr<ScannedFile> scanned = ScanBytes(bytes);
  RC_ASSERT(scanned.ok());
  RC_ASSERT(scanned->corrupt_frame == std::optional<uint64_t>(frame + 1));
  RC_ASSERT(scanned->corrupt_offset == f.starts[frame]);
  RC_ASSERT(!scanned->torn_tail);
  RC_ASSERT(scanned->payloads == RecordsOfGroups(f, frame));
}

// What AppendFile writes is the header and BatchFrame of each group, as the properties build.
TEST_F(RecordFileTest, AppendBatchWritesExactlyOneBatchFrame) {
  AppendGroups({Records(0, 3), Records(3, 1)});
  std::vector<uint8_t> expected(kFileMagic, kFileMagic + kFileMagicBytes);
  for (const auto& group : {Records(0, 3), Records(3, 1)}) {
    const std::vector<uint8_t> frame = BatchFrame(group);
    expected.insert(expected.end(), frame.begin(), frame.end());
  }
  EXPECT_EQ(ReadBytes(path()), expected);
}

}  // namespace
}  // namespace duet::metadata
