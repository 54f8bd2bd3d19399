#include "adapters/witness/witness_state_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace duet::witness {
namespace {

std::string FileOf(const std::string& state_dir) { return state_dir + "/outdated"; }

absl::Status Errno(const std::string& what) {
  return absl::FailedPreconditionError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<WitnessDurableState> LoadWitnessState(const std::string& state_dir) {
  WitnessDurableState state;
  std::ifstream in(FileOf(state_dir));
  if (!in) {
    if (errno == ENOENT) return state;
    return Errno(absl::StrCat("cannot read ", FileOf(state_dir)));
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::vector<std::string> fields = absl::StrSplit(line, '\t');
    uint32_t node = 0;
    if (fields.size() != 3 || fields[0].empty() || fields[1].empty() ||
        !absl::SimpleAtoi(fields[2], &node) || node > 1) {
      return absl::DataLossError(absl::StrCat(FileOf(state_dir), ":", number,
                                              ": not 'cluster<TAB>module<TAB>0|1': ", line));
    }
    state[WitnessKey{fields[0], fields[1]}] = static_cast<NodeIndex>(node);
  }
  return state;
}

absl::Status SaveWitnessState(const std::string& state_dir, const WitnessDurableState& state) {
  std::vector<std::string> lines;
  for (const auto& [key, node] : state) {
    lines.push_back(absl::StrCat(key.cluster, "\t", key.module, "\t", node, "\n"));
  }
  std::sort(lines.begin(), lines.end());
  std::string text;
  for (const std::string& l : lines) text += l;

  const std::string path = FileOf(state_dir);
  const std::string tmp = path + ".new";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno(absl::StrCat("cannot write ", tmp));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) {
    errno = err;
    return Errno(absl::StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return Errno(absl::StrCat("cannot rename ", tmp));
  int dir = ::open(state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return Errno(absl::StrCat("cannot open ", state_dir));
  ok = ::fsync(dir) == 0;
  ::close(dir);
  return ok ? absl::OkStatus() : Errno(absl::StrCat("cannot sync ", state_dir));
}

}  // namespace duet::witness
