// What one module's replication keeps on disk, and the records that change it. The engine
// emits records (PersistReplica actions); the driver appends them durably and, after a
// restart, rebuilds the state with ApplyRecord — the same function the engine's own copy
// goes through, so the two cannot disagree.
#ifndef DUET_ENGINE_REPLICATION_REPLICA_STATE_H_
#define DUET_ENGINE_REPLICATION_REPLICA_STATE_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/container/btree_set.h"
#include "engine/replication/generations.h"
#include "engine/replication/mutation.h"
#include "engine/replication/zone_map.h"

namespace duet {

// The generation both nodes start from: their directories are taken to be identical (as
// an operator prepares them, usually empty) at the first start. Drawn generations are odd.
inline constexpr uint64_t kInitialGeneration = 2;

struct ReplicaDurableState {
  Generations gens{kInitialGeneration, 0, {}};
  // Zones changed since gens.bitmap that the peer may not have (the resync plan's base).
  ZoneMap dirty;
  // Namespace changes (create, unlink, rename, truncate...) since gens.bitmap, in order,
  // compacted as they are appended (activity_log.h AppendToJournal).
  std::vector<Mutation> journal;
  // The activity log: zones whose writes may be here and not on the peer (or the reverse).
  ZoneMap hot;
  // Its names: paths that a namespace mutation in flight changed (create, unlink, rename's
  // both names, truncate, setattr...). After a restart they are resynced whole.
  absl::btree_set<std::string> hot_names;
  // A resync into this copy started and has not finished: the copy is not usable.
  bool inconsistent = false;
  // ... only because a flush failed here: everything applied still reads here (from the
  // page cache) until the machine restarts, so the copy is not partial in a handshake.
  bool unflushed_only = false;
  // The primary told us it writes without us: this copy is consistent but old, and must not
  // be promoted until it has resynced (DRBD's "outdated").
  bool outdated = false;
  // Writes made here without the peer (since gens.bitmap) were acknowledged to the
  // application: this branch is real. Until then it is tentative (every such write waits
  // for the peer to be outdated), and loses against a real one without a split brain.
  bool alone_acked = false;
  // The machine restarted (its page cache, with whatever was not synced, is gone) and this
  // copy has not attached to the peer since: the peer may hold acknowledged data it lacks.
  bool lost_unsynced = false;
  // A flush of this copy failed (EIO): as Linux drops the failed pages' dirty state, what
  // was written here may be missing from the disk whatever later flushes say, until this
  // copy is resynced from the peer. Meanwhile its hot zones never cool and its fsyncs fail.
  bool disk_failed = false;
  // The current generation if this node drew it for writes made without the peer, and the
  // peer cannot hold it yet (0: none): later writes made alone need no new one. An open dirty
  // map does not say so: a resync target may have taken this current while its end never
  // reached us, then the writes made alone here would look like the peer's data.
  uint64_t drawn_alone = 0;
  // A split brain's verdict discarded this copy's branch (current generation) and its
  // divergent paths were kept aside: a later session with the same verdict, before the
  // resync replaced the branch, must not keep aside again what the resync already began to
  // overwrite (0: none).
  uint64_t preserved_for = 0;
  // This copy holds the module's data: it attached to the peer once (or was the reference
  // of a full resync). A copy that never did and never wrote (a new node, a replaced disk,
  // lost metadata) is blank: it takes the whole tree from a peer that holds the data.
  bool joined = false;
  // The zone size the dirty map and the hot zones were built with (0: not recorded yet).
  // A changed configuration takes effect only once nothing is tracked (Replica::OnStart).
  uint32_t zone_size = 0;
};

namespace record {
struct SetGenerations {
  Generations gens;
};
struct MarkDirty {
  std::string path;
  uint64_t first = 0, last = 0;
};
struct MarkClean {
  std::string path;
  uint64_t zone = 0;
};
struct ClearDirty {};  // the peer is in sync: map, journal and alone_acked cleared
struct Journal {
  Mutation mutation;  // namespace mutations only; no file data
  // Appended as it is, not compacted: a snapshot's journal (ToRecords), compacted already,
  // must come back exactly (compacting it again could merge entries it kept apart).
  bool as_is = false;
};
// `count` zones from `zone` (>= 1): a punch or a zero range over many zones is one record.
struct HotAdd {
  std::string path;
  uint64_t zone = 0;
  uint64_t count = 1;
};
struct HotRemove {
  std::string path;
  uint64_t zone = 0;
  uint64_t count = 1;
};
struct ClearHot {};  // zones and names
struct HotNameAdd {
  std::string path;
};
struct HotNameRemove {
  std::string path;
};
struct SetInconsistent {
  bool inconsistent = false;
  bool unflushed_only = false;  // see ReplicaDurableState::unflushed_only
};
struct SetOutdated {
  bool outdated = false;
};
struct SetAloneAcked {};
struct SetLostUnsynced {
  bool lost = false;
};
struct SetDiskFailed {
  bool failed = false;
};
struct SetDrawnAlone {
  uint64_t generation = 0;  // 0: the peer may hold our current
};
struct SetJoined {
  bool joined = true;
};
struct SetZoneSize {
  uint32_t zone_size = 0;
};
struct SetDivergencePreserved {
  uint64_t generation = 0;  // ReplicaDurableState::preserved_for
};
// The tree changed under the maps: keep dirty and hot zones attached to the right names.
struct Renamed {
  std::string from, to;
  // A rename with flags (exchange, no-replace): both names keep what either had
  // (ZoneMap::Blend), instead of `to` taking `from`'s zones.
  bool blend = false;
};
struct Removed {
  std::string path;
};
struct Truncated {
  std::string path;
  uint64_t size = 0;
};
}  // namespace record

using ReplicaRecord = std::variant<
    record::SetGenerations, record::MarkDirty, record::MarkClean, record::ClearDirty,
    record::Journal, record::HotAdd, record::HotRemove, record::ClearHot, record::SetInconsistent,
    record::SetOutdated, record::SetAloneAcked, record::Renamed, record::Removed, record::Truncated,
    record::SetLostUnsynced, record::HotNameAdd, record::HotNameRemove, record::SetDiskFailed,
    record::SetDrawnAlone, record::SetJoined, record::SetZoneSize, record::SetDivergencePreserved>;

// `zone_size`: the configured one, used until the state records its own (SetZoneSize).
void ApplyRecord(ReplicaDurableState& state, const ReplicaRecord& record, uint32_t zone_size);

// Records whose ApplyRecord replay, from a fresh ReplicaDurableState, rebuilds `state`
// exactly (with any configured zone_size): what a store writes as a snapshot before it drops
// the log that led there. The journal goes in its compacted form (activity_log.h).
std::vector<ReplicaRecord> ToRecords(const ReplicaDurableState& state);

}  // namespace duet

#endif  // DUET_ENGINE_REPLICATION_REPLICA_STATE_H_
