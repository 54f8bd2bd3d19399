// ReplicatedMount: the FUSE mount (libfuse3 low-level API) an application writes a module's
// replicated directory through (DESIGN.md §7).
//
// Contract:
//  - Reads are served from `backing_root` on the mount's worker threads. No mutating request
//    is ever applied by the mount: each becomes one or more duet::Mutation handed to
//    `on_mutation(op_id, mutation)`, and the application's call returns only when the daemon
//    calls Complete(op_id, status) for every op_id of that call (from any thread; no FUSE
//    thread waits meanwhile). The status becomes the errno by ErrnoFromStatus.
//  - Paths in mutations are relative to the module root: `path_prefix` + "/" + the path inside
//    the mount (just the latter when `path_prefix` is empty; the mount's root itself is
//    `path_prefix`).
//  - SetWritable(false): every mutating request, and every open for writing, fails with EROFS
//    at once. A non-writable mount bypasses the page cache (direct_io on every open, entry and
//    attribute timeouts 0), so readers see the backing files as the stream changes them with
//    no call from the daemon; the switch itself drops what the kernel cached before it.
//  - O_APPEND (the file's flags at each write, so fcntl counts): the mount assigns the write's
//    offset from its own per-inode size counter, which counts every mutation the mount
//    already issued for the inode (writes extend it, truncates and O_TRUNC set it), so
//    back-to-back appends get consecutive offsets before the first completes. The counter
//    starts from the backing file's size; after a failed completion, or a role switch, it is
//    re-read from the backing file once no size-changing mutation of the inode is in flight.
//  - O_TRUNC on open becomes a kTruncate to 0; the open returns when it completes.
//  - fallocate: allocate, keep-size, punch-hole and zero-range become one kFallocate,
//    answered when it completes, as a write; collapse-range, insert-range and unshare-range
//    fail with EOPNOTSUPP before the engine sees them.
//  - Open-unlinked files (adapter contract C15): removing the last name of a regular file
//    open through the mount (unlink, or a plain rename over it) keeps the file under the
//    mount root's `.duet-unlinked/` (unlinked_files.h) until the last release, which unlinks
//    it; changes through its handles name that path; fstat shows no link. The directory is
//    never listed or found, and naming it is EPERM. Becoming writable (SetWritable(true), or
//    Mount() while writable) unlinks every entry there no handle of this mount holds.
//  - Mutating requests the engine has no kind for yet (xattrs, mknod other than regular files,
//    chown, setting atime) fail with ENOTSUP. rename's RENAME_NOREPLACE and RENAME_EXCHANGE
//    replicate; RENAME_WHITEOUT and unknown flags fail with EINVAL. flush is answered at once:
//    writes are not buffered by the mount.
//  - Lifetime: Mount() once; Unmount() (and the destructor) answers every pending request with
//    EIO, stops the workers, detaches the mount (lazily, so open files do not block it) and
//    ends the FUSE connection. Complete for an op_id no longer pending returns NotFound.
//    on_mutation runs on a FUSE worker thread (or, for the unlinks of hidden files, the
//    mount's own thread after a role switch, or a thread inside Complete): it must not block
//    (it hands the mutation on); it may call Complete itself, but not Unmount. Mount, Unmount and
//    SetWritable are called from one owner (the daemon's loop); Complete from any thread.
//  - Known limits: a created file is owned by whoever applies it (duetd: root) until the
//    engine's mutations carry owners; once the name the mount first found a hard-linked file
//    by is removed, the file is changed through another name the kernel looked it up by (up
//    to 8), and fails with ENOTSUP if it looked up none (names made outside the mount);
//    MAP_SHARED mmap works only while writable (direct_io refuses it).
#ifndef DUET_ADAPTERS_FUSE_REPLICATED_MOUNT_H_
#define DUET_ADAPTERS_FUSE_REPLICATED_MOUNT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "engine/replication/mutation.h"

namespace duet {

struct ReplicatedMountOptions {
  std::string mountpoint;    // an existing directory; the application's view
  std::string backing_root;  // an existing directory holding the real data
  std::string path_prefix;   // this directory's path under the module root ("" = the root)
  // op_ids are op_id_base + 1, + 2, ...: a module with several mounts gives each a disjoint
  // range (for example directory_index << 48) so op_ids stay unique per module.
  uint64_t op_id_base = 0;
  int worker_threads = 4;
  // Entry and attribute timeout while writable (the mount is then the only writer of the
  // backing files); 0 while not writable.
  double writable_cache_seconds = 1.0;
};

using MutationSink = std::function<void(uint64_t op_id, Mutation mutation)>;

class MountCore;

class ReplicatedMount {
 public:
  // Starts writable. Nothing is mounted until Mount().
  ReplicatedMount(ReplicatedMountOptions options, MutationSink on_mutation);
  ~ReplicatedMount();  // Unmount()
  ReplicatedMount(const ReplicatedMount&) = delete;
  ReplicatedMount& operator=(const ReplicatedMount&) = delete;

  // Mounts and starts the worker threads. NotFound if the mountpoint or backing root is
  // missing, FailedPrecondition if /dev/fuse is missing or the mountpoint is a dead FUSE
  // mount, InvalidArgument for a bad path_prefix, Unavailable if the kernel refuses the mount.
  absl::Status Mount();
  // Idempotent; safe with requests pending (they get EIO) and after the mount died.
  void Unmount();
  bool mounted() const;

  void SetWritable(bool writable);
  bool writable() const;

  // Answers one mutation. NotFound if `op_id` is not pending (already answered, or unmounted).
  absl::Status Complete(uint64_t op_id, absl::Status status);

 private:
  std::unique_ptr<MountCore> core_;
};

}  // namespace duet

#endif  // DUET_ADAPTERS_FUSE_REPLICATED_MOUNT_H_
