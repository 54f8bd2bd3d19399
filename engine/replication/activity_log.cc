#include "engine/replication/activity_log.h"

namespace duet {

ActivityLog::ActivityLog(size_t capacity, const ZoneMap& hot,
                         const absl::btree_set<std::string>& hot_names)
    : capacity_(capacity) {
  for (const std::string& path : hot_names) names_[path] = kUnknownLsn;
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

void ActivityLog::AddRecovered(const std::string& path, uint64_t zone, const ZoneMap& hot,
                               std::vector<ReplicaRecord>& records) {
  ZoneRef ref{path, zone};
  auto it = entries_.find(ref);
  if (it != entries_.end()) {
    it->second.last_lsn = kUnknownLsn;
  } else {
    lru_.push_front(ref);
    entries_[ref] = Entry{lru_.begin(), kUnknownLsn};
  }
  if (!hot.Contains(path, zone)) records.push_back(record::HotAdd{path, zone});
}

void ActivityLog::AddRecoveredName(const std::string& path,
                                   const absl::btree_set<std::string>& hot_names,
                                   std::vector<ReplicaRecord>& records) {
  TouchName(path, kUnknownLsn, hot_names, records);
}

void ActivityLog::TouchName(const std::string& path, uint64_t lsn,
                            const absl::btree_set<std::string>& hot_names,
                            std::vector<ReplicaRecord>& records) {
  auto [it, inserted] = names_.try_emplace(path, lsn);
  if (!inserted && it->second != kUnknownLsn) {
    names_by_lsn_.erase({it->second, path});
    it->second = lsn;
  }
  // A name of unknown age (recovered) stays so: it never cools before a resync.
  if (lsn != kUnknownLsn && it->second == lsn) names_by_lsn_.insert({lsn, path});
  if (!hot_names.contains(path)) records.push_back(record::HotNameAdd{path});
}

void ActivityLog::CoolNames(uint64_t durable_lsn, std::vector<ReplicaRecord>& records) {
  while (!names_by_lsn_.empty() && names_by_lsn_.begin()->first <= durable_lsn) {
    const std::string& path = names_by_lsn_.begin()->second;
    records.push_back(record::HotNameRemove{path});
    names_.erase(path);
    names_by_lsn_.erase(names_by_lsn_.begin());
  }
}

void ActivityLog::Rename(const std::string& from, const std::string& to) {
  // rename(2) of a name onto itself changes nothing (as ZoneMap::Rename for the durable map).
  if (from == to) return;
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

void ActivityLog::ForgetRecovered(std::vector<ReplicaRecord>& records) {
  for (auto& [ref, entry] : entries_) {
    if (entry.last_lsn == kUnknownLsn) entry.last_lsn = 0;
  }
  for (auto it = names_.begin(); it != names_.end();) {
    if (it->second == kUnknownLsn) {
      records.push_back(record::HotNameRemove{it->first});
      it = names_.erase(it);
    } else {
      ++it;
    }
  }
}

void ActivityLog::Clear() {
  lru_.clear();
  entries_.clear();
  names_.clear();
  names_by_lsn_.clear();
}

}  // namespace duet
