// duet-bench: the metadata record log of one module after a long time alone (issue 12): a
// primary Replica without its peer takes 1 M random mutations (writes, creates, unlinks,
// renames, truncates over N names in 100 directories, the names an application could
// make: a create only of an absent name, an unlink or rename only of a present one); N is
// the argument: 10 000 names (changes spread wide: the journal's compaction, which looks
// back kJournalCompactionWindow entries, rarely meets the same name twice) and 100 names
// (churn on few names, as lock, pid and temporary files make it). Every
// PersistReplica is encoded (engine/wire/record_codec.h) and appended to an in-memory log
// framed as adapters/metadata frames it (16 bytes of header per record); when the log
// passes 4 MiB and twice its last snapshot it is replaced by a snapshot (ToRecords), as the
// MetadataStore does on disk. No disk: the figure is the log's size and the engine's cost
// to rebuild the state from it (decode + ApplyRecord), what a restart pays before the disk.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "engine/actions.h"
#include "engine/replication/replica.h"
#include "engine/rng.h"
#include "engine/wire/record_codec.h"

namespace duet {
namespace {

constexpr uint32_t kZoneSize = 64 * 1024;
constexpr uint64_t kFrameHeaderBytes = 16;  // adapters/metadata/record_file.h
constexpr uint64_t kCompactBytes = 4 << 20;
constexpr size_t kSnapshotBatchRecords = 4096;

class RecordLog {
 public:
  void Append(const std::vector<ReplicaRecord>& batch) {
    for (const ReplicaRecord& r : batch) ApplyRecord(state_, r, kZoneSize);
    frames_.push_back(wire::EncodeRecord(batch));
    bytes_ += frames_.back().size() + kFrameHeaderBytes;
    appended_ += frames_.back().size() + kFrameHeaderBytes;
    if (bytes_ > kCompactBytes && bytes_ > 2 * snapshot_bytes_) Snapshot();
  }
  void Snapshot() {
    const std::vector<ReplicaRecord> records = ToRecords(state_);
    frames_.clear();
    bytes_ = 0;
    for (size_t i = 0; i < records.size(); i += kSnapshotBatchRecords) {
      const size_t end = std::min(records.size(), i + kSnapshotBatchRecords);
      frames_.push_back(
          wire::EncodeRecord(wire::ReplicaBatch(records.begin() + i, records.begin() + end)));
      bytes_ += frames_.back().size() + kFrameHeaderBytes;
    }
    snapshot_bytes_ = bytes_;
    ++snapshots_;
  }
  const std::vector<std::vector<uint8_t>>& frames() const { return frames_; }
  uint64_t bytes() const { return bytes_; }
  uint64_t appended() const { return appended_; }
  uint64_t snapshots() const { return snapshots_; }
  const ReplicaDurableState& state() const { return state_; }

 private:
  ReplicaDurableState state_;
  std::vector<std::vector<uint8_t>> frames_;
  uint64_t bytes_ = 0, appended_ = 0, snapshot_bytes_ = 0, snapshots_ = 0;
};

void BM_RecordLogAfterMillionMutationsAlone(benchmark::State& state) {
  for (auto _ : state) {
    Rng rng(20261206);
    Rng replica_rng(7);
    ReplicaOptions options;
    options.zone_size = kZoneSize;
    options.default_primary_here = true;
    Replica replica(0, "bench", options, ReplicaDurableState{}, replica_rng);
    RecordLog log;
    Actions out;
    const absl::Time now = absl::UnixEpoch() + absl::Hours(1);
    const auto carry_out = [&] {
      // Applies complete at once; their completions may cause more actions.
      for (size_t i = 0; i < out.size(); ++i) {
        if (const auto* p = std::get_if<PersistReplica>(&out[i])) log.Append(p->records);
        if (const auto* a = std::get_if<ApplyMutation>(&out[i])) {
          Actions more;
          replica.OnApplied(now, a->apply_id, absl::OkStatus(), more);
          for (Action& m : more) out.push_back(std::move(m));
        }
      }
      out.clear();
    };
    replica.OnStart(false, out);
    replica.SetRole(now, ReplRole::kPrimary, out);
    replica.OnPeerOutdated(now, out);
    carry_out();

    const auto names = static_cast<uint64_t>(state.range(0));
    const auto name = [](uint64_t i) { return absl::StrCat("dir", i % 100, "/file ", i); };
    absl::btree_set<uint64_t> present;
    const Payload payload = MakePayload(std::string(4096, 'x'));
    uint64_t namespace_ops = 0;
    for (uint64_t op = 1; op <= 1'000'000; ++op) {
      const uint64_t pick = rng.Below(100);
      const uint64_t a = rng.Below(names), b = rng.Below(names);
      Mutation m;
      if (pick < 70 && present.contains(a)) {
        m = MakeMutation(MutationKind::kWrite, name(a));
        m.offset = rng.Below(16 << 20) & ~uint64_t{4095};
        m.data = payload;
      } else if (pick < 80 && !present.contains(a)) {
        m = MakeMutation(MutationKind::kCreate, name(a));
        m.mode = 0644;
        present.insert(a);
      } else if (pick < 88 && present.contains(a)) {
        m = MakeMutation(MutationKind::kUnlink, name(a));
        present.erase(a);
      } else if (pick < 95 && present.contains(a) && a != b) {
        m = MakeMutation(MutationKind::kRename, name(a), name(b));
        present.erase(a);
        present.insert(b);
      } else if (present.contains(a)) {
        m = MakeMutation(MutationKind::kTruncate, name(a));
        m.offset = rng.Below(16 << 20);
      } else {
        m = MakeMutation(MutationKind::kCreate, name(a));
        m.mode = 0644;
        present.insert(a);
      }
      namespace_ops += m.is_namespace();
      replica.OnLocalMutation(now, op, std::move(m), out);
      carry_out();
    }

    // A restart: decode every frame and replay it into a fresh state.
    const auto start = std::chrono::steady_clock::now();
    ReplicaDurableState rebuilt;
    uint64_t records = 0;
    for (const std::vector<uint8_t>& frame : log.frames()) {
      absl::StatusOr<wire::StoredRecord> decoded = wire::DecodeRecord(frame);
      if (!decoded.ok()) {
        state.SkipWithError(std::string(decoded.status().message()).c_str());
        return;
      }
      for (const ReplicaRecord& r : std::get<wire::ReplicaBatch>(*decoded)) {
        ApplyRecord(rebuilt, r, kZoneSize);
        ++records;
      }
    }
    const double rebuild_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (rebuilt.journal.size() != log.state().journal.size() ||
        rebuilt.dirty.zones() != log.state().dirty.zones()) {
      state.SkipWithError("the rebuilt state differs from the logged one");
      return;
    }
    state.counters["log_bytes"] = static_cast<double>(log.bytes());
    state.counters["appended_bytes"] = static_cast<double>(log.appended());
    state.counters["snapshots"] = static_cast<double>(log.snapshots());
    state.counters["log_records"] = static_cast<double>(records);
    state.counters["namespace_ops"] = static_cast<double>(namespace_ops);
    state.counters["journal_entries"] = static_cast<double>(rebuilt.journal.size());
    state.counters["dirty_zones"] = static_cast<double>(rebuilt.dirty.zones());
    state.counters["rebuild_ms"] = rebuild_ms;
  }
}

BENCHMARK(BM_RecordLogAfterMillionMutationsAlone)
    ->Arg(10'000)
    ->Arg(100)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace duet
