#include "adapters/net/cluster_key.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace duet::net {
namespace {

// 64 hex digits and a newline; one more byte to see that a file is too long.
constexpr size_t kMaxKeyFileBytes = 2 * kClusterKeyBytes + 2;

absl::Status ErrnoStatus(int error, absl::string_view what, const std::string& path) {
  std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(error));
  if (error == ENOENT) return absl::NotFoundError(message);
  if (error == EACCES || error == EPERM) return absl::PermissionDeniedError(message);
  if (error == EEXIST) return absl::AlreadyExistsError(message);
  return absl::InternalError(message);
}

class FileCloser {
 public:
  explicit FileCloser(int fd) : fd_(fd) {}
  ~FileCloser() { ::close(fd_); }
  FileCloser(const FileCloser&) = delete;
  FileCloser& operator=(const FileCloser&) = delete;

 private:
  int fd_;
};

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<ClusterKey> ParseKeyText(absl::string_view text, const std::string& path) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("cluster key ", path, ": ", why,
                     " (expected 64 hex digits and a newline; create one with duetctl keygen)"));
  };
  if (text.size() != 2 * kClusterKeyBytes) {
    return bad(absl::StrCat("holds ", text.size(), " characters"));
  }
  ClusterKey key;
  for (size_t i = 0; i < kClusterKeyBytes; ++i) {
    int high = HexValue(text[2 * i]);
    int low = HexValue(text[2 * i + 1]);
    if (high < 0 || low < 0) return bad(absl::StrCat("character ", 2 * i + 1, " is not hex"));
    key.bytes[i] = static_cast<uint8_t>(high * 16 + low);
  }
  return key;
}

absl::Status FsyncDirectoryOf(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open directory", dir);
  FileCloser closer(fd);
  if (::fsync(fd) != 0) return ErrnoStatus(errno, "cannot fsync directory", dir);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ClusterKey> LoadClusterKey(const std::string& path) {
  // O_NONBLOCK: a FIFO in the key's place must not hang the daemon before fstat refuses it.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return ErrnoStatus(errno, "cannot open cluster key", path);
  FileCloser closer(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ErrnoStatus(errno, "cannot stat cluster key", path);
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("cluster key ", path, " is not a regular file"));
  }
  if (st.st_uid != ::geteuid()) {
    return absl::FailedPreconditionError(
        absl::StrFormat("cluster key %s is owned by uid %u, not by this process's uid %u "
                        "(chown it to the user duetd runs as)",
                        path, st.st_uid, ::geteuid()));
  }
  unsigned mode = st.st_mode & 07777;
  if ((mode & 077) != 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("cluster key %s has mode %04o: group or others may read or write it "
                        "(run chmod 600 %s)",
                        path, mode, path));
  }
  char buffer[kMaxKeyFileBytes + 1];
  size_t filled = 0;
  while (filled < sizeof buffer) {
    ssize_t n = ::read(fd, buffer + filled, sizeof buffer - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "cannot read cluster key", path);
    if (n == 0) break;
    filled += static_cast<size_t>(n);
  }
  absl::StatusOr<ClusterKey> key = ParseKeyText(absl::string_view(buffer, filled), path);
  OPENSSL_cleanse(buffer, sizeof buffer);
  return key;
}

absl::StatusOr<ClusterKey> WriteNewClusterKey(const std::string& path) {
  ClusterKey key;
  if (RAND_bytes(key.bytes.data(), static_cast<int>(key.bytes.size())) != 1) {
    return absl::InternalError("the OpenSSL random generator failed: no key written");
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat(
          path,
          " already exists: refusing to overwrite a cluster key (both nodes and the "
          "witness must keep the same key; remove it first to replace it everywhere)"));
    }
    return ErrnoStatus(errno, "cannot create cluster key", path);
  }
  FileCloser closer(fd);
  // The umask may have removed bits only; fchmod states the mode outright.
  if (::fchmod(fd, 0600) != 0) return ErrnoStatus(errno, "cannot chmod cluster key", path);
  static constexpr char kHex[] = "0123456789abcdef";
  char text[2 * kClusterKeyBytes + 1];
  for (size_t i = 0; i < kClusterKeyBytes; ++i) {
    text[2 * i] = kHex[key.bytes[i] >> 4];
    text[2 * i + 1] = kHex[key.bytes[i] & 0xf];
  }
  text[2 * kClusterKeyBytes] = '\n';
  size_t written = 0;
  while (written < sizeof text) {
    ssize_t n = ::write(fd, text + written, sizeof text - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      OPENSSL_cleanse(text, sizeof text);
      return ErrnoStatus(errno, "cannot write cluster key", path);
    }
    written += static_cast<size_t>(n);
  }
  OPENSSL_cleanse(text, sizeof text);
  if (::fsync(fd) != 0) return ErrnoStatus(errno, "cannot fsync cluster key", path);
  absl::Status synced = FsyncDirectoryOf(path);
  if (!synced.ok()) return synced;
  return key;
}

}  // namespace duet::net
