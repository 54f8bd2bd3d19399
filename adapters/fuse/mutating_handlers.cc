// The requests that change the tree: none is applied here. Each becomes Mutations handed to
// the sink through MountCore::Issue and is answered when they complete (pending_replies.cc).
#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "adapters/fuse/mount_core.h"

namespace duet {
namespace {

// Every mutating handler starts here: EROFS at once when this node may not write.
bool RefusedReadOnly(fuse_req_t req) {
  if (CoreOf(req).writable()) return false;
  fuse_reply_err(req, EROFS);
  return true;
}

Inode& InodeOf(fuse_req_t req, fuse_ino_t ino) { return CoreOf(req).inodes().Get(ino); }

HeldFd FdOf(fuse_req_t req, fuse_ino_t ino) { return CoreOf(req).inodes().Fd(InodeOf(req, ino)); }

PendingReply ReplyOf(fuse_req_t req, ReplyShape shape) {
  PendingReply reply;
  reply.req = req;
  reply.shape = shape;
  return reply;
}

// A mutation of `kind` on `name` under `parent`, answered with `shape` (kEntry and kCreate
// look `name` up under `parent` once it is done).
void IssueNamed(fuse_req_t req, fuse_ino_t parent, const char* name, Mutation mutation,
                ReplyShape shape, const fuse_file_info* fi = nullptr) {
  MountCore& core = CoreOf(req);
  Inode& dir = InodeOf(req, parent);
  if (int err = core.ModulePath(dir, name, &mutation.path); err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  PendingReply reply = ReplyOf(req, shape);
  reply.inode = &dir;
  reply.name = name;
  if (fi != nullptr) reply.fi = *fi;
  std::vector<Mutation> mutations;
  mutations.push_back(std::move(mutation));
  core.Issue(std::move(reply), std::move(mutations), nullptr);
}

Mutation WithMode(MutationKind kind, mode_t mode) {
  Mutation m;
  m.kind = kind;
  m.mode = mode & 07777;
  return m;
}

// A new name's owner (adapter contract C13): the caller's uid, and its gid unless the parent
// directory is setgid, whose group it then takes (a new directory there stays setgid too).
// 0 or the errno of reading the parent.
int SetCreator(fuse_req_t req, fuse_ino_t parent, bool directory, Mutation& m) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  m.uid = ctx->uid;
  m.gid = ctx->gid;
  struct stat dir;
  if (int err = CoreOf(req).inodes().Stat(InodeOf(req, parent), &dir); err != 0) return err;
  if ((dir.st_mode & S_ISGID) != 0) {
    m.gid = dir.st_gid;
    if (directory) m.mode |= S_ISGID;
  }
  return 0;
}

// IssueNamed for a mutation that makes a new name owned by the caller.
void IssueCreated(fuse_req_t req, fuse_ino_t parent, const char* name, Mutation mutation,
                  ReplyShape shape, const fuse_file_info* fi = nullptr) {
  if (int err = SetCreator(req, parent, mutation.kind == MutationKind::kMkdir, mutation);
      err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  IssueNamed(req, parent, name, std::move(mutation), shape, fi);
}

void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  MountCore& core = CoreOf(req);
  Inode& inode = InodeOf(req, ino);
  const bool truncates = (fi->flags & O_TRUNC) != 0;
  if (((fi->flags & O_ACCMODE) != O_RDONLY || truncates) && RefusedReadOnly(req)) return;
  // Read-only even for a writer: the mount reads through it and never writes.
  int fd = -1;
  if (int err = core.inodes().OpenReadOnly(inode, &fd); err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  FileHandle* handle = core.AddFile(fd, &inode);
  if (!truncates) {
    fi->fh = reinterpret_cast<uint64_t>(handle);
    core.SetCacheMode(fi);
    if (fuse_reply_open(req, fi) != 0) core.CloseFile(handle);
    return;
  }
  Mutation truncate = MakeMutation(MutationKind::kTruncate, "");
  if (int err = core.ModulePath(inode, &truncate.path); err != 0) {
    core.CloseFile(handle);
    fuse_reply_err(req, err);
    return;
  }
  PendingReply reply = ReplyOf(req, ReplyShape::kOpen);
  reply.inode = &inode;
  reply.fi = *fi;
  reply.handle = handle;
  std::vector<Mutation> mutations;
  mutations.push_back(std::move(truncate));
  std::unique_lock<std::mutex> size_lock(inode.size_mu);
  inode.size = 0;
  inode.size_known = true;
  core.Issue(std::move(reply), std::move(mutations), &inode, std::move(size_lock));
}

void WriteBuf(fuse_req_t req, fuse_ino_t ino, fuse_bufvec* in, off_t off, fuse_file_info* fi) {
  if (RefusedReadOnly(req)) return;
  MountCore& core = CoreOf(req);
  Inode& inode = InodeOf(req, ino);
  // The one copy: from the request (a pipe when the kernel spliced it) into the Payload,
  // in a reused buffer (payload_buffers.h: no zero-filling, no fresh memory per write).
  const size_t size = fuse_buf_size(in);
  std::unique_ptr<std::string> bytes = core.payload_buffers().Take(size);
  fuse_bufvec out = FUSE_BUFVEC_INIT(size);
  out.buf[0].mem = bytes->data();
  const ssize_t copied = fuse_buf_copy(&out, in, static_cast<fuse_buf_copy_flags>(0));
  if (copied < 0) {
    fuse_reply_err(req, static_cast<int>(-copied));
    return;
  }
  if (static_cast<size_t>(copied) != size) {
    fuse_reply_err(req, EIO);
    return;
  }
  Mutation write = MakeMutation(MutationKind::kWrite, "");
  if (int err = core.ModulePath(inode, &write.path); err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  write.data = core.payload_buffers().Seal(std::move(bytes));
  PendingReply reply = ReplyOf(req, ReplyShape::kWrite);
  reply.write_size = size;
  std::vector<Mutation> mutations;
  std::unique_lock<std::mutex> size_lock(inode.size_mu);
  if (int err = core.EnsureSizeKnown(inode); err != 0) {
    size_lock.unlock();  // before the answer, as in Issue
    fuse_reply_err(req, err);
    return;
  }
  // The file's flags as of this write (fcntl may have changed O_APPEND since open).
  const bool append = (fi->flags & O_APPEND) != 0;
  // O_SYNC includes the O_DSYNC bit: either makes the write durable on both nodes first.
  write.sync = (fi->flags & O_DSYNC) != 0;
  write.offset = append ? inode.size : static_cast<uint64_t>(off);
  inode.size = std::max<uint64_t>(inode.size, write.offset + size);
  mutations.push_back(std::move(write));
  core.Issue(std::move(reply), std::move(mutations), &inode, std::move(size_lock));
}

int64_t NowNanos() {
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
}

int64_t Nanos(const timespec& t) { return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; }

// chmod, chown and utimensat as one kSetattr whose mask names what the call sets; the
// primary resolves UTIME_NOW to its own clock here (the secondary sets that same time).
Mutation SetattrOf(const struct stat& attr, int to_set) {
  Mutation setattr = MakeMutation(MutationKind::kSetattr, "");
  if (to_set & FUSE_SET_ATTR_MODE) {
    setattr.attr_mask |= kAttrMode;
    setattr.mode = attr.st_mode & 07777;
  }
  if (to_set & FUSE_SET_ATTR_UID) {
    setattr.attr_mask |= kAttrUid;
    setattr.uid = attr.st_uid;
  }
  if (to_set & FUSE_SET_ATTR_GID) {
    setattr.attr_mask |= kAttrGid;
    setattr.gid = attr.st_gid;
  }
  const int64_t now = NowNanos();
  if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW)) {
    setattr.attr_mask |= kAttrAtime;
    setattr.atime_ns = (to_set & FUSE_SET_ATTR_ATIME_NOW) ? now : Nanos(attr.st_atim);
  }
  if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
    setattr.attr_mask |= kAttrMtime;
    setattr.mtime_ns = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? now : Nanos(attr.st_mtim);
  }
  return setattr;
}

void SetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
             fuse_file_info* /*fi*/) {
  if (RefusedReadOnly(req)) return;
  MountCore& core = CoreOf(req);
  Inode& inode = InodeOf(req, ino);
  std::string path;
  if (int err = core.ModulePath(inode, &path); err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  struct stat now_st;
  if (int err = core.inodes().Stat(inode, &now_st); err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  std::vector<Mutation> mutations;
  const bool resize = (to_set & FUSE_SET_ATTR_SIZE) != 0;
  if (resize) {
    Mutation truncate = MakeMutation(MutationKind::kTruncate, path);
    truncate.offset = static_cast<uint64_t>(attr->st_size);
    mutations.push_back(std::move(truncate));
  }
  Mutation setattr = SetattrOf(*attr, to_set);
  if (setattr.attr_mask != 0) {
    setattr.path = path;
    mutations.push_back(std::move(setattr));
  }
  if (mutations.empty()) {  // only what the backing file keeps itself (ctime)
    core.HideUnlinkedName(inode, &now_st);
    fuse_reply_attr(req, &now_st, core.CacheTimeout());
    return;
  }
  PendingReply reply = ReplyOf(req, ReplyShape::kAttr);
  reply.inode = &inode;
  if (!resize) {
    core.Issue(std::move(reply), std::move(mutations), nullptr);
    return;
  }
  std::unique_lock<std::mutex> size_lock(inode.size_mu);
  inode.size = static_cast<uint64_t>(attr->st_size);
  inode.size_known = true;
  core.Issue(std::move(reply), std::move(mutations), &inode, std::move(size_lock));
}

void Create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  if (RefusedReadOnly(req)) return;
  IssueCreated(req, parent, name, WithMode(MutationKind::kCreate, mode), ReplyShape::kCreate, fi);
}

// A FIFO or a socket is a kMknod (a name with attributes only); a device node is refused
// with EPERM (adapter contract C14: the peer's hardware must not follow a takeover).
void MkNod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t /*rdev*/) {
  if (RefusedReadOnly(req)) return;
  if (S_ISREG(mode)) {
    IssueCreated(req, parent, name, WithMode(MutationKind::kCreate, mode), ReplyShape::kEntry);
    return;
  }
  if (!S_ISFIFO(mode) && !S_ISSOCK(mode)) {
    fuse_reply_err(req, EPERM);
    return;
  }
  Mutation mknod = WithMode(MutationKind::kMknod, mode);
  mknod.node_kind = S_ISFIFO(mode) ? PathKind::kFifo : PathKind::kSocket;
  IssueCreated(req, parent, name, std::move(mknod), ReplyShape::kEntry);
}

void MkDir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  if (RefusedReadOnly(req)) return;
  IssueCreated(req, parent, name, WithMode(MutationKind::kMkdir, mode), ReplyShape::kEntry);
}

// The last name of a file still open moves into the hidden directory instead (C15).
void Unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (RefusedReadOnly(req)) return;
  MountCore& core = CoreOf(req);
  if (!core.IsUnlinkedDir(InodeOf(req, parent), name) &&
      core.HideIfOpen(req, InodeOf(req, parent), name, nullptr)) {
    return;
  }
  IssueNamed(req, parent, name, MakeMutation(MutationKind::kUnlink, ""), ReplyShape::kStatusOnly);
}

// Whether the directory `name` under `parent_fd` has entries besides "." and "..": 0 and
// `*has_entries`, or an errno. A name that is not a directory is no directory with entries.
int DirectoryHasEntries(int parent_fd, const char* name, bool* has_entries) {
  *has_entries = false;
  const int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno == ENOTDIR || errno == ELOOP || errno == ENOENT ? 0 : errno;
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    const int err = errno;
    close(fd);
    return err;
  }
  errno = 0;
  while (const dirent* entry = readdir(dir)) {
    if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) {
      *has_entries = true;
      break;
    }
  }
  const int err = *has_entries ? 0 : errno;
  closedir(dir);
  return err;
}

// A mutation the file system refuses fails its apply on both nodes, and the engine then
// takes the copies for diverged (the primary goes ALONE, the secondary resyncs). So the
// refusals an application meets in normal use and only the file system (not the kernel's
// VFS) makes are answered here, before anything is issued: removing or renaming over a
// directory that has entries (ENOTEMPTY), and a setxattr whose XATTR_CREATE or
// XATTR_REPLACE does not hold (EEXIST, ENODATA; RemoveXattr does the same for ENODATA).
// Requests in flight at the same time can still race past these checks.
int RefusedNotEmpty(fuse_req_t req, fuse_ino_t parent, const char* name) {
  const HeldFd dir = FdOf(req, parent);
  if (dir.get() < 0) return dir.error();
  bool has_entries = false;
  if (int err = DirectoryHasEntries(dir.get(), name, &has_entries); err != 0) return err;
  return has_entries ? ENOTEMPTY : 0;
}

void RmDir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (RefusedReadOnly(req)) return;
  if (int err = RefusedNotEmpty(req, parent, name); err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  IssueNamed(req, parent, name, MakeMutation(MutationKind::kRmdir, ""), ReplyShape::kStatusOnly);
}

// renameat2's flags as the engine's (mutation.h RenameFlag); false for RENAME_WHITEOUT (an
// overlayfs detail no replicated tree needs), unknown bits, and both at once, which
// renameat2 answers with EINVAL.
bool EngineRenameFlags(unsigned int flags, uint32_t* out) {
  *out = 0;
  if ((flags & RENAME_NOREPLACE) != 0) *out |= kRenameNoReplace;
  if ((flags & RENAME_EXCHANGE) != 0) *out |= kRenameExchange;
  return (flags & ~unsigned{RENAME_NOREPLACE | RENAME_EXCHANGE}) == 0 && ValidRenameFlags(*out);
}

bool SameFile(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t new_parent,
              const char* new_name) {
  const HeldFd dir = FdOf(req, parent);
  const HeldFd new_dir = FdOf(req, new_parent);
  struct stat a;
  struct stat b;
  return fstatat(dir.get(), name, &a, AT_SYMLINK_NOFOLLOW) == 0 &&
         fstatat(new_dir.get(), new_name, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino;
}

void Rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t new_parent,
            const char* new_name, unsigned int flags) {
  if (RefusedReadOnly(req)) return;
  Mutation rename = MakeMutation(MutationKind::kRename, "");
  if (!EngineRenameFlags(flags, &rename.rename_flags)) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  // The kernel answered EEXIST (NOREPLACE onto a name) and ENOENT (EXCHANGE with a missing
  // one) already; an exchange replaces nothing, so a full directory may be either name.
  if (int err = rename.rename_flags == 0 ? RefusedNotEmpty(req, new_parent, new_name) : 0;
      err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  MountCore& core = CoreOf(req);
  if (int err = core.ModulePath(InodeOf(req, new_parent), new_name, &rename.path2); err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  // A plain rename over the last name of a file still open keeps that file under the
  // hidden directory (C15); a rename between two names of one file changes nothing.
  if (rename.rename_flags == 0 && !SameFile(req, parent, name, new_parent, new_name)) {
    if (int err = core.ModulePath(InodeOf(req, parent), name, &rename.path); err != 0) {
      fuse_reply_err(req, err);
      return;
    }
    Mutation over = rename;
    if (core.HideIfOpen(req, InodeOf(req, new_parent), new_name, &over)) return;
  }
  IssueNamed(req, parent, name, std::move(rename), ReplyShape::kStatusOnly);
}

void Symlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
  if (RefusedReadOnly(req)) return;
  IssueCreated(req, parent, name, MakeMutation(MutationKind::kSymlink, "", target),
               ReplyShape::kEntry);
}

void Link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t new_parent, const char* new_name) {
  if (RefusedReadOnly(req)) return;
  // kLink: path is the existing name, path2 the new one; the reply is the new name's entry.
  MountCore& core = CoreOf(req);
  Mutation link = MakeMutation(MutationKind::kLink, "");
  if (int err = core.ModulePath(InodeOf(req, ino), &link.path); err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  Inode& dir = InodeOf(req, new_parent);
  if (int err = core.ModulePath(dir, new_name, &link.path2); err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  PendingReply reply = ReplyOf(req, ReplyShape::kEntry);
  reply.inode = &dir;
  reply.name = new_name;
  std::vector<Mutation> mutations;
  mutations.push_back(std::move(link));
  core.Issue(std::move(reply), std::move(mutations), nullptr);
}

void IssueFsync(fuse_req_t req, fuse_ino_t ino) {
  if (RefusedReadOnly(req)) return;
  MountCore& core = CoreOf(req);
  Mutation fsync = MakeMutation(MutationKind::kFsync, "");
  if (int err = core.ModulePath(InodeOf(req, ino), &fsync.path); err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  std::vector<Mutation> mutations;
  mutations.push_back(std::move(fsync));
  core.Issue(ReplyOf(req, ReplyShape::kStatusOnly), std::move(mutations), nullptr);
}

void Fsync(fuse_req_t req, fuse_ino_t ino, int /*datasync*/, fuse_file_info* /*fi*/) {
  IssueFsync(req, ino);
}

void FsyncDir(fuse_req_t req, fuse_ino_t ino, int /*datasync*/, fuse_file_info* /*fi*/) {
  IssueFsync(req, ino);
}

// One xattr change on `ino`, refused first where the kernel would refuse it on a local file
// system (a name over XATTR_NAME_MAX is ERANGE, a value over XATTR_SIZE_MAX E2BIG, unknown
// flags EINVAL).
void IssueXattr(fuse_req_t req, fuse_ino_t ino, Mutation m) {
  if (m.xattr_name.empty() || m.xattr_name.size() > kMaxXattrNameBytes) {
    fuse_reply_err(req, ERANGE);
    return;
  }
  if (m.data_size() > kMaxXattrValueBytes) {
    fuse_reply_err(req, E2BIG);
    return;
  }
  MountCore& core = CoreOf(req);
  if (int err = core.ModulePath(InodeOf(req, ino), &m.path); err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  std::vector<Mutation> mutations;
  mutations.push_back(std::move(m));
  core.Issue(ReplyOf(req, ReplyShape::kStatusOnly), std::move(mutations), nullptr);
}

void SetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
              int flags) {
  if (RefusedReadOnly(req)) return;
  if ((flags & ~(XATTR_CREATE | XATTR_REPLACE)) != 0 || flags == (XATTR_CREATE | XATTR_REPLACE)) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  const Inode& inode = InodeOf(req, ino);
  if ((flags & (XATTR_CREATE | XATTR_REPLACE)) != 0 && inode.type != S_IFLNK) {
    const HeldFd fd = FdOf(req, ino);
    if (fd.get() < 0) {
      fuse_reply_err(req, fd.error());
      return;
    }
    const bool exists = getxattr(ProcFdPath(fd.get()).c_str(), name, nullptr, 0) >= 0;
    if ((flags & XATTR_CREATE) != 0 && exists) {
      fuse_reply_err(req, EEXIST);
      return;
    }
    if ((flags & XATTR_REPLACE) != 0 && !exists && errno == ENODATA) {
      fuse_reply_err(req, ENODATA);
      return;
    }
  }
  Mutation m = MakeMutation(MutationKind::kSetxattr, "");
  m.xattr_name = name;
  if (size > 0) m.data = MakePayload(std::string(value, size));
  if (flags & XATTR_CREATE) m.xattr_flags = kXattrCreate;
  if (flags & XATTR_REPLACE) m.xattr_flags = kXattrReplace;
  IssueXattr(req, ino, std::move(m));
}

void RemoveXattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  if (RefusedReadOnly(req)) return;
  // The engine's removal is idempotent (a secondary may have lost the name already); the
  // application still gets ENODATA for a name the file does not have.
  // (A symlink's own set is left to the store: its /proc link is read as read_handlers does.)
  const Inode& inode = InodeOf(req, ino);
  const HeldFd fd = FdOf(req, ino);
  if (fd.get() < 0) {
    fuse_reply_err(req, fd.error());
    return;
  }
  if (inode.type != S_IFLNK && getxattr(ProcFdPath(fd.get()).c_str(), name, nullptr, 0) < 0 &&
      errno == ENODATA) {
    fuse_reply_err(req, ENODATA);
    return;
  }
  Mutation m = MakeMutation(MutationKind::kRemovexattr, "");
  m.xattr_name = name;
  IssueXattr(req, ino, std::move(m));
}

// fallocate(2)'s mode as the engine's FallocateFlag bits, or an errno: EOPNOTSUPP for the
// modes the engine does not model (collapse and insert range shift data, unshare is about
// shared extents), EINVAL for what the kernel refuses anyway (punch-hole without keep-size).
int EngineFallocateMode(int mode, uint32_t* engine_mode) {
  constexpr int kModelled = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE;
  if ((mode & ~kModelled) != 0) return EOPNOTSUPP;
  uint32_t bits = 0;
  if ((mode & FALLOC_FL_KEEP_SIZE) != 0) bits |= kFallocateKeepSize;
  if ((mode & FALLOC_FL_PUNCH_HOLE) != 0) bits |= kFallocatePunchHole;
  if ((mode & FALLOC_FL_ZERO_RANGE) != 0) bits |= kFallocateZeroRange;
  if (!ValidFallocateMode(bits)) return EINVAL;
  *engine_mode = bits;
  return 0;
}

// A kFallocate answered when it completes on both nodes, like a write; a mode that may grow
// the file moves the O_APPEND counter as a write does.
void Fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
               fuse_file_info* /*fi*/) {
  if (RefusedReadOnly(req)) return;
  if (offset < 0 || length <= 0) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  if (offset > std::numeric_limits<off_t>::max() - length) {
    fuse_reply_err(req, EFBIG);
    return;
  }
  Mutation m = MakeMutation(MutationKind::kFallocate, "");
  if (int err = EngineFallocateMode(mode, &m.fallocate_mode); err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  MountCore& core = CoreOf(req);
  Inode& inode = InodeOf(req, ino);
  if (int err = core.ModulePath(inode, &m.path); err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  m.offset = static_cast<uint64_t>(offset);
  m.length = static_cast<uint64_t>(length);
  std::vector<Mutation> mutations;
  std::unique_lock<std::mutex> size_lock(inode.size_mu);
  if ((m.fallocate_mode & kFallocateKeepSize) == 0) {
    if (int err = core.EnsureSizeKnown(inode); err != 0) {
      size_lock.unlock();  // before the answer, as in Issue
      fuse_reply_err(req, err);
      return;
    }
    inode.size = std::max<uint64_t>(inode.size, m.offset + m.length);
  }
  mutations.push_back(std::move(m));
  core.Issue(ReplyOf(req, ReplyShape::kStatusOnly), std::move(mutations), &inode,
             std::move(size_lock));
}

}  // namespace

void AddMutatingOperations(fuse_lowlevel_ops& ops) {
  ops.open = Open;
  ops.write_buf = WriteBuf;
  ops.setattr = SetAttr;
  ops.create = Create;
  ops.mknod = MkNod;
  ops.mkdir = MkDir;
  ops.unlink = Unlink;
  ops.rmdir = RmDir;
  ops.rename = Rename;
  ops.symlink = Symlink;
  ops.link = Link;
  ops.fsync = Fsync;
  ops.fsyncdir = FsyncDir;
  ops.setxattr = SetXattr;
  ops.removexattr = RemoveXattr;
  ops.fallocate = Fallocate;
}

}  // namespace duet
