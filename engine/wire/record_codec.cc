#include "engine/wire/record_codec.h"

#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/overloaded.h"
#include "engine/status_macros.h"
#include "engine/wire/field_codec.h"
#include "engine/wire/mutation_codec.h"
#include "engine/wire/records_generated.h"

namespace duet::wire {
namespace {

namespace rec = ::duet::wire::records;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

// Root > batch > entry > record > journal mutation: 5 deep. A little slack, no more.
constexpr flatbuffers::uoffset_t kMaxVerifyDepth = 8;
// An entry and its record per batch element, plus the root and batch.
constexpr flatbuffers::uoffset_t kMaxVerifyTables = 3 * kMaxBatchRecords + 8;
// Size prefix, root offset and identifier: nothing shorter can be a record.
constexpr size_t kMinRecordBytes = 3 * sizeof(flatbuffers::uoffset_t);

// ----- Encoding -------------------------------------------------------------------------

class Encoder {
 public:
  explicit Encoder(FlatBufferBuilder& b) : b_(b) {}

  Offset<rec::ReplicaEntry> Entry(const ReplicaRecord& r) {
    auto [type, body] = std::visit(
        Overloaded{
            [&](const record::SetGenerations& x) -> std::pair<rec::ReplicaBody, Offset<void>> {
              const rec::Generations gens(x.gens.current, x.gens.bitmap,
                                          flatbuffers::span<const uint64_t, 2>(x.gens.history));
              return {rec::ReplicaBody::SetGenerations,
                      rec::CreateSetGenerations(b_, &gens).Union()};
            },
            [&](const record::MarkDirty& x) -> std::pair<rec::ReplicaBody, Offset<void>> {
              return {rec::ReplicaBody::MarkDirty,
                      rec::CreateMarkDirty(b_, Str(x.path), x.first, x.last).Union()};
            },
            [&](const record::MarkClean& x) -> std::pair<rec::ReplicaBody, Offset<void>> {
              return {rec::ReplicaBody::MarkClean,
                      rec::CreateMarkClean(b_, Str(x.path), x.zone).Union()};
            },
            [&](const record::ClearDirty&) -> std::pair<rec::ReplicaBody, Offset<void>> {
              return {rec::ReplicaBody::ClearDirty, rec::CreateClearDirty(b_).Union()};
            },
            [&](const record::Journal& x) -> std::pair<rec::ReplicaBody, Offset<void>> {
              const auto entry = BuildMutation(b_, x.mutation);
              return {rec::ReplicaBody::Journal,
                      rec::CreateJournal(b_, /*mutation=*/0, x.as_is, entry).Union()};
            },
            [&](const record::HotAdd& x) -> std::pair<rec::ReplicaBody, Offset<void>> {
              return {rec::ReplicaBody::HotAdd,
                      rec::CreateHotAdd(b_, Str(x.path), x.zone, x.count).Union()};
            },
            [&](const record::HotRemove& x) -> std::pair<rec::ReplicaBody, Offset<void>> {
              return {rec::ReplicaBody::HotRemove,
                      rec::CreateHotRemove(b_, Str(x.path), x.zone, x.count).Union()};
            },
            [&](const record::ClearHot&) -> std::pair<rec::ReplicaBody, Offset<void>> {
              return {rec::ReplicaBody::ClearHot, rec::CreateClearHot(b_).Union()};
            },
            [&](const record::SetInconsistent& x) -> std::pair<rec::ReplicaBody, Offset<void>> {
              return {rec::ReplicaBody::SetInconsistent,
                      rec::CreateSetInconsistent(b_, x.inconsistent, x.unflushed_only).Union()};
            },
            [&](const record::SetOutdated& x) -> std::pair<rec::ReplicaBody, Offset<void>> {
              return {rec::ReplicaBody::SetOutdated,
                      rec::CreateSetOutdated(b_, x.outdated).Union()};
            },
            [&](const record::SetAloneAcked&) -> std::pair<rec::ReplicaBody, Offset<void>> {
              return {rec::ReplicaBody::SetAloneAcked, rec::CreateSetAloneAcked(b_).Union()};
            },
            [&](const record::Renamed& x) -> std::pair<rec::ReplicaBody, Offset<void>> {
              return {rec::ReplicaBody::Renamed,
                      rec::CreateRenamed(b_, Str(x.from), Str(x.to), x.blend).Union()};
            },
            [&](const record::Removed& x) -> std::pair<rec::ReplicaBody, Offset<void>> {
              return {rec::ReplicaBody::Removed, rec::CreateRemoved(b_, Str(x.path)).Union()};
            },
            [&](const record::Truncated& x) -> std::pair<rec::ReplicaBody, Offset<void>> {
              return {rec::ReplicaBody::Truncated,
                      rec::CreateTruncated(b_, Str(x.path), x.size).Union()};
            },
            [&](const record::SetLostUnsynced& x) -> std::pair<rec::ReplicaBody, Offset<void>> {
              return {rec::ReplicaBody::SetLostUnsynced,
                      rec::CreateSetLostUnsynced(b_, x.lost).Union()};
            },
            [&](const record::HotNameAdd& x) -> std::pair<rec::ReplicaBody, Offset<void>> {
              return {rec::ReplicaBody::HotNameAdd, rec::CreateHotNameAdd(b_, Str(x.path)).Union()};
            },
            [&](const record::HotNameRemove& x) -> std::pair<rec::ReplicaBody, Offset<void>> {
              return {rec::ReplicaBody::HotNameRemove,
                      rec::CreateHotNameRemove(b_, Str(x.path)).Union()};
            },
            [&](const record::SetDiskFailed& x) -> std::pair<rec::ReplicaBody, Offset<void>> {
              return {rec::ReplicaBody::SetDiskFailed,
                      rec::CreateSetDiskFailed(b_, x.failed).Union()};
            },
            [&](const record::SetDrawnAlone& x) -> std::pair<rec::ReplicaBody, Offset<void>> {
              return {rec::ReplicaBody::SetDrawnAlone,
                      rec::CreateSetDrawnAlone(b_, x.generation).Union()};
            },
            [&](const record::SetJoined& x) -> std::pair<rec::ReplicaBody, Offset<void>> {
              return {rec::ReplicaBody::SetJoined, rec::CreateSetJoined(b_, x.joined).Union()};
            },
            [&](const record::SetZoneSize& x) -> std::pair<rec::ReplicaBody, Offset<void>> {
              return {rec::ReplicaBody::SetZoneSize,
                      rec::CreateSetZoneSize(b_, x.zone_size).Union()};
            },
            [&](const record::SetDivergencePreserved& x)
                -> std::pair<rec::ReplicaBody, Offset<void>> {
              return {rec::ReplicaBody::SetDivergencePreserved,
                      rec::CreateSetDivergencePreserved(b_, x.generation).Union()};
            },
        },
        r);
    return rec::CreateReplicaEntry(b_, type, body);
  }

 private:
  Offset<flatbuffers::String> Str(const std::string& s) { return b_.CreateString(s); }

  FlatBufferBuilder& b_;
};

// ----- Decoding -------------------------------------------------------------------------

absl::Status CheckPath(const flatbuffers::String* path, std::string_view what) {
  if (path == nullptr || path->size() == 0) return Invalid("%s has no path", what);
  if (path->size() > kMaxRecordPathBytes) {
    return Invalid("%s path of %d bytes exceeds limit %d", what, path->size(), kMaxRecordPathBytes);
  }
  if (std::string_view(path->c_str(), path->size()).find('\0') != std::string_view::npos) {
    return Invalid("%s path contains a NUL byte", what);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Path(const flatbuffers::String* path, std::string_view what) {
  DUET_RETURN_IF_ERROR(CheckPath(path, what));
  return path->str();
}

// A journal entry: version 3's Mutation table, or version 2's JournalMutation.
absl::StatusOr<Mutation> DecodeJournalMutation(const rec::Journal& journal, uint16_t version) {
  constexpr std::string_view kHolder = "journal entry";
  if (version >= 3) {
    if (journal.mutation() != nullptr) {
      return Invalid("version %d journal record holds a version 2 mutation", version);
    }
    if (journal.entry() == nullptr) return Invalid("journal record has no mutation");
    return ReadMutation(*journal.entry(), MutationHolder::kJournal, kHolder);
  }
  if (journal.entry() != nullptr) {
    return Invalid("version %d journal record holds a version 3 mutation", version);
  }
  if (journal.mutation() == nullptr) return Invalid("journal record has no mutation");
  return ReadMutation(*journal.mutation(), kHolder);
}

// `count` zones from `zone`: at least one, the last no further than the largest zone number.
absl::Status CheckZoneRange(uint64_t zone, uint64_t count, std::string_view what) {
  if (count == 0 || count - 1 > std::numeric_limits<uint64_t>::max() - zone) {
    return Invalid("%s record's %d zones from zone %d: none, or past the largest zone", what, count,
                   zone);
  }
  return absl::OkStatus();
}

absl::StatusOr<ReplicaRecord> DecodeEntry(const rec::ReplicaEntry* e, uint16_t version) {
  if (e == nullptr) return Invalid("replica batch has a missing entry");
  switch (e->body_type()) {
    case rec::ReplicaBody::SetGenerations: {
      const rec::Generations* g = e->body_as_SetGenerations()->gens();
      if (g == nullptr) return Invalid("SetGenerations record has no generations");
      record::SetGenerations out;
      out.gens.current = g->current();
      out.gens.bitmap = g->bitmap();
      out.gens.history = {g->history()->Get(0), g->history()->Get(1)};
      return out;
    }
    case rec::ReplicaBody::MarkDirty: {
      const auto* x = e->body_as_MarkDirty();
      if (x->first() > x->last()) {
        return Invalid("MarkDirty record's first zone %d is after its last %d", x->first(),
                       x->last());
      }
      DUET_ASSIGN_OR_RETURN(std::string path, Path(x->path(), "MarkDirty record"));
      return record::MarkDirty{std::move(path), x->first(), x->last()};
    }
    case rec::ReplicaBody::MarkClean: {
      const auto* x = e->body_as_MarkClean();
      DUET_ASSIGN_OR_RETURN(std::string path, Path(x->path(), "MarkClean record"));
      return record::MarkClean{std::move(path), x->zone()};
    }
    case rec::ReplicaBody::ClearDirty:
      return record::ClearDirty{};
    case rec::ReplicaBody::Journal: {
      const rec::Journal* x = e->body_as_Journal();
      DUET_ASSIGN_OR_RETURN(Mutation m, DecodeJournalMutation(*x, version));
      return record::Journal{std::move(m), x->as_is()};
    }
    case rec::ReplicaBody::HotAdd: {
      const auto* x = e->body_as_HotAdd();
      DUET_ASSIGN_OR_RETURN(std::string path, Path(x->path(), "HotAdd record"));
      DUET_RETURN_IF_ERROR(CheckZoneRange(x->zone(), x->count(), "HotAdd"));
      return record::HotAdd{std::move(path), x->zone(), x->count()};
    }
    case rec::ReplicaBody::HotRemove: {
      const auto* x = e->body_as_HotRemove();
      DUET_ASSIGN_OR_RETURN(std::string path, Path(x->path(), "HotRemove record"));
      DUET_RETURN_IF_ERROR(CheckZoneRange(x->zone(), x->count(), "HotRemove"));
      return record::HotRemove{std::move(path), x->zone(), x->count()};
    }
    case rec::ReplicaBody::ClearHot:
      return record::ClearHot{};
    case rec::ReplicaBody::SetInconsistent: {
      const auto* x = e->body_as_SetInconsistent();
      return record::SetInconsistent{x->inconsistent(), x->unflushed_only()};
    }
    case rec::ReplicaBody::SetOutdated:
      return record::SetOutdated{e->body_as_SetOutdated()->outdated()};
    case rec::ReplicaBody::SetAloneAcked:
      return record::SetAloneAcked{};
    case rec::ReplicaBody::Renamed: {
      const auto* x = e->body_as_Renamed();
      DUET_ASSIGN_OR_RETURN(std::string from, Path(x->from(), "Renamed record's source"));
      DUET_ASSIGN_OR_RETURN(std::string to, Path(x->to(), "Renamed record's target"));
      return record::Renamed{std::move(from), std::move(to), x->blend()};
    }
    case rec::ReplicaBody::Removed: {
      DUET_ASSIGN_OR_RETURN(std::string path, Path(e->body_as_Removed()->path(), "Removed record"));
      return record::Removed{std::move(path)};
    }
    case rec::ReplicaBody::Truncated: {
      const auto* x = e->body_as_Truncated();
      DUET_ASSIGN_OR_RETURN(std::string path, Path(x->path(), "Truncated record"));
      return record::Truncated{std::move(path), x->size()};
    }
    case rec::ReplicaBody::SetLostUnsynced:
      return record::SetLostUnsynced{e->body_as_SetLostUnsynced()->lost()};
    case rec::ReplicaBody::HotNameAdd: {
      DUET_ASSIGN_OR_RETURN(std::string path,
                            Path(e->body_as_HotNameAdd()->path(), "HotNameAdd record"));
      return record::HotNameAdd{std::move(path)};
    }
    case rec::ReplicaBody::HotNameRemove: {
      DUET_ASSIGN_OR_RETURN(std::string path,
                            Path(e->body_as_HotNameRemove()->path(), "HotNameRemove record"));
      return record::HotNameRemove{std::move(path)};
    }
    case rec::ReplicaBody::SetDiskFailed:
      return record::SetDiskFailed{e->body_as_SetDiskFailed()->failed()};
    case rec::ReplicaBody::SetDrawnAlone:
      return record::SetDrawnAlone{e->body_as_SetDrawnAlone()->generation()};
    case rec::ReplicaBody::SetJoined:
      return record::SetJoined{e->body_as_SetJoined()->joined()};
    case rec::ReplicaBody::SetZoneSize:
      return record::SetZoneSize{e->body_as_SetZoneSize()->zone_size()};
    case rec::ReplicaBody::SetDivergencePreserved:
      return record::SetDivergencePreserved{e->body_as_SetDivergencePreserved()->generation()};
    case rec::ReplicaBody::NONE:
      break;
  }
  return Invalid("replica record of unknown type %d", static_cast<int>(e->body_type()));
}

}  // namespace

std::vector<uint8_t> EncodeRecord(const StoredRecord& record) {
  FlatBufferBuilder b(256);
  auto [type, body] = std::visit(
      Overloaded{
          [&](const PersistedModule& m) -> std::pair<rec::Body, Offset<void>> {
            return {rec::Body::Module,
                    rec::CreateModule(b, m.term, m.owner, m.admin_stopped, m.pinned, m.wrote_alone)
                        .Union()};
          },
          [&](const PersistIncarnation& i) -> std::pair<rec::Body, Offset<void>> {
            return {rec::Body::Incarnation, rec::CreateIncarnation(b, i.incarnation).Union()};
          },
          [&](const ReplicaBatch& batch) -> std::pair<rec::Body, Offset<void>> {
            Encoder encoder(b);
            std::vector<Offset<rec::ReplicaEntry>> entries;
            entries.reserve(batch.size());
            for (const ReplicaRecord& r : batch) entries.push_back(encoder.Entry(r));
            return {rec::Body::ReplicaBatch,
                    rec::CreateReplicaBatch(b, b.CreateVector(entries)).Union()};
          },
      },
      record);
  b.FinishSizePrefixed(rec::CreateRecord(b, kRecordVersion, type, body), rec::RecordIdentifier());
  return std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

absl::StatusOr<StoredRecord> DecodeRecord(std::span<const uint8_t> bytes) {
  if (bytes.size() > kMaxRecordBytes) {
    return Invalid("record of %d bytes exceeds limit %d", bytes.size(), kMaxRecordBytes);
  }
  if (bytes.size() < kMinRecordBytes) {
    return Invalid("record of %d bytes is shorter than the minimum %d", bytes.size(),
                   kMinRecordBytes);
  }
  std::vector<uint8_t> aligned_copy;
  if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(uint64_t) != 0) {
    aligned_copy.assign(bytes.begin(), bytes.end());
    bytes = aligned_copy;
  }
  const flatbuffers::uoffset_t prefix =
      flatbuffers::ReadScalar<flatbuffers::uoffset_t>(bytes.data());
  if (prefix != bytes.size() - sizeof(flatbuffers::uoffset_t)) {
    return Invalid("record of %d bytes does not match its size prefix (%d + %d bytes)",
                   bytes.size(), prefix, sizeof(flatbuffers::uoffset_t));
  }
  if (!rec::SizePrefixedRecordBufferHasIdentifier(bytes.data())) {
    return Invalid("record does not carry the 'DREC' identifier");
  }
  flatbuffers::Verifier::Options options;
  options.max_depth = kMaxVerifyDepth;
  options.max_tables = kMaxVerifyTables;
  options.check_alignment = true;
  flatbuffers::Verifier verifier(bytes.data(), bytes.size(), options);
  if (!rec::VerifySizePrefixedRecordBuffer(verifier)) return Invalid("record failed verification");
  const rec::Record* root = rec::GetSizePrefixedRecord(bytes.data());
  const uint16_t version = root->version();
  if (version > kRecordVersion) {
    return Invalid(
        "record version %d is newer than this build reads (%d to %d): a newer Duet build "
        "wrote it",
        version, kOldestRecordVersion, kRecordVersion);
  }
  if (version < kOldestRecordVersion) {
    return Invalid("record version %d is older than this build reads (%d to %d)", version,
                   kOldestRecordVersion, kRecordVersion);
  }
  switch (root->body_type()) {
    case rec::Body::Module: {
      const rec::Module* m = root->body_as_Module();
      if (m->owner() > 1) {
        return Invalid("module record's owner %d is not 0 or 1", static_cast<int>(m->owner()));
      }
      return PersistedModule{m->term(), m->owner(), m->admin_stopped(), m->pinned(),
                             m->wrote_alone()};
    }
    case rec::Body::Incarnation:
      return PersistIncarnation{root->body_as_Incarnation()->incarnation()};
    case rec::Body::ReplicaBatch: {
      const auto* entries = root->body_as_ReplicaBatch()->records();
      if (entries == nullptr) return Invalid("replica batch has no record list");
      if (entries->size() > kMaxBatchRecords) {
        return Invalid("replica batch of %d records exceeds limit %d", entries->size(),
                       kMaxBatchRecords);
      }
      ReplicaBatch batch;
      batch.reserve(entries->size());
      for (flatbuffers::uoffset_t i = 0; i < entries->size(); ++i) {
        absl::StatusOr<ReplicaRecord> r = DecodeEntry(entries->Get(i), version);
        if (!r.ok()) {
          return Invalid("replica batch entry %d: %s", i, r.status().message());
        }
        batch.push_back(*std::move(r));
      }
      return batch;
    }
    case rec::Body::NONE:
      break;
  }
  return Invalid("record of unknown type %d", static_cast<int>(root->body_type()));
}

}  // namespace duet::wire
