// Mutations handed on and their answers: Issue registers a call's mutations before handing
// them to the sink (the sink may complete them at once), Complete answers the call when its
// last mutation completes.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "adapters/fuse/errno_status.h"
#include "adapters/fuse/mount_core.h"

namespace duet {

void MountCore::Issue(PendingReply reply, std::vector<Mutation> mutations, Inode* size_inode,
                      std::unique_lock<std::mutex> size_lock) {
  // The time of the change, as the kernel would set it here: both nodes' stores set it (C13).
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  for (Mutation& m : mutations) {
    if (StampsChangeTime(m)) m.mtime_ns = int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
  }
  auto shared = std::make_shared<PendingReply>(std::move(reply));
  // With the size lock held, one share of the answer is held back until the lock is let go:
  // once the kernel has the answer it may forget the inode, and the table free it (and its
  // size_mu) while this thread still held that mutex.
  const bool held_back = size_lock.owns_lock();
  shared->remaining = static_cast<int>(mutations.size()) + (held_back ? 1 : 0);
  std::vector<uint64_t> ids;
  // Counted before the sink can complete them (it may do so before on_mutation_ returns).
  const int count = static_cast<int>(mutations.size());
  if (size_inode != nullptr) size_inode->size_ops_in_flight += count;
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    if (!stopping_) {
      for (size_t i = 0; i < mutations.size(); ++i) {
        const uint64_t op_id = options_.op_id_base + ++next_op_;
        pending_[op_id] = PendingOp{shared, size_inode};
        ids.push_back(op_id);
      }
    }
  }
  if (ids.empty()) {  // unmounting
    if (size_inode != nullptr) size_inode->size_ops_in_flight -= count;
    if (held_back) size_lock.unlock();
    if (shared->handle != nullptr) CloseFile(shared->handle);
    if (shared->req != nullptr) fuse_reply_err(shared->req, EIO);
    return;
  }
  for (size_t i = 0; i < ids.size(); ++i) on_mutation_(ids[i], std::move(mutations[i]));
  if (!held_back) return;
  size_lock.unlock();
  int err = 0;
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    if (--shared->remaining > 0) return;  // the last completion answers
    err = shared->first_errno;
  }
  (void)Answer(*shared, err);
}

absl::Status MountCore::Complete(uint64_t op_id, absl::Status status) {
  std::shared_ptr<PendingReply> reply;
  int err = 0;
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    auto it = pending_.find(op_id);
    if (it == pending_.end()) {
      return absl::NotFoundError(absl::StrCat("op ", op_id, " is not pending"));
    }
    reply = it->second.reply;
    Inode* size_inode = it->second.size_inode;
    pending_.erase(it);
    if (size_inode != nullptr) {
      if (!status.ok()) size_inode->size_stale = true;
      --size_inode->size_ops_in_flight;
    }
    if (!status.ok() && reply->first_errno == 0) reply->first_errno = ErrnoFromStatus(status);
    if (--reply->remaining > 0) return absl::OkStatus();
    err = reply->first_errno;
  }
  return Answer(*reply, err);
}

absl::Status MountCore::Answer(PendingReply& reply, int err) {
  std::string remove;
  {
    // Held while the inodes are used: Unmount drops them after destroying the session.
    std::shared_lock<std::shared_mutex> lock(session_mu_);
    if (session_ == nullptr) return absl::NotFoundError("unmounted");
    // Before the answer: the application's unlink returns with the file's new state known.
    if (reply.hiding != nullptr) remove = FinishHiding(*reply.hiding);
    if (reply.req != nullptr) SendReply(reply, err);
  }
  if (reply.req == nullptr) FinishUnattended(reply, err);
  // Handed on outside the lock: the sink may complete it at once, in this call.
  if (!remove.empty()) UnlinkHiddenEntry(remove);
  return absl::OkStatus();
}

void MountCore::FinishUnattended(const PendingReply& reply, int err) {
  if (reply.unattended_entry.empty()) return;
  {
    std::lock_guard<std::mutex> lock(unlinked_mu_);
    removing_.erase(reply.unattended_entry);
  }
  // Nobody waits for this answer: the log is where a failure shows. The entry stays for the
  // next emptying of the hidden directory.
  if (err != 0) {
    fprintf(stderr, "duet-fuse: unlinking %s (an open-unlinked file, released) failed: %s\n",
            ModulePathOf(reply.unattended_entry).c_str(), strerror(err));
  }
}

void MountCore::SendReply(PendingReply& reply, int err) {
  if (err != 0) {
    if (reply.handle != nullptr) CloseFile(reply.handle);
    fuse_reply_err(reply.req, err);
    return;
  }
  switch (reply.shape) {
    case ReplyShape::kStatusOnly:
      fuse_reply_err(reply.req, 0);
      return;
    case ReplyShape::kWrite:
      fuse_reply_write(reply.req, reply.write_size);
      return;
    case ReplyShape::kEntry:
    case ReplyShape::kCreate:
      SendEntryReply(reply);
      return;
    case ReplyShape::kAttr: {
      struct stat st;
      if (int stat_err = inodes_.Stat(*reply.inode, &st); stat_err != 0) {
        fuse_reply_err(reply.req, stat_err);
        return;
      }
      HideUnlinkedName(*reply.inode, &st);
      fuse_reply_attr(reply.req, &st, CacheTimeout());
      return;
    }
    case ReplyShape::kOpen:
      reply.fi.fh = reinterpret_cast<uint64_t>(reply.handle);
      SetCacheMode(&reply.fi);
      if (fuse_reply_open(reply.req, &reply.fi) != 0) CloseFile(reply.handle);
      return;
  }
}

void MountCore::SendEntryReply(PendingReply& reply) {
  Inode* found = nullptr;
  struct stat st;
  if (int err = inodes_.Lookup(*reply.inode, reply.name.c_str(), &found, &st); err != 0) {
    fuse_reply_err(reply.req, err);
    return;
  }
  fuse_entry_param e;
  FillEntry(*found, st, &e);
  if (reply.shape == ReplyShape::kEntry) {
    if (fuse_reply_entry(reply.req, &e) != 0) inodes_.Forget(*found, 1);
    return;
  }
  int fd = -1;
  if (int err = inodes_.OpenReadOnly(*found, &fd); err != 0) {
    inodes_.Forget(*found, 1);
    fuse_reply_err(reply.req, err);
    return;
  }
  FileHandle* handle = AddFile(fd, found);
  reply.fi.fh = reinterpret_cast<uint64_t>(handle);
  SetCacheMode(&reply.fi);
  if (fuse_reply_create(reply.req, &e, &reply.fi) != 0) {
    CloseFile(handle);
    inodes_.Forget(*found, 1);
  }
}

int MountCore::EnsureSizeKnown(Inode& inode) {
  const bool reload =
      !inode.size_known || (inode.size_stale.load() && inode.size_ops_in_flight.load() == 0);
  if (!reload) return 0;
  struct stat st;
  if (int err = inodes_.Stat(inode, &st); err != 0) return err;
  inode.size = static_cast<uint64_t>(st.st_size);
  inode.size_known = true;
  inode.size_stale = false;
  return 0;
}

}  // namespace duet
