#include "adapters/daemon/daemon_log.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace duet::daemon {
namespace {

// Wall-clock time for the module files (stderr gets journald's).
std::string Stamp() {
  return absl::FormatTime("%Y-%m-%d %H:%M:%E3S", absl::Now(), absl::LocalTimeZone());
}

}  // namespace

DaemonLog::DaemonLog(std::string node, std::string dir, uint64_t max_bytes, FILE* console)
    : node_(std::move(node)), dir_(std::move(dir)), max_bytes_(max_bytes), console_(console) {
  // The state directory may not exist yet on a first start.
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::create_directories(dir_, ignored);
  }
}

DaemonLog::~DaemonLog() {
  for (auto& [name, file] : files_) {
    if (file.f != nullptr) std::fclose(file.f);
  }
}

std::string DaemonLog::PathOf(absl::string_view module) const {
  return dir_.empty() ? std::string() : absl::StrCat(dir_, "/", module, ".log");
}

void DaemonLog::Node(absl::string_view text) {
  std::lock_guard lock(mu_);
  WriteConsole(absl::StrCat(node_, ": ", text));
}

void DaemonLog::Module(absl::string_view module, absl::string_view text) {
  std::lock_guard lock(mu_);
  WriteConsole(absl::StrCat(node_, " ", module, ": ", text));
  WriteModuleFile(module, absl::StrCat(Stamp(), " ", node_, ": ", text));
}

void DaemonLog::WriteConsole(absl::string_view line) {
  std::fprintf(console_, "%.*s\n", static_cast<int>(line.size()), line.data());
  std::fflush(console_);
}

void DaemonLog::WriteModuleFile(absl::string_view module, absl::string_view line) {
  if (dir_.empty()) return;
  auto it = files_.find(module);
  if (it == files_.end()) it = files_.emplace(std::string(module), File{}).first;
  File& file = it->second;
  const std::string path = PathOf(module);
  if (file.f != nullptr && file.size + line.size() + 1 > max_bytes_) {
    std::fclose(file.f);
    file.f = nullptr;
    std::rename(path.c_str(), (path + ".1").c_str());
  }
  if (file.f == nullptr) {
    file.f = std::fopen(path.c_str(), "ae");
    if (file.f == nullptr) {
      if (!file.failed) {
        WriteConsole(absl::StrCat(node_, " ", module, ": cannot write the module log ", path, ": ",
                                  std::strerror(errno)));
      }
      file.failed = true;
      return;
    }
    struct stat st {};
    file.size = ::fstat(fileno(file.f), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
    file.failed = false;
  }
  std::fprintf(file.f, "%.*s\n", static_cast<int>(line.size()), line.data());
  std::fflush(file.f);
  file.size += line.size() + 1;
}

}  // namespace duet::daemon
