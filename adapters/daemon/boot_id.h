// Whether the machine restarted since this node's daemon last ran, which decides Node::Start's
// `lost_unsynced` (adapter contract C2): after a machine restart the pages the disk had not
// synced are gone; after a daemon restart alone they are still there. Decided by the kernel's
// boot id, kept in `<state_dir>/boot_id`; anything unreadable counts as a machine restart (the
// safe assumption).
#ifndef DUET_ADAPTERS_DAEMON_BOOT_ID_H_
#define DUET_ADAPTERS_DAEMON_BOOT_ID_H_

#include <string>

namespace duet::daemon {

// Compares the kernel's boot id (`boot_id_file`, /proc/sys/kernel/random/boot_id by default)
// with the one recorded in `state_dir`, records the current one (fsync'ed) and returns true
// unless both were readable and equal.
bool MachineRestartedSinceLastRun(
    const std::string& state_dir,
    const std::string& boot_id_file = "/proc/sys/kernel/random/boot_id");

}  // namespace duet::daemon

#endif  // DUET_ADAPTERS_DAEMON_BOOT_ID_H_
