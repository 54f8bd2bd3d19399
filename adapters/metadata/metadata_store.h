// MetadataStore: the crash-safe home of what one node persists (engine/actions.h
// PersistModule, PersistIncarnation, PersistReplica), under its state_dir, recovered at
// start into the PersistedNode the Node is built from (DESIGN.md §2, adapter contract C4).
//
// Layout (state_dir, and any missing parent, is created with mode 0700; an existing one is
// kept as it is):
//   STATE_DIR/metadata/            mode 0700
//     node.log                     the node's incarnation records
//     module-NAME.log              one module's PersistModule records and PersistReplica
//                                  batches (NAME with bytes outside [A-Za-z0-9_.-] as %XX)
// One file per module, so a corrupt module file stops only that module. Each file is
// record_file.h's format: checksummed, length-prefixed frames, one encoded record each
// (engine/wire/record_codec.h); a PersistReplica batch is one frame, so it is recovered
// whole or not at all.
//
// Recovery (Open): a torn tail (the last append, unsynced at a crash: cut short, zeros or
// garbage) is dropped, cut off the file and reported as a note. A damaged frame with a valid
// one after it (synced data damaged, record_file.h) makes that module's problem "metadata
// frame N at offset X of FILE is corrupt (...)", a frame whose record does not decode
// "metadata record N of FILE is corrupt (...)": the module is
// left out of modules/replicas (the Node then shows it WAIT with that reason and never acts
// on it) and its file is never written again, so the admin finds it as it was. The same in
// node.log fails Open (the incarnation would be a guess). Files of modules no longer
// configured are left alone.
//
// Appends are durable (written and fdatasync'ed) when they return OK. AppendGroup is group
// commit: consecutive Persist actions for one file written with one frame and one fdatasync.
// After a failed append the file may end in a torn frame: the store then refuses every later
// append (fail-stop: the driver must stop, and the next start drops the torn frame).
//
// Compaction: when a module's file passes `compact_bytes` (and twice its last snapshot), the
// store writes a snapshot (the module record and ToRecords of its replica state) to a new
// file, fsyncs it and the directory and renames it over the log. The store keeps each
// module's state in memory to do so (as large as the engine's own copy).
//
// Not thread-safe: one thread (the daemon's loop) owns it.
#ifndef DUET_ADAPTERS_METADATA_METADATA_STORE_H_
#define DUET_ADAPTERS_METADATA_METADATA_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "adapters/metadata/record_file.h"
#include "engine/actions.h"
#include "engine/config.h"
#include "engine/wire/record_codec.h"

namespace duet::metadata {

// A configured module, in the config's order (its index is the ModuleIndex of actions).
struct ModuleSpec {
  std::string name;
  uint32_t zone_size = 64 * 1024;  // ApplyRecord's configured zone size
};
std::vector<ModuleSpec> ModuleSpecs(const Config& config);

struct StoreOptions {
  uint64_t compact_bytes = uint64_t{4} << 20;
};

class MetadataStore;

struct Recovered {
  std::unique_ptr<MetadataStore> store;
  PersistedNode persisted;         // problems included
  std::vector<std::string> notes;  // what recovery dropped or fixed, for the log
};

class MetadataStore {
 public:
  // Errors: state_dir cannot be created or is not a writable directory, a file cannot be
  // read, node.log is corrupt. Each message names the path and what is wrong.
  static absl::StatusOr<Recovered> Open(const std::string& state_dir,
                                        std::vector<ModuleSpec> modules, StoreOptions options = {});
  MetadataStore(const MetadataStore&) = delete;
  MetadataStore& operator=(const MetadataStore&) = delete;
  ~MetadataStore();

  // Durable when OK. FailedPrecondition for a module with a problem, an unknown module index,
  // or after an earlier append failed.
  absl::Status Append(const PersistModule& action);
  absl::Status Append(const PersistIncarnation& action);
  absl::Status Append(const PersistReplica& action);
  // The Persist* actions above; any other action is InvalidArgument.
  absl::Status Append(const Action& action);
  // Group commit: these Persist* actions, in order, each run of consecutive actions for one
  // file written as one frame with one fdatasync (record_file.h), the runs one after the
  // other: a crash keeps a prefix of the runs, each run all or nothing. Durable when OK.
  // Errors as Append; when one action is refused, nothing is kept or written.
  absl::Status AppendGroup(std::span<const Action> actions);

  // Writes the module's snapshot now (Append does it by size).
  absl::Status Compact(ModuleIndex module);
  // The size of the module's file, in bytes.
  uint64_t FileBytes(ModuleIndex module) const;
  // The file (relative to state_dir) that holds the module's records.
  std::string FileOf(ModuleIndex module) const;

 private:
  struct ModuleFile {
    ModuleSpec spec;
    std::string file;  // name in the metadata directory
    std::optional<AppendFile> log;
    std::optional<PersistedModule> record;
    ReplicaDurableState replica;
    bool has_replica = false;
    bool problem = false;
    uint64_t snapshot_bytes = 0;
  };
  MetadataStore(int dir_fd, StoreOptions options);
  std::vector<uint8_t> Take(const PersistModule& action);
  std::vector<uint8_t> Take(const PersistReplica& action);
  absl::Status AppendTo(ModuleIndex module, std::span<const std::vector<uint8_t>> payloads);
  absl::Status AppendToNodeLog(std::span<const std::vector<uint8_t>> payloads,
                               uint64_t incarnation);
  // Records a failed append (every later one is refused: fail-stop) and returns it.
  absl::Status Failed(const absl::Status& status);
  absl::Status Checked(ModuleIndex module) const;

  int dir_fd_;
  StoreOptions options_;
  std::optional<AppendFile> node_log_;
  uint64_t incarnation_ = 0;
  std::vector<ModuleFile> modules_;
  absl::Status failed_;
};

}  // namespace duet::metadata

#endif  // DUET_ADAPTERS_METADATA_METADATA_STORE_H_
