// Module-relative paths, resolved beneath the module root's directory fd without ever
// leaving it (adapter contract C9). A path is accepted in its one plain spelling only:
// relative, components separated by single '/', none empty, "." or "..", no NUL byte, at
// most PATH_MAX bytes. Every lookup then goes through
// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS), so the kernel
// refuses an absolute path, ".." above the root and any symlink on the way even if a check
// here were wrong. The last component is handled by the caller with *at calls on the parent
// directory's fd that never follow it (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW).
#ifndef DUET_ADAPTERS_STORE_BENEATH_PATH_H_
#define DUET_ADAPTERS_STORE_BENEATH_PATH_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "adapters/store/unique_fd.h"

namespace duet::store {

// OK, or InvalidArgument naming `op`, the path and what is wrong with it.
absl::Status CheckRelativePath(absl::string_view op, absl::string_view path);

// openat2 of `path` beneath `root`, no symlink followed (the last component included;
// "." is the root itself). Returns the fd, or -errno (ELOOP: a symlink on the way).
int OpenBeneath(int root, const std::string& path, int flags, mode_t mode = 0);

// The directory holding a checked path, open O_RDONLY so that it can be fsync'ed, and the
// path's last component.
struct ParentDir {
  UniqueFd dir;
  std::string name;
};

// Opens the directory holding the checked `path` (the root for a one-component path).
// Returns 0, or the errno: ENOENT or ENOTDIR (a directory on the way is missing or is not
// one), ELOOP (one is a symlink), EXDEV (the kernel saw an escape).
int OpenParent(int root, absl::string_view path, ParentDir* out);

// The status for OpenParent's errno: a symlink on the way or an escape is PermissionDenied
// ("refused: ..."), anything else as ErrnoStatus.
absl::Status ParentError(int err, absl::string_view op, absl::string_view path);

// Whether OpenParent's errno means the path is not a name in the tree: no name in the tree
// lies under a missing directory, a file or a symlink.
bool ParentMeansAbsent(int err);

// "a/b" for "a/b/c", "" for "c".
absl::string_view ParentOf(absl::string_view path);
// "dir/name", or "name" when dir is "".
std::string JoinPath(absl::string_view dir, absl::string_view name);

}  // namespace duet::store

#endif  // DUET_ADAPTERS_STORE_BENEATH_PATH_H_
