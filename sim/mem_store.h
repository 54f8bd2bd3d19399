// An in-memory copy of a module's replicated tree with crash semantics, standing in for a
// node's backing directory in tests and in the simulator. Mutations change the live view;
// fsync makes a path durable and syncfs (fsync of "") everything; a crash throws away what
// was not made durable (as LevelDB's fault-injection environment does). Applying follows
// the secondary's idempotent rules: creating what exists or removing what is gone succeeds.
// Hard links are modelled as copies (no shared inodes), identically on both nodes.
#ifndef DUET_SIM_MEM_STORE_H_
#define DUET_SIM_MEM_STORE_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "engine/inputs.h"
#include "engine/replication/mutation.h"

namespace duet::sim {

class MemStore {
 public:
  struct Entry {
    PathKind kind = PathKind::kFile;
    std::string data;  // file bytes, or a symlink's target
    uint32_t mode = 0644;
    int64_t mtime_ns = 0;
    friend bool operator==(const Entry&, const Entry&) = default;
  };
  using Tree = std::map<std::string, Entry>;

  absl::Status Apply(const Mutation& m);
  // Makes `path` ("" = everything) durable.
  void Sync(const std::string& path);
  // Loses everything not made durable.
  void Crash() { live_ = durable_; }
  // Answers a ReadZone.
  ZoneRead Read(ModuleIndex module, uint64_t read_id, const std::string& path, uint64_t offset,
                uint64_t length) const;

  const Tree& live() const { return live_; }
  const Tree& durable() const { return durable_; }
  // Bytes of file data, for figures.
  uint64_t FileBytes() const;

 private:
  void MoveTree(const std::string& from, const std::string& to);
  void RemoveTree(const std::string& path);

  Tree live_;
  Tree durable_;
};

// A readable description of how two trees differ ("" if equal), for test failures.
std::string DescribeDifference(const MemStore::Tree& a, const MemStore::Tree& b);

}  // namespace duet::sim

#endif  // DUET_SIM_MEM_STORE_H_
