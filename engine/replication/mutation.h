// A change to a module's replicated tree, as the interceptor hands it to the engine and as
// the stream carries it to the secondary. Paths are relative to the module's directory
// ("dir/file", never absolute, never "..": the adapters enforce it on both ends).
// File data travels as a Payload, a reference-counted immutable buffer: the engine passes
// it along and never copies the bytes.
#ifndef DUET_ENGINE_REPLICATION_MUTATION_H_
#define DUET_ENGINE_REPLICATION_MUTATION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/replication/file_attributes.h"

namespace duet {

using Payload = std::shared_ptr<const std::string>;

inline Payload MakePayload(std::string bytes) {
  return std::make_shared<const std::string>(std::move(bytes));
}

enum class MutationKind : uint8_t {
  kWrite,          // path, offset, data, sync
  kTruncate,       // path, offset = new size
  kCreate,         // path, mode, uid, gid (the creator's)
  kMkdir,          // path, mode, uid, gid
  kUnlink,         // path
  kRmdir,          // path
  kRename,         // path -> path2, rename_flags (RenameFlag)
  kSymlink,        // path (the link) -> path2 (its target, stored verbatim), uid, gid
  kLink,           // path (existing) -> path2 (new name)
  kSetattr,        // path, attr_mask: the attributes it sets (file_attributes.h)
  kFsync,          // path: durable on both servers before it completes ("" = the whole tree)
  kRemoveTree,     // resync only: remove whatever is at path, recursively; absent is fine
  kSetxattr,       // path, xattr_name, data = the value (absent: empty), xattr_flags
  kRemovexattr,    // path, xattr_name (an absent name is fine: the apply is idempotent)
  kReplaceXattrs,  // resync only: path's xattr set becomes exactly `xattrs`
  kMknod,          // path, node_kind (kFifo or kSocket), mode, uid, gid
  kFallocate,      // path, offset, length (> 0), fallocate_mode (FallocateFlag bits)
};

// kFallocate's mode: the engine's own bits (the adapters map fallocate(2)'s to and from
// them). The modes that replicate, and nothing else (ValidFallocateMode):
//   0                                   allocate; the size grows to cover the range
//   kFallocateKeepSize                  allocate; the size stays
//   kFallocatePunchHole | KeepSize      the range becomes a hole (reads as zeros)
//   kFallocateZeroRange [| KeepSize]    the range reads as zeros; without KeepSize the size
//                                       grows to cover it
// Allocation without data (plain allocate, zero range) is not data as a resync sees it: like
// SEEK_DATA on Linux file systems, it reads as a hole (see ChangedBytes in zone_math.h).
enum FallocateFlag : uint32_t {
  kFallocateKeepSize = 1u << 0,
  kFallocatePunchHole = 1u << 1,
  kFallocateZeroRange = 1u << 2,
};
bool ValidFallocateMode(uint32_t mode);

// Holes inside a zone a resync reads: [offset, offset + length) from the zone's start,
// ascending, not touching, none empty.
struct HoleRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  friend bool operator==(const HoleRange&, const HoleRange&) = default;
};
using HoleRanges = std::vector<HoleRange>;
// "punch-hole|keep-size", for logs and errors.
std::string FallocateModeName(uint32_t mode);

const char* MutationKindName(MutationKind kind);

// What a path is on one node (as a resync reads it). A FIFO or a socket is a name with
// attributes only: what passes through it never replicates. Device nodes are refused by the
// adapter (EPERM, engine/adapter_contract.h C14) and never reach the engine.
enum class PathKind : uint8_t { kAbsent, kFile, kDirectory, kSymlink, kFifo, kSocket };

// Kinds that change a file's bytes in place, tracked by zones (not by the namespace journal).
inline bool IsDataKind(MutationKind kind) {
  return kind == MutationKind::kWrite || kind == MutationKind::kFallocate;
}

// A kRename's flags, as renameat2(2) takes them (the adapters map Linux's values). The
// primary's store honours them (EEXIST, ENOENT go back to the application); the secondary
// applies with the same flags, so a copy that differs fails there too and asks for the names
// again. Both together are invalid.
enum RenameFlag : uint32_t {
  kRenameNoReplace = 1,  // RENAME_NOREPLACE: fail with EEXIST if path2 exists
  kRenameExchange = 2,   // RENAME_EXCHANGE: swap path and path2 (both must exist)
};
inline constexpr uint32_t kAllRenameFlags = kRenameNoReplace | kRenameExchange;
// The flags a kRename may carry: known bits, not both.
inline bool ValidRenameFlags(uint32_t flags) {
  return (flags & ~kAllRenameFlags) == 0 && flags != kAllRenameFlags;
}

// The mode of a directory a store makes for Mutation::make_parents: only root may enter it
// until its own block gives it the source's owner and mode.
inline constexpr uint32_t kMadeParentMode = 0700;

struct Mutation {
  MutationKind kind = MutationKind::kWrite;
  std::string path;
  std::string path2;
  uint64_t offset = 0;
  Payload data;
  // Attributes (file_attributes.h): a create, mkdir or symlink sets mode (not a symlink's),
  // uid and gid; a setattr sets those in attr_mask, which only a setattr has.
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t atime_ns = 0;
  // A setattr's mtime (with kAttrMtime). On a mutation that changes times implicitly
  // (StampsChangeTime), the change's time instead: the primary's CLOCK_REALTIME when its
  // adapter took the call, which both nodes give the entry as its mtime (a new entry's atime
  // too), so the copies' times agree. 0: not stamped (a resync's own mutations).
  int64_t mtime_ns = 0;
  uint32_t attr_mask = 0;
  std::string xattr_name;    // kSetxattr, kRemovexattr
  uint32_t xattr_flags = 0;  // kSetxattr: XattrFlag bits
  XattrSet xattrs;           // kReplaceXattrs
  // kWrite from an O_SYNC/O_DSYNC file: it completes only once durable on both nodes, like
  // the write followed by an fsync of its file (and fails like that fsync would).
  bool sync = false;
  PathKind node_kind = PathKind::kAbsent;  // kMknod: kFifo or kSocket
  uint64_t length = 0;                     // kFallocate: bytes of the range at offset
  uint32_t fallocate_mode = 0;             // kFallocate: FallocateFlag bits
  uint32_t rename_flags = 0;               // kRename: RenameFlag bits
  // A resync target's own step, never on the wire: the store first makes the directories
  // missing above the path it creates (path2 for a kLink), owned by root with
  // kMadeParentMode, so that a block may land before its parent's (adapter contract C13).
  // A kRemoveTree creates nothing: the stores ignore it there.
  bool make_parents = false;

  uint64_t data_size() const { return data ? data->size() : 0; }
  // Completes only once durable on both nodes: an fsync, or a sync write.
  bool is_durable() const { return kind == MutationKind::kFsync || sync; }
  bool is_data() const { return IsDataKind(kind); }
  // Changes names in the tree (what the namespace journal records while ALONE).
  bool is_namespace() const { return !is_data() && kind != MutationKind::kFsync; }
  // A rename that swaps its two names: what was at path is at path2 and the reverse.
  bool is_exchange() const {
    return kind == MutationKind::kRename && (rename_flags & kRenameExchange) != 0;
  }
  // As the namespace journal keeps it: no file data (a resync carries the bytes), but a
  // setxattr's value, which nothing else carries.
  void DropFileData() {
    if (kind != MutationKind::kSetxattr) data.reset();
  }
};

// How a disk operation orders against the module's others (adapter contract C7): a barrier
// waits for everything issued before it and holds everything after it; a keyed one orders
// only against operations on the same file (its path, and the inode the store finds there).
enum class DiskOrder : uint8_t { kKeyed, kBarrier };
// Namespace changes and the whole-tree flush are barriers; everything else names one file.
DiskOrder DiskOrderOf(const Mutation& m);

// Whether the primary's adapter stamps `m` with the time of the change (Mutation::mtime_ns):
// the kinds that set the mtime of what they change, as Linux does implicitly (a write of
// bytes, a truncate, a fallocate; a new entry's atime and mtime). The times of the parent
// directory a name changes in stay each node's own (file_attributes.h).
inline bool StampsChangeTime(const Mutation& m) {
  switch (m.kind) {
    case MutationKind::kWrite:
      return m.data_size() > 0;
    case MutationKind::kTruncate:
    case MutationKind::kFallocate:
    case MutationKind::kCreate:
    case MutationKind::kMkdir:
    case MutationKind::kSymlink:
    case MutationKind::kMknod:
      return true;
    default:
      return false;
  }
}

// The names in the tree a mutation changes: its path, and path2 unless that is a symlink's
// target (a rename's or hard link's path2 is a name; an exchange changes both alike).
template <class F>
void ForEachChangedName(MutationKind kind, const std::string& path, const std::string& path2,
                        F&& f) {
  f(path);
  if (!path2.empty() && kind != MutationKind::kSymlink) f(path2);
}
template <class F>
void ForEachChangedName(const Mutation& m, F&& f) {
  ForEachChangedName(m.kind, m.path, m.path2, f);
}

// Where `name` (any path) is after the kRename `m`: at or under m.path, moved under m.path2;
// at or under m.path2 of an exchange, moved under m.path; anything else where it was (a plain
// rename's replaced m.path2 is gone: the caller knows).
std::string NameAfterRename(const Mutation& m, const std::string& name);

// A mutation without data: `kind` on `path` (and `path2` where the kind has one).
inline Mutation MakeMutation(MutationKind kind, std::string path, std::string path2 = {}) {
  Mutation m;
  m.kind = kind;
  m.path = std::move(path);
  m.path2 = std::move(path2);
  return m;
}

}  // namespace duet

#endif  // DUET_ENGINE_REPLICATION_MUTATION_H_
