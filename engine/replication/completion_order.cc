#include "engine/replication/completion_order.h"

#include <cassert>

namespace duet {

CompletionKey CompletionKey::Of(const Mutation& m) {
  CompletionKey key;
  key.barrier = DiskOrderOf(m) == DiskOrder::kBarrier;
  key.fsync = !key.barrier && m.kind == MutationKind::kFsync;
  if (!key.barrier) key.path = m.path;
  return key;
}

void CompletionOrder::Open(uint64_t lsn, const CompletionKey& key) {
  assert(open_.empty() || *open_.rbegin() < lsn);
  open_.insert(open_.end(), lsn);
  if (key.barrier) {
    open_barriers_.insert(open_barriers_.end(), lsn);
  } else {
    open_paths_[key.path].insert(lsn);
  }
}

void CompletionOrder::Close(uint64_t lsn, const CompletionKey& key) {
  const size_t erased = open_.erase(lsn);
  assert(erased == 1);
  (void)erased;
  if (key.barrier) {
    open_barriers_.erase(lsn);
    return;
  }
  auto it = open_paths_.find(key.path);
  assert(it != open_paths_.end());
  it->second.erase(lsn);
  if (it->second.empty()) open_paths_.erase(it);
}

bool CompletionOrder::BarrierOpenBefore(uint64_t lsn) const {
  return !open_barriers_.empty() && *open_barriers_.begin() < lsn;
}

std::optional<uint64_t> CompletionOrder::NextOpen(uint64_t lsn) const {
  auto it = open_.lower_bound(lsn);
  if (it == open_.end()) return std::nullopt;
  return *it;
}

bool CompletionOrder::MustWait(uint64_t lsn, const CompletionKey& key) const {
  if (BarrierOpenBefore(lsn)) return true;
  if (key.barrier) return !open_.empty() && *open_.begin() < lsn;
  const auto opened_before = [lsn](const absl::btree_set<uint64_t>& lsns) {
    return *lsns.begin() < lsn;
  };
  auto it = open_paths_.lower_bound(key.path);
  if (it != open_paths_.end() && it->first == key.path) {
    if (opened_before(it->second)) return true;
    ++it;
  }
  if (!key.fsync) return false;
  // Beneath it: "path/...", among the open paths that start with "path".
  for (; it != open_paths_.end() && it->first.compare(0, key.path.size(), key.path) == 0; ++it) {
    if (it->first.size() > key.path.size() && it->first[key.path.size()] == '/' &&
        opened_before(it->second)) {
      return true;
    }
  }
  return false;
}

}  // namespace duet
