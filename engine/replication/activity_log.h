// The activity log's memory (DRBD's): which hot zones were used least recently and the
// newest stream LSN that wrote each. Membership itself is ReplicaDurableState::hot, changed
// only through records. A zone is made hot before a write to it is sent; it cools lazily,
// only when the log is over capacity and only once the peer has the zone's last write
// durably, so a sequential or hot-spot workload pays one persist per new zone, not per write.
#ifndef DUET_ENGINE_REPLICATION_ACTIVITY_LOG_H_
#define DUET_ENGINE_REPLICATION_ACTIVITY_LOG_H_

#include <cstdint>
#include <list>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/replication/replica_state.h"
#include "engine/replication/zone_map.h"

namespace duet {

class ActivityLog {
 public:
  // `hot` is the persisted set (possibly left by a crash); its zones start least recent.
  ActivityLog(size_t capacity, const ZoneMap& hot);

  // A write with `lsn` touches zones [first, last] of `path`: appends HotAdd records for
  // zones not yet hot and HotRemove records for zones cooled to make room (only zones
  // whose last write is at or below `peer_durable_lsn`).
  void Touch(const std::string& path, uint64_t first, uint64_t last, uint64_t lsn,
             uint64_t peer_durable_lsn, const ZoneMap& hot, std::vector<ReplicaRecord>& records);
  // Zones the peer may lack: last written above `peer_durable_lsn`, or of unknown age
  // (recovered from the persisted log after a restart).
  template <class F>
  void ForEachNotDurable(uint64_t peer_durable_lsn, F&& f) const {
    for (const ZoneRef& ref : lru_) {
      const uint64_t last = entries_.at(ref).last_lsn;
      if (last == kUnknownLsn || last > peer_durable_lsn) f(ref);
    }
  }
  static constexpr uint64_t kUnknownLsn = ~0ull;
  void Rename(const std::string& from, const std::string& to);
  void Remove(const std::string& path);
  void Clear();
  // After a resync, zones recovered from a crash are as good as any other: they may cool.
  void ForgetRecovered();
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::list<ZoneRef>::iterator lru;
    uint64_t last_lsn = 0;
  };
  size_t capacity_;
  std::list<ZoneRef> lru_;  // front: least recently used
  absl::flat_hash_map<ZoneRef, Entry> entries_;
};

}  // namespace duet

#endif  // DUET_ENGINE_REPLICATION_ACTIVITY_LOG_H_
