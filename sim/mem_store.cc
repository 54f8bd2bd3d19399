#include "sim/mem_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/replication/zone_map.h"

namespace duet::sim {

absl::Status MemStore::Apply(const Mutation& m) {
  switch (m.kind) {
    case MutationKind::kWrite: {
      Entry& e = live_[m.path];
      if (e.kind != PathKind::kFile) return absl::FailedPreconditionError("not a file: " + m.path);
      const uint64_t end = m.offset + m.data_size();
      if (e.data.size() < end) e.data.resize(end, '\0');
      if (m.data)
        std::copy(m.data->begin(), m.data->end(), e.data.begin() + static_cast<long>(m.offset));
      return absl::OkStatus();
    }
    case MutationKind::kTruncate: {
      Entry& e = live_[m.path];
      if (e.kind != PathKind::kFile) return absl::FailedPreconditionError("not a file: " + m.path);
      e.data.resize(m.offset, '\0');
      return absl::OkStatus();
    }
    case MutationKind::kCreate:
    case MutationKind::kMkdir: {
      auto [it, inserted] = live_.try_emplace(m.path);
      if (inserted) {
        it->second.kind = m.kind == MutationKind::kMkdir ? PathKind::kDirectory : PathKind::kFile;
        it->second.mode = m.mode;
      }
      return absl::OkStatus();
    }
    case MutationKind::kUnlink:
      live_.erase(m.path);
      return absl::OkStatus();
    case MutationKind::kRmdir:
    case MutationKind::kRemoveTree:
      RemoveTree(m.path);
      return absl::OkStatus();
    case MutationKind::kRename:
      if (!live_.contains(m.path)) return absl::NotFoundError("rename source missing: " + m.path);
      MoveTree(m.path, m.path2);
      return absl::OkStatus();
    case MutationKind::kSymlink: {
      RemoveTree(m.path);
      Entry& e = live_[m.path];
      e.kind = PathKind::kSymlink;
      e.data = m.path2;
      return absl::OkStatus();
    }
    case MutationKind::kLink: {
      auto it = live_.find(m.path);
      if (it == live_.end()) return absl::NotFoundError("link source missing: " + m.path);
      live_[m.path2] = it->second;
      return absl::OkStatus();
    }
    case MutationKind::kSetattr: {
      auto it = live_.find(m.path);
      if (it == live_.end()) return absl::NotFoundError("setattr on missing " + m.path);
      it->second.mode = m.mode;
      it->second.mtime_ns = m.mtime_ns;
      return absl::OkStatus();
    }
    case MutationKind::kFsync:
      Sync(m.path);
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError("unknown mutation");
}

void MemStore::Sync(const std::string& path) {
  if (path.empty()) {
    durable_ = live_;
    return;
  }
  auto it = live_.find(path);
  if (it == live_.end()) {
    durable_.erase(path);
  } else {
    durable_[path] = it->second;
  }
}

void MemStore::RemoveTree(const std::string& path) {
  for (auto it = live_.lower_bound(path); it != live_.end() && PathIsUnder(it->first, path);) {
    it = live_.erase(it);
  }
  const std::string dir = path + "/";
  for (auto it = live_.lower_bound(dir);
       it != live_.end() && it->first.compare(0, dir.size(), dir) == 0;) {
    it = live_.erase(it);
  }
}

void MemStore::MoveTree(const std::string& from, const std::string& to) {
  if (from == to) return;
  Tree moved;
  if (auto it = live_.find(from); it != live_.end()) {
    moved[to] = std::move(it->second);
    live_.erase(it);
  }
  const std::string dir = from + "/";
  for (auto it = live_.lower_bound(dir);
       it != live_.end() && it->first.compare(0, dir.size(), dir) == 0;) {
    moved[to + it->first.substr(from.size())] = std::move(it->second);
    it = live_.erase(it);
  }
  RemoveTree(to);
  for (auto& [path, entry] : moved) live_[path] = std::move(entry);
}

ZoneRead MemStore::Read(ModuleIndex module, uint64_t read_id, const std::string& path,
                        uint64_t offset, uint64_t length) const {
  ZoneRead r;
  r.module = module;
  r.read_id = read_id;
  auto it = live_.find(path);
  if (it == live_.end()) {
    r.kind = PathKind::kAbsent;
    return r;
  }
  const Entry& e = it->second;
  r.kind = e.kind;
  r.mode = e.mode;
  if (e.kind == PathKind::kSymlink) r.link_target = e.data;
  if (e.kind == PathKind::kFile) {
    r.file_size = e.data.size();
    if (offset < e.data.size()) {
      r.data =
          MakePayload(e.data.substr(offset, std::min<uint64_t>(length, e.data.size() - offset)));
    } else {
      r.data = MakePayload("");
    }
  }
  return r;
}

uint64_t MemStore::FileBytes() const {
  uint64_t bytes = 0;
  for (const auto& [path, e] : live_) {
    if (e.kind == PathKind::kFile) bytes += e.data.size();
  }
  return bytes;
}

std::string DescribeDifference(const MemStore::Tree& a, const MemStore::Tree& b) {
  std::string out;
  for (const auto& [path, entry] : a) {
    auto it = b.find(path);
    if (it == b.end()) {
      absl::StrAppend(&out, "only in first: ", path, "\n");
    } else if (!(it->second == entry)) {
      const std::string& x = entry.data;
      const std::string& y = it->second.data;
      size_t first = 0;
      while (first < x.size() && first < y.size() && x[first] == y[first]) ++first;
      absl::StrAppend(&out, "differs: ", path, " (sizes ", x.size(), " vs ", y.size(), ", kinds ",
                      static_cast<int>(entry.kind), " vs ", static_cast<int>(it->second.kind),
                      ", modes ", entry.mode, " vs ", it->second.mode, ", first differing byte ",
                      first, ")\n");
    }
  }
  for (const auto& [path, entry] : b) {
    if (!a.contains(path)) absl::StrAppend(&out, "only in second: ", path, "\n");
  }
  return out;
}

}  // namespace duet::sim
