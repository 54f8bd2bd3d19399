#include "adapters/store/preserve_divergent.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "adapters/store/beneath_path.h"
#include "adapters/store/errno_status.h"
#include "adapters/store/tree_walk.h"
#include "adapters/store/unique_fd.h"
#include "engine/status_macros.h"

namespace duet::store {
namespace {

constexpr absl::string_view kOp = "preserve";

// Creates the directories of the checked `dir` beneath `root` (mode 0700) where missing.
absl::Status MakeDirs(int root, absl::string_view dir) {
  for (size_t end = 0; end != absl::string_view::npos && !dir.empty();) {
    end = dir.find('/', end + 1);
    const std::string prefix(dir.substr(0, end));
    ParentDir parent;
    if (const int err = OpenParent(root, prefix, &parent); err != 0) {
      return ErrnoStatus(err, kOp, prefix);
    }
    if (mkdirat(parent.dir.get(), parent.name.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, "preserve (mkdir)", prefix);
    }
  }
  return absl::OkStatus();
}

absl::Status CopyFileData(int from, int to, absl::string_view path) {
  if (ioctl(to, FICLONE, from) == 0) return absl::OkStatus();
  while (true) {
    const ssize_t n = copy_file_range(from, nullptr, to, nullptr, size_t{1} << 30, 0);
    if (n == 0) return absl::OkStatus();
    if (n > 0 || errno == EINTR) continue;
    // Another file system, or one that cannot: copy through a buffer from where it stopped.
    if (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS) break;
    return ErrnoStatus(errno, "preserve (copy)", path);
  }
  std::string buffer(size_t{1} << 20, '\0');
  while (true) {
    const ssize_t n = read(from, buffer.data(), buffer.size());
    if (n == 0) return absl::OkStatus();
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "preserve (read)", path);
    }
    for (ssize_t done = 0; done < n;) {
      const ssize_t w = write(to, buffer.data() + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return ErrnoStatus(errno, "preserve (write)", path);
      done += w;
    }
  }
}

// Owner, then mode (a chown clears set-user-ID bits), then times, never following a symlink.
absl::Status CopyAttributes(int dir, const std::string& name, const struct stat& st,
                            absl::string_view path) {
  if (fchownat(dir, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus(errno, "preserve (chown)", path);
  }
  if (!S_ISLNK(st.st_mode) &&
      fchmodat(dir, name.c_str(), st.st_mode & 07777, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus(errno, "preserve (chmod)", path);
  }
  const timespec times[2] = {st.st_atim, st.st_mtim};
  if (utimensat(dir, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus(errno, "preserve (times)", path);
  }
  return absl::OkStatus();
}

// Whether the checked `path` is a name in the tree beneath `root`.
absl::StatusOr<bool> InTree(int root, const std::string& path) {
  ParentDir parent;
  if (const int err = OpenParent(root, path, &parent); err != 0) {
    if (ParentMeansAbsent(err)) return false;
    return ParentError(err, kOp, path);
  }
  struct stat st;
  if (fstatat(parent.dir.get(), parent.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return false;
    return ErrnoStatus(errno, kOp, path);
  }
  return true;
}

// Copies what is at the checked `path` beneath `from_root` to the same path beneath
// `to_root`, whose parent directory exists. No descriptor is held while descending.
absl::Status CopyEntry(int from_root, int to_root, const std::string& path) {
  struct stat st;
  ParentDir from;
  if (const int err = OpenParent(from_root, path, &from); err != 0) {
    return ParentMeansAbsent(err) ? absl::OkStatus() : ParentError(err, kOp, path);
  }
  if (fstatat(from.dir.get(), from.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return errno == ENOENT ? absl::OkStatus() : ErrnoStatus(errno, kOp, path);
  }
  ParentDir to;
  if (const int err = OpenParent(to_root, path, &to); err != 0) {
    return ErrnoStatus(err, "preserve (destination)", path);
  }
  if (S_ISDIR(st.st_mode)) {
    if (mkdirat(to.dir.get(), to.name.c_str(), 0700) != 0) {
      return errno == EEXIST ? absl::OkStatus() : ErrnoStatus(errno, "preserve (mkdir)", path);
    }
    from = ParentDir();
    to = ParentDir();
    DUET_ASSIGN_OR_RETURN(std::vector<DirEntry> entries, ReadDirectory(from_root, path, kOp));
    for (const DirEntry& e : entries) {
      DUET_RETURN_IF_ERROR(CopyEntry(from_root, to_root, JoinPath(path, e.name)));
    }
    if (const int err = OpenParent(to_root, path, &to); err != 0) {
      return ErrnoStatus(err, "preserve (destination)", path);
    }
  } else if (S_ISREG(st.st_mode)) {
    const int in = openat(from.dir.get(), from.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0) return ErrnoStatus(errno, "preserve (open)", path);
    const UniqueFd source(in);
    const int out = openat(to.dir.get(), to.name.c_str(),
                           O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) {
      return errno == EEXIST ? absl::OkStatus() : ErrnoStatus(errno, "preserve (create)", path);
    }
    const UniqueFd copy(out);
    DUET_RETURN_IF_ERROR(CopyFileData(source.get(), copy.get(), path));
  } else if (S_ISLNK(st.st_mode)) {
    DUET_ASSIGN_OR_RETURN(
        const std::string target,
        ReadLinkAt(from.dir.get(), from.name, static_cast<size_t>(st.st_size), path));
    if (symlinkat(target.c_str(), to.dir.get(), to.name.c_str()) != 0) {
      return errno == EEXIST ? absl::OkStatus() : ErrnoStatus(errno, "preserve (symlink)", path);
    }
  } else if (mknodat(to.dir.get(), to.name.c_str(), st.st_mode & (S_IFMT | 0600), st.st_rdev) !=
             0) {
    return errno == EEXIST ? absl::OkStatus() : ErrnoStatus(errno, "preserve (mknod)", path);
  }
  return CopyAttributes(to.dir.get(), to.name, st, path);
}

// InvalidArgument if the directory `dir` is `root` or lies beneath it: copies kept there
// would become the module's data (listed, resynced, overwritten).
absl::Status CheckOutside(int root, const std::string& dir) {
  struct stat root_st;
  if (fstat(root, &root_st) != 0) return ErrnoStatus(errno, kOp, ".");
  const int fd = open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "preserve (open)", dir);
  UniqueFd current(fd);
  for (int depth = 0; depth < PATH_MAX; ++depth) {
    struct stat st;
    if (fstat(current.get(), &st) != 0) return ErrnoStatus(errno, kOp, dir);
    if (st.st_dev == root_st.st_dev && st.st_ino == root_st.st_ino) {
      return absl::InvalidArgumentError(absl::StrCat(
          "preserve: '", dir, "' lies inside the module's backing directory; divergent copies ",
          "must be kept beside it"));
    }
    const int up = openat(current.get(), "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (up < 0) return ErrnoStatus(errno, kOp, dir);
    UniqueFd parent(up);
    struct stat parent_st;
    if (fstat(parent.get(), &parent_st) != 0) return ErrnoStatus(errno, kOp, dir);
    if (parent_st.st_dev == st.st_dev && parent_st.st_ino == st.st_ino) break;  // at "/"
    current = std::move(parent);
  }
  return absl::OkStatus();
}

// Copies `paths` from `root` into the new directory `name` of `dest`, and syncs it.
absl::Status CopyInto(int root, int dest, const std::string& name,
                      const std::vector<std::string>& paths) {
  const int copy_fd = OpenBeneath(dest, name, O_RDONLY | O_DIRECTORY);
  if (copy_fd < 0) return ErrnoStatus(-copy_fd, "preserve (open)", name);
  const UniqueFd copy(copy_fd);
  // An ancestor before what lies under it: a path copied with its directory is skipped.
  std::vector<std::string> ordered = paths;
  std::sort(ordered.begin(), ordered.end());
  for (const std::string& path : ordered) {
    DUET_ASSIGN_OR_RETURN(const bool in_tree, InTree(root, path));
    if (!in_tree) continue;
    DUET_RETURN_IF_ERROR(MakeDirs(copy.get(), ParentOf(path)));
    DUET_RETURN_IF_ERROR(CopyEntry(root, copy.get(), path));
  }
  if (syncfs(copy.get()) != 0) return ErrnoStatus(errno, "preserve (syncfs)", name);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> PreserveDivergentPaths(int root, const std::vector<std::string>& paths,
                                                   const std::string& dest_root, absl::Time now) {
  for (const std::string& path : paths) DUET_RETURN_IF_ERROR(CheckRelativePath(kOp, path));
  struct stat dest_st;
  const bool dest_exists = stat(dest_root.c_str(), &dest_st) == 0;
  DUET_RETURN_IF_ERROR(CheckOutside(
      root, dest_exists ? dest_root : std::filesystem::path(dest_root).parent_path().string()));
  if (mkdir(dest_root.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "preserve (mkdir)", dest_root);
  }
  const int dest_fd = open(dest_root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dest_fd < 0) return ErrnoStatus(errno, "preserve (open)", dest_root);
  const UniqueFd dest(dest_fd);
  const std::string stamp = absl::FormatTime("divergent-%Y%m%dT%H%M%SZ", now, absl::UTCTimeZone());
  std::string name = stamp;
  for (int n = 2; mkdirat(dest.get(), name.c_str(), 0700) != 0; ++n) {
    if (errno != EEXIST) return ErrnoStatus(errno, "preserve (mkdir)", dest_root + "/" + name);
    name = absl::StrCat(stamp, "-", n);
  }
  absl::Status copied = CopyInto(root, dest.get(), name, paths);
  if (copied.ok()) return absl::StrCat(dest_root, "/", name);
  // A copy that failed half-way would hold space (ENOSPC: what the retry needs) and look
  // like a kept branch: it goes, best effort; the error says what failed.
  (void)RemoveTree(dest.get(), name);
  return copied;
}

}  // namespace duet::store
