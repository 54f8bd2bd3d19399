#include "engine/replication/mutation.h"

#include "absl/strings/str_cat.h"
#include "engine/replication/zone_map.h"

namespace duet {

DiskOrder DiskOrderOf(const Mutation& m) {
  switch (m.kind) {
    case MutationKind::kWrite:
    case MutationKind::kTruncate:
    case MutationKind::kFallocate:
    case MutationKind::kSetattr:
    case MutationKind::kSetxattr:
    case MutationKind::kRemovexattr:
    case MutationKind::kReplaceXattrs:
      return DiskOrder::kKeyed;
    case MutationKind::kFsync:
      return m.path.empty() ? DiskOrder::kBarrier : DiskOrder::kKeyed;
    case MutationKind::kCreate:
    case MutationKind::kMkdir:
    case MutationKind::kUnlink:
    case MutationKind::kRmdir:
    case MutationKind::kRename:
    case MutationKind::kSymlink:
    case MutationKind::kLink:
    case MutationKind::kRemoveTree:
    case MutationKind::kMknod:
      return DiskOrder::kBarrier;
  }
  return DiskOrder::kBarrier;
}

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
    case MutationKind::kFallocate:
      return "fallocate";
  }
  return "?";
}

bool ValidFallocateMode(uint32_t mode) {
  switch (mode) {
    case 0:
    case kFallocateKeepSize:
    case kFallocatePunchHole | kFallocateKeepSize:
    case kFallocateZeroRange:
    case kFallocateZeroRange | kFallocateKeepSize:
      return true;
    default:
      return false;
  }
}

std::string FallocateModeName(uint32_t mode) {
  std::string name;
  const auto add = [&](uint32_t bit, const char* word) {
    if ((mode & bit) == 0) return;
    if (!name.empty()) name += '|';
    name += word;
    mode &= ~bit;
  };
  add(kFallocatePunchHole, "punch-hole");
  add(kFallocateZeroRange, "zero-range");
  add(kFallocateKeepSize, "keep-size");
  if (mode != 0) {
    if (!name.empty()) name += '|';
    absl::StrAppend(&name, "unknown-0x", absl::Hex(mode));
  }
  return name.empty() ? "allocate" : name;
}

std::string NameAfterRename(const Mutation& m, const std::string& name) {
  if (PathIsUnder(name, m.path)) return m.path2 + name.substr(m.path.size());
  if (m.is_exchange() && PathIsUnder(name, m.path2)) return m.path + name.substr(m.path2.size());
  return name;
}

}  // namespace duet
