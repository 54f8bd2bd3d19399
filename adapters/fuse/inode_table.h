// The inodes the kernel knows through the mount, keyed by the backing (st_dev, st_ino) and
// counted by the kernel's lookups (fuse_reply_entry adds one, FORGET removes them; the entry
// is dropped at zero). Each keeps the kernel's file handle of its backing file and, while it
// is in use, an O_PATH descriptor on it from a bounded cache (descriptor_cache.h): the mount's
// descriptors do not grow with the inodes the kernel remembers. Fd() hands one out.
//
// An inode's path comes from its descriptor (readlink of /proc/self/fd/N, minus the backing
// root), not from names the mount tracks: the kernel moves the descriptor's dentry with every
// rename and unlink made in the backing directory, including those the engine applies from the
// peer's stream that the mount never sees, so no name bookkeeping can go stale (a descriptor
// reopened by its handle is connected to the tree again: descriptor_cache.h says when not).
// The path is checked by looking it up again from the root (same st_dev and st_ino), which
// also rejects a name removed since (" (deleted)"). When the descriptor's own name is gone,
// the inode's other names are tried: a slot per other hard-link name the kernel looked the
// file up by, and the file's entry in the hidden directory of open-unlinked files
// (unlinked_files.h).
#ifndef DUET_ADAPTERS_FUSE_INODE_TABLE_H_
#define DUET_ADAPTERS_FUSE_INODE_TABLE_H_

#define FUSE_USE_VERSION 314
#include <fuse3/fuse_lowlevel.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "adapters/fuse/descriptor_cache.h"

namespace duet {

struct Inode {
  // The name it was first looked up by (InodeTable::Fd); owned by the table's cache.
  mutable DescriptorSlot self;
  dev_t dev = 0;
  ino_t ino = 0;
  mode_t type = 0;       // S_IFMT bits
  uint64_t nlookup = 0;  // guarded by the table's mutex

  // The O_APPEND size counter (replicated_mount.h). size_mu is held while a size-changing
  // mutation gets its offset and is handed on, so offsets follow issue order.
  std::mutex size_mu;
  bool size_known = false;  // guarded by size_mu
  uint64_t size = 0;        // guarded by size_mu
  std::atomic<bool> size_stale{false};
  std::atomic<int> size_ops_in_flight{0};

  // Open-unlinked files (adapter contract C15), guarded by the table's mutex (Update): the
  // handles open on the file, and whether it lives on under the hidden directory. Either
  // keeps the inode in the table when the kernel forgets it (a FORGET can race the RELEASE
  // of the last handle on an unlinked file), until Update sees both cleared.
  int open_count = 0;
  enum class Hidden { kNo, kHiding, kYes };
  std::atomic<Hidden> hidden{Hidden::kNo};  // also read without the lock (fstat's nlink)

  // The other names (see above), guarded by names_mu; read from any thread. The slots'
  // contents belong to the table's cache.
  mutable std::mutex names_mu;
  std::vector<std::unique_ptr<DescriptorSlot>> other_names;
  std::string hidden_path;  // relative to the backing root; "" when it has none
};

class InodeTable {
 public:
  InodeTable() = default;
  ~InodeTable();
  InodeTable(const InodeTable&) = delete;
  InodeTable& operator=(const InodeTable&) = delete;

  // Opens the backing root; returns an errno (0 on success). `root_path` is canonicalised.
  int Open(const std::string& root_path);
  // Closes every descriptor the table holds (holds handed out keep theirs until let go).
  void Clear();

  // A descriptor (O_PATH | O_NOFOLLOW) on `inode`'s backing file, held as long as the
  // result lives; error() is the errno when it could not be reopened (ESTALE: the file is
  // gone). The root's is open for the table's life (and not O_PATH).
  HeldFd Fd(const Inode& inode) const;
  int root_fd() const { return root_fd_->get(); }
  // fstat of `inode`'s backing file (not following a symlink), and a new read-only
  // descriptor on it (`*fd`, the caller's to close); 0 or an errno.
  int Stat(const Inode& inode, struct stat* st) const;
  int OpenReadOnly(const Inode& inode, int* fd) const;
  // The descriptors the cache holds open now, and its bound (descriptor_cache.h).
  size_t open_descriptors() const { return cache_->open_count(); }
  size_t descriptor_capacity() const { return cache_->capacity(); }

  const std::string& root_path() const { return root_path_; }
  Inode& root() { return *root_; }
  const Inode& root() const { return *root_; }
  Inode& Get(fuse_ino_t ino);
  fuse_ino_t IdOf(Inode& inode);

  // Looks `name` up under `parent` in the backing directory. On success (0) `*found` is the
  // inode with its lookup count raised by one and `*st` its attributes; else an errno.
  int Lookup(Inode& parent, const char* name, Inode** found, struct stat* st);
  void Forget(Inode& inode, uint64_t count);
  // Runs `f` on the inode of (dev, ino) if the table has it, with the table locked (so it
  // cannot be dropped meanwhile); false if it does not.
  bool WithInode(dev_t dev, ino_t ino, const std::function<void(Inode&)>& f);
  // Runs `f` on `inode` with the table locked, then drops the inode if nothing holds it any
  // more (no lookup, no open handle, no hidden name).
  void Update(Inode& inode, const std::function<void(Inode&)>& f);

  // The inode's path relative to the backing root ("" for the root), or an errno: ENOTSUP
  // when neither its descriptor's name nor any of its other names is in the tree any more.
  int RelativePath(const Inode& inode, std::string* path) const;

  std::vector<Inode*> All();

 private:
  // The path `fd` names if it is still `inode`'s in the tree, else an errno (ENOTSUP).
  int PathThrough(int fd, const Inode& inode, std::string* path) const;
  int OtherName(const Inode& inode, std::string* path) const;
  // Drops `inode` if nothing holds it; its descriptors close with `released`. mu_ held.
  void EraseIfUnheld(Inode& inode, DescriptorCache::Released* released);
  // Keeps `fd` (just opened on `inode` by another name) among its other names if that name
  // is new to it; closes it otherwise.
  void KeepIfOtherName(Inode& inode, int fd);
  // Gives `inode`'s slots back to the cache; their descriptors close with `released`.
  void DropSlots(Inode& inode, DescriptorCache::Released* released);

  std::string root_path_;
  std::unique_ptr<Inode> root_;
  std::shared_ptr<const Descriptor> root_fd_;
  std::unique_ptr<DescriptorCache> cache_;  // on root_fd_'s file system
  std::mutex mu_;
  std::map<std::pair<dev_t, ino_t>, std::unique_ptr<Inode>> by_key_;  // guarded by mu_
};

// "/proc/self/fd/N": the path that reopens or names a descriptor's file.
std::string ProcFdPath(int fd);

}  // namespace duet

#endif  // DUET_ADAPTERS_FUSE_INODE_TABLE_H_
