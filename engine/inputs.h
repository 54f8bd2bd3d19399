// Everything that can happen to a node, as one value: the engine's only way in (DESIGN.md §2).
// Each input is handed to Node::Step together with the monotonic time at which it happened.
#ifndef DUET_ENGINE_INPUTS_H_
#define DUET_ENGINE_INPUTS_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "engine/messages.h"
#include "engine/replication/mutation.h"
#include "engine/replication/repl_messages.h"
#include "engine/types.h"

namespace duet {

// Only time advanced (a deadline from NextDeadline was reached).
struct Tick {};

// A decoded, authenticated message from the peer, received on heartbeat link `link`.
struct PeerReceived {
  int link = 0;
  PeerMessage message;
};

// A decoded, authenticated reply from the witness.
struct WitnessReceived {
  LeaseReply reply;
};

// A script started by a RunScript action ended (the adapter enforces the timeout).
struct ScriptExited {
  ModuleIndex module = 0;
  uint64_t run_id = 0;
  int exit_code = 0;
  bool timed_out = false;
};

// A checker of the module reported a failure (successes need not be reported).
struct CheckerFailed {
  ModuleIndex module = 0;
  uint32_t checker = 0;  // index in ModuleConfig::checkers
  std::string detail;
};

// kDiscard: after a split brain that waits for the admin (policy manual or
// discard-least-changes), this node's copy is the one that loses its divergent changes
// (kept aside); the node must not be primary.
enum class AdminVerb : uint8_t { kStart, kStop, kSwap, kPrim, kSecond, kRestart, kDiscard };

struct AdminCommand {
  uint64_t request_id = 0;
  AdminVerb verb = AdminVerb::kStart;
  ModuleIndex module = 0;
  bool force = false;  // prim: promote even if the data is not known up to date
};

// The application changed a replicated directory (from the interceptor). Answered by
// CompleteLocal with the same op_id.
struct LocalMutation {
  ModuleIndex module = 0;
  uint64_t op_id = 0;
  Mutation mutation;
};

// A refusal: an ApplyMutation that failed having changed nothing, as the kernel refuses a
// call on a local disk (a truncate past the largest file, EFBIG; an xattr too large or a
// write with no space left, ENOSPC; a name too long; a rename the kernel turned down...).
// The adapter says so (adapter contract C8) by marking the error with this payload, and only
// where it knows nothing changed; the engine never guesses it from the errno. The mark rides
// along to the CompleteLocal the application's call returns with. A refusal on both copies
// keeps them equal (engine/replication/replica.h says what the engine does with one).
inline constexpr char kRefusedPayloadUrl[] = "duet/refused";

inline absl::Status AsRefusal(absl::Status status) {
  if (!status.ok()) status.SetPayload(kRefusedPayloadUrl, absl::Cord("nothing changed"));
  return status;
}

inline bool IsRefusal(const absl::Status& status) {
  return !status.ok() && status.GetPayload(kRefusedPayloadUrl).has_value();
}

// An operation of a module the adapter did not carry out because a PreserveDivergent of that
// module failed before it (adapter contract C5): it changed nothing, and says nothing about
// the disk. The engine never counts it as a disk fault.
inline constexpr char kNotCarriedOutPayloadUrl[] = "duet/not-carried-out";

inline absl::Status NotCarriedOut() {
  absl::Status status =
      absl::AbortedError("not carried out: keeping the divergent branch aside failed before it");
  status.SetPayload(kNotCarriedOutPayloadUrl, absl::Cord("keep-aside failed"));
  return status;
}

inline bool IsNotCarriedOut(const absl::Status& status) {
  return !status.ok() && status.GetPayload(kNotCarriedOutPayloadUrl).has_value();
}

// An ApplyMutation finished (a failure may be a refusal: IsRefusal).
struct MutationApplied {
  ModuleIndex module = 0;
  uint64_t apply_id = 0;
  absl::Status status;
};

// A ReadZone finished: what the path is now, its attributes (file_attributes.h; mode is not
// a symlink's), for a read at offset 0 its whole xattr set (sorted by name), and for a file
// the zone's bytes (short or empty past the end of the file), or `hole`: the part of the
// zone inside the file holds no data at all (SEEK_DATA finds none in it; allocated but
// unwritten ranges count as holes), and `data` is then null. A zone with data lists the
// holes inside it in `hole_ranges` (their bytes are in `data`, as zeros).
struct ZoneRead {
  ModuleIndex module = 0;
  uint64_t read_id = 0;
  absl::Status status;
  PathKind kind = PathKind::kAbsent;
  uint64_t file_size = 0;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t atime_ns = 0;
  int64_t mtime_ns = 0;
  XattrSet xattrs;
  std::string link_target;
  Payload data;
  // A regular file with more than one name: its inode on this node (device, inode number),
  // so that a full resync sends its other names as links (0, 0: one name, or not a file).
  uint64_t link_device = 0;
  uint64_t link_inode = 0;
  bool hole = false;
  // A hole (`hole`): where the file's data resumes after the zone's offset (SEEK_DATA), or its
  // size if none follows, so that a run of hole zones goes as one block. 0: not reported (the
  // hole is this zone alone).
  uint64_t hole_end = 0;
  HoleRanges hole_ranges;
  // A regular file's zone read with a digest (ReadZone::content): see ZoneReadContent.
  std::string digest = {};
};

// The answer to ListTree: paths relative to the module's root, in any order.
struct TreeListed {
  ModuleIndex module = 0;
  uint64_t list_id = 0;
  absl::Status status;
  std::vector<std::string> paths;
};

// The answer to PreserveDivergent: the paths are kept aside (status OK), or could not be
// (the errno as a Status; C5 says what the adapter does with the module's later operations).
struct DivergentPreserved {
  ModuleIndex module = 0;
  uint64_t preserve_id = 0;
  absl::Status status;
};

// A decoded, authenticated message from the replication connection.
struct ReplicationReceived {
  ReplMessage message;
};

// The replication connection to the peer came up or went down.
struct ReplicationConnected {};
struct ReplicationDisconnected {};

using Input =
    std::variant<Tick, PeerReceived, WitnessReceived, ScriptExited, CheckerFailed, AdminCommand,
                 LocalMutation, MutationApplied, ZoneRead, TreeListed, DivergentPreserved,
                 ReplicationReceived, ReplicationConnected, ReplicationDisconnected>;

const char* AdminVerbName(AdminVerb verb);

}  // namespace duet

#endif  // DUET_ENGINE_INPUTS_H_
