// One module's backing directory on this node: where ApplyMutation, ReadZone, ListTree and
// PreserveDivergent are carried out (adapter contract C7-C9). It holds the root as a
// directory fd and resolves every path beneath it (beneath_path.h): nothing a peer sends
// reaches outside the root, and no symlink in the tree is ever followed.
//
// Each kind of mutation behaves as the simulator's model store (sim/mem_store.h) does,
// following the secondary's idempotent rules: a write, truncate or fallocate of a missing
// file creates it (mode 0644), creating or making a directory that exists succeeds and changes
// nothing, unlinking or removing what is gone succeeds, a symlink replaces whatever held its name,
// a hard link replaces another file at its new name, and modes are set exactly (no umask).
// Otherwise both refuse as the system call does, because on the primary this is the
// application's own call: a missing parent directory is NotFound (unless the mutation asks
// for its parents: Mutation::make_parents, a resync's block, makes the missing directories
// root's with kMadeParentMode first), rmdir of a non-empty directory and a rename over a
// non-empty directory are FailedPrecondition (ENOTEMPTY). A rename's flags go to renameat2 as they
// are, on the secondary too (the copies agree, so it fails where the primary did): NOREPLACE onto
// an existing name is AlreadyExists (EEXIST), an EXCHANGE with a missing name NotFound (ENOENT),
// unknown or both flags, or a backing file system without them, InvalidArgument (EINVAL).
//
// Errors carry the errno as adapters/store/errno_status.h says. A failure that changed nothing
// is marked a refusal (engine/inputs.h IsRefusal; adapter contract C8): every failure decided
// before the first change (a bad path, a missing parent, a system call that fails whole:
// open, mkdir, unlink, rename, link, symlink, mknod, ftruncate, one setxattr or removexattr,
// a fallocate the file system turns down), and a write refused for want of space, which is
// reserved (fallocate KEEP_SIZE) before any byte is written when the write may need new
// blocks (past the end of the file, or into a file with holes). A file that the refused
// write or truncate would have created is removed again. Never a failed flush (it may
// have lost pages), a setattr or a whole xattr set (several calls), or a write that failed
// once its bytes started to go out. A path that is not a plain
// relative path is InvalidArgument ("refused: ..."); one that passes through a symlink is
// PermissionDenied. The last component of a path is never followed: writing to a symlink
// is FailedPrecondition (ELOOP), a setattr on one changes only its owner and times.
//
// The data model (engine/replication/file_attributes.h): a create, mkdir, symlink or mknod
// gives the entry the mutation's uid and gid; a setattr sets exactly what its attr_mask
// names (owner before mode: a chown clears setuid/setgid). A mutation stamped with the time
// of its change (StampsChangeTime) gives what it changed that mtime, and a new entry that
// atime too, after the change, so both copies show the primary's times. Xattrs are set, removed (an
// absent name is fine) or replaced as a whole set. A fallocate is fallocate(2) with the
// engine's mode mapped to FALLOC_FL_* (EOPNOTSUPP where the file system lacks it). A mknod makes a
// FIFO or a socket (a node of that kind already there is kept, anything else there is replaced); a
// device is refused.
//
// `durable`: data is fdatasync'ed, and the directory entries the mutation created, removed
// or renamed are fsync'ed through their parent directories; a write or truncate to a file
// that already existed syncs only the file. kFsync of a path makes its entry and attributes
// durable: fsync of the object (of its parent for a symlink, FIFO, socket or missing path);
// its entry is durable once its parent is. kFsync of "" makes everything this store changed
// durable: it fsyncs the files written since (and not fsync'ed since) and the changed
// directories, or syncs the root's whole file system (syncfs) after any other change left
// unsynced (an attribute, a new entry: unsynced_dirs.h). A directory is fsync'ed only when its
// entries changed since it was last synced (unsynced_dirs.h): every sync above also syncs each
// directory this store changed without syncing it, so that a file fsync'ed after `mkdir a; create
// a/f` is reachable from the root, and a second fsync of the same file with nothing renamed or
// created syncs the file alone. A new store, not knowing what an earlier process left, syncs the
// whole file system at its first sync.
//
// Thread-compatible: one thread at a time per handle. Clone gives another handle on the same
// directory for another thread: the set of directories to sync is shared by the handles (and
// locked), the rest is per handle. ModuleIoQueue runs a module's keyed operations on
// different files on different handles at once, and a barrier alone (adapter contract C7).
// Movable, not copyable; closes its root fd when destroyed.
#ifndef DUET_ADAPTERS_STORE_BACKING_STORE_H_
#define DUET_ADAPTERS_STORE_BACKING_STORE_H_

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "adapters/store/unique_fd.h"
#include "adapters/store/unsynced_dirs.h"
#include "engine/actions.h"
#include "engine/inputs.h"
#include "engine/replication/mutation.h"

namespace duet::store {

class BackingStore {
 public:
  // The largest ReadZone answered (a zone is 64 KiB by default): a longer one is
  // InvalidArgument rather than an allocation of what a message asked for.
  static constexpr uint64_t kMaxReadLength = 64 << 20;

  // Opens the existing directory `root_path` (creating it, mode 0700, is the caller's job).
  // NotFound if it is missing, FailedPrecondition if it is a symlink or not a directory.
  static absl::StatusOr<BackingStore> Open(const std::string& root_path);

  BackingStore(BackingStore&&) = default;
  BackingStore& operator=(BackingStore&&) = default;

  // Carries out one mutation (the module header above says how each kind behaves).
  [[nodiscard]] absl::Status Apply(const Mutation& m, bool durable);

  // What `path` is now and, for a file, up to `length` bytes from `offset` (short or empty
  // past the end), or, if SEEK_DATA finds no data in that part of the file, `hole` and no
  // bytes read (a sparse file's resync reads and sends only its data), with `hole_end` where
  // SEEK_DATA found data again (the file's size if none follows). A path not in the tree
  // (missing, or under a symlink or a file) is kAbsent with an OK status; module is left 0 for the
  // caller to fill in. `content` (engine/actions.h): with a digest (zone_digest.h) for a
  // regular file; kDigest leaves data and hole_ranges empty.
  ZoneRead ReadZone(uint64_t read_id, const std::string& path, uint64_t offset, uint64_t length,
                    ZoneReadContent content = ZoneReadContent::kData) const;

  // Every name in the tree at any depth (not the root), in no particular order; symlinks
  // are listed, never followed.
  absl::StatusOr<std::vector<std::string>> ListTree() const;

  // Copies `paths` as they are now (files, directories with their contents, symlinks,
  // FIFOs; modes, owners and times kept; file data cloned where the file system can) into a
  // new directory `dest_root`/divergent-<UTC time of `now`>[-N], created mode 0700 with
  // `dest_root` if needed, and syncs the copy. Paths not in the tree are skipped. Returns
  // the new directory's path.
  // `dest_root` must lie outside the root (InvalidArgument).
  absl::StatusOr<std::string> PreserveDivergent(const std::vector<std::string>& paths,
                                                const std::string& dest_root, absl::Time now) const;

  const std::string& root_path() const { return root_path_; }
  // The root directory's fd, to look paths up beneath it (ModuleIoQueue finds inodes).
  int root_fd() const { return root_.get(); }

  // Another handle on the same root (its fd duplicated), sharing the directories to sync.
  absl::StatusOr<BackingStore> Clone() const;

  // How many directory fsyncs and whole file system syncs this store (with its clones) has
  // issued: what the sync-only-what-changed rule above saves is visible here.
  UnsyncedDirs::Counts sync_counts() const;

 private:
  // The directories changed and not yet synced, one set per backing directory, shared by a
  // store and its clones.
  struct SharedDirs {
    std::mutex mu;
    UnsyncedDirs dirs;
  };

  BackingStore(UniqueFd root, std::string root_path, std::shared_ptr<SharedDirs> dirs)
      : root_(std::move(root)), root_path_(std::move(root_path)), dirs_(std::move(dirs)) {}

  // Apply's work; sets may_have_changed_ once anything may have changed.
  absl::Status Change(const Mutation& m, bool durable);
  // Mutation::make_parents: the directories missing above `path`, made top down (root's,
  // kMadeParentMode) and recorded for the next sync. Leaves any other refusal (ENOTDIR, a
  // symlink on the way) to the operation.
  absl::Status MakeParents(const std::string& path);
  absl::Status Write(const Mutation& m, bool durable);
  // Reserves the blocks a write may need (fallocate KEEP_SIZE) before any byte is written:
  // a full disk refuses the write changing nothing (a file it created is removed again).
  absl::Status ReserveForWrite(int fd, const struct stat& st, const Mutation& m, bool created);
  // Unlinks a file this apply created; false if it could not.
  bool RemoveCreatedFile(const std::string& path);
  absl::Status Truncate(const Mutation& m, bool durable);
  absl::Status Create(const Mutation& m, bool durable);
  absl::Status Mkdir(const Mutation& m, bool durable);
  absl::Status Unlink(const Mutation& m, bool durable, bool directory);
  absl::Status Rename(const Mutation& m, bool durable);
  absl::Status Symlink(const Mutation& m, bool durable);
  absl::Status Link(const Mutation& m, bool durable);
  absl::Status Setattr(const Mutation& m, bool durable);
  absl::Status ApplyXattr(const Mutation& m, bool durable);
  absl::Status Mknod(const Mutation& m, bool durable);
  absl::Status Fallocate(const Mutation& m, bool durable);
  absl::Status Fsync(const std::string& path);
  absl::Status RemoveTreeAt(const std::string& path, bool durable);

  // Opens the regular file at `path` for writing, creating it (mode 0644) if missing.
  absl::StatusOr<UniqueFd> OpenFileForWrite(absl::string_view op, const std::string& path,
                                            bool* created, struct stat* st_out = nullptr);
  // The status for a failed open of `path` (tells a symlink at the end from one on the way).
  absl::Status OpenError(int err, absl::string_view op, const std::string& path) const;
  // Records that the directory holding `path` changed (all of them if it cannot be opened).
  void NoteParentChanged(const std::string& path);
  // fsync of every directory changed since it was last synced (unsynced_dirs.h).
  absl::Status SyncChangedDirs();
  void AddUnsyncedDir(int dir, absl::string_view path);
  void MarkAllDirsUnsynced();

  UniqueFd root_;
  std::string root_path_;
  std::shared_ptr<SharedDirs> dirs_;
  // The current Apply may have changed something (see Apply): its failure is no refusal.
  bool may_have_changed_ = false;
};

}  // namespace duet::store

#endif  // DUET_ADAPTERS_STORE_BACKING_STORE_H_
