// The requests that only read: served from the backing files on the worker thread that
// received them.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "adapters/fuse/mount_core.h"

namespace duet {
namespace {

Inode& InodeOf(fuse_req_t req, fuse_ino_t ino) { return CoreOf(req).inodes().Get(ino); }

HeldFd FdOf(fuse_req_t req, fuse_ino_t ino) { return CoreOf(req).inodes().Fd(InodeOf(req, ino)); }

void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  MountCore& core = CoreOf(req);
  // The hidden directory of open-unlinked files is not there for the application (C15).
  if (core.IsUnlinkedDir(InodeOf(req, parent), name)) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  Inode* found = nullptr;
  struct stat st;
  if (int err = core.inodes().Lookup(InodeOf(req, parent), name, &found, &st); err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  fuse_entry_param e;
  core.FillEntry(*found, st, &e);
  if (fuse_reply_entry(req, &e) != 0) core.inodes().Forget(*found, 1);
}

void Forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  CoreOf(req).inodes().Forget(InodeOf(req, ino), nlookup);
  fuse_reply_none(req);
}

void ForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i) {
    CoreOf(req).inodes().Forget(InodeOf(req, forgets[i].ino), forgets[i].nlookup);
  }
  fuse_reply_none(req);
}

void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* /*fi*/) {
  MountCore& core = CoreOf(req);
  Inode& inode = InodeOf(req, ino);
  struct stat st;
  if (int err = core.inodes().Stat(inode, &st); err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  core.HideUnlinkedName(inode, &st);  // an open-unlinked file has no links, as on ext4
  fuse_reply_attr(req, &st, core.CacheTimeout());
}

void ReadLink(fuse_req_t req, fuse_ino_t ino) {
  const HeldFd fd = FdOf(req, ino);
  char target[PATH_MAX + 1];
  const ssize_t n = fd.get() < 0 ? -1 : readlinkat(fd.get(), "", target, PATH_MAX);
  if (n < 0) {
    fuse_reply_err(req, fd.get() < 0 ? fd.error() : errno);
    return;
  }
  target[n] = '\0';
  fuse_reply_readlink(req, target);
}

FileHandle* FileOf(fuse_file_info* fi) { return reinterpret_cast<FileHandle*>(fi->fh); }

void Read(fuse_req_t req, fuse_ino_t /*ino*/, size_t size, off_t off, fuse_file_info* fi) {
  // The kernel reads the backing file itself (splice) when it can; no copy in the mount.
  fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
  buf.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
  buf.buf[0].fd = FileOf(fi)->fd;
  buf.buf[0].pos = off;
  fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

void Release(fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* fi) {
  CoreOf(req).ReleaseFile(FileOf(fi));
  fuse_reply_err(req, 0);
}

// Writes reach the engine one call at a time and nothing is buffered here: nothing to flush.
void Flush(fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* /*fi*/) { fuse_reply_err(req, 0); }

void LSeek(fuse_req_t req, fuse_ino_t /*ino*/, off_t off, int whence, fuse_file_info* fi) {
  const off_t result = lseek(FileOf(fi)->fd, off, whence);
  if (result < 0) {
    fuse_reply_err(req, errno);
    return;
  }
  fuse_reply_lseek(req, result);
}

DirHandle* DirOf(fuse_file_info* fi) { return reinterpret_cast<DirHandle*>(fi->fh); }

void OpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  const HeldFd dir_fd = FdOf(req, ino);
  const int fd =
      dir_fd.get() < 0 ? -1 : openat(dir_fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    fuse_reply_err(req, dir_fd.get() < 0 ? dir_fd.error() : errno);
    return;
  }
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    const int err = errno;
    close(fd);
    fuse_reply_err(req, err);
    return;
  }
  MountCore& core = CoreOf(req);
  DirHandle* handle = core.AddDir(dir);
  fi->fh = reinterpret_cast<uint64_t>(handle);
  if (fuse_reply_open(req, fi) != 0) core.CloseDir(handle);
}

bool IsDotOrDotDot(const char* name) { return strcmp(name, ".") == 0 || strcmp(name, "..") == 0; }

void ReadDirCommon(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi,
                   bool plus) {
  MountCore& core = CoreOf(req);
  Inode& dir_inode = InodeOf(req, ino);
  DirHandle& d = *DirOf(fi);
  std::vector<char> buf(size);
  size_t used = 0;
  int err = 0;
  // The answer is sent after the handle's lock is released: once the kernel has it, the
  // application may close the directory and a RELEASEDIR on another worker free the handle,
  // its mutex with it (a ThreadSanitizer build saw that free race this unlock).
  {
    std::lock_guard<std::mutex> lock(d.mu);
    if (off != d.offset) {
      seekdir(d.dir, off);
      d.entry = nullptr;
      d.offset = off;
    }
    while (true) {
      if (d.entry == nullptr) {
        errno = 0;
        d.entry = readdir(d.dir);
        if (d.entry == nullptr) {
          err = errno;
          break;
        }
      }
      const char* name = d.entry->d_name;
      const off_t next = d.entry->d_off;
      if (core.IsUnlinkedDir(dir_inode, name)) {  // hidden (C15)
        d.entry = nullptr;
        d.offset = next;
        continue;
      }
      size_t entry_size = 0;
      if (plus) {
        fuse_entry_param e{};
        Inode* found = nullptr;
        if (IsDotOrDotDot(name)) {
          e.attr.st_ino = d.entry->d_ino;
          e.attr.st_mode = static_cast<mode_t>(d.entry->d_type) << 12;
        } else {
          struct stat st;
          err = core.inodes().Lookup(dir_inode, name, &found, &st);
          if (err != 0) break;
          core.FillEntry(*found, st, &e);
        }
        entry_size = fuse_add_direntry_plus(req, buf.data() + used, size - used, name, &e, next);
        if (entry_size > size - used) {
          if (found != nullptr) core.inodes().Forget(*found, 1);
          break;
        }
      } else {
        struct stat st {};
        st.st_ino = d.entry->d_ino;
        st.st_mode = static_cast<mode_t>(d.entry->d_type) << 12;
        entry_size = fuse_add_direntry(req, buf.data() + used, size - used, name, &st, next);
        if (entry_size > size - used) break;
      }
      used += entry_size;
      d.entry = nullptr;
      d.offset = next;
    }
  }
  // An error after some entries still returns those; the next call reports it.
  if (err != 0 && used == 0) {
    fuse_reply_err(req, err);
    return;
  }
  fuse_reply_buf(req, buf.data(), used);
}

void ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  ReadDirCommon(req, ino, size, off, fi, false);
}

void ReadDirPlus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  ReadDirCommon(req, ino, size, off, fi, true);
}

void ReleaseDir(fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* fi) {
  CoreOf(req).CloseDir(DirOf(fi));
  fuse_reply_err(req, 0);
}

void StatFs(fuse_req_t req, fuse_ino_t ino) {
  const HeldFd fd = FdOf(req, ino);
  struct statvfs st;
  if (fd.get() < 0 || fstatvfs(fd.get(), &st) != 0) {
    fuse_reply_err(req, fd.get() < 0 ? fd.error() : errno);
    return;
  }
  fuse_reply_statfs(req, &st);
}

// Extended attributes are read by path: an O_PATH descriptor cannot be given to fgetxattr.
// A symlink's own attributes are read through the backing path (l*xattr), since the
// /proc/self/fd link would be followed. `*held` keeps the path valid; 0 or an errno.
int XattrPath(fuse_req_t req, fuse_ino_t ino, HeldFd* held, std::string* path, bool* no_follow) {
  *held = FdOf(req, ino);
  if (held->get() < 0) return held->error();
  *no_follow = InodeOf(req, ino).type == S_IFLNK;
  *path = ProcFdPath(held->get());
  if (!*no_follow) return 0;
  char target[PATH_MAX];
  const ssize_t n = readlink(path->c_str(), target, sizeof target);
  if (n < 0) return errno;
  *path = std::string(target, static_cast<size_t>(n));
  return 0;
}

void GetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  HeldFd held;
  std::string path;
  bool no_follow = false;
  if (int err = XattrPath(req, ino, &held, &path, &no_follow); err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  std::vector<char> value(size);
  const ssize_t n = no_follow ? lgetxattr(path.c_str(), name, value.data(), size)
                              : getxattr(path.c_str(), name, value.data(), size);
  if (n < 0) {
    fuse_reply_err(req, errno);
  } else if (size == 0) {
    fuse_reply_xattr(req, static_cast<size_t>(n));
  } else {
    fuse_reply_buf(req, value.data(), static_cast<size_t>(n));
  }
}

void ListXattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  HeldFd held;
  std::string path;
  bool no_follow = false;
  if (int err = XattrPath(req, ino, &held, &path, &no_follow); err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  std::vector<char> names(size);
  const ssize_t n = no_follow ? llistxattr(path.c_str(), names.data(), size)
                              : listxattr(path.c_str(), names.data(), size);
  if (n < 0) {
    fuse_reply_err(req, errno);
  } else if (size == 0) {
    fuse_reply_xattr(req, static_cast<size_t>(n));
  } else {
    fuse_reply_buf(req, names.data(), static_cast<size_t>(n));
  }
}

}  // namespace

void AddReadOperations(fuse_lowlevel_ops& ops) {
  ops.lookup = Lookup;
  ops.forget = Forget;
  ops.forget_multi = ForgetMulti;
  ops.getattr = GetAttr;
  ops.readlink = ReadLink;
  ops.read = Read;
  ops.release = Release;
  ops.flush = Flush;
  ops.lseek = LSeek;
  ops.opendir = OpenDir;
  ops.readdir = ReadDir;
  ops.readdirplus = ReadDirPlus;
  ops.releasedir = ReleaseDir;
  ops.statfs = StatFs;
  ops.getxattr = GetXattr;
  ops.listxattr = ListXattr;
}

}  // namespace duet
