#include "adapters/store/file_attrs.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/store/errno_status.h"
#include "adapters/store/unique_fd.h"

namespace duet::store {
namespace {

timespec ToTimespec(int64_t ns) {
  // Floor division: a time before 1970 keeps its nanoseconds in [0, 1e9).
  int64_t seconds = ns / 1'000'000'000;
  int64_t nanos = ns % 1'000'000'000;
  if (nanos < 0) {
    nanos += 1'000'000'000;
    --seconds;
  }
  return timespec{static_cast<time_t>(seconds), static_cast<long>(nanos)};
}

// An O_PATH descriptor of the entry itself and the /proc link that reaches it: the *xattr
// calls on that link act on the entry (a symlink included) without opening it for I/O.
struct EntryLink {
  UniqueFd fd;
  std::string proc_path;
};

absl::StatusOr<EntryLink> OpenEntry(int dir, const std::string& name, absl::string_view op,
                                    absl::string_view path) {
  const int fd = openat(dir, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, op, path);
  EntryLink link{UniqueFd(fd), absl::StrCat("/proc/self/fd/", fd)};
  return link;
}

absl::StatusOr<std::vector<std::string>> ListNames(const std::string& proc_path,
                                                   absl::string_view path) {
  std::string buffer;
  while (true) {
    const ssize_t size = listxattr(proc_path.c_str(), nullptr, 0);
    if (size < 0) return ErrnoStatus(errno, "listxattr", path);
    buffer.assign(static_cast<size_t>(size), '\0');
    const ssize_t n = listxattr(proc_path.c_str(), buffer.data(), buffer.size());
    if (n < 0 && errno == ERANGE) continue;  // grew meanwhile
    if (n < 0) return ErrnoStatus(errno, "listxattr", path);
    buffer.resize(static_cast<size_t>(n));
    break;
  }
  std::vector<std::string> names;
  size_t start = 0;
  while (start < buffer.size()) {
    const size_t end = buffer.find('\0', start);
    const size_t stop = end == std::string::npos ? buffer.size() : end;
    if (stop > start) names.emplace_back(buffer.substr(start, stop - start));
    start = stop + 1;
  }
  std::sort(names.begin(), names.end());
  return names;
}

// An absent value (the name went meanwhile) is reported as ENODATA's NotFound.
absl::StatusOr<std::string> GetValue(const std::string& proc_path, const std::string& xattr,
                                     absl::string_view path) {
  std::string value;
  while (true) {
    const ssize_t size = getxattr(proc_path.c_str(), xattr.c_str(), nullptr, 0);
    if (size < 0) return ErrnoStatus(errno, absl::StrCat("getxattr ", xattr), path);
    value.assign(static_cast<size_t>(size), '\0');
    const ssize_t n = getxattr(proc_path.c_str(), xattr.c_str(), value.data(), value.size());
    if (n < 0 && errno == ERANGE) continue;
    if (n < 0) return ErrnoStatus(errno, absl::StrCat("getxattr ", xattr), path);
    value.resize(static_cast<size_t>(n));
    return value;
  }
}

int SetxattrFlags(uint32_t flags) {
  int out = 0;
  if ((flags & kXattrCreate) != 0) out |= XATTR_CREATE;
  if ((flags & kXattrReplace) != 0) out |= XATTR_REPLACE;
  return out;
}

}  // namespace

absl::Status SetAttrsAt(int dir, const std::string& name, uint32_t attr_mask, uint32_t mode,
                        uint32_t uid, uint32_t gid, int64_t atime_ns, int64_t mtime_ns,
                        absl::string_view path) {
  struct stat st;
  if (fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus(errno, "setattr", path);
  }
  if ((attr_mask & (kAttrUid | kAttrGid)) != 0) {
    const uid_t new_uid = (attr_mask & kAttrUid) != 0 ? static_cast<uid_t>(uid) : uid_t(-1);
    const gid_t new_gid = (attr_mask & kAttrGid) != 0 ? static_cast<gid_t>(gid) : gid_t(-1);
    if (fchownat(dir, name.c_str(), new_uid, new_gid, AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoStatus(errno, "chown", path);
    }
  }
  if ((attr_mask & kAttrMode) != 0 && !S_ISLNK(st.st_mode)) {
    // glibc carries AT_SYMLINK_NOFOLLOW out through an O_PATH descriptor, so even a symlink
    // swapped in would not be followed.
    if (fchmodat(dir, name.c_str(), static_cast<mode_t>(mode & kMaxModeBits),
                 AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoStatus(errno, "chmod", path);
    }
  }
  if ((attr_mask & (kAttrAtime | kAttrMtime)) != 0) {
    const timespec omit{0, UTIME_OMIT};
    const timespec times[2] = {(attr_mask & kAttrAtime) != 0 ? ToTimespec(atime_ns) : omit,
                               (attr_mask & kAttrMtime) != 0 ? ToTimespec(mtime_ns) : omit};
    if (utimensat(dir, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoStatus(errno, "set times", path);
    }
  }
  return absl::OkStatus();
}

absl::Status StampChangeTime(int fd, int64_t mtime_ns, bool new_entry, absl::string_view path) {
  if (mtime_ns == 0) return absl::OkStatus();
  const timespec stamp = ToTimespec(mtime_ns);
  const timespec times[2] = {new_entry ? stamp : timespec{0, UTIME_OMIT}, stamp};
  if (futimens(fd, times) != 0) return ErrnoStatus(errno, "set the change's time", path);
  return absl::OkStatus();
}

absl::StatusOr<XattrSet> ReadXattrsAt(int dir, const std::string& name, absl::string_view path) {
  absl::StatusOr<EntryLink> entry = OpenEntry(dir, name, "listxattr", path);
  if (!entry.ok()) return entry.status();
  absl::StatusOr<std::vector<std::string>> names = ListNames(entry->proc_path, path);
  if (!names.ok()) return names.status();
  XattrSet out;
  size_t total = 0;
  for (const std::string& xattr : *names) {
    absl::StatusOr<std::string> value = GetValue(entry->proc_path, xattr, path);
    if (!value.ok() && absl::IsNotFound(value.status())) continue;  // removed meanwhile
    if (!value.ok()) return value.status();
    total += xattr.size() + value->size();
    if (total > kMaxXattrSetBytes) {
      return absl::InvalidArgumentError(absl::StrCat("E2BIG: listxattr '", path,
                                                     "': its xattrs exceed the ", kMaxXattrSetBytes,
                                                     " bytes a resync carries"));
    }
    out.push_back(Xattr{xattr, *std::move(value)});
  }
  return out;
}

absl::Status SetXattrAt(int dir, const std::string& name, const std::string& xattr,
                        const std::string& value, uint32_t flags, absl::string_view path) {
  absl::StatusOr<EntryLink> entry = OpenEntry(dir, name, "setxattr", path);
  if (!entry.ok()) return entry.status();
  if (setxattr(entry->proc_path.c_str(), xattr.c_str(), value.data(), value.size(),
               SetxattrFlags(flags)) != 0) {
    return ErrnoStatus(errno, absl::StrCat("setxattr ", xattr), path);
  }
  return absl::OkStatus();
}

absl::Status RemoveXattrAt(int dir, const std::string& name, const std::string& xattr,
                           absl::string_view path) {
  absl::StatusOr<EntryLink> entry = OpenEntry(dir, name, "removexattr", path);
  if (!entry.ok()) return entry.status();
  if (removexattr(entry->proc_path.c_str(), xattr.c_str()) != 0 && errno != ENODATA) {
    return ErrnoStatus(errno, absl::StrCat("removexattr ", xattr), path);
  }
  return absl::OkStatus();
}

absl::Status ReplaceXattrsAt(int dir, const std::string& name, const XattrSet& xattrs,
                             absl::string_view path) {
  absl::StatusOr<EntryLink> entry = OpenEntry(dir, name, "replace-xattrs", path);
  if (!entry.ok()) return entry.status();
  absl::StatusOr<std::vector<std::string>> names = ListNames(entry->proc_path, path);
  if (!names.ok()) return names.status();
  for (const std::string& xattr : *names) {
    const bool kept =
        std::any_of(xattrs.begin(), xattrs.end(), [&](const Xattr& x) { return x.name == xattr; });
    if (!kept && removexattr(entry->proc_path.c_str(), xattr.c_str()) != 0 && errno != ENODATA) {
      return ErrnoStatus(errno, absl::StrCat("removexattr ", xattr), path);
    }
  }
  for (const Xattr& x : xattrs) {
    if (setxattr(entry->proc_path.c_str(), x.name.c_str(), x.value.data(), x.value.size(), 0) !=
        0) {
      return ErrnoStatus(errno, absl::StrCat("setxattr ", x.name), path);
    }
  }
  return absl::OkStatus();
}

}  // namespace duet::store
