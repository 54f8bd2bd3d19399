// What the guard clears away after duetd died, whatever the way it died, so that nothing is left
// serving on a node whose daemon is gone: the node's VIPs, the applications its scripts started,
// and its FUSE mounts. Every piece works from the configuration and the kernel's own view
// (netlink, /proc, mountinfo), never from anything the dead daemon would have to answer.
//
// Contract
//  - Each piece is idempotent: what is already gone is success (a VIP not there, no mount,
//    no process).
//  - Processes: the guard is the child subreaper of everything duetd starts
//    (PR_SET_CHILD_SUBREAPER), so once duetd is dead every process it left, even one that
//    changed its session or process group (setsid, double fork), is a descendant of the guard.
//    KillDescendants kills exactly those; a recorded process group (app_groups.h) is only
//    signalled while it holds such a descendant, so a reused group id is never signalled.
//  - Mounts: only Duet's own FUSE mounts (type fuse.duet) are detached, lazily (MNT_DETACH),
//    top first; a file system the operator mounted under the directory stays. The cleanup
//    detaches them after killing the applications (see CleanUpAfterDaemon for why).
//  - CleanUpAfterDaemon touches nothing while another duetd holds the state directory's lock
//    (a second duetd that failed to start must not strip the first one's node).
#ifndef DUET_ADAPTERS_DAEMON_GUARD_CLEANUP_H_
#define DUET_ADAPTERS_DAEMON_GUARD_CLEANUP_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "adapters/daemon/daemon_log.h"
#include "engine/config.h"

namespace duet::daemon {

// What a node's duetd may leave behind, from the configuration alone.
struct NodeFootprint {
  struct ModuleDirectories {
    std::string module;
    std::vector<std::string> directories;
    std::vector<VipConfig> vips;
  };
  std::string state_dir;
  std::vector<ModuleDirectories> modules;
};
NodeFootprint FootprintOf(const Config& config, NodeIndex self);

// Takes the VIP's address off its interface now (netlink; nothing announced). Returns whether
// it was there. Errors name the VIP and interface.
absl::StatusOr<bool> RemoveVipNow(const VipConfig& vip);

// Whether the topmost mount at `directory` is one of Duet's FUSE mounts (in the caller's mount
// namespace).
absl::StatusOr<bool> HasDuetMount(const std::string& directory);
// Lazily detaches Duet's FUSE mounts stacked at `directory`; returns how many.
absl::StatusOr<int> DetachDuetMounts(const std::string& directory);

struct ProcessInfo {
  pid_t pid = 0;
  std::string name;  // the command name, for the log
};
// The living (not zombie) descendants of `root`, from /proc.
std::vector<ProcessInfo> DescendantsOf(pid_t root);
// SIGKILLs `group` if one of its members descends from the calling process; returns those
// members (empty: not signalled).
std::vector<ProcessInfo> KillGroupOfDescendants(pid_t group);
// SIGKILLs every descendant of the calling process, again and again (a process may fork
// meanwhile) until none is left or `timeout` passed, reaping those that became its children.
// Returns every process killed.
std::vector<ProcessInfo> KillDescendants(absl::Duration timeout);

// The whole cleanup, each step logged with `reason` (why duetd is gone): the VIPs released,
// the recorded application groups and every other descendant killed, the mounts detached.
void CleanUpAfterDaemon(const NodeFootprint& footprint, const std::string& reason, DaemonLog& log);

}  // namespace duet::daemon

#endif  // DUET_ADAPTERS_DAEMON_GUARD_CLEANUP_H_
