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

DescriptorCache::DescriptorCache(int mount_fd) : mount_fd_(mount_fd) {
  std::vector<unsigned char> handle;
  if (!EncodeHandle(mount_fd_, false, &handle, &mount_id_)) mount_id_ = -1;
  std::lock_guard<std::mutex> lock(mu_);
  RefreshCapacity();
}

DescriptorCache::~DescriptorCache() {
  std::lock_guard<std::mutex> lock(mu_);
  for (DescriptorSlot* slot : lru_) slot->open.reset();
  lru_.clear();
}

void DescriptorCache::RefreshCapacity() {
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const size_t quarter = limit.rlim_cur == RLIM_INFINITY ? size_t{1} << 20 : limit.rlim_cur / 4;
  capacity_ = quarter < kMinCapacity ? kMinCapacity : quarter;
}

void DescriptorCache::EvictDownTo(size_t limit,
                                  std::vector<std::shared_ptr<const Descriptor>>* closing) {
  while (lru_.size() > limit) {
    DescriptorSlot* slot = lru_.back();
    lru_.pop_back();
    // Taken again now, a handle names the directory the file is in now (see the header).
    std::vector<unsigned char> fresh;
    int mount_id = 0;
    if (EncodeHandle(slot->open->get(), IsConnectable(slot->handle), &fresh, &mount_id)) {
      slot->handle = std::move(fresh);
    }
    closing->push_back(std::move(slot->open));
    slot->open.reset();
  }
}

void DescriptorCache::Insert(DescriptorSlot& slot, std::shared_ptr<const Descriptor> fd,
                             std::vector<std::shared_ptr<const Descriptor>>* closing) {
  slot.open = std::move(fd);
  lru_.push_front(&slot);
  slot.lru = lru_.begin();
  EvictDownTo(capacity_ > pinned_ ? capacity_ - pinned_ : 0, closing);
}

void DescriptorCache::Adopt(DescriptorSlot& slot, int fd, bool replace) {
  auto adopted = std::make_shared<const Descriptor>(fd);
  if (!replace) {
    std::lock_guard<std::mutex> lock(mu_);
    if (slot.open != nullptr) return;  // the common case: no system call but close
  }
  std::vector<unsigned char> handle;
  int mount_id = -1;
  // A handle opens only on mount_fd_'s file system: a file on another one (a mount inside
  // the backing directory) keeps its descriptor.
  const bool has_handle =
      mount_id_ != -1 && EncodeHandle(fd, true, &handle, &mount_id) && mount_id == mount_id_;
  std::vector<std::shared_ptr<const Descriptor>> closing;
  std::lock_guard<std::mutex> lock(mu_);
  if (!replace && slot.open != nullptr) return;  // reopened meanwhile
  RefreshCapacity();
  Drop(slot, &closing);
  if (!has_handle) {
    slot.pinned = true;
    slot.open = std::move(adopted);
    ++pinned_;
    return;
  }
  slot.handle = std::move(handle);
  Insert(slot, std::move(adopted), &closing);
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
  std::vector<std::shared_ptr<const Descriptor>> closing;
  auto reopened = std::make_shared<const Descriptor>(fd);
  std::lock_guard<std::mutex> lock(mu_);
  RefreshCapacity();
  if (slot.open != nullptr) return HeldFd(slot.open);           // another thread reopened it first
  if (slot.handle.empty()) return HeldFd(std::move(reopened));  // dropped meanwhile
  Insert(slot, reopened, &closing);
  return HeldFd(std::move(reopened));
}

bool DescriptorCache::Shrink() {
  std::vector<std::shared_ptr<const Descriptor>> closing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    RefreshCapacity();
    const size_t bound = capacity_ > pinned_ ? capacity_ - pinned_ : 0;
    EvictDownTo(std::min(bound, lru_.size() / 2), &closing);
  }
  return !closing.empty();  // closed here, unless a request still holds one
}

void DescriptorCache::Drop(DescriptorSlot& slot) {
  std::vector<std::shared_ptr<const Descriptor>> closing;
  std::lock_guard<std::mutex> lock(mu_);
  Drop(slot, &closing);
}

void DescriptorCache::Drop(DescriptorSlot& slot,
                           std::vector<std::shared_ptr<const Descriptor>>* closing) {
  if (slot.open != nullptr) {
    if (slot.pinned) {
      --pinned_;
    } else {
      lru_.erase(slot.lru);
    }
    closing->push_back(std::move(slot.open));
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
