#include "adapters/store/module_io_queue.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <iterator>
#include <system_error>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/overloaded.h"

namespace duet::store {
namespace {

absl::Status NoStore(ModuleIndex module) {
  return absl::FailedPreconditionError(
      absl::StrCat("module ", module, " has no backing store on this node"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModuleIoQueue>> ModuleIoQueue::Start(int workers,
                                                                    DeliverInput deliver,
                                                                    PreserveDone preserved) {
  if (workers < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("disk worker threads: ", workers, " asked, at least 1 needed"));
  }
  std::unique_ptr<ModuleIoQueue> queue(new ModuleIoQueue(std::move(deliver), std::move(preserved)));
  try {
    for (int i = 0; i < workers; ++i)
      queue->workers_.emplace_back([q = queue.get()] { q->WorkerLoop(); });
  } catch (const std::system_error& e) {
    queue->Shutdown();
    return absl::InternalError(absl::StrCat("disk worker threads: ", e.what()));
  }
  return queue;
}

ModuleIoQueue::~ModuleIoQueue() { Shutdown(); }

absl::Status ModuleIoQueue::AddModule(ModuleIndex module, BackingStore store,
                                      std::string divergent_root) {
  // One handle per operation that may run at once: each worker's, and RunHereOrSubmit's.
  std::vector<std::unique_ptr<BackingStore>> handles;
  for (size_t i = 0; i < workers_.size() + 1; ++i) {
    absl::StatusOr<BackingStore> handle = store.Clone();
    if (!handle.ok()) return handle.status();
    handles.push_back(std::make_unique<BackingStore>(*std::move(handle)));
  }
  const std::lock_guard lock(mu_);
  Module& m = modules_[module];
  if (m.store.has_value()) {
    return absl::AlreadyExistsError(absl::StrCat("module ", module, " already has a store"));
  }
  m.store.emplace(std::move(store));
  m.idle = std::move(handles);
  m.divergent_root = std::move(divergent_root);
  return absl::OkStatus();
}

ModuleIoQueue::Queued* ModuleIoQueue::Enqueue(DiskOp op, Module** module) {
  const ModuleIndex index = std::visit([](const auto& action) { return action.module; }, op);
  if (stopping_) return nullptr;
  Module& m = modules_[index];
  Queued q;
  if (const auto* apply = std::get_if<ApplyMutation>(&op)) {
    q.barrier = DiskOrderOf(apply->mutation) == DiskOrder::kBarrier;
  } else {
    q.barrier = !std::holds_alternative<ReadZone>(op);
  }
  q.op = std::move(op);
  m.pending.push_back(std::move(q));
  *module = &m;
  return &m.pending.back();
}

void ModuleIoQueue::Resolve(Module& m, Queued& q) {
  q.resolved = true;
  if (q.barrier) return;
  const std::string path =
      std::visit(Overloaded{[](const ApplyMutation& a) { return a.mutation.path; },
                            [](const ReadZone& r) { return r.path; },
                            [](const auto&) { return std::string(); }},
                 q.op);
  q.keys.push_back("p" + path);
  if (!m.store.has_value() || path.empty()) return;
  // Names change only by barriers, none of which is pending: the object found now is the one
  // the operation will meet (or, missing, the one it creates under this very name).
  struct stat st;
  if (fstatat(m.store->root_fd(), path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    q.keys.push_back(absl::StrCat("i", st.st_dev, ":", st.st_ino));
  }
}

bool ModuleIoQueue::Dispatch(ModuleIndex index, Module& m, const Queued* keep) {
  bool keep_runnable = false;
  bool earlier = false;
  absl::flat_hash_set<std::string> earlier_keys;
  for (auto it = m.pending.begin(); it != m.pending.end(); ++it) {
    Queued& q = *it;
    if (!q.resolved) Resolve(m, q);
    bool runnable = q.barrier ? !earlier : true;
    if (!q.barrier) {
      for (const std::string& key : q.keys) runnable = runnable && !earlier_keys.contains(key);
    }
    if (runnable && !q.started) {
      if (&q == keep) {
        keep_runnable = true;
      } else {
        q.started = true;
        ready_.emplace_back(index, it);
        work_.notify_one();
      }
    }
    if (q.barrier) break;  // holds everything after it
    earlier = true;
    earlier_keys.insert(q.keys.begin(), q.keys.end());
  }
  return keep_runnable;
}

std::unique_ptr<BackingStore> ModuleIoQueue::TakeHandle(Module& m) {
  if (!m.store.has_value() || m.idle.empty()) return nullptr;
  std::unique_ptr<BackingStore> handle = std::move(m.idle.back());
  m.idle.pop_back();
  return handle;
}

void ModuleIoQueue::Submit(DiskOp op) {
  const std::lock_guard lock(mu_);
  Module* m = nullptr;
  Queued* q = Enqueue(std::move(op), &m);
  if (q == nullptr) return;
  const ModuleIndex index = std::visit([](const auto& action) { return action.module; }, q->op);
  Dispatch(index, *m);
}

bool ModuleIoQueue::IsQuick(const DiskOp& op) {
  if (std::holds_alternative<RefusedApply>(op)) return true;
  const ApplyMutation* apply = std::get_if<ApplyMutation>(&op);
  if (apply == nullptr || apply->durable || apply->mutation.is_durable()) return false;
  // A resync's removal of a whole tree may take as long as the tree is large.
  if (apply->mutation.kind == MutationKind::kRemoveTree) return false;
  return apply->mutation.data_size() <= kMaxQuickBytes;
}

void ModuleIoQueue::RunHereOrSubmit(DiskOp op) {
  if (!IsQuick(op)) {
    Submit(std::move(op));
    return;
  }
  Slot slot;
  std::unique_ptr<BackingStore> handle;
  {
    const std::lock_guard lock(mu_);
    Module* m = nullptr;
    Queued* q = Enqueue(std::move(op), &m);
    if (q == nullptr) return;
    slot.first = std::visit([](const auto& action) { return action.module; }, q->op);
    slot.second = std::prev(m->pending.end());
    // Not runnable at once: it waits in the list as a submitted one does.
    if (!Dispatch(slot.first, *m, q)) return;
    q->started = true;  // no worker takes it; later ones on its file wait for it
    handle = TakeHandle(*m);
  }
  // A quick operation is never a PreserveDivergent: no divergent root needed.
  Run(slot.first, handle.get(), std::string(), slot.second->op);
  Finish(slot, std::move(handle));
}

void ModuleIoQueue::Finish(const Slot& slot, std::unique_ptr<BackingStore> handle) {
  const std::lock_guard lock(mu_);
  Module& m = modules_[slot.first];
  if (handle) m.idle.push_back(std::move(handle));
  m.pending.erase(slot.second);
  if (!stopping_) Dispatch(slot.first, m);
}

void ModuleIoQueue::Shutdown() {
  {
    const std::lock_guard lock(mu_);
    stopping_ = true;
    for (const Slot& slot : ready_) modules_[slot.first].pending.erase(slot.second);
    ready_.clear();
    // Those running stay listed until they answered (their runners hold them).
    for (auto& [index, m] : modules_)
      m.pending.remove_if([](const Queued& q) { return !q.started; });
  }
  work_.notify_all();
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
}

bool ModuleIoQueue::Halted(ModuleIndex module) {
  const std::lock_guard lock(mu_);
  return modules_[module].halted;
}

void ModuleIoQueue::SetHalted(ModuleIndex module, bool halted) {
  const std::lock_guard lock(mu_);
  modules_[module].halted = halted;
}

void ModuleIoQueue::WorkerLoop() {
  std::unique_lock lock(mu_);
  while (true) {
    work_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
    if (stopping_) return;
    const Slot slot = ready_.front();
    ready_.pop_front();
    Module& m = modules_[slot.first];
    std::unique_ptr<BackingStore> handle = TakeHandle(m);
    const std::string divergent_root = m.divergent_root;
    lock.unlock();
    Run(slot.first, handle.get(), divergent_root, slot.second->op);
    Finish(slot, std::move(handle));
    lock.lock();
  }
}

void ModuleIoQueue::Run(ModuleIndex module, BackingStore* store, const std::string& divergent_root,
                        DiskOp& op) {
  if (!std::holds_alternative<PreserveDivergent>(op) && Halted(module)) {
    // C5: issued before the engine knew the keep-aside failed; it must change nothing.
    std::visit(Overloaded{
                   [&](const ApplyMutation& a) {
                     deliver_(MutationApplied{a.module, a.apply_id, NotCarriedOut()});
                   },
                   [&](const RefusedApply& r) {
                     deliver_(MutationApplied{r.module, r.apply_id, NotCarriedOut()});
                   },
                   [&](const ReadZone& r) {
                     ZoneRead read;
                     read.module = r.module;
                     read.read_id = r.read_id;
                     read.status = NotCarriedOut();
                     deliver_(std::move(read));
                   },
                   [&](const ListTree& l) {
                     deliver_(TreeListed{l.module, l.list_id, NotCarriedOut(), {}});
                   },
                   [](const PreserveDivergent&) {},
               },
               op);
    return;
  }
  std::visit(Overloaded{
                 [&](ApplyMutation& a) {
                   absl::Status status =
                       store != nullptr ? store->Apply(a.mutation, a.durable) : NoStore(module);
                   deliver_(MutationApplied{a.module, a.apply_id, std::move(status)});
                 },
                 [&](ReadZone& r) {
                   ZoneRead read;
                   if (store != nullptr) {
                     read = store->ReadZone(r.read_id, r.path, r.offset, r.length, r.content);
                   } else {
                     read.read_id = r.read_id;
                     read.status = NoStore(module);
                   }
                   read.module = r.module;
                   deliver_(std::move(read));
                 },
                 [&](ListTree& l) {
                   TreeListed listed{l.module, l.list_id, absl::OkStatus(), {}};
                   absl::StatusOr<std::vector<std::string>> names =
                       store != nullptr ? store->ListTree() : NoStore(module);
                   if (names.ok()) {
                     listed.paths = *std::move(names);
                   } else {
                     listed.status = names.status();
                   }
                   deliver_(std::move(listed));
                 },
                 [&](RefusedApply& r) {
                   deliver_(MutationApplied{r.module, r.apply_id, std::move(r.status)});
                 },
                 [&](PreserveDivergent& p) {
                   // With no paths: the engine's mark that it knows of a failure (C5).
                   absl::StatusOr<std::string> kept =
                       p.paths.empty() ? absl::StatusOr<std::string>(std::string())
                       : store != nullptr
                           ? store->PreserveDivergent(p.paths, divergent_root, absl::Now())
                           : NoStore(module);
                   SetHalted(module, !kept.ok());
                   // The engine's answer, in order with the module's other completions; the
                   // daemon also hears where the copy went, or why it failed.
                   deliver_(DivergentPreserved{p.module, p.preserve_id, kept.status()});
                   if (!p.paths.empty()) preserved_(p.module, std::move(kept));
                 },
             },
             op);
}

}  // namespace duet::store
