#include "adapters/store/beneath_path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "adapters/store/errno_status.h"

namespace duet::store {
namespace {

constexpr uint64_t kResolveBeneath = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

absl::Status Refused(absl::string_view op, absl::string_view path, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "refused: ", op, " '", path, "': not a plain path beneath the module root (", why, ")"));
}

}  // namespace

absl::Status CheckRelativePath(absl::string_view op, absl::string_view path) {
  if (path.empty()) return Refused(op, path, "empty");
  if (path.size() >= PATH_MAX) return Refused(op, path.substr(0, 64), "longer than PATH_MAX");
  if (path.find('\0') != absl::string_view::npos) return Refused(op, path, "contains a NUL byte");
  if (path.front() == '/') return Refused(op, path, "absolute");
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == absl::string_view::npos) end = path.size();
    const absl::string_view component = path.substr(start, end - start);
    if (component.empty()) return Refused(op, path, "empty component");
    if (component == ".") return Refused(op, path, "'.' component");
    if (component == "..") return Refused(op, path, "'..' component");
    if (component.size() > NAME_MAX) return Refused(op, path, "component longer than NAME_MAX");
    start = end + 1;
  }
  return absl::OkStatus();
}

int OpenBeneath(int root, const std::string& path, int flags, mode_t mode) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) != 0 ? mode : 0;
  how.resolve = kResolveBeneath;
  // EAGAIN: a rename raced with the lookup (the kernel asks for a retry).
  for (int attempt = 0;; ++attempt) {
    const long fd = syscall(SYS_openat2, root, path.c_str(), &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    if ((errno == EAGAIN && attempt < 8) || errno == EINTR) continue;
    return -errno;
  }
}

int OpenParent(int root, absl::string_view path, ParentDir* out) {
  const size_t slash = path.rfind('/');
  const std::string parent = slash == absl::string_view::npos ? "." : std::string(ParentOf(path));
  const int fd = OpenBeneath(root, parent, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return -fd;
  out->dir = UniqueFd(fd);
  out->name = std::string(slash == absl::string_view::npos ? path : path.substr(slash + 1));
  return 0;
}

absl::Status ParentError(int err, absl::string_view op, absl::string_view path) {
  if (err == ELOOP) {
    return absl::PermissionDeniedError(
        absl::StrCat("refused: ", op, " '", path,
                     "': a directory on the way is a symlink (no path passes through one)"));
  }
  if (err == EXDEV) {
    return absl::PermissionDeniedError(
        absl::StrCat("refused: ", op, " '", path, "': leaves the module root"));
  }
  return ErrnoStatus(err, op, path);
}

bool ParentMeansAbsent(int err) { return err == ENOENT || err == ENOTDIR || err == ELOOP; }

absl::string_view ParentOf(absl::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? absl::string_view() : path.substr(0, slash);
}

std::string JoinPath(absl::string_view dir, absl::string_view name) {
  return dir.empty() ? std::string(name) : absl::StrCat(dir, "/", name);
}

}  // namespace duet::store
