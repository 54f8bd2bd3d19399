// Each module's last failover to this node, kept across duetd restarts in
// `<state_dir>/last_failovers` so that `duetctl status` still shows it after one.
//
// The engine reports a failover (FailoverRecord) in the driver's monotonic time, which means
// nothing to the next run after a machine restart, and it keeps it in memory only; status is
// the record's only reader, and it shows wall-clock time. So the file keeps, per module, what
// status shows: the node it came from, its cause, the wall-clock time it began and its
// duration. One line per module, "module<TAB>from node index<TAB>cause<TAB>began (Unix
// ns)<TAB>duration (ns)", the cause 0 (peer lost), 1 (admin prim) or 2 (app failed; files
// from before it had only 0 and 1), replaced whole (written aside, fsync'ed, renamed over).
// Lines of modules no longer configured are kept as they are (a module removed and added
// back finds its record). Not thread-safe: the daemon's loop owns it.
#ifndef DUET_ADAPTERS_DAEMON_FAILOVER_HISTORY_H_
#define DUET_ADAPTERS_DAEMON_FAILOVER_HISTORY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/node.h"

namespace duet::daemon {

class FailoverHistory {
 public:
  // Nothing kept yet; saves into `state_dir`.
  explicit FailoverHistory(std::string state_dir) : state_dir_(std::move(state_dir)) {}
  // What `state_dir` keeps (nothing when the file does not exist). DataLoss naming the file
  // and line when a line does not parse; FailedPrecondition when it cannot be read.
  static absl::StatusOr<FailoverHistory> Load(const std::string& state_dir);

  // The engine's last failover of `module` as status reads it now (`now` on the monotonic
  // clock, `wall_now` on the wall clock): saved when it is not the one already saved by this
  // run. The error of the write, if any (the record stays in memory then).
  absl::Status Keep(const std::string& module, const FailoverRecord& record, absl::Time now,
                    absl::Time wall_now);

  // The saved failover of `module` on the engine's clock as read at `now` (monotonic) and
  // `wall_now`, for status: its "at" and duration come out as saved. Nullopt when none.
  std::optional<FailoverRecord> Of(const std::string& module, absl::Time now,
                                   absl::Time wall_now) const;

 private:
  struct Saved {
    NodeIndex from = 0;
    FailoverCause cause = FailoverCause::kPeerLost;
    int64_t began_unix_ns = 0;
    int64_t duration_ns = 0;
  };
  absl::Status Save() const;

  std::string state_dir_;
  std::map<std::string, Saved> saved_;
  // The engine's records already saved by this run, so that each is written once.
  std::map<std::string, FailoverRecord> kept_;
};

}  // namespace duet::daemon

#endif  // DUET_ADAPTERS_DAEMON_FAILOVER_HISTORY_H_
