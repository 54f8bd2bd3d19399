// The daemon's log: one line per event, to stderr (journald adds the time there) and, for an
// event of a module, to that module's own log file under `<state_dir>/log/<module>.log`, which
// `duetctl log` reads. A module log that reaches `max_bytes` is renamed to `<module>.log.1`
// (replacing the older one) and a new one is started, so the two never hold more than twice
// the cap. A log file that cannot be written costs its line there, never the daemon: the line
// still reaches stderr, with the reason once.
//
// Thread-safe: FUSE workers, the process runners and the event loop all log.
#ifndef DUET_ADAPTERS_DAEMON_DAEMON_LOG_H_
#define DUET_ADAPTERS_DAEMON_DAEMON_LOG_H_

#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>

#include "absl/strings/string_view.h"

namespace duet::daemon {

class DaemonLog {
 public:
  // `node` prefixes every line. `dir` empty: stderr only.
  DaemonLog(std::string node, std::string dir, uint64_t max_bytes = 8u << 20,
            FILE* console = stderr);
  ~DaemonLog();
  DaemonLog(const DaemonLog&) = delete;
  DaemonLog& operator=(const DaemonLog&) = delete;

  // A line about the node as a whole.
  void Node(absl::string_view text);
  // A line about one module: to stderr and to the module's file.
  void Module(absl::string_view module, absl::string_view text);

  // The path of a module's current log file ("" without a log directory).
  std::string PathOf(absl::string_view module) const;

 private:
  struct File {
    FILE* f = nullptr;
    uint64_t size = 0;
    bool failed = false;  // reported once
  };
  void WriteConsole(absl::string_view line);
  void WriteModuleFile(absl::string_view module, absl::string_view line);

  const std::string node_;
  const std::string dir_;
  const uint64_t max_bytes_;
  FILE* const console_;
  std::mutex mu_;
  std::map<std::string, File, std::less<>> files_;
};

}  // namespace duet::daemon

#endif  // DUET_ADAPTERS_DAEMON_DAEMON_LOG_H_
