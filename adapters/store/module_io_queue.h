// Carries out the disk operations of every module (ApplyMutation, ReadZone, ListTree,
// PreserveDivergent, and RefusedApply: a mutation the caller refused, answered with its refusal
// in its place in the order) on a pool of worker threads, within adapter contract C7 and C8.
// Per module, an operation is a barrier or keyed (DiskOrderOf; ListTree, PreserveDivergent and
// RefusedApply are barriers): a barrier runs once every operation submitted before it has
// answered, and alone; a keyed one runs once no barrier and no operation sharing a key with it
// was submitted before it and is still unanswered. Its keys are its path and, resolved when
// nothing before it is a pending barrier, the device and inode found there (two names of one
// file stay ordered; ModuleIoOrder, module_io_queue_order.h, keeps this in a few hash
// look-ups per operation and finds a name's inode once between two barriers). So operations
// on different files run on different workers at once and answer in any order (their fsyncs
// can share a journal commit); each runs on its own handle of the module's BackingStore
// (BackingStore::Clone). Different modules' operations are independent. Every submitted
// operation gets exactly one answer: its completion input (MutationApplied, ZoneRead,
// TreeListed, DivergentPreserved) through `deliver`. A PreserveDivergent also tells
// `preserved` the directory it kept the paths in, or the error (C5): after such an error the
// module's later operations, up to its next PreserveDivergent (a barrier, so nothing after
// it starts before it answered), are answered NotCarriedOut (engine/inputs.h) without being
// carried out, so the resync behind it never overwrites what was not kept; that next one
// runs as usual (one with no paths keeps nothing and succeeds), and so do the operations
// after it when it succeeds. Other modules are not affected. An
// operation for a module that has no store is answered with FailedPrecondition.
//
// RunHereOrSubmit carries a quick operation (IsQuick: a mutation that is not durable and
// writes at most kMaxQuickBytes, so it goes no further than the page cache) out on the
// calling thread when C7 lets it run at once (no barrier and nothing on its file pending
// before it), else queues it as Submit does. For the daemon's loop this saves two thread
// hand-offs per mutation (to a worker and back), most of what a 4 KiB write costs on a
// machine with few cores. Its answer still goes through `deliver` (posted to the loop,
// never fed from inside the step that issued it). The cost: a page-cache write can still
// wait (dirty-page throttling, a journal commit), and its caller waits with it, as the loop
// already does for a Persist's fdatasync; durable operations and large writes never run
// there.
//
// Shutdown (and the destructor) lets the operations being run finish and answer, then
// abandons the ones still waiting without answering them: it is called when the process
// is ending, and answers are never given to another process's engine (C8). The callbacks
// must stay valid until Shutdown returns; they are called on worker threads (or on
// RunHereOrSubmit's caller), possibly at once for one module, and should only post the
// answer to the loop that owns the engine. Calling Shutdown from a callback deadlocks.
//
// Thread-safe: Submit and AddModule may be called from any thread.
#ifndef DUET_ADAPTERS_STORE_MODULE_IO_QUEUE_H_
#define DUET_ADAPTERS_STORE_MODULE_IO_QUEUE_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "adapters/store/backing_store.h"
#include "adapters/store/module_io_queue_order.h"
#include "engine/actions.h"
#include "engine/inputs.h"
#include "engine/types.h"

namespace duet::store {

// A mutation the caller refused before it reached the store (a peer's path outside the
// module's directories): answered MutationApplied{module, apply_id, status}, touching no file,
// after every operation of its module issued before it (C7).
struct RefusedApply {
  ModuleIndex module = 0;
  uint64_t apply_id = 0;
  absl::Status status;
};

using DiskOp = std::variant<ApplyMutation, ReadZone, ListTree, PreserveDivergent, RefusedApply>;

class ModuleIoQueue {
 public:
  using DeliverInput = std::function<void(Input)>;
  using PreserveDone = std::function<void(ModuleIndex, absl::StatusOr<std::string>)>;

  // Starts `workers` threads (at least 1). InvalidArgument for fewer, Internal if the
  // system refuses a thread.
  static absl::StatusOr<std::unique_ptr<ModuleIoQueue>> Start(int workers, DeliverInput deliver,
                                                              PreserveDone preserved);
  ~ModuleIoQueue();
  ModuleIoQueue(const ModuleIoQueue&) = delete;
  ModuleIoQueue& operator=(const ModuleIoQueue&) = delete;

  // Gives `module` its store, and the directory its divergent copies go under. Operations
  // submitted before are answered FailedPrecondition if they run first. AlreadyExists if
  // the module has a store.
  absl::Status AddModule(ModuleIndex module, BackingStore store, std::string divergent_root);

  // A non-durable write (or any other non-durable mutation) of at most this many bytes of
  // data, which RunHereOrSubmit may run on its caller's thread; a RefusedApply is quick too.
  static constexpr uint64_t kMaxQuickBytes = 64 << 10;
  static bool IsQuick(const DiskOp& op);

  // Queues one operation after the module's earlier ones (C7). Ignored after Shutdown.
  void Submit(DiskOp op);
  // Runs a quick `op` (IsQuick) here, now, if C7 lets it run at once, answering it before
  // returning; otherwise (or if `op` is not quick) the same as Submit.
  void RunHereOrSubmit(DiskOp op);

  // Waits for the operations being run, abandons the rest, joins the workers. Idempotent.
  void Shutdown();

 private:
  // A runnable operation handed to a worker: its node in its module's `ops` never moves.
  struct Slot {
    ModuleIndex module = 0;
    ModuleIoOrder::OpId id = 0;
    DiskOp* op = nullptr;
  };
  struct Module {
    explicit Module(ModuleIoOrder::Resolver resolve) : order(std::move(resolve)) {}
    std::optional<BackingStore> store;                // the first handle; its clones are in `idle`
    std::vector<std::unique_ptr<BackingStore>> idle;  // handles no operation runs on
    std::string divergent_root;
    std::map<ModuleIoOrder::OpId, DiskOp> ops;  // unanswered, by id (issue order)
    ModuleIoOrder order;                        // which of `ops` may run (C7)
    ModuleIoOrder::OpId next_id = 0;
    // A PreserveDivergent failed and none ran since: the module's operations (the resync that
    // would overwrite what could not be kept aside) are answered NotCarriedOut. Set by a
    // PreserveDivergent, a barrier: what runs after it is handed out under mu_ after it set it.
    std::atomic<bool> halted = false;
  };

  ModuleIoQueue(DeliverInput deliver, PreserveDone preserved)
      : deliver_(std::move(deliver)), preserved_(std::move(preserved)) {}

  // The module's entry, made on first use. Under mu_.
  Module& ModuleOf(ModuleIndex index);
  // Issues `op` in its module (under mu_): its slot, or nullopt if dropped (stopping). The
  // operations now runnable are in runnable_.
  std::optional<Slot> Enqueue(DiskOp op);
  // Hands the operations in runnable_ to the workers, except `keep` (run by the caller):
  // how many were handed out, and whether `keep` was among them. Under mu_.
  size_t HandOut(ModuleIndex index, Module& m, const Slot* keep, bool* keep_runnable);
  // Wakes `count` workers for operations handed out. Not under mu_.
  void Wake(size_t count);
  // A handle of the module's store for one operation (nullptr: no store), and back. Under mu_.
  std::unique_ptr<BackingStore> TakeHandle(Module& m);
  // The operation at `slot` answered: it leaves the module, what waited for it may run
  // (handed out; returns how many). Under mu_.
  size_t Finish(const Slot& slot, std::unique_ptr<BackingStore> handle);
  void WorkerLoop();
  // Runs one operation against `store` (null: the module has none) and answers it.
  void Run(Module& m, ModuleIndex module, BackingStore* store, DiskOp& op);

  const DeliverInput deliver_;
  const PreserveDone preserved_;
  std::mutex mu_;
  std::condition_variable work_;
  std::map<ModuleIndex, std::unique_ptr<Module>> modules_;
  std::deque<Slot> ready_;
  std::vector<ModuleIoOrder::OpId> runnable_;  // scratch of Enqueue and Finish
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace duet::store

#endif  // DUET_ADAPTERS_STORE_MODULE_IO_QUEUE_H_
