// Open-unlinked files (adapter contract C15): the hidden directory's names, and MountCore's
// side: moving a file whose last name goes while it is open into the hidden directory,
// unlinking it there at the last release, and emptying the directory when the mount becomes
// writable.
#include "adapters/fuse/unlinked_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "adapters/fuse/mount_core.h"

namespace duet {

bool IsUnlinkedDirName(bool parent_is_mount_root, const char* name) {
  return parent_is_mount_root && strcmp(name, kUnlinkedDirName) == 0;
}

std::string UnlinkedEntryName(uint64_t inode, uint64_t instance, uint64_t counter) {
  return absl::StrFormat("%x.%x.%x", inode, instance, counter);
}

std::string UnlinkedEntryPath(const std::string& entry) {
  return absl::StrCat(kUnlinkedDirName, "/", entry);
}

namespace {

// Whether `path` (relative to the backing root `root_fd`) is `inode`'s.
bool NamesInode(int root_fd, const std::string& path, const Inode& inode) {
  struct stat st;
  return !path.empty() && fstatat(root_fd, path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         st.st_dev == inode.dev && st.st_ino == inode.ino;
}

std::string HiddenPathOf(const Inode& inode) {
  std::lock_guard<std::mutex> lock(inode.names_mu);
  return inode.hidden_path;
}

void SetHiddenPath(Inode& inode, std::string path) {
  std::lock_guard<std::mutex> lock(inode.names_mu);
  inode.hidden_path = std::move(path);
}

}  // namespace

bool MountCore::IsUnlinkedDir(const Inode& parent, const char* name) {
  return IsUnlinkedDirName(&parent == &inodes_.root(), name);
}

bool MountCore::HideIfOpen(fuse_req_t req, Inode& parent, const char* name, Mutation* rename_over) {
  const HeldFd parent_fd = inodes_.Fd(parent);
  struct stat st;
  if (fstatat(parent_fd.get(), name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
      st.st_nlink != 1) {
    return false;  // a name that stays, or not a file a handle can write
  }
  const int root_fd = inodes_.root_fd();
  Inode* open_file = nullptr;
  std::string entry;
  inodes_.WithInode(st.st_dev, st.st_ino, [&](Inode& inode) {
    if (inode.open_count == 0 || inode.hidden != Inode::Hidden::kNo) return;
    {
      std::lock_guard<std::mutex> lock(unlinked_mu_);
      do {  // a name left by a process not emptied yet is skipped
        entry = UnlinkedEntryPath(UnlinkedEntryName(st.st_ino, instance_, ++unlinked_counter_));
      } while (faccessat(root_fd, entry.c_str(), F_OK, 0) == 0);
    }
    inode.hidden = Inode::Hidden::kHiding;
    SetHiddenPath(inode, entry);
    open_file = &inode;
  });
  if (open_file == nullptr) return false;

  std::string victim;
  if (int err = ModulePath(parent, name, &victim); err != 0) {
    inodes_.Update(*open_file, [](Inode& inode) {
      inode.hidden = Inode::Hidden::kNo;
      SetHiddenPath(inode, "");
    });
    fuse_reply_err(req, err);
    return true;
  }
  std::vector<Mutation> mutations;
  struct stat dir;
  if (fstatat(root_fd, kUnlinkedDirName, &dir, AT_SYMLINK_NOFOLLOW) != 0) {
    // Made by the daemon (uid and gid 0), for it alone: no application reaches it anyway.
    Mutation mkdir = MakeMutation(MutationKind::kMkdir, ModulePathOf(kUnlinkedDirName));
    mkdir.mode = 0700;
    mutations.push_back(std::move(mkdir));
  }
  const std::string hidden = ModulePathOf(entry);
  if (rename_over == nullptr) {
    mutations.push_back(MakeMutation(MutationKind::kRename, victim, hidden));
  } else {
    mutations.push_back(MakeMutation(MutationKind::kLink, victim, hidden));
    mutations.push_back(std::move(*rename_over));
  }
  PendingReply reply;
  reply.req = req;
  reply.shape = ReplyShape::kStatusOnly;
  reply.hiding = open_file;
  Issue(std::move(reply), std::move(mutations), nullptr);
  return true;
}

// Whatever failed, the backing tree says where the file is now: under its hidden name (kept
// until the last release, even if the rename after a kLink failed and the file kept its own
// name too), or not (the move failed: it is as it was).
std::string MountCore::FinishHiding(Inode& inode) {
  const int root_fd = inodes_.root_fd();
  std::string remove;
  inodes_.Update(inode, [&](Inode& hiding) {
    std::string entry = HiddenPathOf(hiding);
    if (!NamesInode(root_fd, entry, hiding)) {
      hiding.hidden = Inode::Hidden::kNo;
      SetHiddenPath(hiding, "");
      return;
    }
    if (hiding.open_count > 0) {
      hiding.hidden = Inode::Hidden::kYes;
      return;
    }
    // Its last handle was released while the move was in flight.
    hiding.hidden = Inode::Hidden::kNo;
    SetHiddenPath(hiding, "");
    if (!writable()) return;  // left to the next primary's emptying
    std::lock_guard<std::mutex> lock(unlinked_mu_);
    removing_.insert(entry);
    remove = std::move(entry);
  });
  return remove;
}

void MountCore::ReleaseFile(FileHandle* handle) {
  Inode* inode = TakeFile(handle);
  if (inode == nullptr) return;
  std::string remove;
  inodes_.Update(*inode, [&](Inode& released) {
    if (--released.open_count > 0 || released.hidden != Inode::Hidden::kYes) return;
    released.hidden = Inode::Hidden::kNo;
    std::string entry = HiddenPathOf(released);
    SetHiddenPath(released, "");
    if (!writable()) return;  // left to the next primary's emptying
    std::lock_guard<std::mutex> lock(unlinked_mu_);
    removing_.insert(entry);
    remove = std::move(entry);
  });
  if (!remove.empty()) UnlinkHiddenEntry(remove);
}

void MountCore::HideUnlinkedName(const Inode& inode, struct stat* st) {
  if (inode.hidden.load() != Inode::Hidden::kNo && st->st_nlink > 0) --st->st_nlink;
}

void MountCore::UnlinkHiddenEntry(const std::string& entry) {
  PendingReply reply;  // no request: nobody waits
  reply.shape = ReplyShape::kStatusOnly;
  reply.unattended_entry = entry;
  std::vector<Mutation> mutations;
  mutations.push_back(MakeMutation(MutationKind::kUnlink, ModulePathOf(entry)));
  Issue(std::move(reply), std::move(mutations), nullptr);
}

void MountCore::EmptyUnlinkedDir() {
  const int dir_fd =
      openat(inodes_.root_fd(), kUnlinkedDirName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir_fd < 0) {
    if (errno != ENOENT) perror("duet-fuse: opening the hidden directory of unlinked files");
    return;
  }
  DIR* dir = fdopendir(dir_fd);
  if (dir == nullptr) {
    close(dir_fd);
    return;
  }
  std::vector<std::string> names;
  while (const dirent* d = readdir(dir)) {
    if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0) names.emplace_back(d->d_name);
  }
  for (const std::string& name : names) {
    struct stat st;
    if (fstatat(dirfd(dir), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(st.st_mode)) {
      continue;  // gone meanwhile; or no entry this mount made
    }
    const std::string entry = UnlinkedEntryPath(name);
    bool keep = false;
    inodes_.WithInode(st.st_dev, st.st_ino, [&](Inode& inode) {
      if (inode.hidden != Inode::Hidden::kNo) {
        keep = true;  // this mount's own, in use or being removed
      } else if (inode.open_count > 0) {
        // Open here since before it was hidden (a reader while this node was secondary):
        // its last release removes it.
        inode.hidden = Inode::Hidden::kYes;
        SetHiddenPath(inode, entry);
        keep = true;
      }
    });
    if (keep) continue;
    {
      std::lock_guard<std::mutex> lock(unlinked_mu_);
      if (!removing_.insert(entry).second) continue;
    }
    UnlinkHiddenEntry(entry);
  }
  closedir(dir);
}

}  // namespace duet
