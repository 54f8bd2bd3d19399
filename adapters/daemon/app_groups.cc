#include "adapters/daemon/app_groups.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace duet::daemon {
namespace {

absl::Status WriteAll(int fd, const std::string& text, const std::string& path) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(absl::StrCat("writing ", path, ": ", strerror(errno)));
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

std::string RunDirOf(const std::string& state_dir) { return state_dir + "/run"; }

std::string AppGroups::PathOf(const std::string& module) const {
  return absl::StrCat(run_dir_, "/", module, ".pgids");
}

absl::Status AppGroups::Record(const std::string& module, pid_t process_group) const {
  std::error_code error;
  std::filesystem::create_directories(run_dir_, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot create ", run_dir_, ": ", error.message()));
  }
  const std::string path = PathOf(module);
  // One write(2) per line with O_APPEND: a reader never sees half of a line it could misread
  // as another group.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot open ", path, ": ", strerror(errno)));
  absl::Status status = WriteAll(fd, absl::StrCat(process_group, "\n"), path);
  ::close(fd);
  return status;
}

std::vector<pid_t> AppGroups::Recorded(const std::string& module) const {
  std::vector<pid_t> groups;
  std::ifstream in(PathOf(module));
  std::string line;
  while (std::getline(in, line)) {
    int32_t group = 0;
    if (!absl::SimpleAtoi(line, &group) || group <= 1) continue;
    if (std::find(groups.begin(), groups.end(), group) == groups.end()) groups.push_back(group);
  }
  return groups;
}

absl::Status AppGroups::Prune(const std::string& module) const {
  const std::string path = PathOf(module), temporary = path + ".new";
  if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) return absl::OkStatus();
  std::vector<pid_t> groups = Recorded(module);
  std::string text;
  for (pid_t group : groups) {
    if (GroupAlive(group)) absl::StrAppend(&text, group, "\n");
  }
  // Written aside and renamed over: a crash in between leaves the old record, never none.
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("cannot open ", temporary, ": ", strerror(errno)));
  }
  absl::Status status = WriteAll(fd, text, temporary);
  ::close(fd);
  if (status.ok() && ::rename(temporary.c_str(), path.c_str()) != 0) {
    status = absl::InternalError(absl::StrCat("cannot rename ", temporary, ": ", strerror(errno)));
  }
  if (!status.ok()) ::unlink(temporary.c_str());
  return status;
}

void AppGroups::Forget(const std::string& module) const { ::unlink(PathOf(module).c_str()); }

bool GroupAlive(pid_t process_group) {
  return process_group > 1 && (::kill(-process_group, 0) == 0 || errno == EPERM);
}

}  // namespace duet::daemon
