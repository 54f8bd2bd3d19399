// Replica, a resync target's digest comparisons (DESIGN.md §5). Zones this copy may hold as
// the source does (its activity log's, or those the source lists as left hot by its own
// crash) are read here for their digest and asked for with it; the source answers ResyncSame
// for each it holds the same, and the zone keeps its bytes and takes the path's attributes
// (ApplySame). A digest read that fails asks for its zone whole.
#include <string>
#include <utility>
#include <vector>

#include "engine/replication/replica.h"
#include "engine/replication/zone_math.h"

namespace duet {

void Replica::ReadDigests(const absl::btree_map<std::string, std::vector<uint64_t>>& zones,
                          Actions& out) {
  for (const auto& file : zones) {  // no structured binding: see disk_faults
    for (uint64_t z : file.second) {
      const uint64_t id = NextId();
      digest_reads_[id] = ZoneRef{file.first, z};
      out.push_back(ReadZone{module_, id, file.first, z * opt_.zone_size, opt_.zone_size,
                             ZoneReadContent::kDigest});
    }
  }
  last_request_waits_ = !digest_reads_.empty();
}

bool Replica::OnDigestRead(const ZoneRead& read, Actions& out) {
  auto it = digest_reads_.find(read.read_id);
  if (it == digest_reads_.end()) return false;
  const ZoneRef zone = it->second;
  digest_reads_.erase(it);
  if (!target_active_) return true;
  const bool usable = read.status.ok() && read.kind == PathKind::kFile && !read.digest.empty() &&
                      read.digest.size() <= kMaxZoneDigestBytes;
  if (usable) {
    auto& [zones, digests] = digested_[zone.path];
    zones.push_back(zone.zone);
    digests.push_back(read.digest);
  } else {
    // Not a file here (the source's block says what it is), or unreadable: asked for whole,
    // which is always safe.
    if (!read.status.ok() && digest_failures_++ == 0) {
      Log(out, absl::StrCat("digest read of ", zone.path, " failed (", read.status.message(),
                            "); such zones are asked for whole"));
    }
    RequestFromSource(zone.path, {zone.zone}, false, out);
  }
  if (digest_reads_.empty()) SendDigestRequests(out);
  return true;
}

void Replica::OnSourceHotZones(const ReplTargetZones& zones, Actions& out) {
  // (Not after our own new Hello: its answers would reach the next session.)
  if (!target_active_ || !SessionDecided()) return;
  if (zones.last) {
    // Its end: ours follows once the digests of every zone it listed are read and asked for.
    compare_last_waits_ = true;
    SendDigestRequests(out);
    return;
  }
  // Compared where this copy would compare its own hot zones (see the top of this file);
  // elsewhere asked for plainly, which is always safe.
  const bool by_digest = !full_resync_ && !durable_.disk_failed;
  std::vector<uint64_t> whole;
  for (uint64_t z : zones.zones) {
    if (!by_digest || durable_.dirty.Contains(zones.path, z)) {
      whole.push_back(z);
      continue;
    }
    const uint64_t id = NextId();
    digest_reads_[id] = ZoneRef{zones.path, z};
    out.push_back(ReadZone{module_, id, zones.path, z * opt_.zone_size, opt_.zone_size,
                           ZoneReadContent::kDigest});
  }
  if (!whole.empty()) RequestFromSource(zones.path, std::move(whole), false, out);
}

void Replica::SendDigestRequests(Actions& out) {
  if (!(last_request_waits_ || compare_last_waits_) || !digest_reads_.empty()) return;
  for (auto& file : digested_) {
    std::vector<uint64_t>& zones = file.second.first;
    std::vector<std::string>& digests = file.second.second;
    // One message holds digests of one size (the adapter's function) and a bounded count.
    for (size_t start = 0; start < zones.size();) {
      size_t end = start + 1;
      while (end < zones.size() && end - start < kMaxDigestsPerRequest &&
             digests[end].size() == digests[start].size()) {
        ++end;
      }
      RequestFromSource(
          file.first, std::vector<uint64_t>(zones.begin() + start, zones.begin() + end), false, out,
          std::vector<std::string>(std::make_move_iterator(digests.begin() + start),
                                   std::make_move_iterator(digests.begin() + end)));
      start = end;
    }
  }
  digested_.clear();
  // One end for each list that waited (our plan's, the source's comparisons).
  if (last_request_waits_) RequestFromSource("", {}, true, out);
  if (compare_last_waits_) RequestFromSource("", {}, true, out);
  last_request_waits_ = compare_last_waits_ = false;
}

void Replica::ApplySame(const ResyncSame& same, Actions& out) {
  if (!target_active_) return;
  if (same.total_bytes > 0) {
    sync_percent_ =
        static_cast<uint8_t>(std::min<uint64_t>(99, 100 * same.done_bytes / same.total_bytes));
  }
  // The zone's bytes are the source's already; its path's attributes are set as a block sets
  // them (equal bytes may sit under a newer mtime from a write the source never got), with a
  // block's rules: a live change to the zone or the name since the read makes it stale (the
  // source reads it again), a live write elsewhere in the file leaves that write's mtime.
  if (LiveChangedSince(same.path, same.zone, same.read_lsn, /*whole_file=*/false)) {
    out.push_back(SendReplication{ResyncBlockAck{name_, same.block_id, true, false}});
    return;
  }
  Mutation attributes = MakeMutation(MutationKind::kSetattr, same.path);
  attributes.attr_mask = kAllAttrs;
  CopyAttributes(same, attributes);
  if (LiveWriteToFileSince(same.path, same.read_lsn)) attributes.attr_mask &= ~kAttrMtime;
  std::vector<Mutation> steps;
  steps.push_back(std::move(attributes));
  IssueBlockSteps(same.block_id, ZoneRef{same.path, same.zone}, std::move(steps), out);
}

}  // namespace duet
