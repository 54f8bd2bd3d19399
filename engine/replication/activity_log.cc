#include "engine/replication/activity_log.h"

#include <algorithm>
#include <tuple>
#include <variant>

namespace duet {
namespace {

// Appends zone `zone` of `path` as a HotAdd or HotRemove (`Record`), extending the last
// record instead when it is one of the same kind ending at the zone before: a punch over
// many zones costs one record, not one per zone.
template <class Record>
void AppendZone(const std::string& path, uint64_t zone, std::vector<ReplicaRecord>& records) {
  if (!records.empty()) {
    auto* last = std::get_if<Record>(&records.back());
    if (last != nullptr && last->path == path && last->zone + last->count == zone) {
      ++last->count;
      return;
    }
  }
  records.push_back(Record{path, zone});
}

}  // namespace

ActivityLog::ActivityLog(size_t capacity, const ZoneMap& hot,
                         const absl::btree_set<std::string>& hot_names)
    : capacity_(capacity) {
  for (const std::string& path : hot_names) names_[path] = HotName{kUnknownLsn};
  for (const auto& file : hot.files()) {  // (clang 14 cannot capture a structured binding)
    file.second.ForEach([&](uint64_t zone) {
      ZoneRef ref{file.first, zone};
      lru_.push_back(ref);
      entries_[ref] = Entry{std::prev(lru_.end()), 0, /*recovered=*/true};
    });
  }
}

void ActivityLog::Touch(const std::string& path, uint64_t first, uint64_t last, uint64_t lsn,
                        absl::Time now, uint64_t peer_durable_lsn, const ZoneMap& hot,
                        std::vector<ReplicaRecord>& records) {
  // A fresh file's first zone: its directory is hot (fresh_ is emptied under a directory as it
  // cools), and goes whole with everything under it after a crash.
  const bool covered = first == 0 && last == 0 && fresh_.contains(path);
  if (covered) Refresh(names_.find(ParentOf(path)), lsn, now);
  for (uint64_t zone = first; zone <= last; ++zone) {
    ZoneRef ref{path, zone};
    auto it = entries_.find(ref);
    if (it != entries_.end()) {
      lru_.splice(lru_.end(), lru_, it->second.lru);
      it->second.last_lsn = lsn;
      it->second.last_write = now;
    } else {
      lru_.push_back(ref);
      entries_[ref] = Entry{std::prev(lru_.end()), lsn, false, now};
    }
    if (!covered && !hot.Contains(path, zone)) AppendZone<record::HotAdd>(path, zone, records);
  }
  // Cool the least recent zones the peer already holds durably, while over capacity. The
  // list is in write order (each touch moves a zone to the back with the newest lsn), so
  // the first zone not yet durable ends the scan; only zones recovered from a crash (of
  // unknown age, at the front until a resync) are stepped over.
  for (auto it = lru_.begin(); entries_.size() > capacity_ && it != lru_.end();) {
    auto entry = entries_.find(*it);
    if (entry->second.recovered) {
      ++it;
      continue;
    }
    if (entry->second.last_lsn > peer_durable_lsn) break;
    // (A fresh file's first zone was never persisted hot: nothing to write.)
    if (hot.Contains(it->path, it->zone))
      AppendZone<record::HotRemove>(it->path, it->zone, records);
    entries_.erase(entry);
    it = lru_.erase(it);
  }
}

void ActivityLog::CoolIdle(absl::Time written_by, uint64_t durable_lsn,
                           std::vector<ReplicaRecord>& records) {
  // The whole log is looked at (a rename with flags copies zones out of write order); in
  // (path, zone) order, so that runs of consecutive zones make one record each.
  std::vector<ZoneRef> idle;
  for (const ZoneRef& ref : lru_) {
    const Entry& entry = entries_.at(ref);
    if (!entry.recovered && entry.last_lsn <= durable_lsn && entry.last_write <= written_by) {
      idle.push_back(ref);
    }
  }
  std::sort(idle.begin(), idle.end(), [](const ZoneRef& a, const ZoneRef& b) {
    return std::tie(a.path, a.zone) < std::tie(b.path, b.zone);
  });
  for (const ZoneRef& ref : idle) {
    auto entry = entries_.find(ref);
    AppendZone<record::HotRemove>(ref.path, ref.zone, records);
    lru_.erase(entry->second.lru);
    entries_.erase(entry);
  }
}

bool ActivityLog::MayCool() const {
  if (!names_by_lsn_.empty()) return true;
  return std::any_of(entries_.begin(), entries_.end(),
                     [](const auto& entry) { return !entry.second.recovered; });
}

void ActivityLog::AddRecovered(const std::string& path, uint64_t zone, const ZoneMap& hot,
                               std::vector<ReplicaRecord>& records) {
  ZoneRef ref{path, zone};
  auto it = entries_.find(ref);
  if (it != entries_.end()) {
    it->second.recovered = true;
  } else {
    lru_.push_front(ref);
    entries_[ref] = Entry{lru_.begin(), 0, /*recovered=*/true};
  }
  if (!hot.Contains(path, zone)) AppendZone<record::HotAdd>(path, zone, records);
}

void ActivityLog::AddRecoveredName(const std::string& path,
                                   const absl::btree_set<std::string>& hot_names,
                                   std::vector<ReplicaRecord>& records) {
  TouchName(path, kUnknownLsn, absl::InfinitePast(), hot_names, records);
}

void ActivityLog::TouchNamespace(const Mutation& m, uint64_t lsn, absl::Time now,
                                 const absl::btree_set<std::string>& hot_names,
                                 std::vector<ReplicaRecord>& records) {
  switch (m.kind) {
    case MutationKind::kCreate:
    case MutationKind::kMknod:
    case MutationKind::kSymlink:
    case MutationKind::kMkdir:
    case MutationKind::kUnlink:
    case MutationKind::kRmdir:
    case MutationKind::kRemoveTree:
      TouchEntry(m.path, lsn, now, hot_names, records);
      if (m.kind == MutationKind::kCreate && !ParentOf(m.path).empty()) fresh_.insert(m.path);
      return;
    case MutationKind::kRename:
      TouchEntry(m.path, lsn, now, hot_names, records);
      TouchEntry(m.path2, lsn, now, hot_names, records);
      return;
    default:
      break;
  }
  // A change of the file itself (its content, attributes, link count): under a hot directory
  // it goes whole with it already.
  ForEachChangedName(m, [&](const std::string& path) {
    const std::string parent = ParentOf(path);
    auto it = parent.empty() ? names_.end() : names_.find(parent);
    if (it != names_.end()) {
      Refresh(it, lsn, now);
    } else {
      TouchName(path, lsn, now, hot_names, records);
    }
  });
}

void ActivityLog::TouchEntry(const std::string& path, uint64_t lsn, absl::Time now,
                             const absl::btree_set<std::string>& hot_names,
                             std::vector<ReplicaRecord>& records) {
  // The root never goes whole as a directory (a resync lists under a name, not under ""):
  // a name directly under it is hot itself.
  const std::string parent = ParentOf(path);
  TouchName(parent.empty() ? path : parent, lsn, now, hot_names, records);
}

void ActivityLog::TouchName(const std::string& path, uint64_t lsn, absl::Time now,
                            const absl::btree_set<std::string>& hot_names,
                            std::vector<ReplicaRecord>& records) {
  auto [it, inserted] = names_.try_emplace(path, HotName{lsn, now});
  if (inserted) {
    if (lsn != kUnknownLsn) names_by_lsn_.insert({lsn, path});
  } else if (lsn == kUnknownLsn) {
    if (it->second.lsn != kUnknownLsn) names_by_lsn_.erase({it->second.lsn, path});
    it->second.lsn = kUnknownLsn;
  } else {
    Refresh(it, lsn, now);
  }
  if (!hot_names.contains(path)) records.push_back(record::HotNameAdd{path});
}

void ActivityLog::Refresh(absl::btree_map<std::string, HotName>::iterator it, uint64_t lsn,
                          absl::Time now) {
  const std::string& path = it->first;
  HotName& name = it->second;
  name.changed = std::max(name.changed, now);
  // A name of unknown age (recovered) stays so: it never cools before a resync. What changes
  // it again meanwhile is remembered: the resync that ends its doubt may not carry that.
  if (name.lsn == kUnknownLsn) {
    uint64_t& since = changed_while_unknown_[path];
    since = std::max(since, lsn);
    return;
  }
  names_by_lsn_.erase({name.lsn, path});
  name.lsn = lsn;
  names_by_lsn_.insert({lsn, path});
}

void ActivityLog::CoolNames(absl::Time changed_by, uint64_t durable_lsn,
                            std::vector<ReplicaRecord>& records) {
  std::vector<std::string> idle;
  for (const auto& [lsn, path] : names_by_lsn_) {
    if (lsn > durable_lsn) break;
    if (names_.at(path).changed <= changed_by) idle.push_back(path);
  }
  for (const std::string& path : idle) CoolName(names_.find(path), records);
}

absl::btree_map<std::string, ActivityLog::HotName>::iterator ActivityLog::CoolName(
    absl::btree_map<std::string, HotName>::iterator it, std::vector<ReplicaRecord>& records) {
  records.push_back(record::HotNameRemove{it->first});
  if (it->second.lsn != kUnknownLsn) names_by_lsn_.erase({it->second.lsn, it->first});
  // Its fresh files' first zones are no longer covered: a write to one makes it hot. (Their
  // writes so far are durable on both: each was a change of this name.)
  const std::string dir = it->first + "/";
  for (auto f = fresh_.lower_bound(dir);
       f != fresh_.end() && f->compare(0, dir.size(), dir) == 0;) {
    f = f->find('/', dir.size()) == std::string::npos ? fresh_.erase(f) : std::next(f);
  }
  return names_.erase(it);
}

void ActivityLog::ForgetFreshUnder(const std::string& path) {
  for (auto f = fresh_.lower_bound(path);
       f != fresh_.end() && f->compare(0, path.size(), path) == 0;) {
    f = PathIsUnder(*f, path) ? fresh_.erase(f) : std::next(f);
  }
}

void ActivityLog::Rename(const std::string& from, const std::string& to, uint64_t lsn,
                         const absl::btree_set<std::string>& hot_names,
                         std::vector<ReplicaRecord>& records) {
  // rename(2) of a name onto itself changes nothing (as ZoneMap::Rename for the durable map).
  if (from == to) return;
  Remove(to);
  ForgetFreshUnder(from);
  for (ZoneRef& ref : lru_) {
    if (PathIsUnder(ref.path, from)) {
      Entry entry = entries_[ref];
      entries_.erase(ref);
      ref.path = to + ref.path.substr(from.size());
      entries_[ref] = entry;
    }
  }
  CarryHotNames(MakeMutation(MutationKind::kRename, from, to), lsn, hot_names, records);
}

void ActivityLog::CarryHotNames(const Mutation& rename, uint64_t lsn,
                                const absl::btree_set<std::string>& hot_names,
                                std::vector<ReplicaRecord>& records) {
  std::vector<std::pair<std::string, HotName>> carried;
  for (const auto& [path, name] : names_) {
    const std::string after = NameAfterRename(rename, path);
    if (after == path) continue;
    const uint64_t last = name.lsn == kUnknownLsn ? kUnknownLsn : std::max(name.lsn, lsn);
    carried.emplace_back(after, HotName{last, name.changed});
  }
  for (const auto& [path, name] : carried) {
    auto it = names_.find(path);
    // Already hot there: it keeps whichever doubt lasts longer.
    if (it != names_.end() && (it->second.lsn == kUnknownLsn || it->second.lsn >= name.lsn)) {
      continue;
    }
    TouchName(path, name.lsn, name.changed, hot_names, records);
  }
}

void ActivityLog::Blend(const std::string& a, const std::string& b, uint64_t lsn,
                        const absl::btree_set<std::string>& hot_names,
                        std::vector<ReplicaRecord>& records) {
  if (PathIsUnder(a, b) || PathIsUnder(b, a)) return;
  ForgetFreshUnder(a);
  ForgetFreshUnder(b);
  Mutation exchange = MakeMutation(MutationKind::kRename, a, b);
  exchange.rename_flags = kRenameExchange;
  CarryHotNames(exchange, lsn, hot_names, records);
  std::vector<std::pair<ZoneRef, Entry>> copies;
  for (const ZoneRef& ref : lru_) {
    if (!PathIsUnder(ref.path, a) && !PathIsUnder(ref.path, b)) continue;
    copies.emplace_back(ZoneRef{NameAfterRename(exchange, ref.path), ref.zone}, entries_.at(ref));
  }
  for (auto& [ref, copy] : copies) {
    auto it = entries_.find(ref);
    if (it == entries_.end()) {
      lru_.push_back(ref);
      copy.lru = std::prev(lru_.end());
      entries_[ref] = copy;
    } else {
      // The newer of the two (unknown, from a crash, counts as newest).
      Entry& entry = it->second;
      entry.recovered = entry.recovered || copy.recovered;
      entry.last_lsn = std::max(entry.last_lsn, copy.last_lsn);
      entry.last_write = std::max(entry.last_write, copy.last_write);
    }
  }
}

void ActivityLog::Remove(const std::string& path) {
  ForgetFreshUnder(path);
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
  // (Their lsn is that of their last write here, or 0: a zone written again during the
  // resync still waits for that write to be durable on both.)
  for (auto& [ref, entry] : entries_) entry.recovered = false;
  for (auto it = names_.begin(); it != names_.end();) {
    if (it->second.lsn != kUnknownLsn) {
      ++it;
    } else if (auto since = changed_while_unknown_.find(it->first);
               since != changed_while_unknown_.end()) {
      // Changed again by a mutation the peer may still lack (the stream is not the
      // resync): it waits for that one, as any other name (a name's zones do the same).
      it->second.lsn = since->second;
      names_by_lsn_.insert({it->second.lsn, it->first});
      ++it;
    } else {
      it = CoolName(it, records);
    }
  }
  changed_while_unknown_.clear();
}

void ActivityLog::Clear() {
  lru_.clear();
  entries_.clear();
  names_.clear();
  names_by_lsn_.clear();
  changed_while_unknown_.clear();
  fresh_.clear();
}

// ----- The namespace journal's compaction ----------------------------------------------

namespace {

bool Related(const std::string& a, const std::string& b) {
  return PathIsUnder(a, b) || PathIsUnder(b, a);
}

bool Touches(const Mutation& m, const std::string& name) {
  bool touches = false;
  ForEachChangedName(m, [&](const std::string& path) { touches |= Related(path, name); });
  return touches;
}

size_t WindowStart(const std::vector<Mutation>& journal) {
  return journal.size() > kJournalCompactionWindow ? journal.size() - kJournalCompactionWindow : 0;
}

// The index of the last entry related to `name` within the window, or npos.
size_t LastRelated(const std::vector<Mutation>& journal, const std::string& name) {
  for (size_t i = journal.size(); i > WindowStart(journal); --i) {
    if (Touches(journal[i - 1], name)) return i - 1;
  }
  return std::string::npos;
}

// The index of the last entry before `index` (within the window) related to `a` or `b`.
size_t LastRelatedBefore(const std::vector<Mutation>& journal, size_t index, const std::string& a,
                         const std::string& b) {
  for (size_t i = index; i > WindowStart(journal); --i) {
    if (Touches(journal[i - 1], a) || Touches(journal[i - 1], b)) return i - 1;
  }
  return std::string::npos;
}

bool RelatedAfter(const std::vector<Mutation>& journal, size_t index, const std::string& name) {
  for (size_t i = index + 1; i < journal.size(); ++i) {
    if (Touches(journal[i], name)) return true;
  }
  return false;
}

// The entry leaves exactly `name` absent (and touches nothing else related to it).
bool Removes(const Mutation& m, const std::string& name) {
  switch (m.kind) {
    case MutationKind::kUnlink:
    case MutationKind::kRmdir:
    case MutationKind::kRemoveTree:
      return m.path == name;
    case MutationKind::kRename:
      return m.rename_flags == 0 && m.path == name && !Related(m.path2, name);
    default:
      return false;
  }
}

bool PlainRename(const Mutation& m) {
  return m.kind == MutationKind::kRename && m.rename_flags == 0;
}

bool Creates(const Mutation& m, const std::string& name) {
  return m.path == name && (m.kind == MutationKind::kCreate || m.kind == MutationKind::kMkdir ||
                            m.kind == MutationKind::kSymlink);
}

bool UndoesCreate(MutationKind created, MutationKind removal) {
  switch (removal) {
    case MutationKind::kRemoveTree:
      return true;
    case MutationKind::kUnlink:
      return created != MutationKind::kMkdir;
    case MutationKind::kRmdir:
      return created == MutationKind::kMkdir;
    default:
      return false;
  }
}

void AppendRemoval(std::vector<Mutation>& journal, const std::string& name) {
  AppendToJournal(journal, MakeMutation(MutationKind::kRemoveTree, name));
}

}  // namespace

void AppendToJournal(std::vector<Mutation>& journal, Mutation m) {
  m.DropFileData();
  const std::string& x = m.path;
  switch (m.kind) {
    case MutationKind::kUnlink:
    case MutationKind::kRmdir:
    case MutationKind::kRemoveTree: {
      const size_t last = LastRelated(journal, x);
      if (last == std::string::npos) break;
      if (m.kind == MutationKind::kRemoveTree && Removes(journal[last], x)) return;
      // A change of a name's content or attributes that its removal makes moot.
      if ((journal[last].kind == MutationKind::kTruncate ||
           journal[last].kind == MutationKind::kSetattr) &&
          journal[last].path == x) {
        journal.erase(journal.begin() + static_cast<ptrdiff_t>(last));
        AppendToJournal(journal, std::move(m));
        return;
      }
      if (Creates(journal[last], x) && UndoesCreate(journal[last].kind, m.kind)) {
        journal.erase(journal.begin() + static_cast<ptrdiff_t>(last));
        AppendRemoval(journal, x);
        return;
      }
      break;
    }
    case MutationKind::kRename: {
      const std::string& a = m.path;
      const std::string& b = m.path2;
      if (!PlainRename(m) || Related(a, b)) break;
      const size_t last = LastRelated(journal, a);
      if (last == std::string::npos) break;
      Mutation& earlier = journal[last];
      if (PlainRename(earlier) && earlier.path2 == a) {
        // rename Z->A ... rename A->B
        const std::string z = earlier.path;
        if (Related(z, a) || Related(z, b) || RelatedAfter(journal, last, z)) break;
        journal.erase(journal.begin() + static_cast<ptrdiff_t>(last));
        AppendRemoval(journal, a);
        AppendToJournal(journal, MakeMutation(MutationKind::kRename, z, b));
        return;
      }
      if (earlier.kind == MutationKind::kCreate && earlier.path == a &&
          !RelatedAfter(journal, last, b)) {
        // create A, rename A->B ... create A, rename A->B: the first pair is moot.
        const size_t earlier_rename = LastRelatedBefore(journal, last, a, b);
        if (earlier_rename == std::string::npos) break;
        const Mutation& r = journal[earlier_rename];
        if (!PlainRename(r) || r.path != a || r.path2 != b) break;
        const size_t earlier_create = LastRelatedBefore(journal, earlier_rename, a, b);
        if (earlier_create == std::string::npos || !Creates(journal[earlier_create], a) ||
            journal[earlier_create].kind != MutationKind::kCreate) {
          break;
        }
        Mutation create = std::move(earlier);
        journal.erase(journal.begin() + static_cast<ptrdiff_t>(last));
        journal.erase(journal.begin() + static_cast<ptrdiff_t>(earlier_rename));
        journal.erase(journal.begin() + static_cast<ptrdiff_t>(earlier_create));
        AppendRemoval(journal, a);
        AppendRemoval(journal, b);
        journal.push_back(std::move(create));
        journal.push_back(std::move(m));
        return;
      }
      break;
    }
    default:
      break;
  }
  journal.push_back(std::move(m));
}

}  // namespace duet
