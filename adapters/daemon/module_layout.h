// Where a module's directories live in its backing root, and which paths a mutation may name.
//
// The backing root (`<state_dir>/modules/<module>/data`) holds one directory per configured
// directory of the module, named by its index ("0", "1"...): the mount of directory i shows
// "i" and names every path it hands the engine "i/...". A mutation that reaches the store
// from anywhere (the peer's stream and resync above all) must stay beneath those prefixes:
// RESOLVE_BENEATH keeps a path inside the backing root, this keeps it inside the module's
// directories, so a peer cannot create names beside them ("7/x", "x") that no mount shows, nor
// remove or move a directory's root itself.
#ifndef DUET_ADAPTERS_DAEMON_MODULE_LAYOUT_H_
#define DUET_ADAPTERS_DAEMON_MODULE_LAYOUT_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "engine/replication/mutation.h"

namespace duet::daemon {

// The name of directory `directory_index` in the backing root.
std::string DirectoryPrefix(size_t directory_index);

// OK when every name `mutation` changes is beneath one of the `directory_count` prefixes:
// "i/..." for i < directory_count, or "i" itself for what keeps the name in place (attributes,
// xattrs, a mkdir that recreates it, fsync); "" only for an fsync of the whole tree. A
// symlink's target is data, not a name, and is not checked. PermissionDenied otherwise,
// naming the kind and the path.
absl::Status CheckMutationWithinDirectories(const Mutation& mutation, size_t directory_count);

}  // namespace duet::daemon

#endif  // DUET_ADAPTERS_DAEMON_MODULE_LAYOUT_H_
