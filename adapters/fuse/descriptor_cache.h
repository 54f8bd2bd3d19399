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
// - The cache's mutex covers no system call: a new slot's handle is taken before it is
//   adopted (HandleOf), the bound is read before the lock, and a descriptor pushed out has its
//   handle taken again and is closed after the lock is let go (Released), by the caller once
//   its own locks are let go too. A slot reopened meanwhile by its older handle still opens
//   (the descriptor being let go keeps the file's dentry); a slot dropped or adopted anew
//   meanwhile keeps what it has then.
#ifndef DUET_ADAPTERS_FUSE_DESCRIPTOR_CACHE_H_
#define DUET_ADAPTERS_FUSE_DESCRIPTOR_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
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

  // A file's handle, taken without the cache's lock (HandleOf) to adopt its descriptor with.
  struct Handle {
    std::vector<unsigned char> bytes;  // a struct file_handle
    bool usable = false;  // false: the file system makes none, or the file is on another one
  };

  // Descriptors the cache let go: when this is destroyed their handles are taken again (so a
  // reopen finds the directory each file is in then) and they are closed, unless a request
  // still holds one. Declare it before the locks a call is made under, so it runs after them.
  class Released {
   public:
    Released() = default;
    ~Released();
    Released(const Released&) = delete;
    Released& operator=(const Released&) = delete;

   private:
    friend class DescriptorCache;
    struct Evicted {
      DescriptorSlot* slot = nullptr;
      uint64_t ticket = 0;  // DescriptorCache::rehandling_'s entry for `slot` when let go
      bool connectable = false;
      std::shared_ptr<const Descriptor> fd;
    };
    DescriptorCache* cache_ = nullptr;
    std::vector<Evicted> evicted_;
    std::vector<std::shared_ptr<const Descriptor>> closing_;
  };

  // `mount_fd` (not owned, not O_PATH) is a directory on the backing file system.
  explicit DescriptorCache(int mount_fd);
  ~DescriptorCache();
  DescriptorCache(const DescriptorCache&) = delete;
  DescriptorCache& operator=(const DescriptorCache&) = delete;

  // The handle of `fd`'s file (1 or 2 name_to_handle_at); takes no lock.
  Handle HandleOf(int fd) const;
  // Takes `fd` (an O_PATH descriptor just opened on `slot`'s file, owned from now on) as
  // `slot`'s descriptor and `handle` (HandleOf(fd)) as `slot`'s, replacing what it had; with
  // `replace` false, only if `slot` has no descriptor open (else `fd` is closed). No system
  // call but close: what it pushes out goes into `released`.
  void Adopt(DescriptorSlot& slot, int fd, Handle handle, bool replace, Released* released);
  // The same, taking the handle itself (only when needed, with `replace` false).
  void Adopt(DescriptorSlot& slot, int fd, bool replace);
  // `slot`'s descriptor, reopened by its handle when the cache let it go.
  HeldFd Hold(DescriptorSlot& slot);
  // Forgets `slot` (its descriptor closes when no hold remains, and not before `released`
  // is destroyed). Call before destroying it.
  void Drop(DescriptorSlot& slot, Released* released);
  // After an open failed with EMFILE or ENFILE (the limit was lowered under a full cache):
  // reads the bound again and keeps at most the lesser of it and half of what it holds.
  // True when it let any descriptor go (so the open is worth trying again).
  bool Shrink();

  // Descriptors the cache keeps open now (pinned ones included), and its bound.
  size_t open_count() const;
  size_t capacity() const;

 private:
  // The bound RLIMIT_NOFILE gives now; nullopt if it cannot be read. Takes no lock.
  static std::optional<size_t> CapacityFromLimit();
  // Lets the least recently used descriptors go until `limit` remain. mu_ held.
  void EvictDownTo(size_t limit, Released* released);
  // Forgets `slot`; its descriptor goes into `released`. mu_ held.
  void DropLocked(DescriptorSlot& slot, Released* released);
  // Puts `slot` (holding `fd`) at the front. mu_ held.
  void Insert(DescriptorSlot& slot, std::shared_ptr<const Descriptor> fd, Released* released);
  // Takes the handles of `released`'s descriptors again and gives them to their slots, those
  // not dropped, adopted anew or let go again since. mu_ not held.
  void Rehandle(std::vector<Released::Evicted>& evicted);

  const int mount_fd_;
  int mount_id_ = -1;  // mount_fd_'s mount (name_to_handle_at); -1 when it makes no handles
  mutable std::mutex mu_;
  std::list<DescriptorSlot*> lru_;  // guarded by mu_; front = most recently used
  size_t pinned_ = 0;               // guarded by mu_
  size_t capacity_ = kMinCapacity;  // guarded by mu_
  // Slots let go whose handle is being taken again, each with the ticket of that letting
  // go: a slot dropped (and perhaps destroyed, its address reused) or adopted anew meanwhile
  // loses its entry, so a stale handle is never given to it. Guarded by mu_.
  std::unordered_map<const DescriptorSlot*, uint64_t> rehandling_;
  uint64_t next_ticket_ = 0;  // guarded by mu_
};

}  // namespace duet

#endif  // DUET_ADAPTERS_FUSE_DESCRIPTOR_CACHE_H_
