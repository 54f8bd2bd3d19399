// The activity log's memory (DRBD's): which hot zones were used least recently, the newest
// stream LSN that wrote each and when. Membership itself is ReplicaDurableState::hot, changed
// only through records. A zone is made hot before a write to it is sent. It cools once the
// peer and this node hold its last write durably (so no crash can leave it different), and
// then either when the log is over capacity (least recent first, as DRBD's) or when it has had
// no write for the cooling delay (CoolIdle: a batch of records the replica emits from its own
// deadline), so a sequential or hot-spot workload pays one persist per new zone, not per
// write, and after a crash only the zones written lately are compared. A zone rewritten more
// often than the delay never cools; one rewritten less often pays one HotAdd per rewrite.
//
// Names work alike, by directory (DRBD's idea applied to the tree): a namespace mutation makes
// hot, before it is sent, the directories whose entries it changes (a create, mknod, symlink,
// mkdir, unlink, rmdir: the parent; a rename: both parents; TouchNamespace), not the names
// themselves, so a directory costs one HotNameAdd when it first becomes hot and nothing for the
// later creates, renames and unlinks in it while it stays hot. A name directly under the root
// (which never goes whole as a directory) and a change to a file's own content or attributes
// (truncate, setattr, xattrs, a hard link) make the name itself hot, unless its parent is hot
// already. A hot name cools as a zone does: its last change durable on both nodes, and none for
// the cooling delay (CoolNames, from the replica's cooling pass).
// The crash contract: after a crash or a daemon restart, every hot name goes whole, as the
// source has it, with everything under it (a hot directory is listed on both copies, names the
// source lacks are removed from the target, its own are sent whole: replica_resync_names_under
// .cc); so whatever name the peer may lack or have extra under a hot directory is resynced,
// and a file created under a hot directory needs no hot zone of its own for its first zone
// (zone 0 of a fresh file, Touch): its bytes go with the directory. A write to a fresh file's
// zone 0 keeps the directory hot instead (its last change), so the directory cools no earlier
// than the write. Its other zones, and every zone of an older file, are hot as usual.
// The cost: a crash sends whole every name under a directory changed within the delay before
// it, files there untouched since included. Older records (hot names of files, from before
// this rule) read as they did: a hot name is a hot name.
#ifndef DUET_ENGINE_REPLICATION_ACTIVITY_LOG_H_
#define DUET_ENGINE_REPLICATION_ACTIVITY_LOG_H_

#include <cstdint>
#include <list>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "engine/replication/replica_state.h"
#include "engine/replication/zone_map.h"

namespace duet {

class ActivityLog {
 public:
  // `hot` and `hot_names` are the persisted sets (possibly left by a crash); their zones
  // start least recent, and all are of unknown age.
  ActivityLog(size_t capacity, const ZoneMap& hot, const absl::btree_set<std::string>& hot_names);

  // A write with `lsn` at `now` touches zones [first, last] of `path`: appends HotAdd records
  // for zones not yet hot and HotRemove records for zones cooled to make room (only zones
  // whose last write is at or below `peer_durable_lsn`), a run of consecutive zones in one
  // record (so a punch of any length costs a few records; the memory is still per zone).
  // A zone of unknown age stays so (a write does not tell what the crash left in it). Zone 0
  // of a fresh file (Fresh) is kept in memory (the peer may lack it: ForEachNotDurable) with
  // no HotAdd: its directory, hot, covers it, and takes this write as its last change.
  void Touch(const std::string& path, uint64_t first, uint64_t last, uint64_t lsn, absl::Time now,
             uint64_t peer_durable_lsn, const ZoneMap& hot, std::vector<ReplicaRecord>& records);
  // Cools idle zones: HotRemove records for every zone of known age last written at or
  // before `written_by` whose last write is at or below `durable_lsn` (durable on both
  // nodes), in runs of consecutive zones. Whatever the capacity.
  void CoolIdle(absl::Time written_by, uint64_t durable_lsn, std::vector<ReplicaRecord>& records);
  // A zone or name of known age is hot: a later CoolIdle or CoolNames may cool it.
  bool MayCool() const;
  // Zones the peer may lack: last written above `peer_durable_lsn`, or of unknown age
  // (recovered from the persisted log after a restart).
  template <class F>
  void ForEachNotDurable(uint64_t peer_durable_lsn, F&& f) const {
    for (const ZoneRef& ref : lru_) {
      const Entry& entry = entries_.at(ref);
      if (entry.recovered || entry.last_lsn > peer_durable_lsn) f(ref);
    }
  }
  // As ForEachNotDurable, and those zones become of unknown age: in a resync target's plan,
  // they stay hot until it is done (the next session's watermark says nothing about them).
  template <class F>
  void TakeNotDurable(uint64_t peer_durable_lsn, F&& f) {
    for (const ZoneRef& ref : lru_) {
      Entry& entry = entries_.at(ref);
      if (!entry.recovered && entry.last_lsn <= peer_durable_lsn) continue;
      entry.recovered = true;
      f(ref);
    }
  }
  // The zone is hot of unknown age: recovered after a restart, or part of a resync plan.
  bool Recovered(const ZoneRef& ref) const {
    auto it = entries_.find(ref);
    return it != entries_.end() && it->second.recovered;
  }
  static constexpr uint64_t kUnknownLsn = ~0ull;  // a name's age, unknown

  // A zone / name that may differ from the peer's for a reason other than a write in flight
  // (a failed local flush or apply): hot with unknown age, like one recovered after a crash.
  void AddRecovered(const std::string& path, uint64_t zone, const ZoneMap& hot,
                    std::vector<ReplicaRecord>& records);
  void AddRecoveredName(const std::string& path, const absl::btree_set<std::string>& hot_names,
                        std::vector<ReplicaRecord>& records);
  // A namespace mutation `m` with `lsn` at `now` (the rule above): the names it makes hot, a
  // HotNameAdd record for each not hot already.
  void TouchNamespace(const Mutation& m, uint64_t lsn, absl::Time now,
                      const absl::btree_set<std::string>& hot_names,
                      std::vector<ReplicaRecord>& records);
  // `path` is hot with its last change `lsn` at `now`: a HotNameAdd record unless already hot.
  void TouchName(const std::string& path, uint64_t lsn, absl::Time now,
                 const absl::btree_set<std::string>& hot_names,
                 std::vector<ReplicaRecord>& records);
  // HotNameRemove records for the names of known age whose last change is at or below
  // `durable_lsn` and was made at or before `changed_by`.
  void CoolNames(absl::Time changed_by, uint64_t durable_lsn, std::vector<ReplicaRecord>& records);
  // A file created under a hot directory that stays hot since (TouchNamespace): its zone 0
  // needs no HotAdd (Touch).
  bool Fresh(const std::string& path) const { return fresh_.contains(path); }
  // Names the peer may lack (as ForEachNotDurable); they become of unknown age, since they
  // are now part of a resync plan and must stay hot until it is done.
  template <class F>
  void TakeNamesNotDurable(uint64_t peer_durable_lsn, F&& f) {
    for (auto& [path, name] : names_) {
      if (name.lsn != kUnknownLsn && name.lsn <= peer_durable_lsn) continue;
      if (name.lsn != kUnknownLsn) {
        names_by_lsn_.erase({name.lsn, path});
        name.lsn = kUnknownLsn;
      }
      f(path);
    }
  }
  // Moves hot zones under `from` to `to`. A hot name under `from` is a doubt about what the
  // peer holds there, and the content it doubts now lives under `to`: the new name becomes hot
  // too (HotNameAdd records), with the later of its own lsn and `lsn` (the rename's stream
  // lsn; 0 for a rename made alone, which the journal carries). The old name stays hot: the
  // peer may still hold something there.
  void Rename(const std::string& from, const std::string& to, uint64_t lsn,
              const absl::btree_set<std::string>& hot_names, std::vector<ReplicaRecord>& records);
  // As ZoneMap::Blend (a rename with flags): each copied zone keeps its age; hot names under
  // either name are copied to the other as Rename carries them.
  void Blend(const std::string& a, const std::string& b, uint64_t lsn,
             const absl::btree_set<std::string>& hot_names, std::vector<ReplicaRecord>& records);
  void Remove(const std::string& path);
  void Clear();
  // After a resync, zones recovered from a crash are as good as any other (they may cool),
  // and names recovered from a crash were sent whole: HotNameRemove records for them, but
  // for a name changed again since (TouchName), which cools once that change is durable.
  void ForgetRecovered(std::vector<ReplicaRecord>& records);
  size_t size() const { return entries_.size(); }

 private:
  struct HotName {
    uint64_t lsn = 0;  // of its last change, or kUnknownLsn
    absl::Time changed = absl::InfinitePast();
  };
  // Makes the name each hot name has after `rename` hot too (a rename's lsn rule above).
  void CarryHotNames(const Mutation& rename, uint64_t lsn,
                     const absl::btree_set<std::string>& hot_names,
                     std::vector<ReplicaRecord>& records);
  // Makes the directory whose entry `path` is hot (the name itself at the root).
  void TouchEntry(const std::string& path, uint64_t lsn, absl::Time now,
                  const absl::btree_set<std::string>& hot_names,
                  std::vector<ReplicaRecord>& records);
  // The hot name's last change is `lsn` at `now` (no record: it is hot already).
  void Refresh(absl::btree_map<std::string, HotName>::iterator it, uint64_t lsn, absl::Time now);
  // Cools the hot name (a HotNameRemove record); the files fresh under it are no longer.
  absl::btree_map<std::string, HotName>::iterator CoolName(
      absl::btree_map<std::string, HotName>::iterator it, std::vector<ReplicaRecord>& records);
  void ForgetFreshUnder(const std::string& path);
  struct Entry {
    std::list<ZoneRef>::iterator lru;
    uint64_t last_lsn = 0;
    // Of unknown age: it never cools before a resync (ForgetRecovered), whatever its lsn.
    bool recovered = false;
    absl::Time last_write = absl::InfinitePast();
  };
  size_t capacity_;
  std::list<ZoneRef> lru_;  // front: least recently used
  absl::flat_hash_map<ZoneRef, Entry> entries_;
  absl::btree_map<std::string, HotName> names_;
  absl::btree_set<std::pair<uint64_t, std::string>> names_by_lsn_;  // known age, oldest first
  // Names of unknown age changed since by a mutation with a known lsn (the latest one): after
  // the resync (ForgetRecovered) they are of that age instead of forgotten.
  absl::btree_map<std::string, uint64_t> changed_while_unknown_;
  // Files created under a hot directory while it stayed hot (Fresh).
  absl::btree_set<std::string> fresh_;
};

// The namespace journal (ReplicaDurableState::journal) grows by one entry per namespace
// change made without the peer, and is replayed in order on the peer at the next resync;
// every name it touches may also be sent whole (a replay that may have run before, a crash
// that may have undone a change here, the target's own changes). AppendToJournal keeps it
// short without changing either use: the compacted journal, replayed on any copy where the
// original would succeed, leaves the same tree, and it touches every name the original
// touched that may differ between the copies. Rules (X, A, B, Z names; "related": one is
// the other or lies under it; each rule only when no later entry is related to the names
// it moves):
//  - create/mkdir/symlink X ... unlink/rmdir/RemoveTree X: both go; a RemoveTree X stays
//    unless an earlier entry already removed X (X must be absent on both at the end, and a
//    crash or an interrupted replay may have left it on one side);
//  - a RemoveTree X where the last entry related to X removed X: dropped;
//  - truncate/setattr X ... unlink/rmdir/RemoveTree X: the truncate or setattr goes (the
//    name X stays touched by the removal);
//  - rename Z->A ... rename A->B (B not Z): one rename Z->B, with a RemoveTree A (the first
//    rename replaced whatever A held), unless A was already removed;
//  - create A, rename A->B ... create A, rename A->B: the first pair goes, with RemoveTree A
//    and RemoveTree B before the second (whatever the copy held, the second pair leaves A
//    absent and a fresh B).
// "rename" above is a plain one. A rename with flags is kept as it came and ends every rule
// that meets it: an exchange A<->B removes nothing ("create A, exchange A<->B" is not
// "create B", and "rename Z->A, exchange A<->B" moves Z's content to B and B's to A), and a
// no-replace rename fails on a copy that holds its target, as the original did (on this
// copy too, in a race the kernel's check missed: the entry is made before the apply).
// So a name created and removed any number of times costs at most one entry, and a file
// written under a temporary name and renamed over its final name, again and again, four.
// Each rule leaves the same tree as the original on ANY copy where the original's renames
// find their sources, not only on a copy at the journal's start: a replay may meet a copy
// that an interrupted replay, a crash or the target's own changes left different, and a
// create of a name that exists succeeds and changes nothing there (C13: the existing file
// keeps its owner, mode, data and xattrs). So "create A ... rename A->B" alone is never
// turned into "create B": on a copy holding A, the original moves that A to B.
// An unlink is taken not to name a directory.
// Entries are looked for among the last kJournalCompactionWindow only, so an append costs
// O(window) whatever the journal's length; beyond it, entries are kept as they came.
inline constexpr size_t kJournalCompactionWindow = 256;
void AppendToJournal(std::vector<Mutation>& journal, Mutation m);

}  // namespace duet

#endif  // DUET_ENGINE_REPLICATION_ACTIVITY_LOG_H_
