#include "adapters/daemon/existing_data.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace duet {
namespace {

absl::Status Failed(const std::string& what, const std::string& path, int err) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", strerror(err)));
}

absl::Status SyncDirectory(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Failed("opening", path, errno);
  const int rc = fsync(fd);
  const int err = errno;
  close(fd);
  return rc == 0 ? absl::OkStatus() : Failed("fsync of", path, err);
}

}  // namespace

absl::StatusOr<size_t> TakeInExistingData(const std::string& directory,
                                          const std::string& backing) {
  DIR* dir = opendir(directory.c_str());
  if (dir == nullptr) {
    // A dead FUSE mount (ENOTCONN) is for the mount to report, with what to do.
    if (errno == ENOENT || errno == ENOTCONN) return size_t{0};
    return Failed("reading", directory, errno);
  }
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  const int read_error = errno;
  closedir(dir);
  if (read_error != 0) return Failed("reading", directory, read_error);
  if (names.empty()) return size_t{0};

  struct stat from;
  struct stat to;
  if (stat(directory.c_str(), &from) != 0) return Failed("stat of", directory, errno);
  if (stat(backing.c_str(), &to) != 0) return Failed("stat of", backing, errno);
  if (from.st_dev != to.st_dev) {
    return absl::FailedPreconditionError(
        absl::StrCat(directory, " holds ", names.size(),
                     " entries from before Duet's first start, and ", backing,
                     " is on another file system, so they cannot be moved there: move them "
                     "into ",
                     backing,
                     " yourself (keeping owners, modes and links), or put the state directory "
                     "on the file system of ",
                     directory));
  }
  for (const std::string& name : names) {
    const std::string source = absl::StrCat(directory, "/", name);
    const std::string target = absl::StrCat(backing, "/", name);
    if (rename(source.c_str(), target.c_str()) != 0) {
      return Failed(absl::StrCat("moving existing data into ", backing, ":"), source, errno);
    }
  }
  if (chmod(backing.c_str(), from.st_mode & 07777) != 0) return Failed("chmod", backing, errno);
  if (chown(backing.c_str(), from.st_uid, from.st_gid) != 0) {
    return Failed("chown", backing, errno);
  }
  if (absl::Status s = SyncDirectory(backing); !s.ok()) return s;
  if (absl::Status s = SyncDirectory(directory); !s.ok()) return s;
  return names.size();
}

}  // namespace duet
