#include "engine/replication/mutation.h"

#include "engine/replication/zone_map.h"

namespace duet {

const char* MutationKindName(MutationKind kind) {
  switch (kind) {
    case MutationKind::kWrite:
      return "write";
    case MutationKind::kTruncate:
      return "truncate";
    case MutationKind::kCreate:
      return "create";
    case MutationKind::kMkdir:
      return "mkdir";
    case MutationKind::kUnlink:
      return "unlink";
    case MutationKind::kRmdir:
      return "rmdir";
    case MutationKind::kRename:
      return "rename";
    case MutationKind::kSymlink:
      return "symlink";
    case MutationKind::kLink:
      return "link";
    case MutationKind::kSetattr:
      return "setattr";
    case MutationKind::kFsync:
      return "fsync";
    case MutationKind::kRemoveTree:
      return "remove-tree";
    case MutationKind::kSetxattr:
      return "setxattr";
    case MutationKind::kRemovexattr:
      return "removexattr";
    case MutationKind::kReplaceXattrs:
      return "replace-xattrs";
    case MutationKind::kMknod:
      return "mknod";
  }
  return "?";
}

std::string NameAfterRename(const Mutation& m, const std::string& name) {
  if (PathIsUnder(name, m.path)) return m.path2 + name.substr(m.path.size());
  if (m.is_exchange() && PathIsUnder(name, m.path2)) return m.path + name.substr(m.path2.size());
  return name;
}

}  // namespace duet
