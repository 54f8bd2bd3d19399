// Which of the primary's mutations in flight must complete after an earlier one (DESIGN.md
// §4): the rule that lets a write to one file complete while an earlier, slower fsync of
// another waits for the peer, and keeps in order what an application (or the disk, adapter
// contract C7) needs in order.
//
// A mutation completes only after every earlier mutation it orders after has completed:
//  - a barrier (a namespace change, a whole-tree fsync; DiskOrderOf) orders after every
//    earlier mutation, and every later one orders after it: a syncfs, or a rename that
//    publishes a file, completes only once everything issued before it did;
//  - a mutation orders after an earlier one on the same path (writes to one file complete in
//    the order issued; an fsync of a file after every earlier write to it);
//  - an fsync of a path orders after earlier mutations beneath it (an fsync of a directory
//    completes after what was issued before it under that directory).
// Two names of one file (hard links) are two paths here: their mutations may complete in
// either order, but each node's disk runs them in the order issued (C7 keys by inode), so an
// fsync through one name is durable only with every earlier write through the other.
//
// The order is kept as mutations enter flight and complete (Open, Close), not rebuilt on
// each pass over the mutations in flight: a pass asks MustWait of each open one, O(log W)
// each without allocating, and walks only the open ones (NextOpen), so an acknowledgement
// costs what is still open up to it rather than the whole window rebuilt.
#ifndef DUET_ENGINE_REPLICATION_COMPLETION_ORDER_H_
#define DUET_ENGINE_REPLICATION_COMPLETION_ORDER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "engine/replication/mutation.h"

namespace duet {

// What CompletionOrder needs of a mutation, kept while it is in flight.
struct CompletionKey {
  bool barrier = false;
  bool fsync = false;  // an fsync of one path (a whole-tree fsync is a barrier)
  std::string path;

  static CompletionKey Of(const Mutation& m);
};

// The mutations in flight that have not completed (open), by lsn. Each is opened once, in
// increasing lsn order, and closed once, in any order, with the key it was opened with.
class CompletionOrder {
 public:
  void Open(uint64_t lsn, const CompletionKey& key);
  void Close(uint64_t lsn, const CompletionKey& key);
  // Whether the open mutation `lsn` (of `key`) orders after an open one issued before it.
  bool MustWait(uint64_t lsn, const CompletionKey& key) const;
  // An open barrier before `lsn` holds it and everything after it.
  bool BarrierOpenBefore(uint64_t lsn) const;
  // The first open lsn at or after `lsn`.
  std::optional<uint64_t> NextOpen(uint64_t lsn) const;
  bool empty() const { return open_.empty(); }

 private:
  absl::btree_set<uint64_t> open_;
  absl::btree_set<uint64_t> open_barriers_;
  // The open lsns of each path keyed by it (not barriers); a path with none is erased.
  absl::btree_map<std::string, absl::btree_set<uint64_t>, std::less<>> open_paths_;
};

}  // namespace duet

#endif  // DUET_ENGINE_REPLICATION_COMPLETION_ORDER_H_
