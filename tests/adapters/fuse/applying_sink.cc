#include "tests/adapters/fuse/applying_sink.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace duet {
namespace {

absl::Status Errno(const std::string& what) { return absl::ErrnoToStatus(errno, what); }

}  // namespace

ApplyingSink::ApplyingSink(std::string module_root)
    : module_root_(std::move(module_root)), thread_([this] { Loop(); }) {}

ApplyingSink::~ApplyingSink() { Stop(); }

void ApplyingSink::SetCompleter(Completer completer) {
  std::lock_guard<std::mutex> lock(mu_);
  completer_ = std::move(completer);
}

void ApplyingSink::Receive(uint64_t op_id, Mutation mutation) {
  std::lock_guard<std::mutex> lock(mu_);
  received_.push_back(mutation);
  queue_.emplace_back(op_id, std::move(mutation));
  cv_.notify_all();
}

void ApplyingSink::FailPath(const std::string& path, int err) {
  std::lock_guard<std::mutex> lock(mu_);
  failing_[path] = err;
}

void ApplyingSink::Hold(bool held) {
  std::lock_guard<std::mutex> lock(mu_);
  held_ = held;
  cv_.notify_all();
}

void ApplyingSink::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    cv_.notify_all();
  }
  thread_.join();
}

std::vector<Mutation> ApplyingSink::Received() {
  std::lock_guard<std::mutex> lock(mu_);
  return received_;
}

bool ApplyingSink::WaitForReceived(size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return received_.size() >= count; });
}

void ApplyingSink::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || (!held_ && !queue_.empty()); });
    if (stopping_) return;
    auto [op_id, mutation] = std::move(queue_.front());
    queue_.pop_front();
    auto failing = failing_.find(mutation.path);
    const int fail_with = failing == failing_.end() ? 0 : failing->second;
    Completer completer = completer_;
    lock.unlock();
    const absl::Status status =
        fail_with != 0 ? absl::ErrnoToStatus(fail_with, "injected by the test") : Apply(mutation);
    if (completer) completer(op_id, status);
    lock.lock();
  }
}

std::string ApplyingSink::Full(const std::string& path) const {
  return path.empty() ? module_root_ : module_root_ + "/" + path;
}

absl::Status ApplyingSink::ApplyInStore(const Mutation& m) {
  if (!store_.has_value()) {
    absl::StatusOr<store::BackingStore> opened = store::BackingStore::Open(module_root_);
    if (!opened.ok()) return opened.status();
    store_.emplace(*std::move(opened));
  }
  return store_->Apply(m, /*durable=*/false);
}

namespace {

// The creator's owner, as the store gives it (the test runs as root, so any owner goes).
absl::Status Own(const std::string& path, const Mutation& m) {
  if (lchown(path.c_str(), m.uid, m.gid) != 0) return Errno("lchown " + path);
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplyingSink::Apply(const Mutation& m) {
  const std::string path = Full(m.path);
  switch (m.kind) {
    case MutationKind::kWrite: {
      const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) return Errno("open " + path);
      const ssize_t n = pwrite(fd, m.data->data(), m.data->size(), static_cast<off_t>(m.offset));
      const int err = errno;
      close(fd);
      if (n < 0) return absl::ErrnoToStatus(err, "pwrite " + path);
      if (static_cast<size_t>(n) != m.data->size()) return absl::DataLossError("short write");
      return absl::OkStatus();
    }
    case MutationKind::kTruncate:
      if (truncate(path.c_str(), static_cast<off_t>(m.offset)) != 0) return Errno("truncate");
      return absl::OkStatus();
    case MutationKind::kCreate: {
      const int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, m.mode);
      if (fd < 0) return Errno("create " + path);
      close(fd);
      return Own(path, m);
    }
    case MutationKind::kMkdir:
      if (mkdir(path.c_str(), m.mode) != 0) return Errno("mkdir " + path);
      return Own(path, m);
    case MutationKind::kUnlink:
      if (unlink(path.c_str()) != 0) return Errno("unlink " + path);
      return absl::OkStatus();
    case MutationKind::kRmdir:
      if (rmdir(path.c_str()) != 0) return Errno("rmdir " + path);
      return absl::OkStatus();
    case MutationKind::kRename: {
      unsigned int flags = 0;
      if ((m.rename_flags & kRenameNoReplace) != 0) flags |= RENAME_NOREPLACE;
      if ((m.rename_flags & kRenameExchange) != 0) flags |= RENAME_EXCHANGE;
      if (renameat2(AT_FDCWD, path.c_str(), AT_FDCWD, Full(m.path2).c_str(), flags) != 0) {
        return Errno("rename " + path);
      }
      return absl::OkStatus();
    }
    case MutationKind::kSymlink:
      if (symlink(m.path2.c_str(), path.c_str()) != 0) return Errno("symlink " + path);
      return Own(path, m);
    case MutationKind::kLink:
      if (link(path.c_str(), Full(m.path2).c_str()) != 0) return Errno("link " + path);
      return absl::OkStatus();
    case MutationKind::kSetattr:
    case MutationKind::kSetxattr:
    case MutationKind::kRemovexattr:
    case MutationKind::kReplaceXattrs:
    case MutationKind::kMknod:
    case MutationKind::kFallocate:
      return ApplyInStore(m);
    case MutationKind::kFsync: {
      const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return Errno("open " + path);
      const int res = fsync(fd);
      const int err = errno;
      close(fd);
      if (res != 0) return absl::ErrnoToStatus(err, "fsync " + path);
      return absl::OkStatus();
    }
    case MutationKind::kRemoveTree:
      return absl::UnimplementedError("remove-tree is resync only");
  }
  return absl::InternalError("unknown mutation kind");
}

}  // namespace duet
