// Carries out the disk operations of every module (ApplyMutation, ReadZone, ListTree,
// PreserveDivergent, and RefusedApply: a mutation the caller refused, answered with its refusal
// in its place in the order) on a small pool of worker threads, within adapter contract C7 and C8:
// one module's operations run one at a time in the order submitted, and their completions
// are handed back in that order; different modules' operations run in parallel. Every
// submitted operation gets exactly one answer: its completion input (MutationApplied,
// ZoneRead, TreeListed, DivergentPreserved) through `deliver`. A PreserveDivergent with paths
// also tells `preserved` the directory it kept them in, or the error. After such an error
// (C5) the module's later operations, up to its next PreserveDivergent, are answered
// NotCarriedOut (engine/inputs.h) in order without being carried out, so the resync behind
// it never overwrites what was not kept; that next one runs as usual (one with no paths
// keeps nothing and succeeds), and so do the operations after it when it succeeds. Other
// modules are not affected. An operation for a module that has no store is answered with
// FailedPrecondition.
//
// RunHereOrSubmit carries a quick operation (IsQuick: a mutation that is not durable and
// writes at most kMaxQuickBytes, so it goes no further than the page cache) out on the
// calling thread when the module has nothing queued or running, else queues it as Submit
// does. For the daemon's loop this saves two thread hand-offs per mutation (to a worker and
// back), most of what a 4 KiB write costs on a machine with few cores; the order rule above
// holds because the operation runs only when every earlier one of its module has answered,
// and later ones wait behind it. Its answer still goes through `deliver` (posted to the loop,
// never fed from inside the step that issued it). The cost: a page-cache write can still
// wait (dirty-page throttling, a journal commit), and its caller waits with it, as the loop
// already does for a Persist's fdatasync; durable operations and large writes never run
// there.
//
// Shutdown (and the destructor) lets the operations being run finish and answer, then
// abandons the ones still waiting without answering them: it is called when the process
// is ending, and answers are never given to another process's engine (C8). The callbacks
// must stay valid until Shutdown returns; they are called on worker threads (or on
// RunHereOrSubmit's caller), one at a time per module, and should only post the answer to
// the loop that owns the engine. Calling Shutdown from a callback deadlocks.
//
// Thread-safe: Submit and AddModule may be called from any thread.
#ifndef DUET_ADAPTERS_STORE_MODULE_IO_QUEUE_H_
#define DUET_ADAPTERS_STORE_MODULE_IO_QUEUE_H_

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

  // Queues one operation behind the module's earlier ones. Ignored after Shutdown.
  void Submit(DiskOp op);
  // Runs a quick `op` (IsQuick) here, now, if its module is idle, answering it before
  // returning; otherwise (or if `op` is not quick) the same as Submit.
  void RunHereOrSubmit(DiskOp op);

  // Waits for the operations being run, abandons the rest, joins the workers. Idempotent.
  void Shutdown();

 private:
  struct Module {
    std::optional<BackingStore> store;
    std::string divergent_root;
    std::deque<DiskOp> pending;
    bool scheduled = false;  // waiting in ready_, or being run by a worker
    // A PreserveDivergent failed and none ran since: the module's operations (the resync that
    // would overwrite what could not be kept aside) are answered NotCarriedOut. Read and
    // written only by the thread running the module's operation (under mu_).
    bool halted = false;
  };

  ModuleIoQueue(DeliverInput deliver, PreserveDone preserved)
      : deliver_(std::move(deliver)), preserved_(std::move(preserved)) {}

  void WorkerLoop();
  bool Halted(ModuleIndex module);
  void SetHalted(ModuleIndex module, bool halted);
  // Runs one operation against `store` (null: the module has none) and answers it.
  void Run(ModuleIndex module, BackingStore* store, const std::string& divergent_root, DiskOp& op);

  const DeliverInput deliver_;
  const PreserveDone preserved_;
  std::mutex mu_;
  std::condition_variable work_;
  std::map<ModuleIndex, Module> modules_;  // nodes never move: workers hold pointers
  std::deque<std::pair<ModuleIndex, Module*>> ready_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace duet::store

#endif  // DUET_ADAPTERS_STORE_MODULE_IO_QUEUE_H_
