// A stand-in for the engine in the mount's tests: records every Mutation the mount hands on,
// applies it to the module's backing directory with plain syscalls on its own thread, and
// then calls the completer, so the mount's asynchronous answer path runs as in duetd.
#ifndef DUET_TESTS_ADAPTERS_FUSE_APPLYING_SINK_H_
#define DUET_TESTS_ADAPTERS_FUSE_APPLYING_SINK_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "adapters/store/backing_store.h"
#include "engine/replication/mutation.h"

namespace duet {

class ApplyingSink {
 public:
  using Completer = std::function<void(uint64_t op_id, absl::Status status)>;

  explicit ApplyingSink(std::string module_root);
  ~ApplyingSink();  // Stop()
  ApplyingSink(const ApplyingSink&) = delete;
  ApplyingSink& operator=(const ApplyingSink&) = delete;

  void SetCompleter(Completer completer);
  // The mount's on_mutation.
  void Receive(uint64_t op_id, Mutation mutation);
  // Mutations on `path` are completed with errno `err` (as the store reports it) unapplied.
  void FailPath(const std::string& path, int err);
  // While held, mutations are recorded but neither applied nor completed.
  void Hold(bool held);
  // Stops the thread; what is still queued is never completed.
  void Stop();

  std::vector<Mutation> Received();
  bool WaitForReceived(size_t count, std::chrono::milliseconds timeout);

 private:
  void Loop();
  absl::Status Apply(const Mutation& m);
  std::string Full(const std::string& path) const;

  // The data model's kinds (setattr, xattrs, mknod) are applied by the real store, opened on
  // first use by the sink's thread, the only one that touches it.
  absl::Status ApplyInStore(const Mutation& m);

  const std::string module_root_;
  std::optional<store::BackingStore> store_;  // the sink thread's
  std::mutex mu_;
  std::condition_variable cv_;
  Completer completer_;                              // guarded by mu_
  std::deque<std::pair<uint64_t, Mutation>> queue_;  // guarded by mu_
  std::vector<Mutation> received_;                   // guarded by mu_
  std::map<std::string, int> failing_;               // guarded by mu_
  bool held_ = false;                                // guarded by mu_
  bool stopping_ = false;                            // guarded by mu_
  std::thread thread_;
};

}  // namespace duet

#endif  // DUET_TESTS_ADAPTERS_FUSE_APPLYING_SINK_H_
