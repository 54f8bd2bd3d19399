// Hands the disk actions of the engine's steps to the module IO queue so that each module's
// completions come back in the order the engine issued them (adapter contract C7).
//
// Within one step, quick operations (ModuleIoQueue::IsQuick) are held and, at EndStep, run on
// the loop's thread when their module is idle; an operation that is not quick goes straight
// to the queue only while nothing is held (else it would overtake what is held). A peer's
// mutation that names a path outside the module's directories (module_layout.h) is not
// applied: it is answered MutationApplied with the refusal, through the same sequence as an
// operation that fails at once, so it never answers before the operations issued ahead of it.
//
// Not thread-safe: the loop that owns the engine calls it. The queue must outlive it.
#ifndef DUET_ADAPTERS_DAEMON_DISK_OP_ISSUER_H_
#define DUET_ADAPTERS_DAEMON_DISK_OP_ISSUER_H_

#include <cstddef>
#include <vector>

#include "absl/status/status.h"
#include "adapters/store/module_io_queue.h"
#include "engine/actions.h"

namespace duet::daemon {

class DiskOpIssuer {
 public:
  explicit DiskOpIssuer(store::ModuleIoQueue& queue) : queue_(queue) {}
  DiskOpIssuer(const DiskOpIssuer&) = delete;
  DiskOpIssuer& operator=(const DiskOpIssuer&) = delete;

  // A mutation to apply to a module of `directory_count` directories. Returns the refusal
  // (PermissionDenied, for the log) when it names a path outside them; it is answered in
  // order all the same.
  absl::Status Apply(const ApplyMutation& apply, size_t directory_count);
  // Any other disk action (ReadZone, ListTree, PreserveDivergent).
  void HandOn(store::DiskOp op);
  // The step's actions are all handed on: runs or queues what was held, in order.
  void EndStep();

 private:
  store::ModuleIoQueue& queue_;
  std::vector<store::DiskOp> held_;  // of the step being carried out, in issue order
};

}  // namespace duet::daemon

#endif  // DUET_ADAPTERS_DAEMON_DISK_OP_ISSUER_H_
