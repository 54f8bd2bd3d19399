// An in-memory copy of a module's replicated tree with crash semantics, standing in for a
// node's backing directory in tests and in the simulator. Mutations change the live view;
// fsync makes a path durable and syncfs (fsync of "") everything; a crash throws away what
// was not made durable (as LevelDB's fault-injection environment does). Applying follows
// the secondary's idempotent rules: creating what exists or removing what is gone succeeds.
// Otherwise it answers as the real store (adapters/store/backing_store.h) and the kernel
// under it: a name needs its directory (ENOENT, ENOTDIR; Mutation::make_parents makes the
// missing ones), rmdir refuses a non-directory or one with names (ENOTDIR, ENOTEMPTY), unlink
// a directory (EISDIR), and a rename what renameat2(2) refuses.
// Hard links are modelled as copies (no shared inodes), identically on both nodes. Times
// change by a setattr and by a mutation's time of change (StampsChangeTime: a write's mtime,
// a new entry's atime and mtime), as the backing store sets them; nothing else changes them.
// Extended attributes are part of an entry's attributes: synced, lost and torn with them.
//
// Cost: file data lives in copy-on-write pages (FileData), so the durable view shares every
// page that did not change since it was synced. A write costs the bytes written and the
// pages touched; a sync costs the paths and pages changed since the last sync, never the
// size of the tree; copying a tree copies page pointers, not bytes.
//
// Disk faults (DESIGN.md §8), all deterministic:
// - A torn crash (CrashTearingWrites): each unsynced page of a file is old or new at
//   random, as a real machine crash leaves it.
// - EIO on fsync (set_sync_failure): a failing sync makes nothing durable and, as Linux does
//   ("fsyncgate"), forgets the pages it failed to write: they never become durable unless
//   written again.
// - A full disk (set_capacity): writes that need new space fail with ENOSPC.
// - A truncate past kMaxFileSize fails with EFBIG (as ext4's 16 TiB limit).
// Every failed change (all but a sync's EIO) is a refusal (engine/inputs.h IsRefusal): it is
// decided before anything changes, as the real store promises (adapter contract C8).
#ifndef DUET_SIM_MEM_STORE_H_
#define DUET_SIM_MEM_STORE_H_

#include <cstdint>
#include <limits>
#include <map>
#include <string>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/actions.h"
#include "engine/inputs.h"
#include "engine/replication/mutation.h"
#include "engine/rng.h"
#include "sim/file_data.h"

namespace duet::sim {

class MemStore {
 public:
  struct Entry {
    PathKind kind = PathKind::kFile;
    FileData data;  // file bytes, or a symlink's target
    uint32_t mode = 0644;
    uint32_t uid = 0;
    uint32_t gid = 0;
    int64_t atime_ns = 0;
    int64_t mtime_ns = 0;
    std::map<std::string, std::string> xattrs;
    friend bool operator==(const Entry&, const Entry&) = default;
  };
  using Tree = std::map<std::string, Entry>;
  // Whether the directory `dir` of `tree` holds any name.
  static bool HasEntries(const Tree& tree, const std::string& dir);
  // renameat2(2)'s refusals of moving `from` over `to`, both in `tree`: a directory over a
  // non-directory (ENOTDIR), the other way (EISDIR), over a directory with names (ENOTEMPTY).
  static absl::Status RenameOverRefusal(const Tree& tree, const std::string& from,
                                        const std::string& to);
  static constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();
  // The largest file (ext4's with 4 KiB blocks: 16 TiB - 4 KiB): a larger truncate is EFBIG.
  static constexpr uint64_t kMaxFileSize = (uint64_t{16} << 40) - 4096;

  // Changes the live view. A write that needs more space than the capacity leaves fails
  // with ResourceExhausted (ENOSPC) and changes nothing; an fsync returns Sync's status.
  absl::Status Apply(const Mutation& m);
  // Makes `path` ("" = everything) durable: its entry as it is now (created, replaced or
  // removed), its attributes and the file pages written since they were last synced, and
  // the entries of the directories above it that were made or replaced since (the real
  // store syncs every directory it changed, so a durable name is reachable after a crash).
  // While syncs fail (set_sync_failure), returns DataLoss ("EIO ...") instead, makes
  // nothing durable, and the file pages it would have written are never made durable by a
  // later sync unless written again (the failed page stays readable until a crash).
  [[nodiscard]] absl::Status Sync(const std::string& path);
  // A crash: everything not made durable is lost, and so is a durable name whose directory
  // is not durable (its removal or rename made durable alone): unreachable, as on disk.
  void Crash();
  // A machine crash that tears writes: a file that is a file both live and durable, with
  // unsynced writes, truncates or attributes, comes back with the durable or the live size
  // and attributes (one choice), and each page independently with its durable or its live
  // content (a side without that page gives zeros; a page whose fsync failed is never new).
  // Every other unsynced change (creates, unlinks, renames, links, symlinks, directories)
  // is lost, as by Crash. What it leaves is the durable view too. Deterministic in `rng`.
  void CrashTearingWrites(Rng& rng);

  // While set, every sync fails with EIO.
  void set_sync_failure(bool fail) { sync_failure_ = fail; }
  bool sync_failure() const { return sync_failure_; }
  // The disk's size, in bytes of file data: what the live files' allocated pages take
  // (used_bytes; a hole takes no space, a symlink or directory none). A write that would
  // allocate pages beyond it fails with ENOSPC; overwriting allocated pages, truncating
  // (never allocates: an extension is a hole), and every namespace change (create, mkdir,
  // rename, unlink, link, symlink) still succeed, so the disk may end up over-full. Freeing
  // pages (unlink, truncate down) lets writes succeed again.
  void set_capacity(uint64_t bytes) { capacity_ = bytes; }
  uint64_t capacity() const { return capacity_; }
  uint64_t used_bytes() const { return allocated_pages_ * FileData::kPageSize; }

  // Answers a ListTree from the live view.
  TreeListed List(ModuleIndex module, uint64_t list_id) const;
  // Answers a ReadZone from the live view. A digest (ZoneReadContent) is a deterministic
  // 128-bit hash of what zone_digest.h in the store hashes (size, length in the file, holes,
  // bytes): strong enough for the simulator's data, and no cryptography needed there.
  ZoneRead Read(ModuleIndex module, uint64_t read_id, const std::string& path, uint64_t offset,
                uint64_t length, ZoneReadContent content = ZoneReadContent::kData) const;

  const Tree& live() const { return live_; }
  const Tree& durable() const { return durable_; }
  // Bytes of live file data (file sizes, holes included), for figures.
  uint64_t FileBytes() const;

  // Pages made durable by syncs so far (each a pointer copy), to check a sync's cost.
  uint64_t synced_pages_ForTest() const { return synced_pages_; }

 private:
  // What a path's live entry may hold that its durable one does not.
  struct Unsynced {
    // The entry was created, removed, or replaced by a rename, link or symlink: a sync
    // copies it whole, a crash keeps the durable one.
    bool replaced = false;
    // The smallest size the file was truncated to.
    uint64_t min_size = std::numeric_limits<uint64_t>::max();
    // File pages written (or partly zeroed by a truncate).
    absl::btree_set<uint64_t> pages;
  };

  // Apply's change, for every kind but kFsync.
  absl::Status Change(const Mutation& m);
  // kFallocate: creates a missing file; grows the size unless keep-size; a punch or zero
  // range makes its pages in the file holes (zeros where it covers a page in part). A plain
  // allocation takes no page: unwritten space is a hole, as SEEK_DATA shows it.
  absl::Status Fallocate(const Mutation& m);
  // kSetxattr (its flags as setxattr(2): EEXIST, ENODATA), kRemovexattr (idempotent),
  // kReplaceXattrs.
  absl::Status ApplyXattr(const Mutation& m);
  void SyncPath(const std::string& path, const Unsynced& unsynced);
  // A failed sync of `path`: its unsynced pages are forgotten.
  void FailPath(const std::string& path, Unsynced& unsynced);
  bool Failed(const FileData::PageRef& page) const {
    return page && failed_pages_.contains(page.get());
  }
  static void MarkPages(Unsynced& unsynced, uint64_t offset, uint64_t length);
  // The entry at `path` was created, removed or replaced.
  Unsynced& MarkReplaced(const std::string& path);
  // Removes `path` and everything under it from the live view.
  void RemoveTree(const std::string& path);
  // Renames `from` and everything under it to `to`, replacing what was there.
  void MoveTree(const std::string& from, const std::string& to);
  // Swaps `a` and `b` with everything under them (renameat2's RENAME_EXCHANGE).
  void ExchangeTrees(const std::string& a, const std::string& b);
  // kRename with its flags, as renameat2(2) answers them.
  absl::Status ApplyRename(const Mutation& m);
  // Takes `path` and everything under it out of the live view, with their unsynced pages.
  using TakenTree = std::vector<std::pair<Tree::node_type, absl::btree_set<uint64_t>>>;
  TakenTree TakeTree(const std::string& path);
  // Puts what TakeTree took from `from` back under `to`.
  void PutTree(TakenTree taken, const std::string& from, const std::string& to);
  // The real store's parent rule (adapters/store/beneath_path.h OpenParent): every name above
  // `path` is a directory. NotFound (ENOENT) if one is missing, FailedPrecondition (ENOTDIR)
  // if one is not a directory, PermissionDenied if one is a symlink.
  absl::Status CheckParent(absl::string_view op, const std::string& path) const;
  // For m.make_parents: the missing directories above `path` made (kMadeParentMode, owned
  // by root), as the real store does before the operation (adapter contract C13); true if
  // it made any. A name on the way that is not a directory is left for the operation.
  absl::StatusOr<bool> MakeParents(const Mutation& m, const std::string& path);
  // kUnlink and kRmdir, as unlinkat(2) answers them: EISDIR, ENOTDIR, ENOTEMPTY; a name
  // that is gone (or under a missing directory) is removed already.
  absl::Status Remove(const Mutation& m);
  // Recounts allocated_pages_ after the live view was replaced.
  void CountAllocated();

  Tree live_;
  Tree durable_;
  // Every path whose live entry may differ from its durable one, except by a failed page.
  std::map<std::string, Unsynced> unsynced_;
  // Pages whose sync failed (held, so that their addresses are not reused): a sync never
  // makes them durable. Forgotten when no file holds them any more.
  absl::flat_hash_map<const FileData::Page*, FileData::PageRef> failed_pages_;
  bool sync_failure_ = false;
  uint64_t capacity_ = kUnlimited;
  uint64_t allocated_pages_ = 0;  // of live files
  uint64_t synced_pages_ = 0;
};

// A readable description of how two trees differ ("" if equal), for test failures. With a
// `zone_size`, files with equal bytes differ too where a zone holds data in one and none in
// the other (a hole): what `du` and SEEK_DATA show, at the granularity a resync keeps.
std::string DescribeDifference(const MemStore::Tree& a, const MemStore::Tree& b,
                               uint64_t zone_size = 0);

}  // namespace duet::sim

#endif  // DUET_SIM_MEM_STORE_H_
