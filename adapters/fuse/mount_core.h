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
  int fd = -1;  // the backing file, opened read-only: the mount never writes it
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
  // if set, is the inode whose size counter they change (its size_mu is held by the caller).
  void Issue(PendingReply reply, std::vector<Mutation> mutations, Inode* size_inode);
  // The O_APPEND counter of `inode`, loaded from the backing file when needed. size_mu held.
  int EnsureSizeKnown(Inode& inode);
  // Page-cache choice for an open file (replicated_mount.h: direct_io when not writable).
  void SetCacheMode(fuse_file_info* fi) const;

  FileHandle* AddFile(int fd);
  void CloseFile(FileHandle* handle);
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
  void SendEntryReply(PendingReply& reply);
  void CloseAllHandles();
  void InvalidatorLoop();

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
  bool invalidate_pending_ = false;  // guarded by invalidate_mu_
  bool invalidate_stop_ = false;     // guarded by invalidate_mu_
  std::mutex receive_mu_;            // held by the one worker waiting for the next request
  std::atomic<bool> mounted_{false};

  InodeTable inodes_;

  std::mutex pending_mu_;
  bool stopping_ = false;                  // guarded by pending_mu_
  uint64_t next_op_ = 0;                   // guarded by pending_mu_
  std::map<uint64_t, PendingOp> pending_;  // guarded by pending_mu_

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
