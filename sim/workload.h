// The application workload of the simulator's replication mode (DESIGN.md §8) and its
// reference model of what was acknowledged.
//
// Per module the workload writes a few "verified" files that are never renamed, unlinked or
// truncated: a small file overwritten in place, a log that grows by appends, and a large
// sparse file written at random offsets like a VM image, which also gets fallocates
// (punched holes, zeroed ranges, preallocation). Writes range from 1 byte to 1 MiB and
// overlap; a punch or a zero range is checked like a write of zeros. Beside them it creates,
// writes, truncates (now and then past the largest file: refused), renames and unlinks scratch
// files (some with spaces and UTF-8 in their names), makes and removes directories and symlinks,
// writes files (and a subdirectory with a file) inside those directories and renames, exchanges
// and removes the directories with the names under them,
// changes owners, modes, times and xattrs (checked only by the replicas being identical, attributes
// included) and fsyncs files or the whole tree.
//
// The model keeps, per byte of each verified file, the last write issued over it. A byte
// must hold that write's value at the end if the write was acknowledged and nothing allowed
// the pair to lose it since: a crash with no up-to-date copy left (what was not fsynced may
// be gone, as on one machine), a split brain (the non-default side's changes are discarded
// by design) or a forced promotion of a copy not known up to date. An acknowledged fsync
// protects against the first only, as does a sync write (O_SYNC/O_DSYNC) acknowledged.
#ifndef DUET_SIM_WORKLOAD_H_
#define DUET_SIM_WORKLOAD_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/replication/mutation.h"
#include "engine/rng.h"
#include "engine/types.h"
#include "sim/mem_store.h"

namespace duet::sim {

class Workload {
 public:
  // A verified byte range whose acknowledged value is not in the tree.
  struct Loss {
    std::string detail;
    bool fsynced = false;  // an acknowledged fsync covered the write
  };

  Workload(size_t modules, uint64_t seed);

  // The next operation for module m, issued on node n as op `op_id`.
  Mutation Next(ModuleIndex m, NodeIndex n, uint64_t op_id);
  // The application's call returned.
  void Completed(uint64_t op_id, const absl::Status& status, bool alone = false);
  // Node n went down: its calls in flight never return.
  void NodeDown(NodeIndex n);
  // What was acknowledged and not fsynced in module m may be gone.
  void LoseUnsynced(ModuleIndex m);
  // What node n acknowledged in module m may be discarded (it lost a split brain); also
  // what it acknowledges until Resolved.
  void DiscardFrom(ModuleIndex m, NodeIndex n);
  void Resolved(ModuleIndex m);
  // Anything acknowledged in module m may be gone (a copy not up to date was forced primary).
  void LoseAll(ModuleIndex m);

  int outstanding(ModuleIndex m) const { return modules_[m].outstanding; }
  int outstanding() const;
  uint64_t issued() const { return issued_; }
  uint64_t acknowledged() const { return acknowledged_; }

  // The kernel's lookup of the names `m` goes through, on the writer's `tree`, and what the
  // kernel and the mount refuse before the adapter sees the call: a name under a missing
  // directory (ENOENT), mkdir or symlink onto a name that exists (EEXIST), rmdir of a
  // non-empty directory (ENOTEMPTY) or of a non-directory (ENOTDIR), unlink of a directory
  // (EISDIR), a plain rename onto a name of the other kind or a non-empty directory. In a
  // split brain both writers draw from one model, so a name the model has may be missing or
  // still there on one of them.
  static absl::Status LookUpParents(const Mutation& m, const MemStore::Tree& tree);
  // The first of the workload's fixed directories (data, tmp...: any outside the scratch
  // directories, which the workload makes and removes itself) missing above a name of `m`
  // on `tree`: the application makes it (mkdir -p) before trying again.
  static std::optional<std::string> MissingDirectory(const Mutation& m, const MemStore::Tree& tree);

  // Checks module m's final tree against the model; counts the writes verified.
  std::vector<Loss> Verify(ModuleIndex m, const MemStore::Tree& tree);
  uint64_t writes_verified() const { return writes_verified_; }

 private:
  enum class State : uint8_t { kPending, kAcked, kFailed, kUncertain };
  struct Op {
    ModuleIndex module = 0;
    NodeIndex node = 0;
    MutationKind kind = MutationKind::kWrite;
    bool verified = false;  // a write to a verified file
    std::string path;
    uint64_t offset = 0;
    Payload data;
    State state = State::kPending;
    uint64_t ack_seq = 0;         // order of acknowledgement within the module
    uint64_t covers_upto = 0;     // fsync: acknowledgements before it was called
    int ranges = 0;               // verified write: ranges of the model it is the last writer of
    bool sync = false;            // a write of an O_SYNC/O_DSYNC file
    uint32_t fallocate_mode = 0;  // a fallocate's (a punch or zero range is verified)
    // Covered by an fsync of its own node during a split brain, or itself a sync write.
    bool synced = false;
    // Acknowledged by a node writing without its peer (ALONE, or not resynced since): only
    // on that node, so only that node's fsyncs make it durable.
    bool alone = false;
  };
  // The last write issued over each byte: [start, end) -> op.
  struct Range {
    uint64_t end = 0;
    uint64_t op = 0;
  };
  using RangeMap = std::map<uint64_t, Range>;
  struct Module {
    std::map<std::string, RangeMap> files;
    std::map<std::string, uint64_t> synced_upto;  // per path ("" = everything)
    uint64_t next_ack_seq = 1;
    int outstanding = 0;
    uint64_t log_size = 0;             // the append file, as issued
    std::vector<bool> scratch_exists;  // as issued
    std::vector<bool> dir_exists;      // the scratch directories, as issued
    std::vector<bool> sub_exists;      // a subdirectory in each of them, as issued
    std::vector<uint8_t> dir_files;    // the files in each (bit k: InDirFile k), as issued
    bool discarding = false;           // a split brain is unresolved
    NodeIndex discarding_node = 0;
  };

  Mutation NextWrite(Module& mod, Op& op, uint64_t op_id);
  // A fallocate of the VM image at `offset` (at least `size` bytes): a punch, a zero range
  // or an allocation, with or without keep-size.
  Mutation NextFallocate(Op& op, uint64_t offset, uint64_t size);
  Mutation NextScratch(Module& mod, uint64_t op_id);
  // A namespace change among the scratch names: mkdir, rmdir, symlink, setattr,
  // setxattr or removexattr.
  Mutation NextScratchName(Module& mod, uint64_t i, uint64_t op_id);
  // Inside a scratch directory (making one if none exists): a write to a file in it or in its
  // subdirectory, the subdirectory made, or the directory renamed or removed with its names.
  Mutation NextInDirectory(Module& mod, uint64_t i, uint64_t op_id);
  Mutation NextSetattr(std::string path);
  uint64_t WriteSize();
  void Assign(RangeMap& ranges, uint64_t start, uint64_t end, uint64_t op);
  void Release(uint64_t op_id);
  bool Synced(const Module& mod, const Op& op) const;

  Rng rng_;
  std::vector<Module> modules_;
  std::map<uint64_t, Op> ops_;
  uint64_t issued_ = 0;
  uint64_t acknowledged_ = 0;
  uint64_t writes_verified_ = 0;
};

// The bytes a workload write carries: a pattern unique to the op, cheap to make.
std::string WorkloadBytes(uint64_t op_id, uint64_t size);

}  // namespace duet::sim

#endif  // DUET_SIM_WORKLOAD_H_
