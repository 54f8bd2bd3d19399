// An in-memory copy of a module's replicated tree with crash semantics, standing in for a
// node's backing directory in tests and in the simulator. Mutations change the live view;
// fsync makes a path durable and syncfs (fsync of "") everything; a crash throws away what
// was not made durable (as LevelDB's fault-injection environment does). Applying follows
// the secondary's idempotent rules: creating what exists or removing what is gone succeeds.
// Hard links are modelled as copies (no shared inodes), identically on both nodes.
//
// Cost: file data lives in copy-on-write pages (FileData), so the durable view shares every
// page that did not change since it was synced. A write costs the bytes written and the
// pages touched; a sync costs the paths and pages changed since the last sync, never the
// size of the tree; copying a tree copies page pointers, not bytes.
#ifndef DUET_SIM_MEM_STORE_H_
#define DUET_SIM_MEM_STORE_H_

#include <cstdint>
#include <limits>
#include <map>
#include <string>

#include "absl/container/btree_set.h"
#include "absl/status/status.h"
#include "engine/inputs.h"
#include "engine/replication/mutation.h"
#include "sim/file_data.h"

namespace duet::sim {

class MemStore {
 public:
  struct Entry {
    PathKind kind = PathKind::kFile;
    FileData data;  // file bytes, or a symlink's target
    uint32_t mode = 0644;
    int64_t mtime_ns = 0;
    friend bool operator==(const Entry&, const Entry&) = default;
  };
  using Tree = std::map<std::string, Entry>;

  absl::Status Apply(const Mutation& m);
  // Makes `path` ("" = everything) durable: its entry as it is now (created, replaced or
  // removed), its attributes and the file pages written since they were last synced.
  void Sync(const std::string& path);
  // A crash: everything not made durable is lost.
  void Crash();
  // Answers a ReadZone from the live view.
  ZoneRead Read(ModuleIndex module, uint64_t read_id, const std::string& path, uint64_t offset,
                uint64_t length) const;

  const Tree& live() const { return live_; }
  const Tree& durable() const { return durable_; }
  // Bytes of live file data (file sizes, holes included), for figures.
  uint64_t FileBytes() const;

  // Pages made durable by syncs so far (each a pointer copy), to check a sync's cost.
  uint64_t synced_pages_ForTest() const { return synced_pages_; }

 private:
  // What a path's live entry may hold that its durable one does not.
  struct Unsynced {
    // The entry was created, removed, or replaced by a rename, link or symlink: a sync
    // copies it whole, a crash keeps the durable one.
    bool replaced = false;
    // The smallest size the file was truncated to.
    uint64_t min_size = std::numeric_limits<uint64_t>::max();
    // File pages written (or partly zeroed by a truncate).
    absl::btree_set<uint64_t> pages;
  };

  void SyncPath(const std::string& path, const Unsynced& unsynced);
  static void MarkPages(Unsynced& unsynced, uint64_t offset, uint64_t length);
  // The entry at `path` was created, removed or replaced.
  Unsynced& MarkReplaced(const std::string& path);
  // Removes `path` and everything under it from the live view.
  void RemoveTree(const std::string& path);
  // Renames `from` and everything under it to `to`, replacing what was there.
  void MoveTree(const std::string& from, const std::string& to);

  Tree live_;
  Tree durable_;
  // Every path whose live entry may differ from its durable one.
  std::map<std::string, Unsynced> unsynced_;
  uint64_t synced_pages_ = 0;
};

// A readable description of how two trees differ ("" if equal), for test failures.
std::string DescribeDifference(const MemStore::Tree& a, const MemStore::Tree& b);

}  // namespace duet::sim

#endif  // DUET_SIM_MEM_STORE_H_
