// Keeping a node's divergent changes aside before a resync overwrites them (DESIGN.md §5:
// never silently deleted). The copy is a plain directory tree an operator can read and
// restore from with cp -a.
#ifndef DUET_ADAPTERS_STORE_PRESERVE_DIVERGENT_H_
#define DUET_ADAPTERS_STORE_PRESERVE_DIVERGENT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace duet::store {

// Copies each of `paths` (module-relative, checked here) from the tree beneath `root` into
// a new directory `dest_root`/divergent-<YYYYMMDDTHHMMSSZ of now>[-N] at the same relative
// place: regular files (cloned with FICLONE where the file system can, else
// copy_file_range), directories with everything under them, symlinks as symlinks, FIFOs,
// sockets and devices as nodes; mode, owner, atime and mtime kept. A path not in the tree,
// or already copied under an earlier path, is skipped. `dest_root` is created (0700) if
// missing, and must lie outside `root` (InvalidArgument); the new directory is 0700 and
// synced (syncfs) before this returns its path. On a failure (ENOSPC, EIO, EACCES...) the
// new directory is removed again (best effort) and the error names the step and the path.
absl::StatusOr<std::string> PreserveDivergentPaths(int root, const std::vector<std::string>& paths,
                                                   const std::string& dest_root, absl::Time now);

}  // namespace duet::store

#endif  // DUET_ADAPTERS_STORE_PRESERVE_DIVERGENT_H_
