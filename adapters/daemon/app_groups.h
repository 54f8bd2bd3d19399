// The process groups of a node's module scripts, recorded on disk as they start, so that what a
// script leaves running there (the module's application) can be stopped by someone who cannot
// ask the daemon: duetd itself at an orderly stop, and the guard after duetd died.
//
// One file per module, <run_dir>/<module>.pgids, one decimal group id per line, appended by
// duetd when a script starts (ScriptRunner::Options::on_started). Only duetd writes it; readers
// skip a torn or garbled line rather than fail: an id lost is still found by the guard's sweep
// of its own descendants (guard_cleanup.h).
//
// A group id names a live group only while one of its members lives; after that the number
// may come back with an unrelated process. So PruneGroups drops the ids of groups that have
// ended, and the guard only signals a recorded group that still holds one of its descendants.
#ifndef DUET_ADAPTERS_DAEMON_APP_GROUPS_H_
#define DUET_ADAPTERS_DAEMON_APP_GROUPS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace duet::daemon {

// <state_dir>/run: what only matters while this node's processes run.
std::string RunDirOf(const std::string& state_dir);

class AppGroups {
 public:
  explicit AppGroups(std::string run_dir) : run_dir_(std::move(run_dir)) {}

  // Appends the group to the module's record (the run directory is created if missing).
  absl::Status Record(const std::string& module, pid_t process_group) const;
  // The module's recorded groups, oldest first, each once; none when there is no record.
  std::vector<pid_t> Recorded(const std::string& module) const;
  // Rewrites the module's record without the groups that have no member any more.
  absl::Status Prune(const std::string& module) const;
  // Removes the module's record (the groups are stopped).
  void Forget(const std::string& module) const;

  const std::string& run_dir() const { return run_dir_; }

 private:
  std::string PathOf(const std::string& module) const;
  std::string run_dir_;
};

// Whether a process group has a member now (kill(-group, 0)).
bool GroupAlive(pid_t process_group);

}  // namespace duet::daemon

#endif  // DUET_ADAPTERS_DAEMON_APP_GROUPS_H_
