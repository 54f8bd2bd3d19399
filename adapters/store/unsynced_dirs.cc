// UnsyncedDirs: the changed directories and written files, held open until they are synced.
#include "adapters/store/unsynced_dirs.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adapters/store/errno_status.h"
#include "engine/status_macros.h"

namespace duet::store {

bool UnsyncedDirs::Hold(HeldMap& held, size_t max, const struct stat& st, int fd,
                        absl::string_view path) {
  const std::pair<dev_t, ino_t> key(st.st_dev, st.st_ino);
  if (held.contains(key)) return true;
  if (held.size() >= max) return false;
  UniqueFd copy(fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!copy.valid()) return false;
  held.emplace(key, Held{std::move(copy), std::string(path)});
  return true;
}

absl::Status UnsyncedDirs::FsyncHeld(HeldMap& held, const char* op, uint64_t& synced) {
  while (!held.empty()) {
    const Held& first = held.begin()->second;
    if (fsync(first.dir.get()) != 0) return ErrnoStatus(errno, op, first.path);
    ++synced;
    held.erase(held.begin());
  }
  return absl::OkStatus();
}

void UnsyncedDirs::Add(int dir, absl::string_view path) {
  if (all_unknown_) return;  // the next SyncAll syncs everything anyway
  struct stat st;
  if (fstat(dir, &st) != 0 || !Hold(held_, kMaxHeld, st, dir, path)) MarkAllUnsynced();
}

absl::Status UnsyncedDirs::SyncAll(int root, const std::string& root_path) {
  if (all_unknown_) {
    if (syncfs(root) != 0) return ErrnoStatus(errno, "syncfs", root_path);
    ++counts_.file_system_syncs;
    all_unknown_ = false;
    held_.clear();
    return absl::OkStatus();
  }
  return FsyncHeld(held_, "fsync (directory)", counts_.directory_fsyncs);
}

void UnsyncedDirs::MarkAllUnsynced() {
  all_unknown_ = true;
  held_.clear();
}

void UnsyncedDirs::AddFile(int file, const struct stat& st, absl::string_view path) {
  if (files_unknown_) return;  // the next SyncEverything syncs everything anyway
  if (!Hold(files_, kMaxFiles, st, file, path)) MarkFilesUnknown();
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
    const absl::Status synced = SyncAll(root, root_path);
    if (synced.ok()) files_unknown_ = false;
    return synced;
  }
  DUET_RETURN_IF_ERROR(FsyncHeld(files_, "fsync", counts_.file_fsyncs));
  return SyncAll(root, root_path);
}

}  // namespace duet::store
