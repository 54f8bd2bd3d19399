#include "adapters/store/module_io_queue.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <system_error>

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

ModuleIoQueue::Module& ModuleIoQueue::ModuleOf(ModuleIndex index) {
  std::unique_ptr<Module>& m = modules_[index];
  if (m == nullptr) {
    // Called under mu_ (by the order, under its owner's lock), as the store is set.
    m = std::make_unique<Module>([this, index](const std::string& path) {
      std::optional<ModuleIoOrder::FileId> file;
      const Module& module = *modules_.at(index);
      struct stat st;
      if (module.store.has_value() &&
          fstatat(module.store->root_fd(), path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        file.emplace(st.st_dev, st.st_ino);
      }
      return file;
    });
  }
  return *m;
}

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
  Module& m = ModuleOf(module);
  if (m.store.has_value()) {
    return absl::AlreadyExistsError(absl::StrCat("module ", module, " already has a store"));
  }
  m.store.emplace(std::move(store));
  m.idle = std::move(handles);
  m.divergent_root = std::move(divergent_root);
  return absl::OkStatus();
}

std::optional<ModuleIoQueue::Slot> ModuleIoQueue::Enqueue(DiskOp op) {
  runnable_.clear();
  if (stopping_) return std::nullopt;
  const ModuleIndex index = std::visit([](const auto& action) { return action.module; }, op);
  Module& m = ModuleOf(index);
  bool barrier = true;
  std::string path;
  if (const auto* apply = std::get_if<ApplyMutation>(&op)) {
    barrier = DiskOrderOf(apply->mutation) == DiskOrder::kBarrier;
    path = apply->mutation.path;
  } else if (const auto* read = std::get_if<ReadZone>(&op)) {
    barrier = false;
    path = read->path;
  }
  const ModuleIoOrder::OpId id = m.next_id++;
  DiskOp& queued = m.ops.emplace_hint(m.ops.end(), id, std::move(op))->second;
  m.order.Add(id, barrier, std::move(path), runnable_);
  return Slot{index, id, &queued};
}

size_t ModuleIoQueue::HandOut(ModuleIndex index, Module& m, const Slot* keep, bool* keep_runnable) {
  size_t handed = 0;
  for (const ModuleIoOrder::OpId id : runnable_) {
    if (keep != nullptr && id == keep->id) {
      *keep_runnable = true;
      continue;
    }
    ready_.push_back(Slot{index, id, &m.ops.at(id)});
    ++handed;
  }
  runnable_.clear();
  return handed;
}

void ModuleIoQueue::Wake(size_t count) {
  for (size_t i = 0; i < count; ++i) work_.notify_one();
}

std::unique_ptr<BackingStore> ModuleIoQueue::TakeHandle(Module& m) {
  if (!m.store.has_value() || m.idle.empty()) return nullptr;
  std::unique_ptr<BackingStore> handle = std::move(m.idle.back());
  m.idle.pop_back();
  return handle;
}

void ModuleIoQueue::Submit(DiskOp op) {
  size_t handed = 0;
  {
    const std::lock_guard lock(mu_);
    const std::optional<Slot> slot = Enqueue(std::move(op));
    if (!slot) return;
    handed = HandOut(slot->module, *modules_.at(slot->module), nullptr, nullptr);
  }
  Wake(handed);
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
  Module* m = nullptr;
  std::unique_ptr<BackingStore> handle;
  {
    const std::lock_guard lock(mu_);
    const std::optional<Slot> queued = Enqueue(std::move(op));
    if (!queued) return;
    slot = *queued;
    m = modules_.at(slot.module).get();
    bool runs_here = false;
    // Adding an operation makes nothing else runnable: nothing to hand to a worker.
    HandOut(slot.module, *m, &slot, &runs_here);
    // Not runnable at once: it waits as a submitted one does, for a worker.
    if (!runs_here) return;
    handle = TakeHandle(*m);
  }
  Run(*m, slot.module, handle.get(), *slot.op);
  size_t handed = 0;
  {
    const std::lock_guard lock(mu_);
    handed = Finish(slot, std::move(handle));
  }
  Wake(handed);
}

size_t ModuleIoQueue::Finish(const Slot& slot, std::unique_ptr<BackingStore> handle) {
  Module& m = *modules_.at(slot.module);
  if (handle) m.idle.push_back(std::move(handle));
  m.ops.erase(slot.id);
  if (stopping_) return 0;
  m.order.Done(slot.id, runnable_);
  return HandOut(slot.module, m, nullptr, nullptr);
}

void ModuleIoQueue::Shutdown() {
  {
    const std::lock_guard lock(mu_);
    stopping_ = true;
    // Those running finish and answer; what waits is abandoned (never run, never answered).
    ready_.clear();
  }
  work_.notify_all();
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
}

void ModuleIoQueue::WorkerLoop() {
  std::unique_lock lock(mu_);
  std::optional<Slot> next;  // one the previous operation freed: this worker runs it
  while (true) {
    if (!next) {
      work_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
      if (stopping_) return;
      next = ready_.front();
      ready_.pop_front();
    }
    if (stopping_) return;  // it was taken off ready_: abandoned as the rest
    const Slot slot = *next;
    next.reset();
    Module& m = *modules_.at(slot.module);
    std::unique_ptr<BackingStore> handle = TakeHandle(m);
    lock.unlock();
    Run(m, slot.module, handle.get(), *slot.op);
    lock.lock();
    const size_t handed = Finish(slot, std::move(handle));
    if (handed == 0) continue;
    // Taken before other workers wake: one of them goes on on this thread, at once.
    next = ready_.front();
    ready_.pop_front();
    if (handed > 1) {
      lock.unlock();
      Wake(handed - 1);
      lock.lock();
    }
  }
}

void ModuleIoQueue::Run(Module& m, ModuleIndex module, BackingStore* store, DiskOp& op) {
  if (!std::holds_alternative<PreserveDivergent>(op) && m.halted) {
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
                           ? store->PreserveDivergent(p.paths, m.divergent_root, absl::Now())
                           : NoStore(module);
                   m.halted = !kept.ok();
                   // The engine's answer, in order with the module's other completions; the
                   // daemon also hears where the copy went, or why it failed.
                   deliver_(DivergentPreserved{p.module, p.preserve_id, kept.status()});
                   if (!p.paths.empty()) preserved_(p.module, std::move(kept));
                 },
             },
             op);
}

}  // namespace duet::store
