// Replica, a resync source's window (DESIGN.md §5): what is in flight, what is acknowledged,
// what is forgotten. A zone read in flight holds a zone's size of the window
// (resync_window_bytes) and of the bandwidth cap (resync_bandwidth, through next_read_at_);
// once read, its block holds what it carries (ResyncCostOf) until the target acknowledges it,
// and the cap gets back the rest. At most resync_reads reads and blocks are in flight, and one
// zone always goes, whatever the window. An acknowledged zone is not read again in this
// session; it is forgotten (MarkClean) only once durable on the target (the durable
// acknowledgement) AND here (a flush of our own copy: the block was read from our page cache,
// which a crash or a failed flush loses). A zone asked for again (ForgetSent) is read again.
#include <algorithm>
#include <optional>
#include <utility>

#include "engine/replication/replica.h"

namespace duet {
namespace {

// The cap's time for `bytes` at `bandwidth` bytes per second.
absl::Duration TransferTime(uint64_t bytes, uint64_t bandwidth) {
  return absl::Seconds(static_cast<double>(bytes) / static_cast<double>(bandwidth));
}

}  // namespace

bool Replica::ResyncWindowOpen() const {
  if (reads_.size() + blocks_.size() >= opt_.resync_reads) return false;
  // One zone always goes, whatever the window, so that a window below a zone still moves.
  return resync_inflight_bytes_ == 0 ||
         resync_inflight_bytes_ + opt_.zone_size <= opt_.resync_window_bytes;
}

void Replica::IssueReads(absl::Time now, Actions& out) {
  if (!source_active_) return;
  while (ResyncWindowOpen()) {
    if (opt_.resync_bandwidth != 0 && now != absl::InfinitePast() && now < next_read_at_) break;
    std::optional<ZoneRef> zone =
        durable_.dirty.FindFirst([&](const ZoneRef& ref) { return !reading_.contains(ref); });
    if (!zone) break;
    const uint64_t id = NextId();
    reads_[id] = {*zone, LocalAppliedLsn()};
    resync_inflight_bytes_ += opt_.zone_size;
    reading_.insert(*zone);
    const ZoneReadContent content =
        target_digests_.contains(*zone) ? ZoneReadContent::kDataAndDigest : ZoneReadContent::kData;
    out.push_back(
        ReadZone{module_, id, zone->path, zone->zone * opt_.zone_size, opt_.zone_size, content});
    if (opt_.resync_bandwidth != 0) {
      // A whole zone is reserved now; EndRead gives back what the block did not carry.
      const absl::Time base =
          now == absl::InfinitePast() ? next_read_at_ : std::max(now, next_read_at_);
      next_read_at_ = base + TransferTime(opt_.zone_size, opt_.resync_bandwidth);
    }
  }
}

void Replica::EndRead(uint64_t read_id, uint64_t cost) {
  reads_.erase(read_id);
  resync_inflight_bytes_ -= opt_.zone_size;
  if (opt_.resync_bandwidth != 0) {
    next_read_at_ -= TransferTime(opt_.zone_size - std::min<uint64_t>(cost, opt_.zone_size),
                                  opt_.resync_bandwidth);
  }
}

void Replica::SendBlock(uint64_t block_id, const ZoneRef& zone, uint64_t bytes, uint64_t zones) {
  blocks_[block_id] = SentBlock{zone, bytes, zones};
  resync_inflight_bytes_ += bytes;
}

void Replica::OnBlockAck(absl::Time now, const ResyncBlockAck& ack, Actions& out) {
  if (ack.durable) {
    // Every block up to ack.block_id that the target applied is durable there; each zone
    // leaves the plan once our own copy of it is durable too.
    for (auto it = unflushed_.begin(); it != unflushed_.end() && it->first <= ack.block_id;) {
      durable_there_.insert(*it);
      it = unflushed_.erase(it);
    }
    IssueCleanFlush(out);
    MaybeFinishSource(out);
    return;
  }
  auto it = blocks_.find(ack.block_id);
  if (it == blocks_.end()) return;
  const ZoneRef zone = it->second.zone;
  const uint64_t zones = it->second.zones;
  resync_inflight_bytes_ -= it->second.bytes;
  blocks_.erase(it);
  const auto first_name = first_name_blocks_.find(ack.block_id);
  if (first_name != first_name_blocks_.end()) {
    auto file = linked_files_.find(first_name->second);
    first_name_blocks_.erase(first_name);
    if (!ack.stale && file != linked_files_.end() && file->second.first == zone.path) {
      // The target has the first name: the names waiting for it are read again, as links.
      file->second.first_applied = true;
      for (const ZoneRef& waiting : file->second.waiting) reading_.erase(waiting);
      file->second.waiting.clear();
    }
  }
  const bool same = same_blocks_.erase(ack.block_id) > 0;
  for (uint64_t i = 0; i < zones; ++i) {
    const ZoneRef each{zone.path, zone.zone + i};
    if (ack.stale) {
      reading_.erase(each);  // read it again
    } else {
      // Sent: not read again in this session, and forgotten (MarkClean) once the target says
      // it is durable. A crash of the target before that resends it in the next session. (A
      // run's zones have the ids before the block's: see TakeHoleRun.)
      unflushed_[ack.block_id - (zones - 1 - i)] = AckedZone{each, same};
    }
  }
  if (!ack.stale) {
    resync_done_ += zones * opt_.zone_size;
    if (same) resync_same_done_ += opt_.zone_size;
  }
  IssueReads(now, out);
  MaybeFinishSource(out);
}

void Replica::ForgetSent(const ZoneRef& zone) {
  // At most one read or block of a zone is ever out: a read of it in flight is dropped (its
  // answer ignored), a block of it answered for nothing. Two acknowledgements of one zone
  // would put it twice among the zones sent, which MaybeFinishSource counts against the
  // plan: the resync could end before its last zone went.
  for (const auto& [id, read_of] : reads_) {
    if (read_of.first != zone) continue;
    EndRead(uint64_t{id}, /*cost=*/0);  // nothing of it goes
    break;
  }
  DropBlocksInFlight([&](uint64_t, const SentBlock& block) {
    return block.zone.path == zone.path && zone.zone >= block.zone.zone &&
           zone.zone - block.zone.zone < block.zones;
  });
  reading_.erase(zone);
  ForgetAcknowledged([&](uint64_t, const ZoneRef& acked) { return acked == zone; });
}

void Replica::ForgetAcknowledged(absl::FunctionRef<bool(uint64_t, const ZoneRef&)> which) {
  const auto forget = [&](const auto& entry) {
    const auto& [block_id, acked] = entry;
    if (!which(block_id, acked.zone)) return false;
    reading_.erase(acked.zone);
    resync_done_ -= opt_.zone_size;
    if (acked.same) resync_same_done_ -= opt_.zone_size;
    return true;
  };
  absl::erase_if(unflushed_, forget);
  absl::erase_if(durable_there_, forget);
}

void Replica::DropBlocksInFlight(absl::FunctionRef<bool(uint64_t, const SentBlock&)> which) {
  absl::erase_if(blocks_, [&](const auto& entry) {
    const auto& [block_id, block] = entry;
    if (!which(block_id, block)) return false;
    same_blocks_.erase(block_id);
    first_name_blocks_.erase(block_id);
    // Every zone of a run of holes: none of them is acknowledged by this block now.
    for (uint64_t i = 0; i < block.zones; ++i) {
      reading_.erase(ZoneRef{block.zone.path, block.zone.zone + i});
    }
    resync_inflight_bytes_ -= block.bytes;  // its answer will find nothing
    return true;
  });
}

void Replica::IssueCleanFlush(Actions& out) {
  if (clean_flush_in_flight_ || durable_there_.empty()) return;
  clean_flush_in_flight_ = true;
  const uint64_t id = NextId();
  applying_[id] = Applying{Applying::Kind::kCleanFlush, durable_there_.rbegin()->first, session_};
  out.push_back(ApplyMutation{module_, id, MakeMutation(MutationKind::kFsync, ""), true});
}

void Replica::OnCleanFlushed(absl::Time now, const Applying& a, const absl::Status& status,
                             Actions& out) {
  if (a.session != session_ || !source_active_) return;  // the zones stay in the plan
  clean_flush_in_flight_ = false;
  if (!status.ok()) {
    // Still dirty, so they turn hot: a crash here takes them back from the target.
    OnLocalDurabilityFailed(status, out);
    RestartSessionLater(now);
    return;
  }
  std::vector<ReplicaRecord> records;
  for (auto zone = durable_there_.begin(); zone != durable_there_.end() && zone->first <= a.key;) {
    const ZoneRef& clean = zone->second.zone;
    records.push_back(record::MarkClean{clean.path, clean.zone});
    reading_.erase(clean);
    zone = durable_there_.erase(zone);
  }
  Persist(std::move(records), out);
  IssueCleanFlush(out);
  MaybeFinishSource(out);
}

}  // namespace duet
