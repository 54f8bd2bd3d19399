// UnsyncedDirs: the changed directories and written files, held open until they are synced.
#include "adapters/store/unsynced_dirs.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adapters/store/errno_status.h"

namespace duet::store {

void UnsyncedDirs::Add(int dir, absl::string_view path) {
  if (all_unknown_) return;  // the next SyncAll syncs everything anyway
  struct stat st;
  if (fstat(dir, &st) != 0) {
    MarkAllUnsynced();
    return;
  }
  const std::pair<dev_t, ino_t> key(st.st_dev, st.st_ino);
  if (held_.contains(key)) return;
  if (held_.size() >= kMaxHeld) {
    MarkAllUnsynced();
    return;
  }
  UniqueFd copy(fcntl(dir, F_DUPFD_CLOEXEC, 0));
  if (!copy.valid()) {
    MarkAllUnsynced();
    return;
  }
  held_.emplace(key, Held{std::move(copy), std::string(path)});
}

absl::Status UnsyncedDirs::SyncAll(int root, const std::string& root_path) {
  if (all_unknown_) {
    if (syncfs(root) != 0) return ErrnoStatus(errno, "syncfs", root_path);
    ++counts_.file_system_syncs;
    all_unknown_ = false;
    held_.clear();
    return absl::OkStatus();
  }
  while (!held_.empty()) {
    const Held& held = held_.begin()->second;
    if (fsync(held.dir.get()) != 0) return ErrnoStatus(errno, "fsync (directory)", held.path);
    ++counts_.directory_fsyncs;
    held_.erase(held_.begin());
  }
  return absl::OkStatus();
}

void UnsyncedDirs::MarkAllUnsynced() {
  all_unknown_ = true;
  held_.clear();
}

void UnsyncedDirs::AddFile(int file, const struct stat& st, absl::string_view path) {
  if (files_unknown_) return;  // the next SyncEverything syncs everything anyway
  const std::pair<dev_t, ino_t> key(st.st_dev, st.st_ino);
  if (files_.contains(key)) return;
  if (files_.size() >= kMaxFiles) {
    MarkFilesUnknown();
    return;
  }
  UniqueFd copy(fcntl(file, F_DUPFD_CLOEXEC, 0));
  if (!copy.valid()) {
    MarkFilesUnknown();
    return;
  }
  files_.emplace(key, Held{std::move(copy), std::string(path)});
}

void UnsyncedDirs::FileSynced(const struct stat& st) {
  files_.erase(std::make_pair(st.st_dev, st.st_ino));
}

void UnsyncedDirs::MarkFilesUnknown() {
  files_unknown_ = true;
  files_.clear();  // closed: an unlinked file's blocks are freed now, not at the next sync
}

absl::Status UnsyncedDirs::SyncEverything(int root, const std::string& root_path) {
  if (files_unknown_) {
    MarkAllUnsynced();
    files_.clear();
    const absl::Status synced = SyncAll(root, root_path);
    if (synced.ok()) files_unknown_ = false;
    return synced;
  }
  while (!files_.empty()) {
    const Held& held = files_.begin()->second;
    if (fsync(held.dir.get()) != 0) return ErrnoStatus(errno, "fsync", held.path);
    ++counts_.file_fsyncs;
    files_.erase(files_.begin());
  }
  return SyncAll(root, root_path);
}

}  // namespace duet::store
