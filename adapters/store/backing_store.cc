// BackingStore: opening the root and applying each kind of mutation.
#include "adapters/store/backing_store.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "adapters/store/beneath_path.h"
#include "adapters/store/errno_status.h"
#include "adapters/store/file_attrs.h"
#include "adapters/store/tree_walk.h"
#include "engine/status_macros.h"

namespace duet::store {
namespace {

// What the model store gives a file that a write or truncate creates.
constexpr mode_t kNewFileMode = 0644;
constexpr uint64_t kMaxOffset = std::numeric_limits<off_t>::max();

mode_t PermissionBits(uint32_t mode) { return static_cast<mode_t>(mode & 07777); }

bool SameInode(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// fsync, not fdatasync, for the two callers left: a durable create (the new inode's owner,
// mode and times must be durable, and fdatasync skips them when no data block changed) and
// an application's fsync, which promises the inode's attributes as well as its bytes (a chmod,
// chown, utimens or xattr before it; the mtime a write set). The data writes, truncates and
// fallocates made durable take fdatasync (Write, Truncate, Fallocate): it still makes a size
// change durable, and the attributes they set are the mtime alone, which DESIGN.md §4 does
// not promise durable before an fsync. An application's fdatasync could take fdatasync too,
// but the request's datasync flag is not carried to the store (Mutation has no field for it).
absl::Status SyncFd(int fd, absl::string_view op, absl::string_view path) {
  if (fsync(fd) != 0) return ErrnoStatus(errno, op, path);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BackingStore> BackingStore::Open(const std::string& root_path) {
  if (root_path.empty()) return absl::InvalidArgumentError("backing root: empty path");
  struct stat st;
  if (lstat(root_path.c_str(), &st) != 0) {
    return ErrnoStatus(errno, "open backing root", root_path);
  }
  if (S_ISLNK(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "backing root '", root_path, "' is a symlink: refused, configure the real directory"));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("backing root '", root_path, "' is not a directory"));
  }
  const int fd = open(root_path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open backing root", root_path);
  return BackingStore(UniqueFd(fd), root_path, std::make_shared<SharedDirs>());
}

absl::StatusOr<BackingStore> BackingStore::Clone() const {
  const int fd = fcntl(root_.get(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus(errno, "duplicate backing root", root_path_);
  return BackingStore(UniqueFd(fd), root_path_, dirs_);
}

UnsyncedDirs::Counts BackingStore::sync_counts() const {
  const std::lock_guard lock(dirs_->mu);
  return dirs_->dirs.counts();
}

void BackingStore::AddUnsyncedDir(int dir, absl::string_view path) {
  const std::lock_guard lock(dirs_->mu);
  dirs_->dirs.Add(dir, path);
}

void BackingStore::MarkAllDirsUnsynced() {
  const std::lock_guard lock(dirs_->mu);
  dirs_->dirs.MarkAllUnsynced();
}

absl::Status BackingStore::Apply(const Mutation& m, bool durable) {
  may_have_changed_ = false;
  absl::Status status = Change(m, durable);
  // A failure before anything changed is a refusal (engine/inputs.h): the engine keeps the
  // pair in sync when both copies refuse. Never a flush's failure (it may have lost pages).
  if (!status.ok() && !may_have_changed_ && m.kind != MutationKind::kFsync) {
    status = AsRefusal(std::move(status));
  }
  // A plain write names its file for the whole-tree sync (Write); any other change left
  // unsynced (a failure may leave one, durable or not) makes that sync a syncfs
  // (unsynced_dirs.h), and so does a namespace change, durable or not, which may remove a
  // held file (closed at once: its blocks are freed now, not at the next flush).
  const bool namespace_change =
      m.kind != MutationKind::kFsync && DiskOrderOf(m) == DiskOrder::kBarrier;
  const bool unnamed_change =
      m.kind != MutationKind::kFsync &&
      (status.ok() ? (!durable && m.kind != MutationKind::kWrite) || namespace_change
                   : may_have_changed_);
  if (unnamed_change) {
    const std::lock_guard lock(dirs_->mu);
    dirs_->dirs.MarkFilesUnknown();
  }
  return status;
}

absl::Status BackingStore::Change(const Mutation& m, bool durable) {
  const char* op = MutationKindName(m.kind);
  if (m.kind != MutationKind::kFsync || !m.path.empty()) {
    DUET_RETURN_IF_ERROR(CheckRelativePath(op, m.path));
  }
  if (m.kind == MutationKind::kRename || m.kind == MutationKind::kLink) {
    DUET_RETURN_IF_ERROR(CheckRelativePath(op, m.path2));
  }
  if (m.make_parents && m.kind != MutationKind::kRemoveTree) {
    DUET_RETURN_IF_ERROR(MakeParents(m.kind == MutationKind::kLink ? m.path2 : m.path));
  }
  // No default: a new kind is a compile error here until it is carried out.
  switch (m.kind) {
    case MutationKind::kWrite:
      return Write(m, durable);
    case MutationKind::kTruncate:
      return Truncate(m, durable);
    case MutationKind::kCreate:
      return Create(m, durable);
    case MutationKind::kMkdir:
      return Mkdir(m, durable);
    case MutationKind::kUnlink:
      return Unlink(m, durable, /*directory=*/false);
    case MutationKind::kRmdir:
      return Unlink(m, durable, /*directory=*/true);
    case MutationKind::kRename:
      return Rename(m, durable);
    case MutationKind::kSymlink:
      return Symlink(m, durable);
    case MutationKind::kLink:
      return Link(m, durable);
    case MutationKind::kSetattr:
      return Setattr(m, durable);
    case MutationKind::kFsync:
      return Fsync(m.path);
    case MutationKind::kRemoveTree:
      return RemoveTreeAt(m.path, durable);
    case MutationKind::kSetxattr:
    case MutationKind::kRemovexattr:
    case MutationKind::kReplaceXattrs:
      return ApplyXattr(m, durable);
    case MutationKind::kMknod:
      return Mknod(m, durable);
    case MutationKind::kFallocate:
      return Fallocate(m, durable);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown mutation kind ", static_cast<int>(m.kind), " on '", m.path, "'"));
}

absl::Status BackingStore::MakeParents(const std::string& path) {
  ParentDir parent;
  // There already, or refused by the operation itself (ENOTDIR, a symlink on the way).
  if (OpenParent(root_.get(), path, &parent) != ENOENT) return absl::OkStatus();
  // Top down, each missing directory on the way; one made meanwhile by another operation
  // (EEXIST) is taken as it is.
  for (size_t slash = path.find('/'); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    const std::string dir = path.substr(0, slash);
    ParentDir above;
    if (const int err = OpenParent(root_.get(), dir, &above); err != 0) {
      return ParentError(err, "mkdir (parent)", dir);
    }
    if (mkdirat(above.dir.get(), above.name.c_str(), kMadeParentMode) != 0) {
      if (errno == EEXIST) continue;
      return ErrnoStatus(errno, "mkdir (parent)", dir);
    }
    may_have_changed_ = true;
    AddUnsyncedDir(above.dir.get(), ParentOf(dir));
    const int fd = openat(above.dir.get(), above.name.c_str(),
                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      MarkAllDirsUnsynced();  // the new directory is not held
      return ErrnoStatus(err, "mkdir (parent, open)", dir);
    }
    const UniqueFd made(fd);
    AddUnsyncedDir(made.get(), dir);
    // Root's and closed to others (whatever the umask or a setgid directory above gave it).
    if (fchown(made.get(), 0, 0) != 0) return ErrnoStatus(errno, "chown (parent)", dir);
    if (fchmod(made.get(), kMadeParentMode) != 0) return ErrnoStatus(errno, "chmod (parent)", dir);
  }
  return absl::OkStatus();
}

absl::Status BackingStore::Write(const Mutation& m, bool durable) {
  if (m.offset > kMaxOffset - m.data_size()) {
    return absl::InvalidArgumentError(absl::StrCat("EFBIG: write '", m.path, "': ", m.data_size(),
                                                   " bytes at offset ", m.offset,
                                                   " end past the largest file offset"));
  }
  bool created = false;
  struct stat st;
  DUET_ASSIGN_OR_RETURN(UniqueFd file, OpenFileForWrite("write", m.path, &created, &st));
  if (created) NoteParentChanged(m.path);
  // Space first, so that a full disk refuses the write before any byte of it changes.
  DUET_RETURN_IF_ERROR(ReserveForWrite(file.get(), st, m, created));
  const char* bytes = m.data ? m.data->data() : nullptr;
  size_t left = m.data_size();
  off_t offset = static_cast<off_t>(m.offset);
  may_have_changed_ = true;  // a write that fails may have written part of its bytes
  while (left > 0) {
    const ssize_t n = pwrite(file.get(), bytes, left, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      // As the model store: a write that fails on a file it created leaves no file.
      if (created) {
        ParentDir parent;
        if (OpenParent(root_.get(), m.path, &parent) == 0) {
          unlinkat(parent.dir.get(), parent.name.c_str(), 0);
        }
      }
      return ErrnoStatus(err, absl::StrCat("write (", m.data_size(), " bytes at ", m.offset, ")"),
                         m.path);
    }
    bytes += n;
    left -= static_cast<size_t>(n);
    offset += n;
  }
  if (m.data_size() > 0) {
    DUET_RETURN_IF_ERROR(StampChangeTime(file.get(), m.mtime_ns, /*new_entry=*/false, m.path));
  }
  if (!durable) {
    const std::lock_guard lock(dirs_->mu);
    dirs_->dirs.AddFile(file.get(), st, m.path);
    return absl::OkStatus();
  }
  if (fdatasync(file.get()) != 0) return ErrnoStatus(errno, "fdatasync", m.path);
  return created ? SyncChangedDirs() : absl::OkStatus();
}

absl::Status BackingStore::ReserveForWrite(int fd, const struct stat& st, const Mutation& m,
                                           bool created) {
  // Only a write that may need new blocks: past the end, or into a file with holes. An
  // overwrite of a dense file's bytes needs none (on a file system that writes in place).
  const uint64_t end = m.offset + m.data_size();
  const bool sparse = static_cast<uint64_t>(st.st_blocks) * 512 < static_cast<uint64_t>(st.st_size);
  if (m.data_size() == 0 || (end <= static_cast<uint64_t>(st.st_size) && !sparse)) {
    return absl::OkStatus();
  }
  int rc;
  do {
    rc = fallocate(fd, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(m.offset),
                   static_cast<off_t>(m.data_size()));
  } while (rc != 0 && errno == EINTR);
  if (rc == 0 || errno == EOPNOTSUPP) return absl::OkStatus();  // no reservation there
  const int err = errno;
  // Nothing of the write is written: the file it would have created goes too.
  if (created) may_have_changed_ = !RemoveCreatedFile(m.path);
  return ErrnoStatus(err, absl::StrCat("write (", m.data_size(), " bytes at ", m.offset, ")"),
                     m.path);
}

bool BackingStore::RemoveCreatedFile(const std::string& path) {
  ParentDir parent;
  return OpenParent(root_.get(), path, &parent) == 0 &&
         unlinkat(parent.dir.get(), parent.name.c_str(), 0) == 0;
}

absl::Status BackingStore::Truncate(const Mutation& m, bool durable) {
  if (m.offset > kMaxOffset) {
    return absl::InvalidArgumentError(
        absl::StrCat("EFBIG: truncate '", m.path, "' to ", m.offset, ": too large"));
  }
  bool created = false;
  DUET_ASSIGN_OR_RETURN(UniqueFd file, OpenFileForWrite("truncate", m.path, &created));
  if (created) NoteParentChanged(m.path);
  if (ftruncate(file.get(), static_cast<off_t>(m.offset)) != 0) {
    // ftruncate changes nothing when it fails (EFBIG, EPERM...): nor does this store.
    const int err = errno;
    if (created) may_have_changed_ = !RemoveCreatedFile(m.path);
    return ErrnoStatus(err, absl::StrCat("truncate (to ", m.offset, ")"), m.path);
  }
  may_have_changed_ = true;
  DUET_RETURN_IF_ERROR(StampChangeTime(file.get(), m.mtime_ns, /*new_entry=*/false, m.path));
  if (!durable) return absl::OkStatus();
  if (fdatasync(file.get()) != 0) return ErrnoStatus(errno, "fdatasync", m.path);
  return created ? SyncChangedDirs() : absl::OkStatus();
}

absl::Status BackingStore::Fallocate(const Mutation& m, bool durable) {
  if (!ValidFallocateMode(m.fallocate_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("EINVAL: fallocate '", m.path, "': mode ",
                                                   FallocateModeName(m.fallocate_mode),
                                                   " is not one that replicates"));
  }
  if (m.length == 0 || m.offset > kMaxOffset || m.length > kMaxOffset - m.offset) {
    return absl::InvalidArgumentError(absl::StrCat("EFBIG: fallocate '", m.path, "': ", m.length,
                                                   " bytes at offset ", m.offset,
                                                   " (empty, or past the largest file offset)"));
  }
  bool created = false;
  DUET_ASSIGN_OR_RETURN(UniqueFd file, OpenFileForWrite("fallocate", m.path, &created));
  if (created) NoteParentChanged(m.path);
  int mode = 0;
  if ((m.fallocate_mode & kFallocateKeepSize) != 0) mode |= FALLOC_FL_KEEP_SIZE;
  if ((m.fallocate_mode & kFallocatePunchHole) != 0) mode |= FALLOC_FL_PUNCH_HOLE;
  if ((m.fallocate_mode & kFallocateZeroRange) != 0) mode |= FALLOC_FL_ZERO_RANGE;
  int rc;
  do {
    rc = fallocate(file.get(), mode, static_cast<off_t>(m.offset), static_cast<off_t>(m.length));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int err = errno;
    // Refused before it starts: a mode or range the file system does not take. Anything else
    // (ENOSPC, EIO) may have allocated or zeroed part of the range.
    const bool refused = err == EOPNOTSUPP || err == EINVAL || err == EFBIG || err == ENODEV ||
                         err == EPERM || err == ESPIPE;
    if (!refused) may_have_changed_ = true;
    if (refused && created) may_have_changed_ = !RemoveCreatedFile(m.path);
    return ErrnoStatus(err,
                       absl::StrCat("fallocate (", FallocateModeName(m.fallocate_mode), ", ",
                                    m.length, " bytes at ", m.offset, ")"),
                       m.path);
  }
  may_have_changed_ = true;
  DUET_RETURN_IF_ERROR(StampChangeTime(file.get(), m.mtime_ns, /*new_entry=*/false, m.path));
  if (!durable) return absl::OkStatus();
  if (fdatasync(file.get()) != 0) return ErrnoStatus(errno, "fdatasync", m.path);
  return created ? SyncChangedDirs() : absl::OkStatus();
}

absl::Status BackingStore::Create(const Mutation& m, bool durable) {
  ParentDir parent;
  if (const int err = OpenParent(root_.get(), m.path, &parent); err != 0) {
    return ParentError(err, "create", m.path);
  }
  const int fd = openat(parent.dir.get(), parent.name.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
                        PermissionBits(m.mode));
  if (fd < 0) {
    if (errno != EEXIST) return ErrnoStatus(errno, "create", m.path);
    return durable ? Fsync(m.path) : absl::OkStatus();  // exists: as the model, unchanged
  }
  const UniqueFd file(fd);
  may_have_changed_ = true;
  AddUnsyncedDir(parent.dir.get(), ParentOf(m.path));
  // The owner first: a chown clears setuid/setgid bits that the mode then sets.
  if (fchown(file.get(), m.uid, m.gid) != 0) return ErrnoStatus(errno, "chown", m.path);
  if (fchmod(file.get(), PermissionBits(m.mode)) != 0) return ErrnoStatus(errno, "chmod", m.path);
  DUET_RETURN_IF_ERROR(StampChangeTime(file.get(), m.mtime_ns, /*new_entry=*/true, m.path));
  if (!durable) return absl::OkStatus();
  DUET_RETURN_IF_ERROR(SyncFd(file.get(), "fsync", m.path));
  return SyncChangedDirs();
}

absl::Status BackingStore::Mkdir(const Mutation& m, bool durable) {
  ParentDir parent;
  if (const int err = OpenParent(root_.get(), m.path, &parent); err != 0) {
    return ParentError(err, "mkdir", m.path);
  }
  if (mkdirat(parent.dir.get(), parent.name.c_str(), PermissionBits(m.mode)) != 0) {
    if (errno != EEXIST) return ErrnoStatus(errno, "mkdir", m.path);
    return durable ? Fsync(m.path) : absl::OkStatus();  // exists: as the model, unchanged
  }
  may_have_changed_ = true;
  AddUnsyncedDir(parent.dir.get(), ParentOf(m.path));
  const int fd = openat(parent.dir.get(), parent.name.c_str(),
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    MarkAllDirsUnsynced();  // the new directory is not held
    return ErrnoStatus(err, "mkdir (open)", m.path);
  }
  const UniqueFd dir(fd);
  // Its own entries ("." and "..") are new too.
  AddUnsyncedDir(dir.get(), m.path);
  if (fchown(dir.get(), m.uid, m.gid) != 0) return ErrnoStatus(errno, "chown", m.path);
  if (fchmod(dir.get(), PermissionBits(m.mode)) != 0) return ErrnoStatus(errno, "chmod", m.path);
  DUET_RETURN_IF_ERROR(StampChangeTime(dir.get(), m.mtime_ns, /*new_entry=*/true, m.path));
  if (!durable) return absl::OkStatus();
  return SyncChangedDirs();
}

absl::Status BackingStore::Unlink(const Mutation& m, bool durable, bool directory) {
  const char* op = directory ? "rmdir" : "unlink";
  ParentDir parent;
  if (const int err = OpenParent(root_.get(), m.path, &parent); err != 0) {
    return ParentMeansAbsent(err) ? absl::OkStatus() : ParentError(err, op, m.path);
  }
  if (unlinkat(parent.dir.get(), parent.name.c_str(), directory ? AT_REMOVEDIR : 0) != 0 &&
      errno != ENOENT) {
    return ErrnoStatus(errno, op, m.path);
  }
  // Gone already (ENOENT) may still be unsynced: an earlier unlink that was not durable.
  may_have_changed_ = true;
  AddUnsyncedDir(parent.dir.get(), ParentOf(m.path));
  return durable ? SyncChangedDirs() : absl::OkStatus();
}

absl::Status BackingStore::Rename(const Mutation& m, bool durable) {
  const std::string both = absl::StrCat(m.path, "' -> '", m.path2);
  ParentDir from;
  ParentDir to;
  if (const int err = OpenParent(root_.get(), m.path, &from); err != 0) {
    return ParentError(err, "rename", both);
  }
  if (const int err = OpenParent(root_.get(), m.path2, &to); err != 0) {
    return ParentError(err, "rename", both);
  }
  if (!ValidRenameFlags(m.rename_flags)) {
    return ErrnoStatus(EINVAL, absl::StrCat("rename (flags ", m.rename_flags, ")"), both);
  }
  // renameat2 decides NOREPLACE (EEXIST) and EXCHANGE (ENOENT if a name is missing) at once,
  // as the application's call would; a backing file system without them says EINVAL.
  unsigned int flags = 0;
  if ((m.rename_flags & kRenameNoReplace) != 0) flags |= RENAME_NOREPLACE;
  if ((m.rename_flags & kRenameExchange) != 0) flags |= RENAME_EXCHANGE;
  if (renameat2(from.dir.get(), from.name.c_str(), to.dir.get(), to.name.c_str(), flags) != 0) {
    return ErrnoStatus(errno, m.is_exchange() ? "rename (exchange)" : "rename", both);
  }
  may_have_changed_ = true;
  AddUnsyncedDir(to.dir.get(), ParentOf(m.path2));
  AddUnsyncedDir(from.dir.get(), ParentOf(m.path));  // once if the same directory
  return durable ? SyncChangedDirs() : absl::OkStatus();
}

absl::Status BackingStore::Symlink(const Mutation& m, bool durable) {
  const std::string& target = m.path2;
  if (target.empty() || target.find('\0') != std::string::npos || target.size() >= PATH_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat("symlink '", m.path, "': the target is empty, too long or holds a NUL byte"));
  }
  ParentDir parent;
  if (const int err = OpenParent(root_.get(), m.path, &parent); err != 0) {
    return ParentError(err, "symlink", m.path);
  }
  if (symlinkat(target.c_str(), parent.dir.get(), parent.name.c_str()) != 0) {
    if (errno != EEXIST) return ErrnoStatus(errno, "symlink", m.path);
    // As the model store: the link replaces whatever held its name (a resync makes the
    // name a symlink, whatever it was here).
    may_have_changed_ = true;
    DUET_RETURN_IF_ERROR(RemoveTree(root_.get(), m.path));
    if (symlinkat(target.c_str(), parent.dir.get(), parent.name.c_str()) != 0) {
      return ErrnoStatus(errno, "symlink", m.path);
    }
  }
  may_have_changed_ = true;
  AddUnsyncedDir(parent.dir.get(), ParentOf(m.path));
  const uint32_t times = m.mtime_ns != 0 ? kAttrAtime | kAttrMtime : 0;
  DUET_RETURN_IF_ERROR(SetAttrsAt(parent.dir.get(), parent.name, kAttrUid | kAttrGid | times, 0,
                                  m.uid, m.gid, m.mtime_ns, m.mtime_ns, m.path));
  return durable ? SyncChangedDirs() : absl::OkStatus();
}

absl::Status BackingStore::Link(const Mutation& m, bool durable) {
  const std::string both = absl::StrCat(m.path, "' -> '", m.path2);
  ParentDir from;
  ParentDir to;
  if (const int err = OpenParent(root_.get(), m.path, &from); err != 0) {
    return ParentError(err, "link", both);
  }
  if (const int err = OpenParent(root_.get(), m.path2, &to); err != 0) {
    return ParentError(err, "link", both);
  }
  struct stat source;
  if (fstatat(from.dir.get(), from.name.c_str(), &source, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus(errno, "link (source)", both);
  }
  if (m.path == m.path2) return absl::OkStatus();
  // Flags 0: a symlink source is linked itself, never followed.
  if (linkat(from.dir.get(), from.name.c_str(), to.dir.get(), to.name.c_str(), 0) != 0) {
    if (errno != EEXIST) return ErrnoStatus(errno, "link", both);
    struct stat existing;
    if (fstatat(to.dir.get(), to.name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0 &&
        SameInode(source, existing)) {
      return absl::OkStatus();  // applied already
    }
    // As the model store: the new name replaces what held it.
    may_have_changed_ = true;
    DUET_RETURN_IF_ERROR(RemoveTree(root_.get(), m.path2));
    if (linkat(from.dir.get(), from.name.c_str(), to.dir.get(), to.name.c_str(), 0) != 0) {
      return ErrnoStatus(errno, "link", both);
    }
  }
  may_have_changed_ = true;
  AddUnsyncedDir(to.dir.get(), ParentOf(m.path2));
  return durable ? SyncChangedDirs() : absl::OkStatus();
}

absl::Status BackingStore::Setattr(const Mutation& m, bool durable) {
  ParentDir parent;
  if (const int err = OpenParent(root_.get(), m.path, &parent); err != 0) {
    return ParentError(err, "setattr", m.path);
  }
  struct stat st;
  if (fstatat(parent.dir.get(), parent.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus(errno, "setattr", m.path);  // nothing to set: a refusal
  }
  may_have_changed_ = true;  // several calls: a later one may fail after an earlier one
  DUET_RETURN_IF_ERROR(SetAttrsAt(parent.dir.get(), parent.name, m.attr_mask, m.mode, m.uid, m.gid,
                                  m.atime_ns, m.mtime_ns, m.path));
  return durable ? Fsync(m.path) : absl::OkStatus();
}

absl::Status BackingStore::ApplyXattr(const Mutation& m, bool durable) {
  const char* op = MutationKindName(m.kind);
  ParentDir parent;
  if (const int err = OpenParent(root_.get(), m.path, &parent); err != 0) {
    return ParentError(err, op, m.path);
  }
  const int dir = parent.dir.get();
  // One setxattr or removexattr changes nothing when it fails (ENOSPC, E2BIG, EEXIST...);
  // replacing the whole set is several.
  if (m.kind == MutationKind::kSetxattr) {
    DUET_RETURN_IF_ERROR(
        SetXattrAt(dir, parent.name, m.xattr_name, m.data ? *m.data : "", m.xattr_flags, m.path));
  } else if (m.kind == MutationKind::kRemovexattr) {
    DUET_RETURN_IF_ERROR(RemoveXattrAt(dir, parent.name, m.xattr_name, m.path));
  } else {
    may_have_changed_ = true;
    DUET_RETURN_IF_ERROR(ReplaceXattrsAt(dir, parent.name, m.xattrs, m.path));
  }
  may_have_changed_ = true;
  return durable ? Fsync(m.path) : absl::OkStatus();
}

absl::Status BackingStore::Mknod(const Mutation& m, bool durable) {
  mode_t type = 0;
  if (m.node_kind == PathKind::kFifo) type = S_IFIFO;
  if (m.node_kind == PathKind::kSocket) type = S_IFSOCK;
  if (type == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("EPERM: mknod '", m.path, "': only a FIFO or a socket is replicated"));
  }
  ParentDir parent;
  if (const int err = OpenParent(root_.get(), m.path, &parent); err != 0) {
    return ParentError(err, "mknod", m.path);
  }
  struct stat st;
  if (fstatat(parent.dir.get(), parent.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    // As the model store: a node of that kind stays as it is; anything else is replaced
    // (a resync makes the path a node of the source's kind).
    if ((st.st_mode & S_IFMT) == type) {
      return durable ? Fsync(m.path) : absl::OkStatus();
    }
    may_have_changed_ = true;
    DUET_RETURN_IF_ERROR(RemoveTree(root_.get(), m.path));
  }
  if (mknodat(parent.dir.get(), parent.name.c_str(), type | PermissionBits(m.mode), 0) != 0) {
    return ErrnoStatus(errno, "mknod", m.path);
  }
  may_have_changed_ = true;
  AddUnsyncedDir(parent.dir.get(), ParentOf(m.path));
  const uint32_t times = m.mtime_ns != 0 ? kAttrAtime | kAttrMtime : 0;
  DUET_RETURN_IF_ERROR(SetAttrsAt(parent.dir.get(), parent.name,
                                  kAttrUid | kAttrGid | kAttrMode | times, m.mode, m.uid, m.gid,
                                  m.mtime_ns, m.mtime_ns, m.path));
  return durable ? SyncChangedDirs() : absl::OkStatus();
}

absl::Status BackingStore::Fsync(const std::string& path) {
  may_have_changed_ = true;  // a failed flush is never a refusal: it may have lost pages
  if (path.empty()) {
    const std::lock_guard lock(dirs_->mu);
    return dirs_->dirs.SyncEverything(root_.get(), root_path_);
  }
  ParentDir parent;
  if (const int err = OpenParent(root_.get(), path, &parent); err != 0) {
    if (!ParentMeansAbsent(err)) return ParentError(err, "fsync", path);
    // Gone with a directory above it: what removed it must be durable, wherever it was.
    MarkAllDirsUnsynced();
    return SyncChangedDirs();
  }
  struct stat st;
  if (fstatat(parent.dir.get(), parent.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) return ErrnoStatus(errno, "fsync", path);
    // Missing: its directory holds its removal.
    AddUnsyncedDir(parent.dir.get(), ParentOf(path));
  } else if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
    const int fd = openat(parent.dir.get(), parent.name.c_str(),
                          O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "fsync (open)", path);
    const UniqueFd object(fd);
    {
      // Dropped before the sync, not after: a write through another name of the file
      // (another handle, C7) that lands meanwhile holds it again, and this sync or the next
      // whole-tree one covers it.
      const std::lock_guard lock(dirs_->mu);
      dirs_->dirs.FileSynced(st);
    }
    if (absl::Status synced = SyncFd(object.get(), "fsync", path); !synced.ok()) {
      const std::lock_guard lock(dirs_->mu);
      dirs_->dirs.MarkFilesUnknown();
      return synced;
    }
  } else {
    // A symlink, FIFO or socket is held by its directory.
    AddUnsyncedDir(parent.dir.get(), ParentOf(path));
  }
  // Its own entry is durable once its directory is, if this store changed it; so is every
  // other entry this store changed (one fsync each, only for what changed since last time).
  return SyncChangedDirs();
}

absl::Status BackingStore::RemoveTreeAt(const std::string& path, bool durable) {
  may_have_changed_ = true;  // removes entries one by one
  DUET_RETURN_IF_ERROR(RemoveTree(root_.get(), path));
  NoteParentChanged(path);
  return durable ? SyncChangedDirs() : absl::OkStatus();
}

absl::StatusOr<UniqueFd> BackingStore::OpenFileForWrite(absl::string_view op,
                                                        const std::string& path, bool* created,
                                                        struct stat* st_out) {
  // O_NONBLOCK: opening a FIFO for writing must not wait for a reader.
  constexpr int kFlags = O_WRONLY | O_NONBLOCK;
  int fd = OpenBeneath(root_.get(), path, kFlags);
  if (fd == -ENOENT) {
    fd = OpenBeneath(root_.get(), path, kFlags | O_CREAT | O_EXCL, kNewFileMode);
    *created = fd >= 0;
  }
  if (fd < 0) return OpenError(-fd, op, path);
  UniqueFd file(fd);
  struct stat st;
  if (fstat(file.get(), &st) != 0) return ErrnoStatus(errno, op, path);
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("EINVAL: ", op, " '", path, "': not a regular file"));
  }
  if (*created) may_have_changed_ = true;  // until a failed change removes it again
  if (*created && fchmod(file.get(), kNewFileMode) != 0) return ErrnoStatus(errno, "chmod", path);
  if (st_out != nullptr) *st_out = st;
  return file;
}

absl::Status BackingStore::OpenError(int err, absl::string_view op, const std::string& path) const {
  if (err == ELOOP) {
    ParentDir parent;
    const int parent_err = OpenParent(root_.get(), path, &parent);
    if (parent_err != 0) return ParentError(parent_err, op, path);
    return absl::FailedPreconditionError(
        absl::StrCat("ELOOP: ", op, " '", path, "': is a symlink, which the store never follows"));
  }
  if (err == EXDEV) return ParentError(err, op, path);
  return ErrnoStatus(err, op, path);
}

void BackingStore::NoteParentChanged(const std::string& path) {
  ParentDir parent;
  if (OpenParent(root_.get(), path, &parent) != 0) {
    MarkAllDirsUnsynced();  // cannot name it: the next sync covers everything
    return;
  }
  AddUnsyncedDir(parent.dir.get(), ParentOf(path));
}

absl::Status BackingStore::SyncChangedDirs() {
  may_have_changed_ = true;  // as Fsync
  // Under the lock: a handle that recorded a change after another started syncing waits
  // for it, then syncs what is left.
  const std::lock_guard lock(dirs_->mu);
  return dirs_->dirs.SyncAll(root_.get(), root_path_);
}

}  // namespace duet::store
