#include "engine/replication/completion_order.h"

namespace duet {

CompletionKey CompletionKey::Of(const Mutation& m) {
  CompletionKey key;
  key.barrier = DiskOrderOf(m) == DiskOrder::kBarrier;
  key.fsync = !key.barrier && m.kind == MutationKind::kFsync;
  if (!key.barrier) key.path = m.path;
  return key;
}

bool CompletionOrder::MustWait(const CompletionKey& key) const {
  if (barrier_open_ || (key.barrier && any_open_)) return true;
  if (key.barrier) return false;
  if (open_paths_.contains(key.path)) return true;
  if (!key.fsync) return false;
  // Beneath it: "path/...", among the open paths that start with "path".
  for (auto it = open_paths_.upper_bound(key.path);
       it != open_paths_.end() && it->substr(0, key.path.size()) == key.path; ++it) {
    if (it->size() > key.path.size() && (*it)[key.path.size()] == '/') return true;
  }
  return false;
}

void CompletionOrder::KeepOpen(const CompletionKey& key) {
  any_open_ = true;
  if (key.barrier) {
    barrier_open_ = true;
  } else {
    open_paths_.insert(key.path);
  }
}

}  // namespace duet
