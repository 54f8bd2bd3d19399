#include "adapters/store/module_io_queue.h"

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

absl::Status ModuleIoQueue::AddModule(ModuleIndex module, BackingStore store,
                                      std::string divergent_root) {
  const std::lock_guard lock(mu_);
  Module& m = modules_[module];
  if (m.store.has_value()) {
    return absl::AlreadyExistsError(absl::StrCat("module ", module, " already has a store"));
  }
  m.store.emplace(std::move(store));
  m.divergent_root = std::move(divergent_root);
  return absl::OkStatus();
}

void ModuleIoQueue::Submit(DiskOp op) {
  const ModuleIndex index = std::visit([](const auto& action) { return action.module; }, op);
  const std::lock_guard lock(mu_);
  if (stopping_) return;
  Module& m = modules_[index];
  m.pending.push_back(std::move(op));
  if (!m.scheduled) {
    m.scheduled = true;
    ready_.emplace_back(index, &m);
    work_.notify_one();
  }
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
  const ModuleIndex index = std::visit([](const auto& action) { return action.module; }, op);
  BackingStore* store = nullptr;
  const std::string divergent_root;  // a quick operation is never a PreserveDivergent
  {
    const std::lock_guard lock(mu_);
    if (stopping_) return;
    Module& m = modules_[index];
    if (m.scheduled) {  // earlier operations wait or run: this one goes behind them
      m.pending.push_back(std::move(op));
      return;
    }
    // Scheduled while it runs here: a Submit meanwhile queues behind it, and no worker
    // takes the module until it is done.
    m.scheduled = true;
    store = m.store.has_value() ? &*m.store : nullptr;
  }
  Run(index, store, divergent_root, op);
  const std::lock_guard lock(mu_);
  Module& m = modules_[index];
  if (m.pending.empty() || stopping_) {
    m.scheduled = false;
  } else {
    ready_.emplace_back(index, &m);
    work_.notify_one();
  }
}

void ModuleIoQueue::Shutdown() {
  {
    const std::lock_guard lock(mu_);
    stopping_ = true;
    ready_.clear();
    for (auto& [index, m] : modules_) m.pending.clear();
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
    const auto [index, m] = ready_.front();
    ready_.pop_front();
    DiskOp op = std::move(m->pending.front());
    m->pending.pop_front();
    BackingStore* store = m->store.has_value() ? &*m->store : nullptr;
    const std::string divergent_root = m->divergent_root;
    // The module stays scheduled while its operation runs: no other worker takes its next
    // one, so its operations run and answer in order.
    lock.unlock();
    Run(index, store, divergent_root, op);
    lock.lock();
    if (m->pending.empty() || stopping_) {
      m->scheduled = false;
    } else {
      ready_.emplace_back(index, m);  // behind the other modules waiting: no module starves
      work_.notify_one();
    }
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
