#include "adapters/witness/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace duet::witness {
namespace {

absl::Status Errno(const std::string& what) {
  return absl::FailedPreconditionError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

absl::Status ReplaceFileDurably(const std::string& dir, const std::string& name,
                                absl::string_view text) {
  const std::string path = absl::StrCat(dir, "/", name);
  const std::string tmp = path + ".new";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno(absl::StrCat("cannot write ", tmp));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) {
    errno = err;
    return Errno(absl::StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Errno(absl::StrCat("cannot rename ", tmp));
  }
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return Errno(absl::StrCat("cannot open ", dir));
  ok = ::fsync(dir_fd) == 0;
  ::close(dir_fd);
  return ok ? absl::OkStatus() : Errno(absl::StrCat("cannot sync ", dir));
}

}  // namespace duet::witness
