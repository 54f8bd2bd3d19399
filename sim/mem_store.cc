#include "sim/mem_store.h"

#include <algorithm>
#include <iterator>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/replication/zone_map.h"
#include "engine/status_macros.h"

namespace duet::sim {
namespace {

constexpr uint64_t kPage = FileData::kPageSize;

// What an entry takes on the disk.
uint64_t AllocatedPages(const MemStore::Entry& e) {
  return e.kind == PathKind::kFile ? e.data.allocated_pages() : 0;
}

// The attributes (file_attributes.h) of `from`, given to `to`.
void CopyAttributes(const MemStore::Entry& from, MemStore::Entry& to) {
  to.mode = from.mode;
  to.uid = from.uid;
  to.gid = from.gid;
  to.atime_ns = from.atime_ns;
  to.mtime_ns = from.mtime_ns;
  to.xattrs = from.xattrs;
}

// A mutation's time of change (Mutation::mtime_ns, StampsChangeTime), as the backing store
// sets it: the mtime of what it changed, and a new entry's atime too.
void StampChange(const Mutation& m, MemStore::Entry& e, bool new_entry) {
  if (m.mtime_ns == 0) return;
  e.mtime_ns = m.mtime_ns;
  if (new_entry) e.atime_ns = m.mtime_ns;
}

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

absl::Status MemStore::Apply(const Mutation& m) {
  if (m.kind == MutationKind::kFsync) return Sync(m.path);
  // As the real store: the directories a resync block asks for come first, whatever the
  // operation then decides.
  bool made_parents = false;
  if (m.make_parents && m.kind != MutationKind::kRemoveTree) {
    absl::StatusOr<bool> made = MakeParents(m, m.kind == MutationKind::kLink ? m.path2 : m.path);
    if (!made.ok()) return AsRefusal(made.status());
    made_parents = *made;
  }
  // Every failure of the change itself is decided before anything changes: a refusal, as
  // the real store's (engine/inputs.h IsRefusal), which the engine may count on; unless
  // directories were made for it, which stay.
  absl::Status status = Change(m);
  return made_parents || status.ok() ? status : AsRefusal(std::move(status));
}

absl::Status MemStore::Change(const Mutation& m) {
  switch (m.kind) {
    case MutationKind::kWrite: {
      if (!live_.contains(m.path))
        DUET_RETURN_IF_ERROR(CheckParent(MutationKindName(m.kind), m.path));
      auto [it, created] = live_.try_emplace(m.path);
      FileData& data = it->second.data;
      if (it->second.kind != PathKind::kFile) {
        return absl::FailedPreconditionError("not a file: " + m.path);
      }
      const uint64_t needed = data.PagesToAllocate(m.offset, m.data_size());
      if (needed > 0 && (allocated_pages_ + needed) * kPage > capacity_) {
        if (created) live_.erase(it);
        return absl::ResourceExhaustedError(absl::StrCat(
            "ENOSPC: writing ", m.data_size(), " bytes to ", m.path, " needs ", needed * kPage,
            " more bytes; ", used_bytes(), " of ", capacity_, " used"));
      }
      const uint64_t before = data.allocated_pages();
      data.Write(m.offset, m.data);
      allocated_pages_ += data.allocated_pages() - before;
      if (m.data_size() > 0) StampChange(m, it->second, /*new_entry=*/false);
      Unsynced& unsynced = created ? MarkReplaced(m.path) : unsynced_[m.path];
      MarkPages(unsynced, m.offset, m.data_size());
      return absl::OkStatus();
    }
    case MutationKind::kTruncate: {
      if (m.offset > kMaxFileSize) {
        return absl::OutOfRangeError(absl::StrCat("EFBIG: truncate ", m.path, " to ", m.offset,
                                                  ": larger than the largest file"));
      }
      if (!live_.contains(m.path))
        DUET_RETURN_IF_ERROR(CheckParent(MutationKindName(m.kind), m.path));
      auto [it, created] = live_.try_emplace(m.path);
      FileData& data = it->second.data;
      if (it->second.kind != PathKind::kFile) {
        return absl::FailedPreconditionError("not a file: " + m.path);
      }
      Unsynced& unsynced = created ? MarkReplaced(m.path) : unsynced_[m.path];
      if (m.offset < data.size()) {
        unsynced.min_size = std::min(unsynced.min_size, m.offset);
        if (m.offset % kPage != 0) unsynced.pages.insert(m.offset / kPage);  // its tail zeroed
      }
      const uint64_t before = data.allocated_pages();
      data.Resize(m.offset);
      allocated_pages_ = allocated_pages_ - before + data.allocated_pages();
      StampChange(m, it->second, /*new_entry=*/false);
      return absl::OkStatus();
    }
    case MutationKind::kFallocate:
      return Fallocate(m);
    case MutationKind::kCreate:
    case MutationKind::kMkdir: {
      DUET_RETURN_IF_ERROR(CheckParent(MutationKindName(m.kind), m.path));
      auto [it, inserted] = live_.try_emplace(m.path);
      if (inserted) {
        it->second.kind = m.kind == MutationKind::kMkdir ? PathKind::kDirectory : PathKind::kFile;
        it->second.mode = m.mode;
        it->second.uid = m.uid;
        it->second.gid = m.gid;
        StampChange(m, it->second, /*new_entry=*/true);
        MarkReplaced(m.path);
      }
      return absl::OkStatus();
    }
    case MutationKind::kUnlink:
    case MutationKind::kRmdir:
      return Remove(m);
    case MutationKind::kRemoveTree:
      RemoveTree(m.path);
      return absl::OkStatus();
    case MutationKind::kRename:
      return ApplyRename(m);
    case MutationKind::kMknod: {
      DUET_RETURN_IF_ERROR(CheckParent(MutationKindName(m.kind), m.path));
      auto it = live_.find(m.path);
      if (it != live_.end() && it->second.kind == m.node_kind) return absl::OkStatus();
      RemoveTree(m.path);  // a resync makes the path a node of the source's kind
      Entry& e = live_[m.path];
      e.kind = m.node_kind;
      e.mode = m.mode;
      e.uid = m.uid;
      e.gid = m.gid;
      StampChange(m, e, /*new_entry=*/true);
      MarkReplaced(m.path);
      return absl::OkStatus();
    }
    case MutationKind::kSymlink: {
      DUET_RETURN_IF_ERROR(CheckParent(MutationKindName(m.kind), m.path));
      RemoveTree(m.path);
      Entry& e = live_[m.path];
      e.kind = PathKind::kSymlink;
      e.data = FileData(m.path2);
      e.mode = 0777;  // as Linux shows every symlink
      e.uid = m.uid;
      e.gid = m.gid;
      StampChange(m, e, /*new_entry=*/true);
      MarkReplaced(m.path);
      return absl::OkStatus();
    }
    case MutationKind::kLink: {
      DUET_RETURN_IF_ERROR(CheckParent("link", m.path));
      if (live_.find(m.path) == live_.end()) {
        return absl::NotFoundError("ENOENT: link source missing: " + m.path);
      }
      DUET_RETURN_IF_ERROR(CheckParent(MutationKindName(m.kind), m.path2));
      if (m.path2 == m.path) return absl::OkStatus();
      // As the real store: the new name replaces whatever held it (a tree included).
      RemoveTree(m.path2);
      // A copy sharing the source's pages; it takes no new space (no ENOSPC), but counts.
      Entry& copy = live_[m.path2];
      copy = live_.at(m.path);
      allocated_pages_ += AllocatedPages(copy);
      absl::btree_set<uint64_t> pages;
      if (auto u = unsynced_.find(m.path); u != unsynced_.end()) pages = u->second.pages;
      MarkReplaced(m.path2).pages = std::move(pages);
      return absl::OkStatus();
    }
    case MutationKind::kSetattr: {
      auto it = live_.find(m.path);
      if (it == live_.end()) return absl::NotFoundError("setattr on missing " + m.path);
      Entry& e = it->second;
      if ((m.attr_mask & kAttrMode) != 0 && e.kind != PathKind::kSymlink) e.mode = m.mode;
      if ((m.attr_mask & kAttrUid) != 0) e.uid = m.uid;
      if ((m.attr_mask & kAttrGid) != 0) e.gid = m.gid;
      if ((m.attr_mask & kAttrAtime) != 0) e.atime_ns = m.atime_ns;
      if ((m.attr_mask & kAttrMtime) != 0) e.mtime_ns = m.mtime_ns;
      unsynced_.try_emplace(m.path);
      return absl::OkStatus();
    }
    case MutationKind::kFsync:
      return Sync(m.path);  // not reached: Apply syncs
    case MutationKind::kSetxattr:
    case MutationKind::kRemovexattr:
    case MutationKind::kReplaceXattrs:
      return ApplyXattr(m);
  }
  return absl::InvalidArgumentError("unknown mutation");
}

absl::Status MemStore::Fallocate(const Mutation& m) {
  if (m.offset > kMaxFileSize || m.length > kMaxFileSize - m.offset) {
    return absl::OutOfRangeError(absl::StrCat("EFBIG: fallocate ", m.path, " of ", m.length,
                                              " bytes at ", m.offset, ": past the largest file"));
  }
  if (!live_.contains(m.path)) DUET_RETURN_IF_ERROR(CheckParent(MutationKindName(m.kind), m.path));
  auto [it, created] = live_.try_emplace(m.path);
  if (it->second.kind != PathKind::kFile) {
    return absl::FailedPreconditionError("not a file: " + m.path);
  }
  FileData& data = it->second.data;
  Unsynced& unsynced = created ? MarkReplaced(m.path) : unsynced_[m.path];
  const uint64_t before = data.allocated_pages();
  // Allocated but unwritten space reads as a hole (as SEEK_DATA says on Linux): only the
  // size and the bytes zeroed change.
  const uint64_t end = m.offset + m.length;
  if ((m.fallocate_mode & kFallocateKeepSize) == 0 && end > data.size()) data.Resize(end);
  if ((m.fallocate_mode & (kFallocatePunchHole | kFallocateZeroRange)) != 0 &&
      m.offset < data.size()) {
    const uint64_t length = std::min(m.length, data.size() - m.offset);
    data.PunchHole(m.offset, length);
    MarkPages(unsynced, m.offset, length);
  }
  allocated_pages_ = allocated_pages_ - before + data.allocated_pages();
  StampChange(m, it->second, /*new_entry=*/false);
  return absl::OkStatus();
}

absl::Status MemStore::ApplyXattr(const Mutation& m) {
  auto it = live_.find(m.path);
  if (it == live_.end()) {
    return absl::NotFoundError(absl::StrCat(MutationKindName(m.kind), " on missing ", m.path));
  }
  auto& xattrs = it->second.xattrs;
  if (m.kind == MutationKind::kSetxattr) {
    const bool exists = xattrs.contains(m.xattr_name);
    if ((m.xattr_flags & kXattrCreate) != 0 && exists) {
      return absl::AlreadyExistsError(
          absl::StrCat("EEXIST: xattr ", m.xattr_name, " of ", m.path, " exists"));
    }
    if ((m.xattr_flags & kXattrReplace) != 0 && !exists) {
      return absl::NotFoundError(absl::StrCat("ENODATA: ", m.path, " has no xattr ", m.xattr_name));
    }
    xattrs[m.xattr_name] = m.data ? *m.data : std::string();
  } else if (m.kind == MutationKind::kRemovexattr) {
    xattrs.erase(m.xattr_name);
  } else {
    xattrs.clear();
    for (const Xattr& x : m.xattrs) xattrs[x.name] = x.value;
  }
  unsynced_.try_emplace(m.path);
  return absl::OkStatus();
}

absl::Status MemStore::Sync(const std::string& path) {
  if (sync_failure_) {
    if (path.empty()) {
      for (auto& [p, unsynced] : unsynced_) FailPath(p, unsynced);
    } else if (auto it = unsynced_.find(path); it != unsynced_.end()) {
      FailPath(path, it->second);
    }
    return absl::DataLossError(absl::StrCat("EIO: fsync of ", path.empty() ? "the tree" : path,
                                            " failed; its unsynced pages are lost"));
  }
  // Forget the failed pages no file holds any more.
  for (auto it = failed_pages_.begin(); it != failed_pages_.end();) {
    if (it->second.use_count() == 1) {
      failed_pages_.erase(it++);
    } else {
      ++it;
    }
  }
  if (path.empty()) {
    for (const auto& [p, unsynced] : unsynced_) SyncPath(p, unsynced);
    unsynced_.clear();
  } else {
    // The directories above it, where this store made them: the real store syncs every
    // directory it changed, so a durable name is never left under one a crash takes away.
    for (size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      auto it = unsynced_.find(path.substr(0, slash));
      if (it == unsynced_.end() || !it->second.replaced) continue;
      SyncPath(it->first, it->second);
      unsynced_.erase(it);
    }
    if (auto it = unsynced_.find(path); it != unsynced_.end()) {
      SyncPath(path, it->second);
      unsynced_.erase(it);
    }
  }
  return absl::OkStatus();
}

void MemStore::SyncPath(const std::string& path, const Unsynced& unsynced) {
  auto live = live_.find(path);
  if (live == live_.end()) {
    durable_.erase(path);
    return;
  }
  const Entry& l = live->second;
  auto [it, inserted] = durable_.try_emplace(path);
  Entry& d = it->second;
  if (inserted || unsynced.replaced || l.kind != PathKind::kFile || d.kind != PathKind::kFile) {
    FileData old = d.kind == PathKind::kFile ? std::move(d.data) : FileData();
    d = l;
    synced_pages_ += d.data.page_count();
    if (l.kind != PathKind::kFile || failed_pages_.empty()) return;
    for (uint64_t i = 0; i < d.data.page_count(); ++i) {
      if (Failed(d.data.page(i))) {
        d.data.SetPage(i, i < old.page_count() ? old.page(i) : FileData::PageRef());
      }
    }
    return;
  }
  CopyAttributes(l, d);
  if (unsynced.min_size < d.data.size()) d.data.Resize(unsynced.min_size);
  d.data.Resize(l.data.size());
  for (const uint64_t i : unsynced.pages) {
    if (i >= d.data.page_count()) break;
    const FileData::PageRef& page = l.data.page(i);
    if (Failed(page)) continue;  // stays as it was on the disk
    d.data.SetPage(i, page);
    ++synced_pages_;
  }
}

void MemStore::FailPath(const std::string& path, Unsynced& unsynced) {
  // As Linux after a failed writeback: the pages are marked clean and never written back,
  // though they stay readable until the machine restarts.
  auto it = live_.find(path);
  if (it != live_.end() && it->second.kind == PathKind::kFile) {
    const FileData& data = it->second.data;
    for (const uint64_t i : unsynced.pages) {
      if (i >= data.page_count()) break;
      if (const FileData::PageRef& page = data.page(i)) failed_pages_.try_emplace(page.get(), page);
    }
  }
  unsynced.pages.clear();
}

void MemStore::Crash() {
  // A durable name whose directory was not made durable (its directory removed or renamed
  // by a sync of that name alone) is unreachable after the restart, as on a real file
  // system: it goes. Sorted order visits a directory before the names under it.
  for (auto it = durable_.begin(); it != durable_.end();) {
    const size_t slash = it->first.rfind('/');
    auto dir =
        slash == std::string::npos ? durable_.end() : durable_.find(it->first.substr(0, slash));
    if (slash != std::string::npos &&
        (dir == durable_.end() || dir->second.kind != PathKind::kDirectory)) {
      it = durable_.erase(it);
    } else {
      ++it;
    }
  }
  live_ = durable_;  // page pointers, not bytes
  unsynced_.clear();
  failed_pages_.clear();
  CountAllocated();
}

void MemStore::CrashTearingWrites(Rng& rng) {
  const FileData::PageRef hole;
  for (const auto& [path, unsynced] : unsynced_) {
    if (unsynced.replaced) continue;  // a namespace change not synced: lost
    auto live = live_.find(path);
    auto durable = durable_.find(path);
    if (live == live_.end() || durable == durable_.end() || live->second.kind != PathKind::kFile ||
        durable->second.kind != PathKind::kFile) {
      continue;
    }
    const Entry& now = live->second;
    const Entry& was = durable->second;
    const Entry& inode = rng.Chance(0.5) ? now : was;
    Entry torn;
    CopyAttributes(inode, torn);
    torn.data.Resize(inode.data.size());
    for (uint64_t i = 0; i < torn.data.page_count(); ++i) {
      const FileData::PageRef& old_page = i < was.data.page_count() ? was.data.page(i) : hole;
      const FileData::PageRef& new_page =
          i < now.data.page_count() && !Failed(now.data.page(i)) ? now.data.page(i) : old_page;
      torn.data.SetPage(i, old_page == new_page || rng.Chance(0.5) ? old_page : new_page);
    }
    durable->second = std::move(torn);
  }
  Crash();
}

void MemStore::MarkPages(Unsynced& unsynced, uint64_t offset, uint64_t length) {
  if (length == 0) return;
  for (uint64_t i = offset / kPage; i <= (offset + length - 1) / kPage; ++i) {
    unsynced.pages.insert(unsynced.pages.end(), i);
  }
}

MemStore::Unsynced& MemStore::MarkReplaced(const std::string& path) {
  Unsynced& unsynced = unsynced_[path];
  unsynced.replaced = true;
  unsynced.pages.clear();
  return unsynced;
}

void MemStore::RemoveTree(const std::string& path) {
  auto remove = [&](Tree::iterator it) {
    allocated_pages_ -= AllocatedPages(it->second);
    MarkReplaced(it->first);
    return live_.erase(it);
  };
  if (auto it = live_.find(path); it != live_.end()) remove(it);
  const std::string dir = path + "/";
  for (auto it = live_.lower_bound(dir); it != live_.end() && StartsWith(it->first, dir);) {
    it = remove(it);
  }
}

MemStore::TakenTree MemStore::TakeTree(const std::string& path) {
  TakenTree taken;
  auto take = [&](Tree::iterator it) {
    const auto next = std::next(it);
    absl::btree_set<uint64_t> pages;
    if (auto u = unsynced_.find(it->first); u != unsynced_.end())
      pages = std::move(u->second.pages);
    MarkReplaced(it->first);
    taken.emplace_back(live_.extract(it), std::move(pages));
    return next;
  };
  if (auto it = live_.find(path); it != live_.end()) take(it);
  const std::string dir = path + "/";
  for (auto it = live_.lower_bound(dir); it != live_.end() && StartsWith(it->first, dir);) {
    it = take(it);
  }
  return taken;
}

void MemStore::PutTree(TakenTree taken, const std::string& from, const std::string& to) {
  for (auto& [node, pages] : taken) {
    node.key() = to + node.key().substr(from.size());
    MarkReplaced(node.key()).pages = std::move(pages);
    live_.insert(std::move(node));
  }
}

void MemStore::MoveTree(const std::string& from, const std::string& to) {
  if (from == to) return;
  TakenTree moved = TakeTree(from);
  RemoveTree(to);
  PutTree(std::move(moved), from, to);
}

void MemStore::ExchangeTrees(const std::string& a, const std::string& b) {
  if (a == b) return;
  TakenTree under_a = TakeTree(a);
  TakenTree under_b = TakeTree(b);
  PutTree(std::move(under_a), a, b);
  PutTree(std::move(under_b), b, a);
}

absl::Status MemStore::ApplyRename(const Mutation& m) {
  if (!ValidRenameFlags(m.rename_flags)) {
    return absl::InvalidArgumentError(
        absl::StrCat("EINVAL: rename flags ", m.rename_flags, ": noreplace, exchange or neither"));
  }
  DUET_RETURN_IF_ERROR(CheckParent("rename", m.path));
  DUET_RETURN_IF_ERROR(CheckParent("rename", m.path2));
  auto from = live_.find(m.path);
  if (from == live_.end()) return absl::NotFoundError("rename source missing: " + m.path);
  auto to = live_.find(m.path2);
  const bool target_exists = to != live_.end();
  if ((m.rename_flags & kRenameNoReplace) != 0 && target_exists) {
    return absl::AlreadyExistsError("EEXIST: rename target exists: " + m.path2);
  }
  if (m.is_exchange()) {
    if (!target_exists) return absl::NotFoundError("exchange target missing: " + m.path2);
    if (m.path != m.path2 && (PathIsUnder(m.path, m.path2) || PathIsUnder(m.path2, m.path))) {
      return absl::InvalidArgumentError(
          absl::StrCat("EINVAL: exchange of ", m.path, " with ", m.path2, ": one holds the other"));
    }
    ExchangeTrees(m.path, m.path2);
    return absl::OkStatus();
  }
  if (m.path == m.path2) return absl::OkStatus();
  // renameat2(2)'s refusals, decided before anything moves.
  const bool from_dir = from->second.kind == PathKind::kDirectory;
  if (from_dir && PathIsUnder(m.path2, m.path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("EINVAL: rename of ", m.path, " under itself (", m.path2, ")"));
  }
  if (target_exists) DUET_RETURN_IF_ERROR(RenameOverRefusal(live_, m.path, m.path2));
  MoveTree(m.path, m.path2);
  return absl::OkStatus();
}

bool MemStore::HasEntries(const Tree& tree, const std::string& dir) {
  const std::string prefix = dir + "/";
  auto it = tree.lower_bound(prefix);
  return it != tree.end() && StartsWith(it->first, prefix);
}

absl::Status MemStore::RenameOverRefusal(const Tree& tree, const std::string& from,
                                         const std::string& to) {
  const bool from_dir = tree.at(from).kind == PathKind::kDirectory;
  const bool to_dir = tree.at(to).kind == PathKind::kDirectory;
  if (from_dir && !to_dir) {
    return absl::FailedPreconditionError(
        absl::StrCat("ENOTDIR: rename of directory ", from, " over non-directory ", to));
  }
  if (!from_dir && to_dir) {
    return absl::FailedPreconditionError(
        absl::StrCat("EISDIR: rename of ", from, " over directory ", to));
  }
  if (to_dir && HasEntries(tree, to)) {
    return absl::FailedPreconditionError(
        absl::StrCat("ENOTEMPTY: rename of ", from, " over ", to, ", which has entries"));
  }
  return absl::OkStatus();
}

absl::Status MemStore::CheckParent(absl::string_view op, const std::string& path) const {
  for (size_t slash = path.find('/'); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    const std::string dir = path.substr(0, slash);
    auto it = live_.find(dir);
    if (it == live_.end()) {
      return absl::NotFoundError(absl::StrCat("ENOENT: ", op, " ", path, ": no directory ", dir));
    }
    if (it->second.kind == PathKind::kSymlink) {
      return absl::PermissionDeniedError(
          absl::StrCat("refused: ", op, " ", path, ": ", dir, " is a symlink"));
    }
    if (it->second.kind != PathKind::kDirectory) {
      return absl::FailedPreconditionError(
          absl::StrCat("ENOTDIR: ", op, " ", path, ": ", dir, " is not a directory"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> MemStore::MakeParents(const Mutation& m, const std::string& path) {
  const absl::Status parent = CheckParent(MutationKindName(m.kind), path);
  // There already, or refused by the operation itself (ENOTDIR, a symlink on the way).
  if (!absl::IsNotFound(parent)) return false;
  // Top down from the first one missing: nothing exists below a missing directory.
  for (size_t slash = path.find('/'); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    const std::string dir = path.substr(0, slash);
    if (live_.contains(dir)) continue;
    Entry& e = live_[dir];
    e.kind = PathKind::kDirectory;
    e.mode = kMadeParentMode;
    MarkReplaced(dir);
  }
  return true;
}

absl::Status MemStore::Remove(const Mutation& m) {
  // As the real store: a name under a missing directory, or gone already, is removed.
  const bool rmdir = m.kind == MutationKind::kRmdir;
  if (!CheckParent(MutationKindName(m.kind), m.path).ok()) return absl::OkStatus();
  auto it = live_.find(m.path);
  if (it == live_.end()) return absl::OkStatus();
  const bool dir = it->second.kind == PathKind::kDirectory;
  if (rmdir && !dir) {
    return absl::FailedPreconditionError("ENOTDIR: rmdir of " + m.path + ", not a directory");
  }
  if (!rmdir && dir) return absl::FailedPreconditionError("EISDIR: unlink of directory " + m.path);
  if (rmdir && HasEntries(live_, m.path)) {
    return absl::FailedPreconditionError("ENOTEMPTY: rmdir of " + m.path + ", which has entries");
  }
  allocated_pages_ -= AllocatedPages(it->second);
  live_.erase(it);
  MarkReplaced(m.path);
  return absl::OkStatus();
}

void MemStore::CountAllocated() {
  allocated_pages_ = 0;
  for (const auto& [path, e] : live_) allocated_pages_ += AllocatedPages(e);
}

TreeListed MemStore::List(ModuleIndex module, uint64_t list_id) const {
  TreeListed listed{module, list_id, absl::OkStatus(), {}};
  listed.paths.reserve(live_.size());
  for (const auto& [path, entry] : live_) listed.paths.push_back(path);
  return listed;
}

namespace {

// Two 64-bit lanes of FNV-1a-style mixing with different primes and a final avalanche each:
// deterministic across runs and platforms (unlike absl::Hash), 128 bits.
class ZoneHasher {
 public:
  void Add(std::string_view bytes) {
    for (unsigned char c : bytes) {
      a_ = (a_ ^ c) * 0x100000001b3ull;
      b_ = (b_ ^ c) * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
    }
  }
  void AddNumber(uint64_t value) {
    char bytes[8];
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(value >> (8 * i));
    Add(std::string_view(bytes, 8));
  }
  std::string Finish() const {
    std::string out;
    for (uint64_t lane : {Mix(a_), Mix(b_ ^ a_)}) {
      for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(lane >> (8 * i)));
    }
    return out;
  }

 private:
  static uint64_t Mix(uint64_t x) {  // splitmix64's finalizer
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  }
  uint64_t a_ = 0xcbf29ce484222325ull;
  uint64_t b_ = 0x84222325cbf29ce4ull;
};

// The digest of a file's zone as ZoneRead `r` (read at `offset`, `length` long) reports it.
std::string ZoneDigestOf(const ZoneRead& r, uint64_t offset, uint64_t length) {
  const uint64_t in_file = r.hole ? std::min(length, r.file_size - std::min(offset, r.file_size))
                                  : (r.data ? r.data->size() : 0);
  ZoneHasher h;
  h.AddNumber(r.file_size);
  h.AddNumber(in_file);
  if (r.hole) {
    h.AddNumber(1);
    h.AddNumber(0);
    h.AddNumber(in_file);
    h.Add(std::string(in_file, '\0'));
  } else {
    h.AddNumber(r.hole_ranges.size());
    for (const HoleRange& range : r.hole_ranges) {
      h.AddNumber(range.offset);
      h.AddNumber(range.length);
    }
    if (r.data) h.Add(*r.data);
  }
  return h.Finish();
}

}  // namespace

ZoneRead MemStore::Read(ModuleIndex module, uint64_t read_id, const std::string& path,
                        uint64_t offset, uint64_t length, ZoneReadContent content) const {
  ZoneRead r;
  r.module = module;
  r.read_id = read_id;
  auto it = live_.find(path);
  if (it == live_.end()) {
    r.kind = PathKind::kAbsent;
    return r;
  }
  const Entry& e = it->second;
  r.kind = e.kind;
  r.mode = e.mode;
  r.uid = e.uid;
  r.gid = e.gid;
  r.atime_ns = e.atime_ns;
  r.mtime_ns = e.mtime_ns;
  if (offset == 0) {
    for (const auto& [name, value] : e.xattrs) r.xattrs.push_back(Xattr{name, value});
  }
  if (e.kind == PathKind::kSymlink) r.link_target = e.data.ToString();
  if (e.kind == PathKind::kFile) {
    r.file_size = e.data.size();
    // A zone inside the file with no page of data is a hole, sent without bytes.
    r.hole = offset < e.data.size() && !e.data.HasData(offset, length);
    if (r.hole) r.hole_end = e.data.NextData(offset);
    if (!r.hole) {
      r.data = MakePayload(e.data.substr(offset, length));
      for (const auto& [at, bytes] : e.data.Holes(offset, length)) {
        r.hole_ranges.push_back(HoleRange{at, bytes});
      }
    }
    if (content != ZoneReadContent::kData) r.digest = ZoneDigestOf(r, offset, length);
    if (content == ZoneReadContent::kDigest) {
      r.data = nullptr;
      r.hole_ranges.clear();
    }
  }
  return r;
}

uint64_t MemStore::FileBytes() const {
  uint64_t bytes = 0;
  for (const auto& [path, e] : live_) {
    if (e.kind == PathKind::kFile) bytes += e.data.size();
  }
  return bytes;
}

namespace {

// The first zone that holds data in one file and none in the other, if any.
std::optional<uint64_t> FirstHoleDifference(const FileData& a, const FileData& b,
                                            uint64_t zone_size) {
  for (uint64_t start = 0; start < std::max(a.size(), b.size()); start += zone_size) {
    if (a.HasData(start, zone_size) != b.HasData(start, zone_size)) return start / zone_size;
  }
  return std::nullopt;
}

}  // namespace

std::string DescribeDifference(const MemStore::Tree& a, const MemStore::Tree& b,
                               uint64_t zone_size) {
  std::string out;
  for (const auto& [path, entry] : a) {
    auto it = b.find(path);
    if (it == b.end()) {
      absl::StrAppend(&out, "only in first: ", path, "\n");
    } else if (it->second == entry && zone_size != 0 && entry.kind == PathKind::kFile) {
      if (const auto zone = FirstHoleDifference(entry.data, it->second.data, zone_size)) {
        const bool first_has = entry.data.HasData(*zone * zone_size, zone_size);
        absl::StrAppend(&out, "holes differ: ", path, " zone ", *zone, " holds data in the ",
                        first_has ? "first" : "second", " and is a hole in the ",
                        first_has ? "second" : "first", "\n");
      }
    } else if (!(it->second == entry)) {
      const FileData& x = entry.data;
      const FileData& y = it->second.data;
      const MemStore::Entry& other = it->second;
      absl::StrAppend(&out, "differs: ", path, " (sizes ", x.size(), " vs ", y.size(), ", kinds ",
                      static_cast<int>(entry.kind), " vs ", static_cast<int>(other.kind),
                      ", modes ", entry.mode, " vs ", other.mode);
      if (entry.uid != other.uid || entry.gid != other.gid) {
        absl::StrAppend(&out, ", owners ", entry.uid, ":", entry.gid, " vs ", other.uid, ":",
                        other.gid);
      }
      if (entry.atime_ns != other.atime_ns) {
        absl::StrAppend(&out, ", atimes ", entry.atime_ns, " vs ", other.atime_ns);
      }
      if (entry.mtime_ns != other.mtime_ns) {
        absl::StrAppend(&out, ", mtimes ", entry.mtime_ns, " vs ", other.mtime_ns);
      }
      if (entry.xattrs != other.xattrs) {
        absl::StrAppend(&out, ", xattrs ", entry.xattrs.size(), " vs ", other.xattrs.size(),
                        " (names or values differ)");
      }
      absl::StrAppend(&out, ", first differing byte ", FirstDifference(x, y), ")\n");
    }
  }
  for (const auto& [path, entry] : b) {
    if (!a.contains(path)) absl::StrAppend(&out, "only in second: ", path, "\n");
  }
  return out;
}

}  // namespace duet::sim
