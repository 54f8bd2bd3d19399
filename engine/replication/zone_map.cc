#include "engine/replication/zone_map.h"

#include <vector>

namespace duet {

bool PathIsUnder(const std::string& path, const std::string& dir) {
  return path.size() >= dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         (path.size() == dir.size() || path[dir.size()] == '/');
}

std::string ParentOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

bool ZoneMap::HoldsUnder(const std::string& path) const {
  const auto holds = [](const auto& entry) { return !entry.second.empty(); };
  if (auto it = files_.find(path); it != files_.end() && holds(*it)) return true;
  const std::string dir = path + "/";
  for (auto it = files_.lower_bound(dir);
       it != files_.end() && it->first.compare(0, dir.size(), dir) == 0; ++it) {
    if (holds(*it)) return true;
  }
  return false;
}

uint64_t ZoneMap::MarkBytes(const std::string& path, uint64_t offset, uint64_t length,
                            uint32_t zone_size) {
  const uint64_t first = offset / zone_size;
  const uint64_t last = length == 0 ? first : (offset + length - 1) / zone_size;
  return MarkZones(path, first, last);
}

uint64_t ZoneMap::MarkZones(const std::string& path, uint64_t first, uint64_t last) {
  const uint64_t added = files_[path].InsertRange(first, last);
  zones_ += added;
  return added;
}

bool ZoneMap::Contains(const std::string& path, uint64_t zone) const {
  auto it = files_.find(path);
  return it != files_.end() && it->second.Contains(zone);
}

bool ZoneMap::Erase(const std::string& path, uint64_t zone) {
  auto it = files_.find(path);
  if (it == files_.end() || !it->second.Erase(zone)) return false;
  --zones_;
  if (it->second.empty()) files_.erase(it);
  return true;
}

void ZoneMap::EraseZones(const std::string& path, uint64_t first, uint64_t last) {
  auto it = files_.find(path);
  if (it == files_.end()) return;
  // The zones held in the range, not the range itself: a range may be far larger than the
  // file's zones (a recovered record's), and erasing while iterating is not allowed.
  std::vector<uint64_t> held;
  it->second.ForEachWhile([&](uint64_t zone) {
    if (zone > last) return false;
    if (zone >= first) held.push_back(zone);
    return true;
  });
  for (uint64_t zone : held) it->second.Erase(zone);
  zones_ -= held.size();
  if (it->second.empty()) files_.erase(it);
}

void ZoneMap::ErasePath(const std::string& path) {
  if (auto it = files_.find(path); it != files_.end()) {
    zones_ -= it->second.size();
    files_.erase(it);
  }
  const std::string dir = path + "/";
  for (auto it = files_.lower_bound(dir);
       it != files_.end() && it->first.compare(0, dir.size(), dir) == 0;) {
    zones_ -= it->second.size();
    it = files_.erase(it);
  }
}

void ZoneMap::Truncate(const std::string& path, uint64_t size, uint32_t zone_size) {
  auto it = files_.find(path);
  if (it == files_.end()) return;
  const uint64_t before = it->second.size();
  it->second.EraseFrom((size + zone_size - 1) / zone_size);
  zones_ -= before - it->second.size();
  if (it->second.empty()) files_.erase(it);
}

std::vector<std::pair<std::string, ZoneSet>> ZoneMap::Extract(const std::string& path) {
  std::vector<std::pair<std::string, ZoneSet>> taken;
  if (auto it = files_.find(path); it != files_.end()) {
    zones_ -= it->second.size();
    taken.emplace_back("", std::move(it->second));
    files_.erase(it);
  }
  const std::string dir = path + "/";
  for (auto it = files_.lower_bound(dir);
       it != files_.end() && it->first.compare(0, dir.size(), dir) == 0;) {
    zones_ -= it->second.size();
    taken.emplace_back(it->first.substr(path.size()), std::move(it->second));
    it = files_.erase(it);
  }
  return taken;
}

void ZoneMap::Rename(const std::string& from, const std::string& to) {
  if (from == to) return;
  ErasePath(to);  // rename replaces the destination
  for (auto& [rest, zones] : Extract(from)) {
    zones_ += zones.size();
    files_[to + rest] = std::move(zones);
  }
}

void ZoneMap::Blend(const std::string& a, const std::string& b) {
  if (PathIsUnder(a, b) || PathIsUnder(b, a)) return;
  absl::btree_map<std::string, ZoneSet> either;  // by the part after the name
  for (auto& [rest, zones] : Extract(a)) either[rest].Merge(zones);
  for (auto& [rest, zones] : Extract(b)) either[rest].Merge(zones);
  for (auto& [rest, zones] : either) {
    zones_ += 2 * zones.size();
    files_[a + rest] = zones;
    files_[b + rest] = std::move(zones);
  }
}

void ZoneMap::Merge(const ZoneMap& other) {
  for (const auto& [path, zones] : other.files_) {
    ZoneSet& mine = files_[path];
    const uint64_t before = mine.size();
    mine.Merge(zones);
    zones_ += mine.size() - before;
  }
}

uint64_t ZoneMap::MemoryBytes() const {
  uint64_t bytes = sizeof(*this);
  for (const auto& [path, zones] : files_) bytes += path.capacity() + zones.MemoryBytes() + 16;
  return bytes;
}

}  // namespace duet
