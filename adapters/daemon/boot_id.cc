#include "adapters/daemon/boot_id.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace duet::daemon {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return in ? text.str() : std::string();
}

}  // namespace

bool MachineRestartedSinceLastRun(const std::string& state_dir, const std::string& boot_id_file) {
  const std::string now = ReadAll(boot_id_file);
  const std::string recorded_path = state_dir + "/boot_id";
  const std::string before = ReadAll(recorded_path);
  if (!now.empty() && now != before) {
    const std::string tmp = recorded_path + ".new";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
      bool ok = ::write(fd, now.data(), now.size()) == static_cast<ssize_t>(now.size()) &&
                ::fsync(fd) == 0;
      ::close(fd);
      if (ok) std::rename(tmp.c_str(), recorded_path.c_str());
    }
  }
  return now.empty() || now != before;
}

}  // namespace duet::daemon
