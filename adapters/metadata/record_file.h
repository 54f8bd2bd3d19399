// One metadata file on disk: a header, then length-prefixed, checksummed frames, each holding
// one encoded record (engine/wire/record_codec.h) or a batch of them. Appends are durable
// (written and fdatasync'ed) when they return; a whole file is replaced atomically (written
// beside, fsync'ed, renamed over, directory fsync'ed).
//
// Layout: the 8 bytes "DUETMD1\n", then frames:
//   u32 word (little-endian) | u32 word XOR 0xFFFFFFFF | 8 bytes checksum | payload
// The word is the payload's length, with kBatchFrameBit set when the payload is a batch:
// records each as u32 length | bytes, back to back to the payload's end. The checksum is
// the first 8 bytes of SHA-256 over the word and the payload. Why SHA-256 rather than
// CRC32C: a record accepted by mistake is a guess the store must never make, and 64 bits of
// a cryptographic hash miss a random corruption with odds of 2^-64 (CRC32C: 2^-32), from a
// library we already link (no checksum code of our own); at metadata rates (each append
// waits for an fdatasync) its cost does not show. A file without batch frames is the format
// of earlier builds; an earlier build reads a batch frame as a damaged length field.
//
// How reading tells a torn tail from corruption. The writer's rule (AppendFile): a frame is
// written only once every frame before it is synced, and one frame is synced at a time. So
// after a crash at most the LAST frame of the file was unsynced, and only it can be torn, in
// any way a crash leaves: cut short, grown with zeros, pages written out of order, or (on a
// file system that shows a block's old contents) any garbage. Hence: bytes after the last
// valid frame that hold no valid frame are a torn tail (dropped); a bad frame with a valid
// frame anywhere after it is corruption of synced data (reported with its offset), since no
// crash can leave a synced frame bad. What this cannot tell apart: a synced last frame whose
// bytes the disk later damaged reads as a torn tail and is dropped (the disk's own checksums
// are the guard there); and a valid frame found after the bad one by chance is a 2^-96 guess
// (32 bits of length complement, 64 of checksum), unless a stale block of an old metadata
// file, shown by a file system that exposes unwritten blocks (not ext4's default
// data=ordered), lands in the torn tail: then a crash reads as corruption (the module waits
// for the admin; nothing is guessed).
#ifndef DUET_ADAPTERS_METADATA_RECORD_FILE_H_
#define DUET_ADAPTERS_METADATA_RECORD_FILE_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace duet::metadata {

inline constexpr char kFileMagic[] = "DUETMD1\n";
inline constexpr size_t kFileMagicBytes = 8;
inline constexpr size_t kFrameHeaderBytes = 16;
inline constexpr uint32_t kBatchFrameBit = uint32_t{1} << 31;
// The largest payload of a batch frame (its records' bytes and their 4-byte lengths). A
// batch that would pass it is written as several frames, each synced before the next.
inline constexpr size_t kMaxBatchPayloadBytes = size_t{64} << 20;
inline constexpr size_t kBatchRecordHeaderBytes = 4;

// The frame around one payload, as it is written.
std::vector<uint8_t> Frame(std::span<const uint8_t> payload);
// One frame holding these payloads (a batch frame for two or more, else as Frame). Their
// batch payload must not pass kMaxBatchPayloadBytes.
std::vector<uint8_t> BatchFrame(std::span<const std::vector<uint8_t>> payloads);

struct ScannedFile {
  // The records of the valid frames, in order (a batch frame's records one by one).
  std::vector<std::vector<uint8_t>> payloads;
  uint64_t valid_bytes = 0;  // where the last valid frame ends
  uint64_t file_bytes = 0;
  bool torn_tail = false;  // bytes after valid_bytes are a torn append, to be dropped
  // The first corrupt frame (1-based, counting frames from the file's start), its offset,
  // and what is wrong with it (saying where the valid frame after it starts); nothing after
  // it is read.
  std::optional<uint64_t> corrupt_frame;
  uint64_t corrupt_offset = 0;
  std::string corruption;
  bool bad_header = false;  // the file does not start with kFileMagic
};

// Reads and checks a whole file. An error only when it cannot be read (I/O, permissions).
absl::StatusOr<ScannedFile> ScanFile(int dir_fd, const std::string& name);

// Replaces `name` in the directory with a file holding the header and these frames, so that
// after a crash it is either the old file or the new one, complete and durable.
absl::Status ReplaceFile(int dir_fd, const std::string& name,
                         const std::vector<std::vector<uint8_t>>& payloads);

// Cuts a torn tail off, durably.
absl::Status TruncateFile(int dir_fd, const std::string& name, uint64_t size);

// An open file that frames are appended to.
class AppendFile {
 public:
  static absl::StatusOr<AppendFile> Open(int dir_fd, const std::string& name);
  AppendFile(AppendFile&& other) noexcept;
  AppendFile& operator=(AppendFile&& other) noexcept;
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;
  ~AppendFile();

  // Written and fdatasync'ed when it returns OK. On an error the file may end in a partial
  // frame (a torn tail for the next ScanFile), and the caller must append nothing more: a
  // frame after an unsynced one would break the rule ScanFile relies on.
  absl::Status Append(std::span<const uint8_t> payload);
  // The payloads as one frame and one fdatasync (group commit): recovered all or none.
  // Only a batch past kMaxBatchPayloadBytes takes several frames, each synced before the
  // next is written (then each frame is all or none, in order). Errors as Append.
  absl::Status AppendBatch(std::span<const std::vector<uint8_t>> payloads);
  uint64_t size() const { return size_; }

 private:
  AppendFile(int fd, std::string name, uint64_t size)
      : fd_(fd), name_(std::move(name)), size_(size) {}
  absl::Status WriteAndSync(const std::vector<uint8_t>& frame);
  int fd_ = -1;
  std::string name_;
  uint64_t size_ = 0;
};

// An errno as a Status saying what was being done to which file.
absl::Status ErrnoStatus(int err, const std::string& what);

}  // namespace duet::metadata

#endif  // DUET_ADAPTERS_METADATA_RECORD_FILE_H_
