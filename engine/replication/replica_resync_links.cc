// Replica, a resync source's linked names and renamed names (DESIGN.md §5). A full resync
// creates every name on the target, which would split hard links: the first name of a linked
// file carries its data and the others follow as links to it once it is applied
// (SendAsLinkOrWait); names the application renames or removes while the resync runs move
// the plan with them (FollowLinkedNames) and their zones in flight are read again
// (ResendChangedNames), as their acknowledgements would speak of other bytes.
#include <string>
#include <utility>
#include <vector>

#include "engine/replication/replica.h"
#include "engine/replication/resync_cost.h"
#include "engine/replication/zone_math.h"

namespace duet {

bool Replica::SendAsLinkOrWait(absl::Time now, const ZoneRef& zone, uint64_t lsn,
                               const ZoneRead& read, Actions& out) {
  // An incremental resync writes zones into the target's files in place, which keeps the
  // links the target has; a full one creates every name, and would split them.
  if (!full_resync_ || read.kind != PathKind::kFile || read.link_inode == 0) return false;
  if (zone.zone != 0) {
    auto file = linked_files_.find({read.link_device, read.link_inode});
    if (file == linked_files_.end() || file->second.first == zone.path) return false;
    // Another name's zone: the first name carries the file's data (if that name goes, this
    // one's first zone is read again and plans the whole file).
    reading_.erase(zone);
    Persist({record::MarkClean{zone.path, zone.zone}}, out);
    IssueReads(now, out);
    MaybeFinishSource(out);
    return true;
  }
  auto [it, first] = linked_files_.try_emplace({read.link_device, read.link_inode});
  LinkedFile& file = it->second;
  if (first) file.first = zone.path;
  if (file.first == zone.path) return false;  // the name that carries the data
  if (!file.first_applied) {
    // Stays in reading_: read again (and linked) once the target has the first name.
    file.waiting.push_back(zone);
    IssueReads(now, out);
    return true;
  }
  ResyncBlock block = BlockOf(zone, lsn, read);
  block.link_of = file.first;
  file.linked.push_back(zone.path);
  // Its other zones are the first name's, which goes whole: they leave the plan unsent.
  std::vector<ReplicaRecord> records;
  if (auto zones = durable_.dirty.files().find(zone.path); zones != durable_.dirty.files().end()) {
    zones->second.ForEach([&](uint64_t z) {
      if (z != 0 && !reading_.contains(ZoneRef{zone.path, z})) {
        records.push_back(record::MarkClean{zone.path, z});
      }
    });
  }
  Persist(std::move(records), out);
  SendBlock(block.block_id, zone, ResyncCostOf(zone, read));
  out.push_back(SendReplication{std::move(block)});
  IssueReads(now, out);
  return true;
}

void Replica::ResendChangedNames(const Mutation& m) {
  // Zones sent under a name the application now renames, replaces or removes held what the
  // name held before: their acknowledgements must not clean the zones (dirty, moved or
  // blended onto the names by TrackNamespace) that hold other bytes now. They are forgotten
  // as sent, so the plan reads them again as they are; a block in flight is then answered
  // for nothing. A full resync's first names of linked files follow FollowLinkedNames.
  ForEachChangedName(m, [&](const std::string& name) {
    const auto under = [&](const ZoneRef& ref) { return PathIsUnder(ref.path, name); };
    const auto block_under = [&](uint64_t block_id, const ZoneRef& zone) {
      return under(zone) && !first_name_blocks_.contains(block_id);
    };
    DropBlocksInFlight([&](uint64_t block_id, const SentBlock& block) {
      return block_under(block_id, block.zone);
    });
    ForgetAcknowledged(block_under);
  });
}

void Replica::FollowLinkedNames(const Mutation& m, std::vector<ReplicaRecord>& records) {
  // Only these move or remove a name that holds a file (a create on an existing name opens it).
  std::string removed;
  switch (m.kind) {
    case MutationKind::kUnlink:
    case MutationKind::kRmdir:
    case MutationKind::kRemoveTree:
      removed = m.path;
      break;
    case MutationKind::kRename:
      removed = m.path2;  // whatever held the new name is gone
      break;
    case MutationKind::kLink:
      removed = m.path2;
      break;
    default:
      return;
  }
  // A name of the file as it is after m: renamed with its directory, or gone ("").
  // A rename with flags may still fail on the disk: the names under either side go again.
  const auto after = [&](const std::string& name) -> std::string {
    if (!removed.empty() && PathIsUnder(name, removed)) return "";
    if (m.kind != MutationKind::kRename) return name;
    if (m.rename_flags != 0 && PathIsUnder(name, m.path)) return "";
    return NameAfterRename(m, name);
  };
  absl::erase_if(linked_files_, [&](auto& entry) {
    LinkedFile& file = entry.second;
    std::vector<std::string> linked;
    for (const std::string& name : file.linked) {
      if (std::string now = after(name); !now.empty()) linked.push_back(std::move(now));
    }
    file.linked = std::move(linked);
    file.first = after(file.first);
    if (!file.first.empty()) return false;
    // The name that carried the data is gone, maybe before all of it went. The names linked
    // to it are read again (the first of them plans the whole file) and the waiting ones
    // decide again.
    for (const std::string& name : file.linked) {
      reading_.erase(ZoneRef{name, 0});
      if (!durable_.dirty.Contains(name, 0)) {
        records.push_back(record::MarkDirty{name, 0, 0});
        resync_total_ += opt_.zone_size;
      }
    }
    for (const ZoneRef& waiting : file.waiting) reading_.erase(waiting);
    return true;
  });
}

}  // namespace duet
