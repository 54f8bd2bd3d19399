#include "adapters/fuse/inode_table.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

namespace duet {

std::string ProcFdPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

InodeTable::~InodeTable() { Clear(); }

int InodeTable::Open(const std::string& root_path) {
  char resolved[PATH_MAX];
  if (realpath(root_path.c_str(), resolved) == nullptr) return errno;
  // Not O_PATH: open_by_handle_at takes it as the file system to open handles on.
  const int fd = open(resolved, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return err;
  }
  root_path_ = resolved;
  root_fd_ = std::make_shared<const Descriptor>(fd);
  cache_ = std::make_unique<DescriptorCache>(fd);
  root_ = std::make_unique<Inode>();
  root_->dev = st.st_dev;
  root_->ino = st.st_ino;
  root_->type = S_IFDIR;
  root_->nlookup = 1;
  return 0;
}

void InodeTable::Clear() {
  DescriptorCache::Released released;  // closed after mu_ is let go
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [key, inode] : by_key_) DropSlots(*inode, &released);
  by_key_.clear();
  cache_.reset();
  root_.reset();
  root_fd_.reset();
}

HeldFd InodeTable::Fd(const Inode& inode) const {
  if (&inode == root_.get()) return HeldFd(root_fd_);
  return cache_->Hold(inode.self);
}

int InodeTable::Stat(const Inode& inode, struct stat* st) const {
  const HeldFd fd = Fd(inode);
  if (fd.get() < 0) return fd.error();
  return fstatat(fd.get(), "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
}

int InodeTable::OpenReadOnly(const Inode& inode, int* fd) const {
  const HeldFd path_fd = Fd(inode);
  if (path_fd.get() < 0) return path_fd.error();
  const std::string path = ProcFdPath(path_fd.get());
  *fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (*fd < 0 && (errno == EMFILE || errno == ENFILE) && cache_->Shrink()) {
    *fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  return *fd < 0 ? errno : 0;
}

void InodeTable::DropSlots(Inode& inode, DescriptorCache::Released* released) {
  cache_->Drop(inode.self, released);
  std::lock_guard<std::mutex> lock(inode.names_mu);
  for (auto& slot : inode.other_names) cache_->Drop(*slot, released);
  inode.other_names.clear();
}

Inode& InodeTable::Get(fuse_ino_t ino) {
  if (ino == FUSE_ROOT_ID) return *root_;
  return *reinterpret_cast<Inode*>(ino);
}

fuse_ino_t InodeTable::IdOf(Inode& inode) {
  if (&inode == root_.get()) return FUSE_ROOT_ID;
  return reinterpret_cast<fuse_ino_t>(&inode);
}

int InodeTable::Lookup(Inode& parent, const char* name, Inode** found, struct stat* st) {
  const HeldFd dir = Fd(parent);
  if (dir.get() < 0) return dir.error();
  const auto open_name = [&] { return openat(dir.get(), name, O_PATH | O_NOFOLLOW | O_CLOEXEC); };
  int fd = open_name();
  if (fd < 0 && (errno == EMFILE || errno == ENFILE) && cache_->Shrink()) fd = open_name();
  if (fd < 0) return errno;
  if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
    const int err = errno;
    close(fd);
    return err;
  }
  if (st->st_dev == root_->dev && st->st_ino == root_->ino) {
    close(fd);
    *found = root_.get();
    return 0;
  }
  const std::pair<dev_t, ino_t> key{st->st_dev, st->st_ino};
  Inode* inode = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_key_.find(key);
    if (it != by_key_.end()) {
      ++it->second->nlookup;
      inode = it->second.get();
    }
  }
  bool kept = false;
  if (inode == nullptr) {
    // A new inode: its handle is taken before mu_ (a system call under the table's lock would
    // hold up every lookup), and it is adopted under mu_, so no other thread finds the inode
    // before it has its handle. Another lookup may have added it meanwhile.
    DescriptorCache::Handle handle = cache_->HandleOf(fd);
    DescriptorCache::Released released;  // after mu_ is let go
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = by_key_[key];
    if (slot == nullptr) {
      slot = std::make_unique<Inode>();
      slot->dev = st->st_dev;
      slot->ino = st->st_ino;
      slot->type = st->st_mode & S_IFMT;
      cache_->Adopt(slot->self, fd, std::move(handle), /*replace=*/true, &released);
      kept = true;
    }
    ++slot->nlookup;
    inode = slot.get();
  }
  // A file with several names keeps this one beside it, to be written through once the
  // first is gone; else it saves a reopen if the cache let the inode's descriptor go.
  // (The lookup count just taken keeps the inode in the table meanwhile.)
  if (!kept) {
    if (S_ISREG(st->st_mode) && st->st_nlink > 1) {
      KeepIfOtherName(*inode, fd);
    } else {
      cache_->Adopt(inode->self, fd, /*replace=*/false);
    }
  }
  *found = inode;
  return 0;
}

void InodeTable::KeepIfOtherName(Inode& inode, int fd) {
  // Enough for the names a program uses at once; past it a name is not remembered.
  constexpr size_t kMaxOtherNames = 8;
  std::string name;
  std::lock_guard<std::mutex> lock(inode.names_mu);
  if (inode.other_names.size() < kMaxOtherNames && PathThrough(fd, inode, &name) == 0) {
    std::string known;
    bool is_new = PathThrough(Fd(inode).get(), inode, &known) != 0 || known != name;
    for (auto& other : inode.other_names) {
      if (!is_new) break;
      is_new = PathThrough(cache_->Hold(*other).get(), inode, &known) != 0 || known != name;
    }
    if (is_new) {
      inode.other_names.push_back(std::make_unique<DescriptorSlot>());
      cache_->Adopt(*inode.other_names.back(), fd, /*replace=*/true);
      return;
    }
  }
  close(fd);
}

void InodeTable::Forget(Inode& inode, uint64_t count) {
  if (&inode == root_.get()) return;
  DescriptorCache::Released released;  // closed after mu_ is let go
  std::lock_guard<std::mutex> lock(mu_);
  inode.nlookup = count >= inode.nlookup ? 0 : inode.nlookup - count;
  EraseIfUnheld(inode, &released);
}

void InodeTable::Update(Inode& inode, const std::function<void(Inode&)>& f) {
  DescriptorCache::Released released;  // closed after mu_ is let go
  std::lock_guard<std::mutex> lock(mu_);
  f(inode);
  if (&inode != root_.get()) EraseIfUnheld(inode, &released);
}

void InodeTable::EraseIfUnheld(Inode& inode, DescriptorCache::Released* released) {
  if (inode.nlookup > 0 || inode.open_count > 0 || inode.hidden != Inode::Hidden::kNo) return;
  auto it = by_key_.find({inode.dev, inode.ino});
  if (it == by_key_.end() || it->second.get() != &inode) return;
  DropSlots(inode, released);
  by_key_.erase(it);
}

bool InodeTable::WithInode(dev_t dev, ino_t ino, const std::function<void(Inode&)>& f) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_key_.find({dev, ino});
  if (it == by_key_.end()) return false;
  f(*it->second);
  return true;
}

int InodeTable::RelativePath(const Inode& inode, std::string* path) const {
  if (&inode == root_.get()) {
    path->clear();
    return 0;
  }
  // A rename applied between reading the name and checking it makes the check fail once;
  // a name that stays wrong is gone.
  constexpr int kAttempts = 3;
  const HeldFd fd = Fd(inode);
  for (int attempt = 0; fd.get() >= 0 && attempt < kAttempts; ++attempt) {
    const int err = PathThrough(fd.get(), inode, path);
    if (err != ENOTSUP) return err;
  }
  const int err = OtherName(inode, path);
  // ESTALE: the file is gone, its inode too (descriptor_cache.h).
  return err == ENOTSUP && fd.get() < 0 ? fd.error() : err;
}

int InodeTable::OtherName(const Inode& inode, std::string* path) const {
  std::lock_guard<std::mutex> lock(inode.names_mu);
  for (auto& other : inode.other_names) {
    const HeldFd fd = cache_->Hold(*other);
    if (fd.get() >= 0 && PathThrough(fd.get(), inode, path) == 0) return 0;
  }
  if (inode.hidden_path.empty()) return ENOTSUP;
  struct stat st;
  if (fstatat(root_fd(), inode.hidden_path.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      st.st_dev != inode.dev || st.st_ino != inode.ino) {
    return ENOTSUP;
  }
  *path = inode.hidden_path;
  return 0;
}

int InodeTable::PathThrough(int fd, const Inode& inode, std::string* path) const {
  char target[PATH_MAX];
  const ssize_t n = readlink(ProcFdPath(fd).c_str(), target, sizeof target);
  if (n < 0) return errno;
  if (static_cast<size_t>(n) >= sizeof target) return ENAMETOOLONG;
  const std::string full(target, static_cast<size_t>(n));
  const std::string prefix = root_path_ == "/" ? "/" : root_path_ + "/";
  if (full.size() <= prefix.size() || full.compare(0, prefix.size(), prefix) != 0) {
    return ENOTSUP;
  }
  std::string relative = full.substr(prefix.size());
  struct stat st;
  if (fstatat(root_fd(), relative.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      st.st_dev != inode.dev || st.st_ino != inode.ino) {
    return ENOTSUP;  // removed (" (deleted)") or renamed under us
  }
  *path = std::move(relative);
  return 0;
}

std::vector<Inode*> InodeTable::All() {
  std::vector<Inode*> all;
  std::lock_guard<std::mutex> lock(mu_);
  if (root_ != nullptr) all.push_back(root_.get());
  for (auto& [key, inode] : by_key_) all.push_back(inode.get());
  return all;
}

}  // namespace duet
