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

bool AllZero(std::span<const uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
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
  std::vector<uint8_t> out(kFrameHeaderBytes + payload.size());
  const auto length = static_cast<uint32_t>(payload.size());
  PutU32(out.data(), length);
  PutU32(out.data() + 4, ~length);
  Checksum(out.data(), payload, out.data() + 8);
  std::copy(payload.begin(), payload.end(), out.begin() + kFrameHeaderBytes);
  return out;
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
  size_t off = kFileMagicBytes;
  out.valid_bytes = off;
  for (uint64_t index = 1; off < bytes.size(); ++index) {
    const std::span<const uint8_t> rest(bytes.data() + off, bytes.size() - off);
    if (rest.size() < kFrameHeaderBytes || AllZero(rest)) {
      out.torn_tail = true;  // cut short, or grown without its bytes
      break;
    }
    const uint32_t length = GetU32(rest.data());
    if (~length != GetU32(rest.data() + 4) || length > wire::kMaxRecordBytes) {
      out.corrupt_frame = index;
      out.corruption = "its length field is damaged";
      break;
    }
    if (rest.size() - kFrameHeaderBytes < length) {
      out.torn_tail = true;  // the append never completed
      break;
    }
    const std::span<const uint8_t> payload = rest.subspan(kFrameHeaderBytes, length);
    uint8_t expected[8];
    Checksum(rest.data(), payload, expected);
    if (std::memcmp(expected, rest.data() + 8, 8) != 0) {
      out.corrupt_frame = index;
      out.corruption = "its checksum does not match";
      break;
    }
    out.payloads.emplace_back(payload.begin(), payload.end());
    off += kFrameHeaderBytes + length;
    out.valid_bytes = off;
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
  const std::vector<uint8_t> frame = Frame(payload);
  absl::Status status = WriteAll(fd_, frame.data(), frame.size(), "appending to " + name_);
  if (!status.ok()) return status;
  size_ += frame.size();
  if (::fdatasync(fd_) != 0) return ErrnoStatus(errno, "fdatasync of " + name_);
  return absl::OkStatus();
}

}  // namespace duet::metadata
