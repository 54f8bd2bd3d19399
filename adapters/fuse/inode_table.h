// The inodes the kernel knows through the mount, each an O_PATH file descriptor on the
// backing file, keyed by the backing (st_dev, st_ino) and counted by the kernel's lookups
// (fuse_reply_entry adds one, FORGET removes them; the entry is closed at zero).
//
// An inode's path comes from its descriptor (readlink of /proc/self/fd/N, minus the backing
// root), not from names the mount tracks: the kernel moves the descriptor's dentry with every
// rename and unlink made in the backing directory, including those the engine applies from the
// peer's stream that the mount never sees, so no name bookkeeping can go stale. The path is
// checked by looking it up again from the root (same st_dev and st_ino), which also rejects a
// name removed since (" (deleted)").
#ifndef DUET_ADAPTERS_FUSE_INODE_TABLE_H_
#define DUET_ADAPTERS_FUSE_INODE_TABLE_H_

#define FUSE_USE_VERSION 314
#include <fuse3/fuse_lowlevel.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace duet {

struct Inode {
  int fd = -1;  // O_PATH | O_NOFOLLOW on the backing file
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
};

class InodeTable {
 public:
  InodeTable() = default;
  ~InodeTable();
  InodeTable(const InodeTable&) = delete;
  InodeTable& operator=(const InodeTable&) = delete;

  // Opens the backing root; returns an errno (0 on success). `root_path` is canonicalised.
  int Open(const std::string& root_path);
  // Closes every descriptor.
  void Clear();

  const std::string& root_path() const { return root_path_; }
  Inode& root() { return *root_; }
  Inode& Get(fuse_ino_t ino);
  fuse_ino_t IdOf(Inode& inode);

  // Looks `name` up under `parent` in the backing directory. On success (0) `*found` is the
  // inode with its lookup count raised by one and `*st` its attributes; else an errno.
  int Lookup(Inode& parent, const char* name, Inode** found, struct stat* st);
  void Forget(Inode& inode, uint64_t count);

  // The inode's path relative to the backing root ("" for the root), or an errno: ENOTSUP
  // when it has no name in the tree any more.
  int RelativePath(const Inode& inode, std::string* path) const;

  std::vector<Inode*> All();

 private:
  int RelativePathOnce(const Inode& inode, std::string* path) const;

  std::string root_path_;
  std::unique_ptr<Inode> root_;
  std::mutex mu_;
  std::map<std::pair<dev_t, ino_t>, std::unique_ptr<Inode>> by_key_;  // guarded by mu_
};

// "/proc/self/fd/N": the path that reopens or names a descriptor's file.
std::string ProcFdPath(int fd);

}  // namespace duet

#endif  // DUET_ADAPTERS_FUSE_INODE_TABLE_H_
