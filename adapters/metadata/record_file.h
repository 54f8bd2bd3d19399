// One metadata file on disk: a header, then length-prefixed, checksummed frames, each holding
// one encoded record (engine/wire/record_codec.h). Appends are durable (written and
// fdatasync'ed) when they return; a whole file is replaced atomically (written beside, fsync'ed,
// renamed over, directory fsync'ed).
//
// Layout: the 8 bytes "DUETMD1\n", then frames:
//   u32 length (little-endian) | u32 length XOR 0xFFFFFFFF | 8 bytes checksum | payload
// The checksum is the first 8 bytes of SHA-256 over the length field and the payload. Why
// SHA-256 rather than CRC32C: a record accepted by mistake is a guess the store must never
// make, and 64 bits of a cryptographic hash miss a random corruption with odds of 2^-64
// (CRC32C: 2^-32), from a library we already link (no checksum code of our own); at
// metadata rates (each append waits for an fdatasync) its cost does not show.
//
// Reading tells a torn tail from corruption: a crash tears the last append by leaving it
// short (the file ends inside the frame) or zero-filled (the file grew but the bytes never
// came). So a frame that is incomplete at the end of the file, or a zero header with only
// zeros after it, is a torn tail; a complete frame whose checksum fails, a length whose
// complement disagrees, or a bad header anywhere is corruption, even in the last frame.
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

// The frame around one payload, as it is written.
std::vector<uint8_t> Frame(std::span<const uint8_t> payload);

struct ScannedFile {
  std::vector<std::vector<uint8_t>> payloads;  // the valid frames, in order
  uint64_t valid_bytes = 0;                    // where the last valid frame ends
  uint64_t file_bytes = 0;
  bool torn_tail = false;  // bytes after valid_bytes are a torn append, to be dropped
  // The first corrupt frame (1-based, counting frames from the file's start) and what is
  // wrong with it; nothing after it is read.
  std::optional<uint64_t> corrupt_frame;
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
  // frame (a torn tail for the next ScanFile).
  absl::Status Append(std::span<const uint8_t> payload);
  uint64_t size() const { return size_; }

 private:
  AppendFile(int fd, std::string name, uint64_t size)
      : fd_(fd), name_(std::move(name)), size_(size) {}
  int fd_ = -1;
  std::string name_;
  uint64_t size_ = 0;
};

// An errno as a Status saying what was being done to which file.
absl::Status ErrnoStatus(int err, const std::string& what);

}  // namespace duet::metadata

#endif  // DUET_ADAPTERS_METADATA_RECORD_FILE_H_
