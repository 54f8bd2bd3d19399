#include "adapters/store/tree_walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "adapters/store/beneath_path.h"
#include "adapters/store/errno_status.h"
#include "adapters/store/unique_fd.h"

namespace duet::store {
namespace {

// Removes the contents of the directory at `path`, which stays.
absl::Status RemoveContents(int root, const std::string& path) {
  absl::StatusOr<std::vector<DirEntry>> entries = ReadDirectory(root, path, "remove-tree");
  if (!entries.ok()) return entries.status();
  std::vector<std::string> subdirs;
  {
    const int fd = OpenBeneath(root, path, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return ErrnoStatus(-fd, "remove-tree", path);
    const UniqueFd dir(fd);
    for (const DirEntry& e : *entries) {
      if (e.type == DT_DIR) {
        subdirs.push_back(e.name);
      } else if (unlinkat(dir.get(), e.name.c_str(), 0) != 0 && errno != ENOENT) {
        return ErrnoStatus(errno, "remove-tree", JoinPath(path, e.name));
      }
    }
  }  // closed before descending
  for (const std::string& sub : subdirs) {
    absl::Status status = RemoveContents(root, JoinPath(path, sub));
    if (!status.ok()) return status;
  }
  if (subdirs.empty()) return absl::OkStatus();
  const int fd = OpenBeneath(root, path, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return ErrnoStatus(-fd, "remove-tree", path);
  const UniqueFd dir(fd);
  for (const std::string& sub : subdirs) {
    if (unlinkat(dir.get(), sub.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, "remove-tree", JoinPath(path, sub));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ReadLinkAt(int dir, const std::string& name, size_t size_hint,
                                       absl::string_view path) {
  std::string target(std::max<size_t>(size_hint, 64) + 1, '\0');
  while (true) {
    const ssize_t n = readlinkat(dir, name.c_str(), target.data(), target.size());
    if (n < 0) return ErrnoStatus(errno, "readlink", path);
    if (static_cast<size_t>(n) < target.size()) {
      target.resize(static_cast<size_t>(n));
      return target;
    }
    target.resize(target.size() * 2);  // it grew since the stat
  }
}

absl::StatusOr<std::vector<DirEntry>> ReadDirectory(int root, const std::string& path,
                                                    absl::string_view op) {
  const int fd = OpenBeneath(root, path.empty() ? "." : path, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return ErrnoStatus(-fd, op, path);
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    const int err = errno;
    close(fd);
    return ErrnoStatus(err, op, path);
  }
  std::vector<DirEntry> entries;
  absl::Status status;
  while (true) {
    errno = 0;
    const dirent* d = readdir(dir);
    if (d == nullptr) {
      if (errno != 0) status = ErrnoStatus(errno, op, path);
      break;
    }
    const absl::string_view name = d->d_name;
    if (name == "." || name == "..") continue;
    DirEntry e{std::string(name), d->d_type};
    if (e.type == DT_UNKNOWN) {  // some file systems leave the type to a stat
      struct stat st;
      if (fstatat(dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;
        status = ErrnoStatus(errno, op, JoinPath(path, name));
        break;
      }
      e.type = static_cast<unsigned char>(IFTODT(st.st_mode));
    }
    entries.push_back(std::move(e));
  }
  closedir(dir);
  if (!status.ok()) return status;
  return entries;
}

absl::StatusOr<std::vector<std::string>> ListNames(int root) {
  std::vector<std::string> names;
  std::vector<std::string> pending_dirs = {""};
  while (!pending_dirs.empty()) {
    const std::string dir = std::move(pending_dirs.back());
    pending_dirs.pop_back();
    absl::StatusOr<std::vector<DirEntry>> entries = ReadDirectory(root, dir, "list-tree");
    if (!entries.ok()) return entries.status();
    for (DirEntry& e : *entries) {
      std::string path = JoinPath(dir, e.name);
      if (e.type == DT_DIR) pending_dirs.push_back(path);
      names.push_back(std::move(path));
    }
  }
  return names;
}

absl::Status RemoveTree(int root, const std::string& path) {
  constexpr absl::string_view kOp = "remove-tree";
  struct stat st;
  {
    ParentDir parent;
    if (const int err = OpenParent(root, path, &parent); err != 0) {
      return ParentMeansAbsent(err) ? absl::OkStatus() : ParentError(err, kOp, path);
    }
    if (fstatat(parent.dir.get(), parent.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return errno == ENOENT ? absl::OkStatus() : ErrnoStatus(errno, kOp, path);
    }
    if (!S_ISDIR(st.st_mode)) {
      if (unlinkat(parent.dir.get(), parent.name.c_str(), 0) != 0 && errno != ENOENT) {
        return ErrnoStatus(errno, kOp, path);
      }
      return absl::OkStatus();
    }
  }  // no fd held while descending
  absl::Status status = RemoveContents(root, path);
  if (!status.ok()) return status;
  ParentDir parent;
  if (const int err = OpenParent(root, path, &parent); err != 0) {
    return ParentError(err, kOp, path);
  }
  if (unlinkat(parent.dir.get(), parent.name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, kOp, path);
  }
  return absl::OkStatus();
}

}  // namespace duet::store
