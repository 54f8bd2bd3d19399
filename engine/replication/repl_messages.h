// Replication messages between the two nodes, per module, on the replication connection
// (ordered and reliable while it lasts). Encoded by engine/wire/codec.h like every message.
#ifndef DUET_ENGINE_REPLICATION_REPL_MESSAGES_H_
#define DUET_ENGINE_REPLICATION_REPL_MESSAGES_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "engine/replication/generations.h"
#include "engine/replication/mutation.h"

namespace duet {

// Sent by both sides when the replication connection comes up; each side then applies the
// same decision table to the two Hellos.
struct ReplHello {
  std::string module;
  Generations gens;
  bool primary = false;  // the sender's application writes the module now
  // The sender's copy may lack data: a resync into it is mid-way, or a stream apply failed
  // (not set for a copy whose only fault is a failed flush: it holds what it applied).
  bool inconsistent = false;
  uint64_t epoch = 0;  // grows with every Hello the sender sends
  // The peer's Hello epoch this one answers; 0: unsolicited (the sender's state changed,
  // or it just connected), which the peer answers with its own Hello.
  uint64_t answers = 0;
  // The sender's machine restarted and it has not attached since: it may have lost writes
  // it had not synced that its peer holds (as a primary: its own, acknowledged by the
  // peer; as a secondary: the stream's).
  bool crashed = false;
  // The sender's dirty map or namespace journal is not empty: it holds changes its peer may
  // lack even when the generations match (a drop left zones dirty).
  bool dirty = false;
  bool alone_acked = false;  // ReplicaDurableState::alone_acked
  // The admin chose the sender's copy to lose its divergent changes in a split brain.
  bool discard = false;
  // The lsn of the first stream write the sender would send in the session this Hello
  // starts (its next lsn): the receiver knows the session's first write, and a lost first
  // write is a gap like any other, never a silent new start.
  uint64_t stream_start = 0;
  bool joined = false;       // ReplicaDurableState::joined
  bool disk_failed = false;  // ReplicaDurableState::disk_failed
  // The zone size the sender tracks changes in: zone numbers in the session's messages
  // (target requests, blocks) mean nothing to a peer that counts in another size.
  uint32_t zone_size = 0;
  // The sender could not keep its divergent branch aside (adapter contract C5): no session
  // until it can, which it retries (Replica::OnDivergentPreserved).
  bool keep_aside_failed = false;
};

// The target's own zones the source must overwrite (its hot zones after a crash, its
// dirty zones after a split brain), one file per message; `last` ends the list.
// `digests`: empty, or one per zone, the target's digest of it (ZoneRead::digest) for zones
// that are only possibly different (its activity log's after a crash): the source sends a
// ResyncSame instead of the block where its own digest of the zone is equal. A source that
// predates digests ignores them and sends every block, which is as correct.
// Source -> target (wire version 4): zones the source's own crash left hot (possibly
// different either way), without digests, then a `last`; the target reads its digest of each
// and asks for them as above (plainly where it would not compare), then sends one more `last`.
inline constexpr size_t kMaxZoneDigestBytes = 64;         // one digest's size, at most
inline constexpr size_t kMaxDigestsPerRequest = 1 << 16;  // zones of a ReplTargetZones with digests
// `names_under` (a whole path only): every name under the path goes whole too, as the source
// holds them (it lists its tree); the target asks for its own names under it, so the ones the
// source lacks go as absent. Sent for names a rename or removal changed, whose names under
// them may differ (not for a chmod of a large tree). A source that predates it (wire
// version 4 builds before it) sends the path alone.
struct ReplTargetZones {
  std::string module;
  std::string path;
  std::vector<uint64_t> zones;
  bool last = false;
  std::vector<std::string> digests = {};
  bool names_under = false;
};

// One mutation of the live stream (or of the namespace journal replayed at resync start).
struct ReplWrite {
  std::string module;
  uint64_t lsn = 0;
  Mutation mutation;
};

inline constexpr size_t kMaxAckRanges = 4096;  // of a ReplAck's done_after (64 KiB)

// Lsns [first, last] of one stream session.
struct LsnRange {
  uint64_t first = 0;
  uint64_t last = 0;
  friend bool operator==(const LsnRange&, const LsnRange&) = default;
};

// Cumulative: every lsn up to `done_lsn` has reached the module's ack level on the
// secondary (an fsync: durable), and every lsn up to `durable_lsn` is durable there.
// `done_after`: lsns past `done_lsn` that reached the ack level since the last ack (the
// secondary's disk runs different files' operations at once, C7): ascending, disjoint, all
// after `done_lsn`, at most kMaxAckRanges of them. Added within wire version 4:
// an older primary ignores it and completes by `done_lsn` alone, and an older secondary never
// sends it.
struct ReplAck {
  std::string module;
  uint64_t done_lsn = 0;
  uint64_t durable_lsn = 0;
  std::vector<LsnRange> done_after = {};
};

// One zone of resync data, read on the source after every write up to `read_lsn` was
// applied there, with what the path is on the source (the target makes its path match:
// removes it, makes the directory or symlink, or writes the bytes and sets the size, and
// then gives it these attributes: owner, mode and times, as ZoneRead reported them; a block
// of zone 0 also makes the path's xattr set exactly `xattrs`).
struct ResyncBlock {
  std::string module;
  uint64_t block_id = 0;
  std::string path;
  uint64_t zone = 0;
  Payload data;
  uint64_t read_lsn = 0;
  PathKind kind = PathKind::kFile;
  uint64_t file_size = 0;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t atime_ns = 0;
  int64_t mtime_ns = 0;
  XattrSet xattrs;  // zone 0 only
  std::string link_target;
  // A full resync's file with several names: this path is another name of `link_of`, which
  // the source sent before in this session. The target links it; the block carries no data.
  std::string link_of;
  // A file's zone that holds no data on the source (every byte of it in the file is in a
  // hole): the block carries no bytes and the target punches the zone (it reads as zeros
  // and takes no space) instead of writing zeros.
  bool hole = false;
  // A hole: how many zones from `zone` on it covers (a run of zones without data on the
  // source, each punched alike; only the run's last may set the size). More than 1 only for a
  // hole.
  uint64_t hole_zones = 1;
  // A zone with data: the holes inside it on the source, which the target punches after
  // writing the bytes (zeros there), so that the copy is as sparse as the source's.
  HoleRanges hole_ranges;
  uint64_t total_bytes = 0;  // the source's resync progress when it sent this block
  uint64_t done_bytes = 0;
  // A directory's zone 0 that goes with every name under it, as the source holds them (a
  // rename or removal may have changed them, on either copy): the target lists its own names
  // under it and asks for each, so the ones the source lacks go as absent.
  bool names_under = false;
};

// `durable` false: the block is applied (or `stale`: a newer live write reached the zone
// first, read it again). `durable` true: every block up to block_id applied so far is
// durable on the target, so the source may forget those zones.
struct ResyncBlockAck {
  std::string module;
  uint64_t block_id = 0;
  bool stale = false;
  bool durable = false;
};

// Source -> target, for a zone the target sent its digest of: the source's copy of the zone
// has the same digest, so no block comes and the target keeps its zone as it is. Acknowledged
// (ResyncBlockAck) like the block it stands for. Sent only to a target that sent digests.
struct ResyncSame {
  std::string module;
  uint64_t block_id = 0;
  std::string path;
  uint64_t zone = 0;
  uint64_t total_bytes = 0;  // the source's resync progress, as in ResyncBlock
  uint64_t done_bytes = 0;
  // The path's attributes as the source read them (as a block's): equal bytes may still sit
  // under other times or owners (a write of the same bytes the peer never got), which the
  // target takes as it takes a block's.
  uint64_t read_lsn = 0;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t atime_ns = 0;
  int64_t mtime_ns = 0;
};

// Source -> target: every planned zone is on the target, which takes the source's current
// generation once it is durable. Target -> source: done (the source closes its dirty map).
struct ResyncDone {
  std::string module;
  uint64_t current = 0;
  // Source -> target: how many ReplTargetZones of this session the source had received. A
  // target that sent more (a late request after a failed apply) waits for the next done.
  uint64_t requests_seen = 0;
};

// A live stream write that one side refused (its apply failed having changed nothing:
// IsRefusal, engine/inputs.h), in the session it was sent in. The secondary that refused one
// says so (`refused` true) and holds its acknowledgement until it knows what the primary did;
// the primary says so of each one it refused itself, and answers a secondary's refusal of one
// it applied with `refused` false. See Replica (replica_refusals.cc) for the rule.
struct ReplApplyOutcome {
  std::string module;
  uint64_t lsn = 0;
  bool refused = false;
};

using ReplMessage = std::variant<ReplHello, ReplTargetZones, ReplWrite, ReplAck, ResyncBlock,
                                 ResyncBlockAck, ResyncDone, ResyncSame, ReplApplyOutcome>;

// One line describing a message, for traces and debugging ("write lsn 3 write f @0 +1").
std::string DescribeReplMessage(const ReplMessage& message);

}  // namespace duet

#endif  // DUET_ENGINE_REPLICATION_REPL_MESSAGES_H_
