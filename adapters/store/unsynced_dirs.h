// The directories of one store whose entries changed (a name added, removed or renamed)
// since they were last fsync'ed, so that an fsync of a file pays for its directories only
// when they hold something not yet durable (DESIGN: durable means the data and the parent
// directory are fsync'ed). Each directory is held open by its fd, not by its path: a
// directory renamed or removed after the change is still the one synced, and one reached
// by two paths is held once (keyed by device and inode; the open fd keeps the inode number
// from being reused).
//
// At most kMaxHeld directories are held open. Past that, or when a directory cannot be
// identified, the set gives up naming them and SyncAll syncs the whole file system instead;
// a new set starts in that state, because a process that opened the store before this one
// may have left changes unsynced.
//
// It also holds the regular files written without a sync (at most kMaxFiles), for the
// whole-tree sync alone (SyncEverything: a secondary's periodic flush, a syncfs through the
// mount): it fsyncs them and the directories instead of syncing the whole file system,
// which on a shared disk also writes out every other program's dirty pages and held each
// module's operations behind it for as long. A change it does not name a file for (an
// attribute, an xattr, a new entry, a change that failed part way, a namespace change, which
// may remove a held file: MarkFilesUnknown closes them), more files than it holds, or a new
// set makes that sync a syncfs again. An fsync of one file syncs only its directories, as
// before, and drops the file (FileSynced) before it syncs it.
//
// Thread-compatible, as BackingStore, which owns one.
#ifndef DUET_ADAPTERS_STORE_UNSYNCED_DIRS_H_
#define DUET_ADAPTERS_STORE_UNSYNCED_DIRS_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "adapters/store/unique_fd.h"

namespace duet::store {

class UnsyncedDirs {
 public:
  static constexpr size_t kMaxHeld = 64;

  static constexpr size_t kMaxFiles = 256;

  // The syncs SyncAll and SyncEverything issued since the set was made: fsyncs of changed
  // directories (not of the object an fsync names, even a directory), of written files,
  // and syncfs calls.
  struct Counts {
    uint64_t directory_fsyncs = 0;
    uint64_t file_system_syncs = 0;
    uint64_t file_fsyncs = 0;
  };

  // Records that entries of the directory open at `dir` (read-only, as ParentDir holds it)
  // changed; `path` (module-relative, "" for the root) names it in errors. Holds a
  // duplicate of the fd; the caller keeps `dir`.
  void Add(int dir, absl::string_view path);

  // The next SyncAll syncs the whole file system (a change the set cannot name).
  void MarkAllUnsynced();

  // fsyncs every recorded directory, or syncfs(`root`) when the set gave up naming them, and
  // forgets them. On an error the directories not yet synced stay recorded. `root_path`
  // names the root in errors.
  absl::Status SyncAll(int root, const std::string& root_path);

  // Records that the regular file open at `file` (`st` its fstat) was written and not
  // synced; `path` names it in errors. Holds a duplicate of the fd.
  void AddFile(int file, const struct stat& st, absl::string_view path);
  // The file `st` names was fsync'ed: the whole-tree sync need not sync it again.
  void FileSynced(const struct stat& st);
  // The next SyncEverything syncs the whole file system (a change no file is held for).
  void MarkFilesUnknown();
  // Makes every change recorded durable: fsyncs every held file and directory, or syncfs
  // when either set gave up naming them. On an error what is not synced stays recorded.
  absl::Status SyncEverything(int root, const std::string& root_path);

  bool empty() const { return !all_unknown_ && held_.empty(); }
  const Counts& counts() const { return counts_; }

 private:
  struct Held {
    UniqueFd dir;  // or the file
    std::string path;
  };
  using HeldMap = std::map<std::pair<dev_t, ino_t>, Held>;

  // Holds a duplicate of `fd` (`st` its fstat) in `held`, once per inode: false if it
  // cannot (`max` held already, or no descriptor left), and the caller gives up naming.
  static bool Hold(HeldMap& held, size_t max, const struct stat& st, int fd,
                   absl::string_view path);
  // fsyncs and forgets each held one, counting in `synced`; on an error the rest stay.
  static absl::Status FsyncHeld(HeldMap& held, const char* op, uint64_t& synced);

  HeldMap held_;
  bool all_unknown_ = true;
  HeldMap files_;
  bool files_unknown_ = true;
  Counts counts_;
};

}  // namespace duet::store

#endif  // DUET_ADAPTERS_STORE_UNSYNCED_DIRS_H_
