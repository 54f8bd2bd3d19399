#include "engine/replication/activity_log.h"

namespace duet {

ActivityLog::ActivityLog(size_t capacity, const ZoneMap& hot) : capacity_(capacity) {
  for (const auto& [path, zones] : hot.files()) {
    zones.ForEach([&](uint64_t zone) {
      ZoneRef ref{path, zone};
      lru_.push_back(ref);
      entries_[ref] = Entry{std::prev(lru_.end()), kUnknownLsn};
    });
  }
}

void ActivityLog::Touch(const std::string& path, uint64_t first, uint64_t last, uint64_t lsn,
                        uint64_t peer_durable_lsn, const ZoneMap& hot,
                        std::vector<ReplicaRecord>& records) {
  for (uint64_t zone = first; zone <= last; ++zone) {
    ZoneRef ref{path, zone};
    auto it = entries_.find(ref);
    if (it != entries_.end()) {
      lru_.splice(lru_.end(), lru_, it->second.lru);
      it->second.last_lsn = lsn;
    } else {
      lru_.push_back(ref);
      entries_[ref] = Entry{std::prev(lru_.end()), lsn};
    }
    if (!hot.Contains(path, zone)) records.push_back(record::HotAdd{path, zone});
  }
  // Cool the least recent zones the peer already holds durably, while over capacity. The
  // list is in write order (each touch moves a zone to the back with the newest lsn), so
  // the first zone not yet durable ends the scan; only zones recovered from a crash (of
  // unknown age, at the front until a resync) are stepped over.
  for (auto it = lru_.begin(); entries_.size() > capacity_ && it != lru_.end();) {
    auto entry = entries_.find(*it);
    if (entry->second.last_lsn == kUnknownLsn) {
      ++it;
      continue;
    }
    if (entry->second.last_lsn > peer_durable_lsn) break;
    records.push_back(record::HotRemove{it->path, it->zone});
    entries_.erase(entry);
    it = lru_.erase(it);
  }
}

void ActivityLog::Rename(const std::string& from, const std::string& to) {
  Remove(to);
  for (ZoneRef& ref : lru_) {
    if (PathIsUnder(ref.path, from)) {
      Entry entry = entries_[ref];
      entries_.erase(ref);
      ref.path = to + ref.path.substr(from.size());
      entries_[ref] = entry;
    }
  }
}

void ActivityLog::Remove(const std::string& path) {
  for (auto it = lru_.begin(); it != lru_.end();) {
    if (PathIsUnder(it->path, path)) {
      entries_.erase(*it);
      it = lru_.erase(it);
    } else {
      ++it;
    }
  }
}

void ActivityLog::ForgetRecovered() {
  for (auto& [ref, entry] : entries_) {
    if (entry.last_lsn == kUnknownLsn) entry.last_lsn = 0;
  }
}

void ActivityLog::Clear() {
  lru_.clear();
  entries_.clear();
}

}  // namespace duet
