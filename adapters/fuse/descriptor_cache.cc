#include "adapters/fuse/descriptor_cache.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace duet {
namespace {

// Linux 6.13's <linux/fcntl.h> and <linux/exportfs.h>; glibc 2.36 has neither.
constexpr int kAtHandleConnectable = 0x002;
constexpr int kFileIdIsConnectable = 0x10000;  // in handle_type, set by a connectable encode

file_handle* AsHandle(std::vector<unsigned char>& bytes) {
  return reinterpret_cast<file_handle*>(bytes.data());
}

// `fd`'s file handle into `out`, connectable when `connectable` and the file system can; its
// mount id into `mount_id`. False when the file system makes none.
bool EncodeHandle(int fd, bool connectable, std::vector<unsigned char>* out, int* mount_id) {
  std::vector<unsigned char> bytes(sizeof(file_handle) + MAX_HANDLE_SZ);
  AsHandle(bytes)->handle_bytes = MAX_HANDLE_SZ;
  // Directories, files already unlinked, and file systems without fh_to_parent refuse a
  // connectable handle (EINVAL, EOPNOTSUPP): they get a plain one.
  if (!connectable || name_to_handle_at(fd, "", AsHandle(bytes), mount_id,
                                        AT_EMPTY_PATH | kAtHandleConnectable) != 0) {
    AsHandle(bytes)->handle_bytes = MAX_HANDLE_SZ;
    if (name_to_handle_at(fd, "", AsHandle(bytes), mount_id, AT_EMPTY_PATH) != 0) return false;
  }
  bytes.resize(sizeof(file_handle) + AsHandle(bytes)->handle_bytes);
  *out = std::move(bytes);
  return true;
}

bool IsConnectable(std::vector<unsigned char>& handle) {
  return (AsHandle(handle)->handle_type & kFileIdIsConnectable) != 0;
}

int Reopen(int mount_fd, std::vector<unsigned char> handle) {
  const int flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
  int fd = open_by_handle_at(mount_fd, AsHandle(handle), flags);
  if (fd < 0 && errno == ESTALE && IsConnectable(handle)) {
    // Moved out of the directory the handle names, and out of the dentry cache: the file
    // itself is still there, disconnected (see the header).
    AsHandle(handle)->handle_type &= ~kFileIdIsConnectable;
    fd = open_by_handle_at(mount_fd, AsHandle(handle), flags);
  }
  return fd;
}

}  // namespace

Descriptor::~Descriptor() { close(fd_); }

DescriptorCache::Released::~Released() {
  if (cache_ != nullptr && !evicted_.empty()) cache_->Rehandle(evicted_);
  // Then evicted_'s and closing_'s descriptors close, those no request holds.
}

DescriptorCache::DescriptorCache(int mount_fd) : mount_fd_(mount_fd) {
  std::vector<unsigned char> handle;
  if (!EncodeHandle(mount_fd_, false, &handle, &mount_id_)) mount_id_ = -1;
  capacity_ = CapacityFromLimit().value_or(kMinCapacity);
}

DescriptorCache::~DescriptorCache() {
  std::lock_guard<std::mutex> lock(mu_);
  for (DescriptorSlot* slot : lru_) slot->open.reset();
  lru_.clear();
}

std::optional<size_t> DescriptorCache::CapacityFromLimit() {
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
  const size_t quarter = limit.rlim_cur == RLIM_INFINITY ? size_t{1} << 20 : limit.rlim_cur / 4;
  return quarter < kMinCapacity ? kMinCapacity : quarter;
}

DescriptorCache::Handle DescriptorCache::HandleOf(int fd) const {
  Handle handle;
  int mount_id = -1;
  // A handle opens only on mount_fd_'s file system: a file on another one (a mount inside
  // the backing directory) keeps its descriptor.
  handle.usable =
      mount_id_ != -1 && EncodeHandle(fd, true, &handle.bytes, &mount_id) && mount_id == mount_id_;
  return handle;
}

void DescriptorCache::EvictDownTo(size_t limit, Released* released) {
  released->cache_ = this;
  while (lru_.size() > limit) {
    DescriptorSlot* slot = lru_.back();
    lru_.pop_back();
    // Its handle is taken again once mu_ is let go (Rehandle), so that it names the directory
    // the file is in now (see the header).
    const uint64_t ticket = ++next_ticket_;
    rehandling_[slot] = ticket;
    released->evicted_.push_back(
        {slot, ticket, IsConnectable(slot->handle), std::move(slot->open)});
    slot->open.reset();
  }
}

void DescriptorCache::Rehandle(std::vector<Released::Evicted>& evicted) {
  std::vector<Handle> fresh(evicted.size());
  for (size_t i = 0; i < evicted.size(); ++i) {
    int mount_id = 0;
    fresh[i].usable =
        EncodeHandle(evicted[i].fd->get(), evicted[i].connectable, &fresh[i].bytes, &mount_id);
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < evicted.size(); ++i) {
    auto it = rehandling_.find(evicted[i].slot);
    if (it == rehandling_.end() || it->second != evicted[i].ticket) continue;
    rehandling_.erase(it);
    if (fresh[i].usable) evicted[i].slot->handle = std::move(fresh[i].bytes);
  }
}

void DescriptorCache::Insert(DescriptorSlot& slot, std::shared_ptr<const Descriptor> fd,
                             Released* released) {
  slot.open = std::move(fd);
  lru_.push_front(&slot);
  slot.lru = lru_.begin();
  EvictDownTo(capacity_ > pinned_ ? capacity_ - pinned_ : 0, released);
}

void DescriptorCache::Adopt(DescriptorSlot& slot, int fd, Handle handle, bool replace,
                            Released* released) {
  auto adopted = std::make_shared<const Descriptor>(fd);
  const std::optional<size_t> capacity = CapacityFromLimit();
  std::lock_guard<std::mutex> lock(mu_);
  if (!replace && slot.open != nullptr) {
    released->closing_.push_back(std::move(adopted));
    return;
  }
  if (capacity.has_value()) capacity_ = *capacity;
  DropLocked(slot, released);
  if (!handle.usable) {
    slot.pinned = true;
    slot.open = std::move(adopted);
    ++pinned_;
    return;
  }
  slot.handle = std::move(handle.bytes);
  Insert(slot, std::move(adopted), released);
}

void DescriptorCache::Adopt(DescriptorSlot& slot, int fd, bool replace) {
  if (!replace) {
    std::lock_guard<std::mutex> lock(mu_);
    if (slot.open != nullptr) {
      close(fd);  // the common case: no system call but close (outside the lock)
      return;
    }
  }
  Released released;
  Adopt(slot, fd, HandleOf(fd), replace, &released);
}

HeldFd DescriptorCache::Hold(DescriptorSlot& slot) {
  std::vector<unsigned char> handle;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (slot.open != nullptr) {
      if (!slot.pinned) lru_.splice(lru_.begin(), lru_, slot.lru);
      return HeldFd(slot.open);
    }
    if (slot.handle.empty()) return HeldFd(EBADF);  // dropped
    handle = slot.handle;
  }
  int fd = Reopen(mount_fd_, handle);
  if (fd < 0 && (errno == EMFILE || errno == ENFILE) && Shrink()) fd = Reopen(mount_fd_, handle);
  if (fd < 0) return HeldFd(errno);
  auto reopened = std::make_shared<const Descriptor>(fd);
  const std::optional<size_t> capacity = CapacityFromLimit();
  Released released;
  std::lock_guard<std::mutex> lock(mu_);
  if (capacity.has_value()) capacity_ = *capacity;
  if (slot.open != nullptr) return HeldFd(slot.open);           // another thread reopened it first
  if (slot.handle.empty()) return HeldFd(std::move(reopened));  // dropped meanwhile
  Insert(slot, reopened, &released);
  return HeldFd(std::move(reopened));
}

bool DescriptorCache::Shrink() {
  const std::optional<size_t> capacity = CapacityFromLimit();
  Released released;
  std::lock_guard<std::mutex> lock(mu_);
  if (capacity.has_value()) capacity_ = *capacity;
  const size_t bound = capacity_ > pinned_ ? capacity_ - pinned_ : 0;
  EvictDownTo(std::min(bound, lru_.size() / 2), &released);
  return !released.evicted_.empty();  // closed once the lock is let go, unless still held
}

void DescriptorCache::Drop(DescriptorSlot& slot, Released* released) {
  std::lock_guard<std::mutex> lock(mu_);
  DropLocked(slot, released);
}

void DescriptorCache::DropLocked(DescriptorSlot& slot, Released* released) {
  rehandling_.erase(&slot);
  if (slot.open != nullptr) {
    if (slot.pinned) {
      --pinned_;
    } else {
      lru_.erase(slot.lru);
    }
    released->closing_.push_back(std::move(slot.open));
    slot.open.reset();
  }
  slot.pinned = false;
  slot.handle.clear();
}

size_t DescriptorCache::open_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.size() + pinned_;
}

size_t DescriptorCache::capacity() const {
  std::lock_guard<std::mutex> lock(mu_);
  return capacity_;
}

}  // namespace duet
