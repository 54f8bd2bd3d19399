// Which of one module's disk operations may run now, under adapter contract C7: the ordering
// rules of ModuleIoQueue (module_io_queue.h), kept apart from its threads so that they can be
// tested step by step. An operation is a barrier or keyed by one path; it is admitted once
// no barrier issued before it is unanswered; a barrier is admitted only once everything
// issued before it answered, and holds what follows until it answered itself. On admission a
// keyed operation's keys are its path and the object the path names then (`Resolver`: device
// and inode, or none when the name is missing), and it joins the chain of each key; it runs
// when it heads all its chains. So the cost of an operation is a few hash look-ups, not a
// scan of what is queued.
//
// Names change only by barriers (C7), so between two barriers a name resolves to the same
// object every time (a missing name can be created only by a write through that very name,
// which shares its path key): the resolver is asked once per name per stretch between
// barriers, and its answers are forgotten when a barrier answers (or when more than
// kMaxNames are known, to bound the memory of a stretch that writes many files).
//
// Not thread-safe: its owner locks around every call.
#ifndef DUET_ADAPTERS_STORE_MODULE_IO_QUEUE_ORDER_H_
#define DUET_ADAPTERS_STORE_MODULE_IO_QUEUE_ORDER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace duet::store {

class ModuleIoOrder {
 public:
  using OpId = uint64_t;
  using FileId = std::pair<uint64_t, uint64_t>;  // device, inode
  // The object `path` names now, if any.
  using Resolver = std::function<std::optional<FileId>(const std::string& path)>;

  static constexpr size_t kMaxNames = 4096;

  explicit ModuleIoOrder(Resolver resolve) : resolve_(std::move(resolve)) {}
  ModuleIoOrder(const ModuleIoOrder&) = delete;
  ModuleIoOrder& operator=(const ModuleIoOrder&) = delete;

  // Issues operation `id` (ids are unique among the unanswered) after every earlier one.
  // Appends to `runnable` the operations that may run now (at most `id` itself).
  void Add(OpId id, bool barrier, std::string path, std::vector<OpId>& runnable);
  // Operation `id`, once reported runnable, answered. Appends to `runnable` the operations
  // that may run now. Each operation is reported runnable exactly once.
  void Done(OpId id, std::vector<OpId>& runnable);

  // Unanswered operations (admitted or waiting).
  size_t size() const { return keyed_.size() + (barrier_ ? 1 : 0) + waiting_.size(); }

 private:
  struct Waiting {
    OpId id = 0;
    bool barrier = false;
    std::string path;
  };
  struct Keyed {
    std::string path;
    std::optional<FileId> file;
  };

  // Admits what no barrier holds any more, in issue order.
  void Admit(std::vector<OpId>& runnable);
  std::optional<FileId> FileOf(const std::string& path);
  bool Heads(OpId id, const Keyed& keys) const;
  // `id` leaves the front of `chain` (`key`'s, in `chains`); a new head that heads all its
  // chains is runnable.
  template <class Key>
  void Pop(absl::flat_hash_map<Key, std::deque<OpId>>& chains, const Key& key, OpId id,
           std::vector<OpId>& runnable);

  const Resolver resolve_;
  std::deque<Waiting> waiting_;                                 // not admitted yet, in issue order
  std::optional<OpId> barrier_;                                 // the admitted barrier, alone
  absl::flat_hash_map<OpId, Keyed> keyed_;                      // admitted keyed operations
  absl::flat_hash_map<std::string, std::deque<OpId>> by_path_;  // in issue order
  absl::flat_hash_map<FileId, std::deque<OpId>> by_file_;
  // What the resolver said of each name since the last barrier answered.
  absl::flat_hash_map<std::string, std::optional<FileId>> names_;
};

}  // namespace duet::store

#endif  // DUET_ADAPTERS_STORE_MODULE_IO_QUEUE_ORDER_H_
