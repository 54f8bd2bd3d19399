// A bounded set of open O_PATH descriptors on backing files, so the mount's descriptors do
// not grow with the number of inodes the kernel remembers (it forgets them only under memory
// pressure). Each slot (an inode, or one more of its hard-link names) keeps the kernel's
// file handle of its file (name_to_handle_at) and, while it is among the most recently used,
// an open descriptor; a slot that lost its descriptor reopens it by the handle
// (open_by_handle_at: duetd runs as root, with CAP_DAC_READ_SEARCH).
//
// - The bound: a quarter of the process's soft RLIMIT_NOFILE (at least kMinCapacity), read
//   again on every miss, so lowering the limit of a running daemon (prlimit) shrinks the
//   cache at its next miss, or at once when an open fails with EMFILE (Shrink). A hit costs no
//   system call (a mutex and a list splice); a miss costs getrlimit and open_by_handle_at, plus,
//   when it pushes the least recently used descriptor out, name_to_handle_at (the handle is taken
//   again then: see below) and close.
// - A handle survives renames, a path does not. A regular file's handle is "connectable"
//   (AT_HANDLE_CONNECTABLE, Linux 6.13) where the file system can make one (ext4, xfs,
//   btrfs; not tmpfs, whose dentries never leave the cache anyway): it names the directory
//   the file was in too, so a reopened descriptor is connected to the tree and its /proc
//   link names the file, even after the kernel dropped its dentry. The handle is taken
//   again when the descriptor leaves the cache, so it names the directory the file is in
//   then. A file moved to another directory after that and dropped from the dentry cache
//   reopens disconnected (its /proc link is "/"): InodeTable::RelativePath then answers
//   ENOTSUP until the kernel looks the name up again. Directories always reopen connected.
// - A file whose inode is gone (its last name unlinked, no descriptor open on it) answers
//   ESTALE: the kernel's VFS retries a path call that meets ESTALE once with a fresh lookup,
//   which then finds the name gone (ENOENT).
// - A file system that cannot make handles keeps its descriptors open (pinned), as before.
// - Many threads may hold the same descriptor: a hold keeps it open after the cache let it
//   go, so the open count may pass the bound by the holds in flight (a few per worker).
#ifndef DUET_ADAPTERS_FUSE_DESCRIPTOR_CACHE_H_
#define DUET_ADAPTERS_FUSE_DESCRIPTOR_CACHE_H_

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <vector>

namespace duet {

// Closes its descriptor when the last holder lets it go.
class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor();
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return fd_; }

 private:
  const int fd_;
};

// One request's hold on a descriptor: get() is -1 and error() the errno when it could not
// be reopened.
class HeldFd {
 public:
  HeldFd() = default;
  explicit HeldFd(std::shared_ptr<const Descriptor> held) : held_(std::move(held)) {}
  explicit HeldFd(int error) : error_(error) {}
  int get() const { return held_ == nullptr ? -1 : held_->get(); }
  int error() const { return error_; }

 private:
  std::shared_ptr<const Descriptor> held_;
  int error_ = 0;
};

// The way back to one name's file. Its fields belong to the cache (guarded by its mutex).
struct DescriptorSlot {
  std::vector<unsigned char> handle;  // a struct file_handle; empty when pinned
  std::shared_ptr<const Descriptor> open;
  bool pinned = false;                       // no handle: the descriptor stays open
  std::list<DescriptorSlot*>::iterator lru;  // valid while open and not pinned
};

class DescriptorCache {
 public:
  static constexpr size_t kMinCapacity = 16;

  // `mount_fd` (not owned, not O_PATH) is a directory on the backing file system.
  explicit DescriptorCache(int mount_fd);
  ~DescriptorCache();
  DescriptorCache(const DescriptorCache&) = delete;
  DescriptorCache& operator=(const DescriptorCache&) = delete;

  // Takes `fd` (an O_PATH descriptor just opened on `slot`'s file, owned from now on) as
  // `slot`'s descriptor and its file's handle as `slot`'s, replacing what it had; with
  // `replace` false, only if `slot` has no descriptor open (else `fd` is closed).
  void Adopt(DescriptorSlot& slot, int fd, bool replace);
  // `slot`'s descriptor, reopened by its handle when the cache let it go.
  HeldFd Hold(DescriptorSlot& slot);
  // Forgets `slot` (its descriptor closes when no hold remains). Call before destroying it.
  void Drop(DescriptorSlot& slot);
  // After an open failed with EMFILE or ENFILE (the limit was lowered under a full cache):
  // reads the bound again and keeps at most the lesser of it and half of what it holds.
  // True when it let any descriptor go (so the open is worth trying again).
  bool Shrink();

  // Descriptors the cache keeps open now (pinned ones included), and its bound.
  size_t open_count() const;
  size_t capacity() const;

 private:
  // Reads the bound from RLIMIT_NOFILE. mu_ held.
  void RefreshCapacity();
  // Closes the least recently used descriptors until `limit` remain (their holders keep
  // theirs open); they go into `closing`, to be released once mu_ is let go. mu_ held.
  void EvictDownTo(size_t limit, std::vector<std::shared_ptr<const Descriptor>>* closing);
  // Forgets `slot`; its descriptor goes into `closing`. mu_ held.
  void Drop(DescriptorSlot& slot, std::vector<std::shared_ptr<const Descriptor>>* closing);
  // Puts `slot` (holding `fd`) at the front. mu_ held.
  void Insert(DescriptorSlot& slot, std::shared_ptr<const Descriptor> fd,
              std::vector<std::shared_ptr<const Descriptor>>* closing);

  const int mount_fd_;
  int mount_id_ = -1;  // mount_fd_'s mount (name_to_handle_at); -1 when it makes no handles
  mutable std::mutex mu_;
  std::list<DescriptorSlot*> lru_;  // guarded by mu_; front = most recently used
  size_t pinned_ = 0;               // guarded by mu_
  size_t capacity_ = kMinCapacity;  // guarded by mu_
};

}  // namespace duet

#endif  // DUET_ADAPTERS_FUSE_DESCRIPTOR_CACHE_H_
