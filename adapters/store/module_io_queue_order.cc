#include "adapters/store/module_io_queue_order.h"

#include <cassert>

namespace duet::store {

void ModuleIoOrder::Add(OpId id, bool barrier, std::string path, std::vector<OpId>& runnable) {
  waiting_.push_back(Waiting{id, barrier, std::move(path)});
  Admit(runnable);
}

std::optional<ModuleIoOrder::FileId> ModuleIoOrder::FileOf(const std::string& path) {
  if (path.empty()) return std::nullopt;  // the root: no other name reaches it
  if (auto it = names_.find(path); it != names_.end()) return it->second;
  if (names_.size() >= kMaxNames) names_.clear();
  const std::optional<FileId> file = resolve_(path);
  names_.emplace(path, file);
  return file;
}

bool ModuleIoOrder::Heads(OpId id, const Keyed& keys) const {
  if (by_path_.at(keys.path).front() != id) return false;
  return !keys.file || by_file_.at(*keys.file).front() == id;
}

void ModuleIoOrder::Admit(std::vector<OpId>& runnable) {
  while (!waiting_.empty() && !barrier_) {
    Waiting& w = waiting_.front();
    if (w.barrier) {
      if (!keyed_.empty()) return;  // it waits for everything before it
      barrier_ = w.id;
      runnable.push_back(w.id);
      waiting_.pop_front();
      return;
    }
    Keyed keys{w.path, FileOf(w.path)};
    std::deque<OpId>& path_chain = by_path_[keys.path];
    path_chain.push_back(w.id);
    bool heads = path_chain.size() == 1;
    if (keys.file) {
      std::deque<OpId>& file_chain = by_file_[*keys.file];
      file_chain.push_back(w.id);
      heads = heads && file_chain.size() == 1;
    }
    if (heads) runnable.push_back(w.id);
    keyed_.emplace(w.id, std::move(keys));
    waiting_.pop_front();
  }
}

template <class Key>
void ModuleIoOrder::Pop(absl::flat_hash_map<Key, std::deque<OpId>>& chains, const Key& key,
                        [[maybe_unused]] OpId id, std::vector<OpId>& runnable) {
  auto it = chains.find(key);
  assert(it != chains.end() && it->second.front() == id);
  it->second.pop_front();
  if (it->second.empty()) {
    chains.erase(it);
    return;
  }
  const OpId next = it->second.front();
  if (Heads(next, keyed_.at(next))) runnable.push_back(next);
}

void ModuleIoOrder::Done(OpId id, std::vector<OpId>& runnable) {
  if (barrier_ == id) {
    barrier_.reset();
    names_.clear();  // names may have changed
    Admit(runnable);
    return;
  }
  auto it = keyed_.find(id);
  assert(it != keyed_.end());
  const Keyed keys = std::move(it->second);
  keyed_.erase(it);
  // One chain at a time: an operation behind `id` in both is found runnable at the second.
  Pop(by_path_, keys.path, id, runnable);
  if (keys.file) Pop(by_file_, *keys.file, id, runnable);
  if (keyed_.empty()) Admit(runnable);
}

}  // namespace duet::store
