// Zones per file path: the dirty-zone map (what changed while the peer was away) and the
// activity log's hot zones both use it. Paths are kept ordered so that renaming a directory
// moves every file under it with one range scan.
#ifndef DUET_ENGINE_REPLICATION_ZONE_MAP_H_
#define DUET_ENGINE_REPLICATION_ZONE_MAP_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "engine/replication/zone_set.h"

namespace duet {

// One zone of one file.
struct ZoneRef {
  std::string path;
  uint64_t zone = 0;
  friend bool operator==(const ZoneRef&, const ZoneRef&) = default;
  friend auto operator<=>(const ZoneRef&, const ZoneRef&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const ZoneRef& z) {
    return H::combine(std::move(h), z.path, z.zone);
  }
};

class ZoneMap {
 public:
  // Marks the zones covering [offset, offset + length) (length 0 marks the zone at offset);
  // returns how many zones were newly marked.
  uint64_t MarkBytes(const std::string& path, uint64_t offset, uint64_t length, uint32_t zone_size);
  uint64_t MarkZones(const std::string& path, uint64_t first, uint64_t last);
  bool Contains(const std::string& path, uint64_t zone) const;
  bool Erase(const std::string& path, uint64_t zone);
  // Erases the zones of `path` in [first, last] (those it holds).
  void EraseZones(const std::string& path, uint64_t first, uint64_t last);
  void ErasePath(const std::string& path);  // and everything under it, as a directory
  // A zone of `path` or of a name under it is in the map (a Renamed, Removed or Truncated
  // record would change something).
  bool HoldsUnder(const std::string& path) const;
  // Drops zones from `size` on (the file was truncated to `size` bytes).
  void Truncate(const std::string& path, uint64_t size, uint32_t zone_size);
  // Moves `from` (a file, or a directory and everything under it) to `to`.
  void Rename(const std::string& from, const std::string& to);
  // `a` and `b` (each a file, or a directory and everything under it, matched by the part
  // after the name) each end with the zones either had: a rename with flags (an exchange,
  // a no-replace rename) is tracked so, since it may still fail on the disk once tracked;
  // whether it then moved the names or not, their changed zones are covered. Nothing when
  // one lies under the other (the kernel refuses that rename).
  void Blend(const std::string& a, const std::string& b);
  void Merge(const ZoneMap& other);
  // The first zone in (path, zone) order for which `pred` is true.
  template <class Pred>
  std::optional<ZoneRef> FindFirst(Pred&& pred) const {
    std::optional<ZoneRef> found;
    for (const auto& entry : files_) {
      const std::string& path = entry.first;  // (clang 14 cannot capture a structured binding)
      entry.second.ForEachWhile([&](uint64_t zone) {
        ZoneRef ref{path, zone};
        if (!pred(ref)) return true;
        found = std::move(ref);
        return false;
      });
      if (found) break;
    }
    return found;
  }
  uint64_t zones() const { return zones_; }
  bool empty() const { return zones_ == 0; }
  void clear() {
    files_.clear();
    zones_ = 0;
  }
  const absl::btree_map<std::string, ZoneSet>& files() const { return files_; }
  uint64_t MemoryBytes() const;

 private:
  // Takes `path` and everything under it out of the map, keyed by the part after `path`
  // (zones() counts them no more).
  std::vector<std::pair<std::string, ZoneSet>> Extract(const std::string& path);

  absl::btree_map<std::string, ZoneSet> files_;
  uint64_t zones_ = 0;
};

// True if `path` is `dir` or lies under it.
bool PathIsUnder(const std::string& path, const std::string& dir);
// The directory holding `path`; "" (the root) for a name directly under the root.
std::string ParentOf(const std::string& path);

}  // namespace duet

#endif  // DUET_ENGINE_REPLICATION_ZONE_MAP_H_
