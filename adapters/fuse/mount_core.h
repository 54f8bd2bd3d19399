// The state behind a ReplicatedMount, shared by its FUSE request handlers (which find it
// through fuse_req_userdata): the session and its worker threads, the inode table, the open
// handles, and the mutations handed on and not yet completed. Internal to adapters/fuse.
#ifndef DUET_ADAPTERS_FUSE_MOUNT_CORE_H_
#define DUET_ADAPTERS_FUSE_MOUNT_CORE_H_

#include <dirent.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "adapters/fuse/inode_table.h"
#include "adapters/fuse/payload_buffers.h"
#include "adapters/fuse/replicated_mount.h"

namespace duet {

struct FileHandle {
  int fd = -1;             // the backing file, opened read-only: the mount never writes it
  Inode* inode = nullptr;  // counted in its open_count while the handle is open
};

struct DirHandle {
  std::mutex mu;
  DIR* dir = nullptr;
  off_t offset = 0;
  struct dirent* entry = nullptr;  // read but not yet sent
};

// What to answer the application once every mutation of its call has completed.
enum class ReplyShape {
  kStatusOnly,  // fuse_reply_err(0 or errno)
  kWrite,       // fuse_reply_write(write_size)
  kEntry,       // look `name` up under `inode` (the parent), fuse_reply_entry
  kCreate,      // the same, then open it: fuse_reply_create
  kAttr,        // stat `inode`, fuse_reply_attr
  kOpen,        // fuse_reply_open with `handle`, opened before the truncate was issued
};

struct PendingReply {
  fuse_req_t req = nullptr;
  ReplyShape shape = ReplyShape::kStatusOnly;
  Inode* inode = nullptr;
  std::string name;
  size_t write_size = 0;
  fuse_file_info fi{};
  FileHandle* handle = nullptr;
  int remaining = 0;    // mutations not yet completed; guarded by MountCore::pending_mu_
  int first_errno = 0;  // guarded by MountCore::pending_mu_
  // The file this call moves into the hidden directory (unlinked_files.cc), if any.
  Inode* hiding = nullptr;
  // No application waits (req is null): the hidden directory's entry this call unlinks.
  std::string unattended_entry;
};

class MountCore {
 public:
  MountCore(ReplicatedMountOptions options, MutationSink on_mutation);
  ~MountCore();
  MountCore(const MountCore&) = delete;
  MountCore& operator=(const MountCore&) = delete;

  absl::Status Mount();
  void Unmount();
  bool mounted() const;
  void SetWritable(bool writable);
  bool writable() const { return writable_.load(); }
  absl::Status Complete(uint64_t op_id, absl::Status status);

  // --- For the request handlers. ---
  InodeTable& inodes() { return inodes_; }
  double CacheTimeout() const;
  // Answers a lookup-like request: fills `e` for `found`/`st` with the current timeouts.
  void FillEntry(Inode& found, const struct stat& st, fuse_entry_param* e);
  // The module-root-relative path of `inode`, or of `name` under it; else an errno.
  int ModulePath(const Inode& inode, std::string* path) const;
  int ModulePath(const Inode& parent, const char* name, std::string* path) const;
  // Hands `mutations` on (in order) and answers `reply` when all complete. `size_inode`,
  // if set, is the inode whose size counter they change, and `size_lock` holds its size_mu:
  // Issue lets it go once they are handed on, and the answer is sent only after that.
  void Issue(PendingReply reply, std::vector<Mutation> mutations, Inode* size_inode,
             std::unique_lock<std::mutex> size_lock = {});
  // The O_APPEND counter of `inode`, loaded from the backing file when needed. size_mu held.
  int EnsureSizeKnown(Inode& inode);
  // Page-cache choice for an open file (replicated_mount.h: direct_io when not writable).
  void SetCacheMode(fuse_file_info* fi) const;

  FileHandle* AddFile(int fd, Inode* inode);
  void CloseFile(FileHandle* handle);

  // --- Open-unlinked files (adapter contract C15; unlinked_files.cc). ---
  // Whether `name` under `parent` is the hidden directory (the mount root's .duet-unlinked).
  bool IsUnlinkedDir(const Inode& parent, const char* name);
  // When `name` under `parent` is the last name of a regular file open through the mount,
  // hands on its move into the hidden directory and answers `req` once done: true. With
  // `rename_over` (a rename onto `name`) the move is a kLink into the hidden directory
  // followed by that rename, so the name is never missing. False: remove it as usual.
  bool HideIfOpen(fuse_req_t req, Inode& parent, const char* name, Mutation* rename_over);
  // The release of an open handle: the last one on a hidden file unlinks its entry.
  void ReleaseFile(FileHandle* handle);
  // `st` (the backing file's) as the application sees it: the hidden name is not counted.
  void HideUnlinkedName(const Inode& inode, struct stat* st);
  DirHandle* AddDir(DIR* dir);
  void CloseDir(DirHandle* handle);

  // Where write data is copied to (payload_buffers.h).
  PayloadBuffers& payload_buffers() { return *payload_buffers_; }

 private:
  struct PendingOp {
    std::shared_ptr<PendingReply> reply;
    Inode* size_inode = nullptr;
  };

  void WorkerLoop();
  void SendReply(PendingReply& reply, int err);
  // Answers a call whose mutations all completed (`err` the first errno, or 0).
  absl::Status Answer(PendingReply& reply, int err);
  // The end of a call no application waits for (req null).
  void FinishUnattended(const PendingReply& reply, int err);
  void SendEntryReply(PendingReply& reply);
  void CloseAllHandles();
  void InvalidatorLoop();
  // "<path_prefix>/<inside>": a path inside the mount as the module names it.
  std::string ModulePathOf(const std::string& inside) const;
  // Closes the handle and forgets it; the inode it was open on (still counted), or null if
  // the handle was closed already.
  Inode* TakeFile(FileHandle* handle);
  // The completion of a HideIfOpen call (successful or not), before its answer: the hidden
  // entry to unlink now (its last handle went meanwhile), or "".
  std::string FinishHiding(Inode& inode);
  // Unlinks the hidden entry `entry` (relative to the mount root) with no request waiting.
  void UnlinkHiddenEntry(const std::string& entry);
  // Run when the mount becomes writable: unlinks every entry of the hidden directory that
  // no handle of this mount holds (left by a previous process or by the peer).
  void EmptyUnlinkedDir();

  const ReplicatedMountOptions options_;
  const MutationSink on_mutation_;
  // Shared with the Payloads it made, which may outlive the mount in the engine: at most
  // kKeptPayloadBuffers 1 MiB buffers wait for the next large write.
  static constexpr size_t kKeptPayloadBuffers = 8;
  const std::shared_ptr<PayloadBuffers> payload_buffers_ =
      PayloadBuffers::Create(kKeptPayloadBuffers);
  std::atomic<bool> writable_{true};

  std::mutex lifecycle_mu_;       // Mount and Unmount
  bool used_ = false;             // guarded by lifecycle_mu_: Mount was tried
  std::shared_mutex session_mu_;  // exclusive only to destroy the session
  // Written under lifecycle_mu_ and session_mu_ (exclusive); read under either.
  fuse_session* session_ = nullptr;
  int stop_fd_ = -1;  // eventfd the workers wait on besides /dev/fuse
  std::vector<std::thread> workers_;
  // Drops the kernel's cache after a role change, off the caller's thread (SetWritable).
  std::thread invalidator_;
  std::mutex invalidate_mu_;
  std::condition_variable invalidate_cv_;
  bool invalidate_pending_ = false;      // guarded by invalidate_mu_
  bool invalidate_stop_ = false;         // guarded by invalidate_mu_
  bool empty_unlinked_pending_ = false;  // guarded by invalidate_mu_
  std::mutex receive_mu_;                // held by the one worker waiting for the next request
  std::atomic<bool> mounted_{false};

  InodeTable inodes_;

  std::mutex pending_mu_;
  bool stopping_ = false;                  // guarded by pending_mu_
  uint64_t next_op_ = 0;                   // guarded by pending_mu_
  std::map<uint64_t, PendingOp> pending_;  // guarded by pending_mu_

  // Guards what follows; taken after the inode table's lock (inside InodeTable::Update).
  std::mutex unlinked_mu_;
  const uint64_t instance_;        // this mount's part of hidden names (unlinked_files.h)
  uint64_t unlinked_counter_ = 0;  // guarded by unlinked_mu_
  // Hidden entries whose kUnlink is handed on and not yet completed.
  std::set<std::string> removing_;  // guarded by unlinked_mu_

  std::mutex handles_mu_;
  std::map<FileHandle*, std::unique_ptr<FileHandle>> files_;  // guarded by handles_mu_
  std::map<DirHandle*, std::unique_ptr<DirHandle>> dirs_;     // guarded by handles_mu_
};

inline MountCore& CoreOf(fuse_req_t req) {
  return *static_cast<MountCore*>(fuse_req_userdata(req));
}

// The request handlers, split by whether they change the tree.
void AddReadOperations(fuse_lowlevel_ops& ops);
void AddMutatingOperations(fuse_lowlevel_ops& ops);

}  // namespace duet

#endif  // DUET_ADAPTERS_FUSE_MOUNT_CORE_H_
