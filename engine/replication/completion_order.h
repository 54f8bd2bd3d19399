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
#ifndef DUET_ENGINE_REPLICATION_COMPLETION_ORDER_H_
#define DUET_ENGINE_REPLICATION_COMPLETION_ORDER_H_

#include <string>
#include <string_view>

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

// One pass over the mutations in flight, oldest first: for each, MustWait says whether it
// orders after one passed before that is still open; KeepOpen records one that does not
// complete in this pass. Holds views of the keys' paths: they must outlive the pass.
class CompletionOrder {
 public:
  bool MustWait(const CompletionKey& key) const;
  void KeepOpen(const CompletionKey& key);
  // An open barrier holds every later mutation: the pass can stop.
  bool all_wait() const { return barrier_open_; }

 private:
  bool any_open_ = false;
  bool barrier_open_ = false;
  absl::btree_set<std::string_view> open_paths_;
};

}  // namespace duet

#endif  // DUET_ENGINE_REPLICATION_COMPLETION_ORDER_H_
