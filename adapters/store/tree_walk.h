// Walking a module's tree beneath its root fd without following a symlink: reading one
// directory, listing every name at any depth, removing a subtree. Each directory is opened
// from the root by its path (beneath_path.h) and closed before the walk descends, so a deep
// tree costs path lookups, never one open fd per level.
#ifndef DUET_ADAPTERS_STORE_TREE_WALK_H_
#define DUET_ADAPTERS_STORE_TREE_WALK_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace duet::store {

struct DirEntry {
  std::string name;
  unsigned char type = 0;  // DT_REG, DT_DIR, DT_LNK... (never DT_UNKNOWN)
};

// The entries of the directory at the checked `path` beneath `root` ("" = the root itself),
// without "." and "..", in no particular order. `op` names the caller in errors.
absl::StatusOr<std::vector<DirEntry>> ReadDirectory(int root, const std::string& path,
                                                    absl::string_view op);

// The target of the symlink `name` in `dir` (`size_hint`: its stat size); `path` for errors.
absl::StatusOr<std::string> ReadLinkAt(int dir, const std::string& name, size_t size_hint,
                                       absl::string_view path);

// Every name beneath `root` at any depth (not the root), symlinks listed but not followed.
absl::StatusOr<std::vector<std::string>> ListNames(int root);

// Removes whatever is at the checked `path` and, for a directory, everything under it,
// never following a symlink. A path that is not in the tree is fine (nothing to remove).
absl::Status RemoveTree(int root, const std::string& path);

}  // namespace duet::store

#endif  // DUET_ADAPTERS_STORE_TREE_WALK_H_
