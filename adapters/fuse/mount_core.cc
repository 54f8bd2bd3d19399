// MountCore's life: mounting, the worker threads, unmounting, the role switch, handles.
#include "adapters/fuse/mount_core.h"

#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "adapters/fuse/unlinked_files.h"

namespace duet {
namespace {

constexpr unsigned kMaxWrite = 1u << 20;

void InitConnection(void* /*userdata*/, fuse_conn_info* conn) {
  conn->max_write = kMaxWrite;
  // Reads go to the kernel by splice (no copy in the mount); write data arrives in a pipe
  // and is read once into its Payload (write_buf turns on FUSE_CAP_SPLICE_READ itself).
  if (conn->capable & FUSE_CAP_SPLICE_WRITE) conn->want |= FUSE_CAP_SPLICE_WRITE;
  if (conn->capable & FUSE_CAP_SPLICE_MOVE) conn->want |= FUSE_CAP_SPLICE_MOVE;
  // Writes must reach the mount one request per call, in order: no kernel write-back.
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  // The kernel clears set-uid bits after a write with a setattr the engine replicates,
  // rather than the mount doing it unseen.
  conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
}

const fuse_lowlevel_ops& Operations() {
  static const fuse_lowlevel_ops ops = [] {
    fuse_lowlevel_ops o{};
    o.init = InitConnection;
    AddReadOperations(o);
    AddMutatingOperations(o);
    return o;
  }();
  return ops;
}

// Requests whose handlers only hand a mutation on to the engine or read what the kernel
// has cached (the GETXATTR of security.capability the kernel sends before every write):
// they never wait for the disk or the peer. A request the kernel left in the splice pipe
// is a large one, in practice a write (or a large setxattr, also handed on).
bool NeverWaits(const fuse_buf& buf) {
  if (buf.flags & FUSE_BUF_IS_FD) return true;
  if (buf.size < sizeof(fuse_in_header)) return false;
  switch (static_cast<const fuse_in_header*>(buf.mem)->opcode) {
    case FUSE_WRITE:
    case FUSE_FSYNC:
    case FUSE_GETXATTR:
    case FUSE_FLUSH:
      return true;
    default:
      return false;
  }
}

absl::Status CheckPathPrefix(const std::string& prefix) {
  if (prefix.empty()) return absl::OkStatus();
  if (prefix.front() == '/' || prefix.back() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("path_prefix \"", prefix, "\" must be relative, without a trailing '/'"));
  }
  for (absl::string_view part : absl::StrSplit(prefix, '/')) {
    if (part.empty() || part == "." || part == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("path_prefix \"", prefix, "\" has an empty, '.' or '..' component"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckMountpoint(const std::string& mountpoint) {
  struct stat st;
  if (stat(mountpoint.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOTCONN) {
      return absl::FailedPreconditionError(
          absl::StrCat("mountpoint ", mountpoint,
                       " is a dead FUSE mount (ENOTCONN): detach it first (umount -l)"));
    }
    return absl::NotFoundError(
        absl::StrCat("mountpoint ", mountpoint, " is not usable: ", strerror(err)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(absl::StrCat("mountpoint ", mountpoint, " is not a directory"));
  }
  return absl::OkStatus();
}

// A restarted process's hidden names differ from its predecessor's by the time it started.
uint64_t InstanceOfNow() {
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000000 + static_cast<uint64_t>(now.tv_nsec);
}

}  // namespace

MountCore::MountCore(ReplicatedMountOptions options, MutationSink on_mutation)
    : options_(std::move(options)),
      on_mutation_(std::move(on_mutation)),
      instance_(InstanceOfNow()) {}

MountCore::~MountCore() { Unmount(); }

bool MountCore::mounted() const { return mounted_.load(); }

absl::Status MountCore::Mount() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  if (used_) {
    return absl::FailedPreconditionError("Mount: already mounted (a mount is used once)");
  }
  struct stat st;
  if (stat("/dev/fuse", &st) != 0 || !S_ISCHR(st.st_mode)) {
    return absl::FailedPreconditionError(
        "/dev/fuse is missing: load the fuse module (modprobe fuse) or give the container "
        "the device");
  }
  if (options_.worker_threads < 1) {
    return absl::InvalidArgumentError("worker_threads must be at least 1");
  }
  if (absl::Status s = CheckPathPrefix(options_.path_prefix); !s.ok()) return s;
  if (absl::Status s = CheckMountpoint(options_.mountpoint); !s.ok()) return s;
  used_ = true;
  if (int err = inodes_.Open(options_.backing_root); err != 0) {
    return absl::NotFoundError(
        absl::StrCat("backing root ", options_.backing_root, " is not usable: ", strerror(err)));
  }

  const char* argv[] = {"duet-fuse", "-o",
                        "allow_other,default_permissions,fsname=duet,subtype=duet", nullptr};
  fuse_args args = FUSE_ARGS_INIT(3, const_cast<char**>(argv));
  fuse_session* session = fuse_session_new(&args, &Operations(), sizeof(fuse_lowlevel_ops), this);
  fuse_opt_free_args(&args);  // parsing may have copied them
  if (session == nullptr) {
    inodes_.Clear();
    return absl::InternalError("fuse_session_new failed (libfuse logged why on stderr)");
  }
  if (fuse_session_mount(session, options_.mountpoint.c_str()) != 0) {
    fuse_session_destroy(session);
    inodes_.Clear();
    return absl::UnavailableError(absl::StrCat("mounting FUSE at ", options_.mountpoint,
                                               " failed (libfuse logged why on stderr)"));
  }
  // Non-blocking, so a worker woken with nothing left to read goes back to poll().
  const int fuse_fd = fuse_session_fd(session);
  fcntl(fuse_fd, F_SETFL, fcntl(fuse_fd, F_GETFL) | O_NONBLOCK);
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  {
    std::unique_lock<std::shared_mutex> lock(session_mu_);
    session_ = session;
  }
  mounted_ = true;
  {
    // A mount that starts writable takes over the hidden directory as a role switch does.
    std::lock_guard<std::mutex> lock(invalidate_mu_);
    empty_unlinked_pending_ = writable_.load();
  }
  for (int i = 0; i < options_.worker_threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  invalidator_ = std::thread([this] { InvalidatorLoop(); });
  return absl::OkStatus();
}

// The session loop is the mount's own rather than fuse_session_loop_mt: its workers block in
// read() on /dev/fuse and end only when a request arrives or the connection ends, and a lazy
// detach with files still open ends neither, so Unmount could not stop them. Here they also
// wait on an eventfd. One worker at a time waits for and receives a request (the others would
// only wake and find nothing), then processes it while the next one receives; except that a
// request whose handler never waits (NeverWaits) is processed by the receiving worker before
// it waits again: handing the receiving on to the next worker would cost a thread wake-up
// and two context switches per request, most of a 4 KiB write's cost on a small machine.
void MountCore::WorkerLoop() {
  fuse_session* session = session_;
  fuse_buf buf{};
  pollfd fds[2] = {{fuse_session_fd(session), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  while (true) {
    {
      std::lock_guard<std::mutex> receiving(receive_mu_);
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[1].revents != 0) break;  // Unmount (the eventfd stays readable for the others)
      if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
        mounted_ = false;  // unmounted from outside, or the connection was aborted
        break;
      }
      const int res = fuse_session_receive_buf(session, &buf);
      if (res == -EAGAIN || res == -EINTR) continue;
      if (res <= 0) {
        mounted_ = false;
        break;
      }
      if (NeverWaits(buf)) {
        fuse_session_process_buf(session, &buf);
        continue;
      }
    }
    fuse_session_process_buf(session, &buf);
  }
  free(buf.mem);
}

void MountCore::Unmount() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  if (session_ == nullptr) return;
  mounted_ = false;
  std::map<uint64_t, PendingOp> abandoned;
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    stopping_ = true;
    abandoned.swap(pending_);
  }
  for (auto& [op_id, op] : abandoned) {
    PendingReply& reply = *op.reply;
    if (op.size_inode != nullptr) --op.size_inode->size_ops_in_flight;
    if (reply.req == nullptr) continue;  // an earlier op of the same call answered it
    if (reply.handle != nullptr) CloseFile(reply.handle);
    fuse_reply_err(reply.req, EIO);
    reply.req = nullptr;
  }
  // The invalidator ends before the workers: an invalidation in progress may wait for a
  // request only a worker can answer.
  {
    std::lock_guard<std::mutex> lock(invalidate_mu_);
    invalidate_stop_ = true;
  }
  invalidate_cv_.notify_one();
  if (invalidator_.joinable()) invalidator_.join();
  const uint64_t one = 1;
  if (write(stop_fd_, &one, sizeof one) < 0) perror("duet-fuse: waking the workers");
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
  {
    std::unique_lock<std::shared_mutex> lock(session_mu_);
    // Detaches lazily (open files do not hold it up) and closes /dev/fuse, which ends the
    // connection: requests still queued in the kernel fail with ENOTCONN.
    fuse_session_unmount(session_);
    fuse_session_destroy(session_);
    session_ = nullptr;
  }
  close(stop_fd_);
  CloseAllHandles();
  inodes_.Clear();
}

void MountCore::SetWritable(bool writable) {
  // Takes effect here, for every request from now on (adapter contract C5). Dropping what
  // the kernel cached in the other role is left to the invalidator thread: an invalidation
  // waits for pages that a pending write holds locked, and that write is answered only by a
  // CompleteLocal the caller (the engine's loop) may be about to send.
  // Becoming writable also empties the hidden directory (adapter contract C15): no handle
  // on its entries survives the process or the node that made them.
  if (writable_.exchange(writable) == writable) return;
  {
    std::lock_guard<std::mutex> lock(invalidate_mu_);
    invalidate_pending_ = true;
    if (writable) empty_unlinked_pending_ = true;
  }
  invalidate_cv_.notify_one();
}

void MountCore::InvalidatorLoop() {
  while (true) {
    bool invalidate = false;
    bool empty_unlinked = false;
    {
      std::unique_lock<std::mutex> lock(invalidate_mu_);
      invalidate_cv_.wait(lock, [this] {
        return invalidate_pending_ || empty_unlinked_pending_ || invalidate_stop_;
      });
      if (invalidate_stop_) return;
      invalidate = std::exchange(invalidate_pending_, false);
      empty_unlinked = std::exchange(empty_unlinked_pending_, false);
    }
    if (invalidate) {
      std::shared_lock<std::shared_mutex> session_lock(session_mu_);
      if (session_ == nullptr) continue;
      std::vector<Inode*> all = inodes_.All();
      for (Inode* inode : all) inode->size_stale = true;
      for (Inode* inode : all) {
        fuse_lowlevel_notify_inval_inode(session_, inodes_.IdOf(*inode), 0, 0);
      }
    }
    if (empty_unlinked && writable_.load()) EmptyUnlinkedDir();
  }
}

double MountCore::CacheTimeout() const {
  return writable_.load() ? options_.writable_cache_seconds : 0.0;
}

void MountCore::FillEntry(Inode& found, const struct stat& st, fuse_entry_param* e) {
  *e = fuse_entry_param{};
  e->ino = inodes_.IdOf(found);
  e->attr = st;
  e->attr_timeout = CacheTimeout();
  e->entry_timeout = CacheTimeout();
}

void MountCore::SetCacheMode(fuse_file_info* fi) const {
  const bool writable = writable_.load();
  fi->direct_io = writable ? 0 : 1;
  fi->keep_cache = writable ? 1 : 0;
}

std::string MountCore::ModulePathOf(const std::string& inside) const {
  if (options_.path_prefix.empty()) return inside;
  if (inside.empty()) return options_.path_prefix;
  return absl::StrCat(options_.path_prefix, "/", inside);
}

int MountCore::ModulePath(const Inode& inode, std::string* path) const {
  std::string inside;
  if (int err = inodes_.RelativePath(inode, &inside); err != 0) return err;
  *path = ModulePathOf(inside);
  return 0;
}

int MountCore::ModulePath(const Inode& parent, const char* name, std::string* path) const {
  // The hidden directory is the mount's own: no application call may name it.
  if (IsUnlinkedDirName(&parent == &inodes_.root(), name)) return EPERM;
  std::string dir;
  if (int err = ModulePath(parent, &dir); err != 0) return err;
  *path = dir.empty() ? std::string(name) : absl::StrCat(dir, "/", name);
  return 0;
}

FileHandle* MountCore::AddFile(int fd, Inode* inode) {
  auto handle = std::make_unique<FileHandle>();
  handle->fd = fd;
  handle->inode = inode;
  inodes_.Update(*inode, [](Inode& opened) { ++opened.open_count; });
  FileHandle* raw = handle.get();
  std::lock_guard<std::mutex> lock(handles_mu_);
  files_[raw] = std::move(handle);
  return raw;
}

// A handle closed here, not by the application's release (an open that failed on its way
// back), leaves a hidden file it was the last one on to the next emptying.
void MountCore::CloseFile(FileHandle* handle) {
  Inode* inode = TakeFile(handle);
  if (inode != nullptr) inodes_.Update(*inode, [](Inode& closed) { --closed.open_count; });
}

Inode* MountCore::TakeFile(FileHandle* handle) {
  std::lock_guard<std::mutex> lock(handles_mu_);
  auto it = files_.find(handle);
  if (it == files_.end()) return nullptr;
  close(handle->fd);
  Inode* inode = handle->inode;
  files_.erase(it);
  return inode;
}

DirHandle* MountCore::AddDir(DIR* dir) {
  auto handle = std::make_unique<DirHandle>();
  handle->dir = dir;
  DirHandle* raw = handle.get();
  std::lock_guard<std::mutex> lock(handles_mu_);
  dirs_[raw] = std::move(handle);
  return raw;
}

void MountCore::CloseDir(DirHandle* handle) {
  std::lock_guard<std::mutex> lock(handles_mu_);
  auto it = dirs_.find(handle);
  if (it == dirs_.end()) return;
  closedir(handle->dir);
  dirs_.erase(it);
}

void MountCore::CloseAllHandles() {
  std::lock_guard<std::mutex> lock(handles_mu_);
  for (auto& [raw, handle] : files_) close(handle->fd);
  files_.clear();
  for (auto& [raw, handle] : dirs_) closedir(handle->dir);
  dirs_.clear();
}

}  // namespace duet
