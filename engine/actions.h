// What the engine asks its driver to do, in order (DESIGN.md §2). The driver carries the
// actions out in the order given; a Persist must be durable before any later action runs,
// because the later ones (a message, a promotion) may depend on it.
#ifndef DUET_ENGINE_ACTIONS_H_
#define DUET_ENGINE_ACTIONS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "engine/messages.h"
#include "engine/replication/mutation.h"
#include "engine/replication/repl_messages.h"
#include "engine/replication/replica_state.h"
#include "engine/types.h"

namespace duet {

inline constexpr int kAllLinks = -1;

// Send to the peer on one heartbeat link, or on every one (kAllLinks).
struct SendPeer {
  int link = kAllLinks;
  PeerMessage message;
};

// Send on the replication connection (ordered and reliable while it lasts).
struct SendReplication {
  ReplMessage message;
};

struct SendWitness {
  LeaseRequest request;
};

// What a node keeps across restarts, per module.
struct PersistedModule {
  uint64_t term = 0;
  NodeIndex owner = 0;
  bool admin_stopped = false;
  // An admin moved the module to `owner` (swap, prim, second): no automatic failback.
  bool pinned = false;
  // This node was owner and writable while its peer was unreachable, and the peer has not
  // confirmed this term since. Kept across a daemon restart: the peer's later takeover at a
  // newer term is then a split brain this node must report, even if it no longer writes.
  bool wrote_alone = false;
  friend bool operator==(const PersistedModule&, const PersistedModule&) = default;
};

// What a node keeps across restarts, modules by name (a module missing here starts fresh).
// `replicas` is rebuilt by the driver with ApplyRecord from the PersistReplica records.
// `problems`: modules whose metadata could not be recovered (a corrupt record), with what is
// wrong; such a module shows WAIT with that reason and the node never acts on it.
struct PersistedNode {
  uint64_t incarnation = 0;
  std::map<std::string, PersistedModule> modules;
  std::map<std::string, ReplicaDurableState> replicas;
  std::map<std::string, std::string> problems;
};

struct PersistModule {
  ModuleIndex module = 0;
  PersistedModule record;
};

struct PersistIncarnation {
  uint64_t incarnation = 0;
};

// Run one of the module's scripts; answer with ScriptExited carrying run_id.
struct RunScript {
  ModuleIndex module = 0;
  ScriptKind kind = ScriptKind::kPrestart;
  uint64_t run_id = 0;
};

struct SetCheckers {
  ModuleIndex module = 0;
  bool running = false;
};

// Assigned again while assigned: announce the VIPs again (gratuitous ARP, unsolicited NA), as
// when the peer stops serving addresses it held during a split brain.
struct SetVip {
  ModuleIndex module = 0;
  bool assigned = false;
};

// Whether the module's replicated directories accept writes on this node. Turning it off
// takes effect at once: it is how a primary fences itself.
struct SetWritable {
  ModuleIndex module = 0;
  bool writable = false;
};

struct AdminReply {
  uint64_t request_id = 0;
  absl::Status status;
};

// Apply a mutation to this node's copy of the module (the backing directory); answer with
// MutationApplied. `durable`: fdatasync/fsync before answering (an fsync of path "" means
// the whole module directory, syncfs).
struct ApplyMutation {
  ModuleIndex module = 0;
  uint64_t apply_id = 0;
  Mutation mutation;
  bool durable = false;
};

// The application's call (op_id from LocalMutation) may return with this status.
struct CompleteLocal {
  ModuleIndex module = 0;
  uint64_t op_id = 0;
  absl::Status status;
};

// What a ReadZone answers with besides the path's kind and attributes. A zone's digest
// (ZoneRead::digest) stands for what a resync block of it would make of the target's zone:
// the file's size, the zone's bytes up to the end of the file with holes read as zeros, and
// where the holes lie in it; the engine only compares two digests for equality (the adapter
// picks the function: SHA-256 in duetd). A path that is not a regular file has none.
enum class ZoneReadContent : uint8_t {
  kData,           // the bytes and holes (ZoneRead::data, hole, hole_ranges)
  kDataAndDigest,  // those and the digest
  kDigest,         // the digest only: no data, no hole ranges
};

// Read one zone of a file for resync; answer with ZoneRead.
struct ReadZone {
  ModuleIndex module = 0;
  uint64_t read_id = 0;
  std::string path;
  uint64_t offset = 0;
  uint64_t length = 0;
  ZoneReadContent content = ZoneReadContent::kData;
};

// Durably append these records to the module's replication metadata (see ApplyRecord).
struct PersistReplica {
  ModuleIndex module = 0;
  std::vector<ReplicaRecord> records;
};

// Before a resync discards this node's divergent changes (split brain), copy these paths
// (files or directories, as they are now) into a dated directory beside the module's data.
// A disk operation of the module (adapter contract C5, C7): answer with DivergentPreserved.
struct PreserveDivergent {
  ModuleIndex module = 0;
  std::vector<std::string> paths;
  uint64_t preserve_id = 0;
};

// List every name in this node's copy of the module (files, directories, symlinks, at any
// depth; not the root), for a full resync or for the names under a directory a resync sends
// whole with them; answer with TreeListed.
struct ListTree {
  ModuleIndex module = 0;
  uint64_t list_id = 0;
};

// Something an operator should see in the log.
struct LogEvent {
  std::optional<ModuleIndex> module;
  std::string text;
};

using Action =
    std::variant<SendPeer, SendReplication, SendWitness, PersistModule, PersistIncarnation,
                 RunScript, SetCheckers, SetVip, SetWritable, AdminReply, LogEvent, ApplyMutation,
                 CompleteLocal, ReadZone, PersistReplica, PreserveDivergent, ListTree>;

using Actions = std::vector<Action>;

}  // namespace duet

#endif  // DUET_ENGINE_ACTIONS_H_
