#include "adapters/metadata/record_file.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"
#include "engine/wire/record_codec.h"

namespace duet::metadata {
namespace {

void PutU32(uint8_t* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint32_t GetU32(const uint8_t* in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(in[i]) << (8 * i);
  return v;
}

// SHA-256 over the length field and the payload, first 8 bytes.
void Checksum(const uint8_t* length_field, std::span<const uint8_t> payload, uint8_t* out) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  // These fail only when out of memory, as does everything else then.
  std::memset(digest, 0, sizeof digest);
  if (ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
      EVP_DigestUpdate(ctx, length_field, 4) == 1 &&
      EVP_DigestUpdate(ctx, payload.data(), payload.size()) == 1) {
    EVP_DigestFinal_ex(ctx, digest, &size);
  }
  EVP_MD_CTX_free(ctx);
  std::memcpy(out, digest, 8);
}

absl::Status WriteAll(int fd, const uint8_t* data, size_t size, const std::string& what) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, what);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status SyncDir(int dir_fd) {
  if (::fsync(dir_fd) != 0) return ErrnoStatus(errno, "fsync of the metadata directory");
  return absl::OkStatus();
}

std::vector<uint8_t> FrameWithWord(uint32_t word, std::span<const uint8_t> payload) {
  std::vector<uint8_t> out(kFrameHeaderBytes + payload.size());
  PutU32(out.data(), word);
  PutU32(out.data() + 4, ~word);
  Checksum(out.data(), payload, out.data() + 8);
  std::copy(payload.begin(), payload.end(), out.begin() + kFrameHeaderBytes);
  return out;
}

size_t BatchPayloadBytes(std::span<const std::vector<uint8_t>> payloads) {
  size_t bytes = 0;
  for (const std::vector<uint8_t>& p : payloads) bytes += kBatchRecordHeaderBytes + p.size();
  return bytes;
}

// What is at one offset of a file: a valid frame (its size and records), or why not.
struct FrameAt {
  enum class Kind { kValid, kShort, kBadLength, kBadChecksum, kBadBatch };
  Kind kind = Kind::kShort;
  size_t bytes = 0;
  std::vector<std::span<const uint8_t>> records;
};

// Splits a checked batch payload into its records; false if they do not fill it exactly.
bool SplitBatch(std::span<const uint8_t> batch, std::vector<std::span<const uint8_t>>& records) {
  while (!batch.empty()) {
    if (batch.size() < kBatchRecordHeaderBytes) return false;
    const uint32_t length = GetU32(batch.data());
    batch = batch.subspan(kBatchRecordHeaderBytes);
    if (length > batch.size() || length > wire::kMaxRecordBytes) return false;
    records.push_back(batch.subspan(0, length));
    batch = batch.subspan(length);
  }
  return true;
}

FrameAt ReadFrameAt(std::span<const uint8_t> rest) {
  FrameAt out;
  if (rest.size() < kFrameHeaderBytes) return out;  // kShort
  const uint32_t word = GetU32(rest.data());
  const bool batch = (word & kBatchFrameBit) != 0;
  const uint32_t length = word & ~kBatchFrameBit;
  if (~word != GetU32(rest.data() + 4) ||
      length > (batch ? kMaxBatchPayloadBytes : wire::kMaxRecordBytes)) {
    out.kind = FrameAt::Kind::kBadLength;
    return out;
  }
  if (rest.size() - kFrameHeaderBytes < length) return out;  // kShort
  const std::span<const uint8_t> payload = rest.subspan(kFrameHeaderBytes, length);
  uint8_t expected[8];
  Checksum(rest.data(), payload, expected);
  if (std::memcmp(expected, rest.data() + 8, 8) != 0) {
    out.kind = FrameAt::Kind::kBadChecksum;
    return out;
  }
  if (!batch) {
    out.records.push_back(payload);
  } else if (!SplitBatch(payload, out.records)) {
    out.records.clear();
    out.kind = FrameAt::Kind::kBadBatch;
    return out;
  }
  out.kind = FrameAt::Kind::kValid;
  out.bytes = kFrameHeaderBytes + length;
  return out;
}

// Where the first valid frame after `from` starts, if any. Every offset is tried: a frame
// after a damaged length field can start anywhere. Most offsets fail the length's
// complement at once, so this costs little even over a whole file.
std::optional<uint64_t> NextValidFrame(std::span<const uint8_t> bytes, uint64_t from) {
  for (uint64_t at = from; at + kFrameHeaderBytes <= bytes.size(); ++at) {
    const uint8_t* p = bytes.data() + at;
    if (~GetU32(p) != GetU32(p + 4)) continue;
    if (ReadFrameAt(bytes.subspan(at)).kind == FrameAt::Kind::kValid) return at;
  }
  return std::nullopt;
}

std::string WhatIsWrong(FrameAt::Kind kind) {
  switch (kind) {
    case FrameAt::Kind::kShort:
      return "it is cut short";
    case FrameAt::Kind::kBadLength:
      return "its length field is damaged";
    case FrameAt::Kind::kBadChecksum:
      return "its checksum does not match";
    case FrameAt::Kind::kBadBatch:
      return "its batch of records does not parse";
    case FrameAt::Kind::kValid:
      break;
  }
  return "";
}

}  // namespace

absl::Status ErrnoStatus(int err, const std::string& what) {
  const std::string text = absl::StrCat(what, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(text);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(text);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(text);
    case EIO:
      return absl::DataLossError(text);
    case ENOTDIR:
    case EEXIST:
      return absl::FailedPreconditionError(text);
    default:
      return absl::InternalError(text);
  }
}

std::vector<uint8_t> Frame(std::span<const uint8_t> payload) {
  return FrameWithWord(static_cast<uint32_t>(payload.size()), payload);
}

std::vector<uint8_t> BatchFrame(std::span<const std::vector<uint8_t>> payloads) {
  if (payloads.size() == 1) return Frame(payloads[0]);
  std::vector<uint8_t> batch;
  batch.reserve(BatchPayloadBytes(payloads));
  for (const std::vector<uint8_t>& p : payloads) {
    uint8_t length[kBatchRecordHeaderBytes];
    PutU32(length, static_cast<uint32_t>(p.size()));
    batch.insert(batch.end(), length, length + kBatchRecordHeaderBytes);
    batch.insert(batch.end(), p.begin(), p.end());
  }
  return FrameWithWord(static_cast<uint32_t>(batch.size()) | kBatchFrameBit, batch);
}

absl::StatusOr<ScannedFile> ScanFile(int dir_fd, const std::string& name) {
  const int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "opening " + name);
  std::vector<uint8_t> bytes;
  uint8_t buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return ErrnoStatus(err, "reading " + name);
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), buf, buf + n);
  }
  ::close(fd);

  ScannedFile out;
  out.file_bytes = bytes.size();
  if (bytes.size() < kFileMagicBytes ||
      std::memcmp(bytes.data(), kFileMagic, kFileMagicBytes) != 0) {
    out.bad_header = true;
    return out;
  }
  uint64_t off = kFileMagicBytes;
  out.valid_bytes = off;
  for (uint64_t index = 1; off < bytes.size(); ++index) {
    FrameAt frame = ReadFrameAt(std::span<const uint8_t>(bytes).subspan(off));
    if (frame.kind == FrameAt::Kind::kValid) {
      for (const std::span<const uint8_t> r : frame.records)
        out.payloads.emplace_back(r.begin(), r.end());
      off += frame.bytes;
      out.valid_bytes = off;
      continue;
    }
    // Only the last frame can have been unsynced at a crash (the writer's rule, header):
    // a valid frame after this one means it was synced, and so damaged since.
    if (const std::optional<uint64_t> next = NextValidFrame(bytes, off + 1)) {
      out.corrupt_frame = index;
      out.corrupt_offset = off;
      out.corruption =
          absl::StrCat(WhatIsWrong(frame.kind), ", and a valid frame follows at offset ", *next);
    } else {
      out.torn_tail = true;
    }
    break;
  }
  return out;
}

absl::Status ReplaceFile(int dir_fd, const std::string& name,
                         const std::vector<std::vector<uint8_t>>& payloads) {
  const std::string tmp = name + ".new";
  const int fd = ::openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(errno, "creating " + tmp);
  std::vector<uint8_t> data(kFileMagic, kFileMagic + kFileMagicBytes);
  for (const std::vector<uint8_t>& p : payloads) {
    const std::vector<uint8_t> frame = Frame(p);
    data.insert(data.end(), frame.begin(), frame.end());
  }
  absl::Status status = WriteAll(fd, data.data(), data.size(), "writing " + tmp);
  if (status.ok() && ::fsync(fd) != 0) status = ErrnoStatus(errno, "fsync of " + tmp);
  ::close(fd);
  if (status.ok() && ::renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) != 0) {
    status = ErrnoStatus(errno, "renaming " + tmp + " to " + name);
  }
  if (!status.ok()) {
    ::unlinkat(dir_fd, tmp.c_str(), 0);
    return status;
  }
  return SyncDir(dir_fd);
}

absl::Status TruncateFile(int dir_fd, const std::string& name, uint64_t size) {
  const int fd = ::openat(dir_fd, name.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "opening " + name);
  absl::Status status;
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    status = ErrnoStatus(errno, "truncating " + name);
  } else if (::fsync(fd) != 0) {
    status = ErrnoStatus(errno, "fsync of " + name);
  }
  ::close(fd);
  return status;
}

absl::StatusOr<AppendFile> AppendFile::Open(int dir_fd, const std::string& name) {
  const int fd = ::openat(dir_fd, name.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "opening " + name + " for appending");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoStatus(err, "stat of " + name);
  }
  return AppendFile(fd, name, static_cast<uint64_t>(st.st_size));
}

AppendFile::AppendFile(AppendFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), name_(std::move(other.name_)), size_(other.size_) {}

AppendFile& AppendFile::operator=(AppendFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    name_ = std::move(other.name_);
    size_ = other.size_;
  }
  return *this;
}

AppendFile::~AppendFile() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status AppendFile::Append(std::span<const uint8_t> payload) {
  return WriteAndSync(Frame(payload));
}

absl::Status AppendFile::AppendBatch(std::span<const std::vector<uint8_t>> payloads) {
  size_t begin = 0;
  while (begin < payloads.size()) {
    // As many as fit one frame (at least one: a single record has its own, larger bound).
    size_t end = begin + 1;
    size_t bytes = kBatchRecordHeaderBytes + payloads[begin].size();
    while (end < payloads.size() &&
           bytes + kBatchRecordHeaderBytes + payloads[end].size() <= kMaxBatchPayloadBytes) {
      bytes += kBatchRecordHeaderBytes + payloads[end].size();
      ++end;
    }
    DUET_RETURN_IF_ERROR(WriteAndSync(BatchFrame(payloads.subspan(begin, end - begin))));
    begin = end;
  }
  return absl::OkStatus();
}

absl::Status AppendFile::WriteAndSync(const std::vector<uint8_t>& frame) {
  // One frame, then its sync, before the next frame is written: ScanFile counts on it.
  absl::Status status = WriteAll(fd_, frame.data(), frame.size(), "appending to " + name_);
  if (!status.ok()) return status;
  size_ += frame.size();
  // fdatasync, not fsync: an append changes the file's size, which fdatasync makes durable
  // with the bytes (it skips only metadata a read does not need, as the times).
  if (::fdatasync(fd_) != 0) return ErrnoStatus(errno, "fdatasync of " + name_);
  return absl::OkStatus();
}

}  // namespace duet::metadata
