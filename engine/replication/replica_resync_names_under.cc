// Replica, the names under a directory that a resync sends whole (issue 11). A block for a
// directory carries the directory alone; when a rename or removal changed the name on either
// copy (a split brain's branches, a journal replay refused on the target, a namespace change
// in flight at a crash), the names under it may differ too, and the directory alone would
// leave the target without the source's names under it, or with names the source lacks.
//  - The target asks for such a name whole with `names_under` (ReplTargetZones): its
//    journal's renames (both names) and removals, its names hot after a crash (their kind is
//    not kept), and the names of a source's replayed rename or removal refused here.
//  - The source, once a zone-0 read shows a directory there (so a file or an absent name
//    costs nothing more), lists its tree and sends every name under it whole; its own hot
//    names and the renames and removals of a journal replayed again go the same way.
//  - The target lists its own tree under the names a rename may have moved names into (its
//    new names, and hot names) once the source's block shows a directory there, and asks for
//    zone 0 of each name under it: the source answers the ones it lacks as absent, which
//    removes them here, and sends its own whole anyway.
// A name touched only by other changes (a chmod of a large tree) still goes alone. A listing
// is of the whole tree (ListTree); one serves every name waiting when it is issued. The
// discarded branch is kept aside before any of it is overwritten, as for the names
// themselves: a kept directory is kept with everything under it (PreserveDivergent).
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/replication/replica.h"

namespace duet {
namespace {

// `path` lies strictly under one of `names` ("" is the root, above every other name).
bool UnderAny(const std::string& path, const absl::btree_set<std::string>& names) {
  if (path.empty() || names.empty()) return false;
  if (names.contains("")) return true;
  for (size_t slash = path.find('/'); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    if (names.contains(path.substr(0, slash))) return true;
  }
  return false;
}

}  // namespace

void Replica::NamesUnderOf(const Mutation& m, absl::btree_set<std::string>& ask,
                           absl::btree_set<std::string>& list_here) {
  switch (m.kind) {
    case MutationKind::kRename:
      ask.insert(m.path);
      ask.insert(m.path2);
      // What held the old name now sits under the new one (both, for an exchange).
      list_here.insert(m.path2);
      if (m.is_exchange()) list_here.insert(m.path);
      return;
    case MutationKind::kRmdir:
    case MutationKind::kRemoveTree:
      ask.insert(m.path);
      return;
    default:
      return;
  }
}

void Replica::ListNamesUnder(const std::string& name, Actions& out) {
  if (full_resync_) return;
  names_under_waiting_.insert(name);
  if (list_id_ == 0 && list_retry_at_ == absl::InfiniteFuture()) IssueListTree(out);
}

bool Replica::NamesUnderPending() const {
  return !names_under_waiting_.empty() || !names_under_listing_.empty();
}

bool Replica::ListNamesUnderIfAsked(const std::string& path, const ZoneRead& read, Actions& out) {
  if (!read.status.ok() || read.kind != PathKind::kDirectory) return false;
  if (names_under_.erase(path) == 0) return false;
  ListNamesUnder(path, out);
  return true;
}

void Replica::SendWhole(const std::string& path, std::vector<ReplicaRecord>& records,
                        Actions& out) {
  whole_paths_.insert(path);
  uncompared_paths_.insert(path);
  // Its attributes and xattrs too, which only a block of zone 0 carries: no zone of it is
  // compared.
  absl::erase_if(target_digests_, [&](const auto& entry) { return entry.first.path == path; });
  const ZoneRef first{path, 0};
  if (reading_.contains(first) && names_under_.contains(path)) {
    // Its first zone went already without saying that the names under it go too (a
    // directory's block must, for the target to list its own): it goes again. Read anew, it
    // also learns a file's size.
    ForgetSent(first);
  } else if (reading_.contains(first)) {
    // Its first zone went (or goes) already: learn the file's size with a probe read.
    const uint64_t id = NextId();
    probes_[id] = path;
    out.push_back(ReadZone{module_, id, path, 0, 0});
  }
  if (!durable_.dirty.Contains(path, 0)) {
    records.push_back(record::MarkDirty{path, 0, 0});
    resync_total_ += opt_.zone_size;
  }
}

void Replica::OnNamesUnderListed(absl::Time now, const TreeListed& listed, Actions& out) {
  const absl::btree_set<std::string> names = std::move(names_under_listing_);
  names_under_listing_.clear();
  std::vector<std::string> under;
  for (const std::string& path : listed.paths) {
    if (!UnderAny(path, names)) continue;
    under.push_back(path);
    // Listed before the renames applied here since (a live exchange of the directory): the
    // name goes where it is now too (and where it was, should a rename with flags have
    // failed on the disk; read again, it goes as it is there).
    if (std::string moved = NameNowOfListed(path); moved != path) under.push_back(std::move(moved));
  }
  std::sort(under.begin(), under.end());  // the listing's order is the adapter's
  under.erase(std::unique(under.begin(), under.end()), under.end());
  if (source_active_) {
    std::vector<ReplicaRecord> records;
    for (const std::string& path : under) SendWhole(path, records, out);
    Persist(std::move(records), out);
  } else if (target_active_) {
    for (std::string& path : under) RequestFromSource(std::move(path), {0}, false, out);
  }
  if (!names_under_waiting_.empty()) IssueListTree(out);
  if (source_active_) {
    IssueReads(now, out);
    MaybeFinishSource(out);
  } else if (target_active_) {
    MaybeFinishTarget(out);
  }
}

}  // namespace duet
