#include "engine/wire/record_codec.h"

#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/overloaded.h"
#include "engine/status_macros.h"
#include "engine/wire/records_generated.h"

namespace duet::wire {
namespace {

namespace fb = ::duet::wire::records;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

// Root > batch > entry > record > journal mutation: 5 deep. A little slack, no more.
constexpr flatbuffers::uoffset_t kMaxVerifyDepth = 8;
// An entry and its record per batch element, plus the root and batch.
constexpr flatbuffers::uoffset_t kMaxVerifyTables = 3 * kMaxBatchRecords + 8;
// Size prefix, root offset and identifier: nothing shorter can be a record.
constexpr size_t kMinRecordBytes = 3 * sizeof(flatbuffers::uoffset_t);

template <typename... Args>
absl::Status Invalid(const absl::FormatSpec<Args...>& format, const Args&... args) {
  return absl::InvalidArgumentError(absl::StrFormat(format, args...));
}

// The on-disk values of MutationKind are its enum values; these asserts pin them, so that a
// reordering of mutation.h cannot silently reinterpret stored journals.
static_assert(static_cast<uint8_t>(MutationKind::kTruncate) == 1);
static_assert(static_cast<uint8_t>(MutationKind::kCreate) == 2);
static_assert(static_cast<uint8_t>(MutationKind::kMkdir) == 3);
static_assert(static_cast<uint8_t>(MutationKind::kUnlink) == 4);
static_assert(static_cast<uint8_t>(MutationKind::kRmdir) == 5);
static_assert(static_cast<uint8_t>(MutationKind::kRename) == 6);
static_assert(static_cast<uint8_t>(MutationKind::kSymlink) == 7);
static_assert(static_cast<uint8_t>(MutationKind::kLink) == 8);
static_assert(static_cast<uint8_t>(MutationKind::kSetattr) == 9);
static_assert(static_cast<uint8_t>(MutationKind::kRemoveTree) == 11);
static_assert(static_cast<uint8_t>(MutationKind::kSetxattr) == 12);
static_assert(static_cast<uint8_t>(MutationKind::kRemovexattr) == 13);
static_assert(static_cast<uint8_t>(MutationKind::kReplaceXattrs) == 14);
static_assert(static_cast<uint8_t>(MutationKind::kMknod) == 15);
// A mknod's node_kind is stored as its PathKind value.
static_assert(static_cast<uint8_t>(PathKind::kAbsent) == 0);
static_assert(static_cast<uint8_t>(PathKind::kFifo) == 4);
static_assert(static_cast<uint8_t>(PathKind::kSocket) == 5);

// The namespace kinds a journal may hold. A kind added to mutation.h is rejected here until
// it is added (and its fields to records.fbs).
absl::StatusOr<MutationKind> JournalKindFromByte(uint8_t value) {
  switch (value) {
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
    case 7:
    case 8:
    case 9:
    case 11:
    case 12:
    case 13:
    case 14:
    case 15:
      return static_cast<MutationKind>(value);
    default:
      return Invalid("journal mutation kind %d is unknown or not a namespace change",
                     static_cast<int>(value));
  }
}

// ----- Encoding -------------------------------------------------------------------------

class Encoder {
 public:
  explicit Encoder(FlatBufferBuilder& b) : b_(b) {}

  Offset<fb::ReplicaEntry> Entry(const ReplicaRecord& r) {
    auto [type, body] = std::visit(
        Overloaded{
            [&](const record::SetGenerations& x) -> std::pair<fb::ReplicaBody, Offset<void>> {
              const fb::Generations gens(x.gens.current, x.gens.bitmap,
                                         flatbuffers::span<const uint64_t, 2>(x.gens.history));
              return {fb::ReplicaBody::SetGenerations, fb::CreateSetGenerations(b_, &gens).Union()};
            },
            [&](const record::MarkDirty& x) -> std::pair<fb::ReplicaBody, Offset<void>> {
              return {fb::ReplicaBody::MarkDirty,
                      fb::CreateMarkDirty(b_, Str(x.path), x.first, x.last).Union()};
            },
            [&](const record::MarkClean& x) -> std::pair<fb::ReplicaBody, Offset<void>> {
              return {fb::ReplicaBody::MarkClean,
                      fb::CreateMarkClean(b_, Str(x.path), x.zone).Union()};
            },
            [&](const record::ClearDirty&) -> std::pair<fb::ReplicaBody, Offset<void>> {
              return {fb::ReplicaBody::ClearDirty, fb::CreateClearDirty(b_).Union()};
            },
            [&](const record::Journal& x) -> std::pair<fb::ReplicaBody, Offset<void>> {
              const auto mutation = JournalMutation(x.mutation);
              return {fb::ReplicaBody::Journal, fb::CreateJournal(b_, mutation, x.as_is).Union()};
            },
            [&](const record::HotAdd& x) -> std::pair<fb::ReplicaBody, Offset<void>> {
              return {fb::ReplicaBody::HotAdd, fb::CreateHotAdd(b_, Str(x.path), x.zone).Union()};
            },
            [&](const record::HotRemove& x) -> std::pair<fb::ReplicaBody, Offset<void>> {
              return {fb::ReplicaBody::HotRemove,
                      fb::CreateHotRemove(b_, Str(x.path), x.zone).Union()};
            },
            [&](const record::ClearHot&) -> std::pair<fb::ReplicaBody, Offset<void>> {
              return {fb::ReplicaBody::ClearHot, fb::CreateClearHot(b_).Union()};
            },
            [&](const record::SetInconsistent& x) -> std::pair<fb::ReplicaBody, Offset<void>> {
              return {fb::ReplicaBody::SetInconsistent,
                      fb::CreateSetInconsistent(b_, x.inconsistent, x.unflushed_only).Union()};
            },
            [&](const record::SetOutdated& x) -> std::pair<fb::ReplicaBody, Offset<void>> {
              return {fb::ReplicaBody::SetOutdated, fb::CreateSetOutdated(b_, x.outdated).Union()};
            },
            [&](const record::SetAloneAcked&) -> std::pair<fb::ReplicaBody, Offset<void>> {
              return {fb::ReplicaBody::SetAloneAcked, fb::CreateSetAloneAcked(b_).Union()};
            },
            [&](const record::Renamed& x) -> std::pair<fb::ReplicaBody, Offset<void>> {
              return {fb::ReplicaBody::Renamed,
                      fb::CreateRenamed(b_, Str(x.from), Str(x.to), x.blend).Union()};
            },
            [&](const record::Removed& x) -> std::pair<fb::ReplicaBody, Offset<void>> {
              return {fb::ReplicaBody::Removed, fb::CreateRemoved(b_, Str(x.path)).Union()};
            },
            [&](const record::Truncated& x) -> std::pair<fb::ReplicaBody, Offset<void>> {
              return {fb::ReplicaBody::Truncated,
                      fb::CreateTruncated(b_, Str(x.path), x.size).Union()};
            },
            [&](const record::SetLostUnsynced& x) -> std::pair<fb::ReplicaBody, Offset<void>> {
              return {fb::ReplicaBody::SetLostUnsynced,
                      fb::CreateSetLostUnsynced(b_, x.lost).Union()};
            },
            [&](const record::HotNameAdd& x) -> std::pair<fb::ReplicaBody, Offset<void>> {
              return {fb::ReplicaBody::HotNameAdd, fb::CreateHotNameAdd(b_, Str(x.path)).Union()};
            },
            [&](const record::HotNameRemove& x) -> std::pair<fb::ReplicaBody, Offset<void>> {
              return {fb::ReplicaBody::HotNameRemove,
                      fb::CreateHotNameRemove(b_, Str(x.path)).Union()};
            },
            [&](const record::SetDiskFailed& x) -> std::pair<fb::ReplicaBody, Offset<void>> {
              return {fb::ReplicaBody::SetDiskFailed,
                      fb::CreateSetDiskFailed(b_, x.failed).Union()};
            },
            [&](const record::SetDrawnAlone& x) -> std::pair<fb::ReplicaBody, Offset<void>> {
              return {fb::ReplicaBody::SetDrawnAlone,
                      fb::CreateSetDrawnAlone(b_, x.generation).Union()};
            },
            [&](const record::SetJoined& x) -> std::pair<fb::ReplicaBody, Offset<void>> {
              return {fb::ReplicaBody::SetJoined, fb::CreateSetJoined(b_, x.joined).Union()};
            },
            [&](const record::SetZoneSize& x) -> std::pair<fb::ReplicaBody, Offset<void>> {
              return {fb::ReplicaBody::SetZoneSize, fb::CreateSetZoneSize(b_, x.zone_size).Union()};
            },
            [&](const record::SetDivergencePreserved& x)
                -> std::pair<fb::ReplicaBody, Offset<void>> {
              return {fb::ReplicaBody::SetDivergencePreserved,
                      fb::CreateSetDivergencePreserved(b_, x.generation).Union()};
            },
        },
        r);
    return fb::CreateReplicaEntry(b_, type, body);
  }

 private:
  Offset<flatbuffers::String> Str(const std::string& s) { return b_.CreateString(s); }
  Offset<flatbuffers::Vector<uint8_t>> Bytes(std::string_view bytes) {
    return b_.CreateVector(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }

  // Every field of the mutation; empty strings, sets and values are left out.
  Offset<fb::JournalMutation> JournalMutation(const Mutation& m) {
    const auto path = Str(m.path);
    const auto path2 = m.path2.empty() ? 0 : Str(m.path2);
    const auto xattr_name = m.xattr_name.empty() ? 0 : Str(m.xattr_name);
    Offset<flatbuffers::Vector<Offset<fb::Xattr>>> xattrs = 0;
    if (!m.xattrs.empty()) {
      std::vector<Offset<fb::Xattr>> entries;
      entries.reserve(m.xattrs.size());
      for (const Xattr& x : m.xattrs) {
        const auto name = Str(x.name);
        const auto value = Bytes(x.value);
        entries.push_back(fb::CreateXattr(b_, name, value));
      }
      xattrs = b_.CreateVector(entries);
    }
    const auto data = m.data_size() == 0 ? 0 : Bytes(*m.data);
    return fb::CreateJournalMutation(b_, static_cast<uint8_t>(m.kind), path, path2, m.offset,
                                     m.mode, m.mtime_ns, m.uid, m.gid, m.atime_ns, m.attr_mask,
                                     xattr_name, m.xattr_flags, xattrs, m.sync,
                                     static_cast<uint8_t>(m.node_kind), data, m.rename_flags);
  }

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

const char* KindName(const Mutation& m) { return MutationKindName(m.kind); }

// Mode, attribute mask, node kind and sync flag: only where the kind has them.
absl::Status DecodeJournalAttributes(const fb::JournalMutation& m, Mutation& out) {
  if (out.mode > kMaxModeBits) {
    return Invalid("journal %s mutation has mode %o: more than permission bits", KindName(out),
                   out.mode);
  }
  if ((out.attr_mask & ~kAllAttrs) != 0) {
    return Invalid("journal %s mutation has unknown attribute bits %#x", KindName(out),
                   out.attr_mask & ~kAllAttrs);
  }
  if (out.attr_mask != 0 && out.kind != MutationKind::kSetattr) {
    return Invalid("journal %s mutation has an attribute mask", KindName(out));
  }
  // Writes are never journalled, so no journal mutation is a sync write.
  if (out.sync) return Invalid("journal %s mutation has the sync flag", KindName(out));
  const uint8_t node = m.node_kind();
  if (out.kind == MutationKind::kMknod) {
    if (node != static_cast<uint8_t>(PathKind::kFifo) &&
        node != static_cast<uint8_t>(PathKind::kSocket)) {
      return Invalid("journal mknod mutation makes node kind %d: only a FIFO or a socket",
                     static_cast<int>(node));
    }
    out.node_kind = static_cast<PathKind>(node);
  } else if (node != 0) {
    return Invalid("journal %s mutation has a node kind", KindName(out));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> XattrName(const flatbuffers::String* name, const Mutation& m) {
  if (name == nullptr || name->size() == 0) {
    return Invalid("journal %s mutation has no xattr name", KindName(m));
  }
  if (name->size() > kMaxXattrNameBytes) {
    return Invalid("journal %s mutation's xattr name of %d bytes exceeds limit %d", KindName(m),
                   name->size(), kMaxXattrNameBytes);
  }
  if (std::string_view(name->c_str(), name->size()).find('\0') != std::string_view::npos) {
    return Invalid("journal %s mutation's xattr name contains a NUL byte", KindName(m));
  }
  return name->str();
}

std::string BytesOf(const flatbuffers::Vector<uint8_t>* bytes) {
  if (bytes == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(bytes->data()), bytes->size());
}

// Name, flags, value and set: only where the kind has them, within file_attributes.h's limits.
absl::Status DecodeJournalXattrs(const fb::JournalMutation& m, Mutation& out) {
  const bool named = out.kind == MutationKind::kSetxattr || out.kind == MutationKind::kRemovexattr;
  if (named) {
    DUET_ASSIGN_OR_RETURN(out.xattr_name, XattrName(m.xattr_name(), out));
  } else if (m.xattr_name() != nullptr) {
    return Invalid("journal %s mutation has an xattr name", KindName(out));
  }
  const uint32_t flags = out.xattr_flags;
  if (flags != 0 && out.kind != MutationKind::kSetxattr) {
    return Invalid("journal %s mutation has xattr flags", KindName(out));
  }
  if ((flags & ~uint32_t{kXattrCreate | kXattrReplace}) != 0 ||
      flags == (kXattrCreate | kXattrReplace)) {
    return Invalid("journal setxattr mutation has xattr flags %#x: create, replace or neither",
                   flags);
  }
  const size_t value_size = m.data() == nullptr ? 0 : m.data()->size();
  if (out.kind == MutationKind::kSetxattr) {
    if (value_size > kMaxXattrValueBytes) {
      return Invalid("journal setxattr mutation's value of %d bytes exceeds limit %d", value_size,
                     kMaxXattrValueBytes);
    }
    if (value_size > 0) out.data = MakePayload(BytesOf(m.data()));
  } else if (value_size > 0) {
    return Invalid("journal %s mutation has %d bytes of data", KindName(out), value_size);
  }
  if (m.xattrs() == nullptr) return absl::OkStatus();
  if (out.kind != MutationKind::kReplaceXattrs) {
    return Invalid("journal %s mutation has an xattr set", KindName(out));
  }
  size_t total = 0;
  for (const fb::Xattr* x : *m.xattrs()) {
    Xattr entry;
    DUET_ASSIGN_OR_RETURN(entry.name, XattrName(x->name(), out));
    entry.value = BytesOf(x->value());
    if (entry.value.size() > kMaxXattrValueBytes) {
      return Invalid("journal xattr %s's value of %d bytes exceeds limit %d", entry.name,
                     entry.value.size(), kMaxXattrValueBytes);
    }
    total += entry.name.size() + entry.value.size();
    if (total > kMaxXattrSetBytes) {
      return Invalid("journal xattr set exceeds limit %d bytes", kMaxXattrSetBytes);
    }
    if (!out.xattrs.empty() && out.xattrs.back().name >= entry.name) {
      return Invalid("journal xattr set not sorted by name at %s", entry.name);
    }
    out.xattrs.push_back(std::move(entry));
  }
  return absl::OkStatus();
}

absl::StatusOr<Mutation> DecodeJournalMutation(const fb::JournalMutation* m) {
  if (m == nullptr) return Invalid("journal record has no mutation");
  Mutation out;
  DUET_ASSIGN_OR_RETURN(out.kind, JournalKindFromByte(m->kind()));
  DUET_ASSIGN_OR_RETURN(out.path, Path(m->path(), "journal mutation"));
  const bool has_path2 = out.kind == MutationKind::kRename || out.kind == MutationKind::kLink ||
                         out.kind == MutationKind::kSymlink;
  if (has_path2) {
    DUET_ASSIGN_OR_RETURN(
        out.path2,
        Path(m->path2(), absl::StrCat("journal ", MutationKindName(out.kind), "'s second name")));
  } else if (m->path2() != nullptr) {
    return Invalid("journal %s mutation has a second path", MutationKindName(out.kind));
  }
  out.offset = m->offset();
  out.mode = m->mode();
  out.mtime_ns = m->mtime_ns();
  out.uid = m->uid();
  out.gid = m->gid();
  out.atime_ns = m->atime_ns();
  out.attr_mask = m->attr_mask();
  out.xattr_flags = m->xattr_flags();
  out.sync = m->sync();
  out.rename_flags = m->rename_flags();
  if (out.rename_flags != 0 && out.kind != MutationKind::kRename) {
    return Invalid("journal %s mutation has rename flags", KindName(out));
  }
  if (!ValidRenameFlags(out.rename_flags)) {
    return Invalid("journal rename mutation has rename flags %#x: noreplace, exchange or neither",
                   out.rename_flags);
  }
  DUET_RETURN_IF_ERROR(DecodeJournalAttributes(*m, out));
  DUET_RETURN_IF_ERROR(DecodeJournalXattrs(*m, out));
  return out;
}

absl::StatusOr<ReplicaRecord> DecodeEntry(const fb::ReplicaEntry* e) {
  if (e == nullptr) return Invalid("replica batch has a missing entry");
  switch (e->body_type()) {
    case fb::ReplicaBody::SetGenerations: {
      const fb::Generations* g = e->body_as_SetGenerations()->gens();
      if (g == nullptr) return Invalid("SetGenerations record has no generations");
      record::SetGenerations out;
      out.gens.current = g->current();
      out.gens.bitmap = g->bitmap();
      out.gens.history = {g->history()->Get(0), g->history()->Get(1)};
      return out;
    }
    case fb::ReplicaBody::MarkDirty: {
      const auto* x = e->body_as_MarkDirty();
      if (x->first() > x->last()) {
        return Invalid("MarkDirty record's first zone %d is after its last %d", x->first(),
                       x->last());
      }
      DUET_ASSIGN_OR_RETURN(std::string path, Path(x->path(), "MarkDirty record"));
      return record::MarkDirty{std::move(path), x->first(), x->last()};
    }
    case fb::ReplicaBody::MarkClean: {
      const auto* x = e->body_as_MarkClean();
      DUET_ASSIGN_OR_RETURN(std::string path, Path(x->path(), "MarkClean record"));
      return record::MarkClean{std::move(path), x->zone()};
    }
    case fb::ReplicaBody::ClearDirty:
      return record::ClearDirty{};
    case fb::ReplicaBody::Journal: {
      const fb::Journal* x = e->body_as_Journal();
      DUET_ASSIGN_OR_RETURN(Mutation m, DecodeJournalMutation(x->mutation()));
      return record::Journal{std::move(m), x->as_is()};
    }
    case fb::ReplicaBody::HotAdd: {
      const auto* x = e->body_as_HotAdd();
      DUET_ASSIGN_OR_RETURN(std::string path, Path(x->path(), "HotAdd record"));
      return record::HotAdd{std::move(path), x->zone()};
    }
    case fb::ReplicaBody::HotRemove: {
      const auto* x = e->body_as_HotRemove();
      DUET_ASSIGN_OR_RETURN(std::string path, Path(x->path(), "HotRemove record"));
      return record::HotRemove{std::move(path), x->zone()};
    }
    case fb::ReplicaBody::ClearHot:
      return record::ClearHot{};
    case fb::ReplicaBody::SetInconsistent: {
      const auto* x = e->body_as_SetInconsistent();
      return record::SetInconsistent{x->inconsistent(), x->unflushed_only()};
    }
    case fb::ReplicaBody::SetOutdated:
      return record::SetOutdated{e->body_as_SetOutdated()->outdated()};
    case fb::ReplicaBody::SetAloneAcked:
      return record::SetAloneAcked{};
    case fb::ReplicaBody::Renamed: {
      const auto* x = e->body_as_Renamed();
      DUET_ASSIGN_OR_RETURN(std::string from, Path(x->from(), "Renamed record's source"));
      DUET_ASSIGN_OR_RETURN(std::string to, Path(x->to(), "Renamed record's target"));
      return record::Renamed{std::move(from), std::move(to), x->blend()};
    }
    case fb::ReplicaBody::Removed: {
      DUET_ASSIGN_OR_RETURN(std::string path, Path(e->body_as_Removed()->path(), "Removed record"));
      return record::Removed{std::move(path)};
    }
    case fb::ReplicaBody::Truncated: {
      const auto* x = e->body_as_Truncated();
      DUET_ASSIGN_OR_RETURN(std::string path, Path(x->path(), "Truncated record"));
      return record::Truncated{std::move(path), x->size()};
    }
    case fb::ReplicaBody::SetLostUnsynced:
      return record::SetLostUnsynced{e->body_as_SetLostUnsynced()->lost()};
    case fb::ReplicaBody::HotNameAdd: {
      DUET_ASSIGN_OR_RETURN(std::string path,
                            Path(e->body_as_HotNameAdd()->path(), "HotNameAdd record"));
      return record::HotNameAdd{std::move(path)};
    }
    case fb::ReplicaBody::HotNameRemove: {
      DUET_ASSIGN_OR_RETURN(std::string path,
                            Path(e->body_as_HotNameRemove()->path(), "HotNameRemove record"));
      return record::HotNameRemove{std::move(path)};
    }
    case fb::ReplicaBody::SetDiskFailed:
      return record::SetDiskFailed{e->body_as_SetDiskFailed()->failed()};
    case fb::ReplicaBody::SetDrawnAlone:
      return record::SetDrawnAlone{e->body_as_SetDrawnAlone()->generation()};
    case fb::ReplicaBody::SetJoined:
      return record::SetJoined{e->body_as_SetJoined()->joined()};
    case fb::ReplicaBody::SetZoneSize:
      return record::SetZoneSize{e->body_as_SetZoneSize()->zone_size()};
    case fb::ReplicaBody::SetDivergencePreserved:
      return record::SetDivergencePreserved{e->body_as_SetDivergencePreserved()->generation()};
    case fb::ReplicaBody::NONE:
      break;
  }
  return Invalid("replica record of unknown type %d", static_cast<int>(e->body_type()));
}

}  // namespace

std::vector<uint8_t> EncodeRecord(const StoredRecord& record) {
  FlatBufferBuilder b(256);
  auto [type, body] = std::visit(
      Overloaded{
          [&](const PersistedModule& m) -> std::pair<fb::Body, Offset<void>> {
            return {fb::Body::Module,
                    fb::CreateModule(b, m.term, m.owner, m.admin_stopped, m.pinned, m.wrote_alone)
                        .Union()};
          },
          [&](const PersistIncarnation& i) -> std::pair<fb::Body, Offset<void>> {
            return {fb::Body::Incarnation, fb::CreateIncarnation(b, i.incarnation).Union()};
          },
          [&](const ReplicaBatch& batch) -> std::pair<fb::Body, Offset<void>> {
            Encoder encoder(b);
            std::vector<Offset<fb::ReplicaEntry>> entries;
            entries.reserve(batch.size());
            for (const ReplicaRecord& r : batch) entries.push_back(encoder.Entry(r));
            return {fb::Body::ReplicaBatch,
                    fb::CreateReplicaBatch(b, b.CreateVector(entries)).Union()};
          },
      },
      record);
  b.FinishSizePrefixed(fb::CreateRecord(b, kRecordVersion, type, body), fb::RecordIdentifier());
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
  if (!fb::SizePrefixedRecordBufferHasIdentifier(bytes.data())) {
    return Invalid("record does not carry the 'DREC' identifier");
  }
  flatbuffers::Verifier::Options options;
  options.max_depth = kMaxVerifyDepth;
  options.max_tables = kMaxVerifyTables;
  options.check_alignment = true;
  flatbuffers::Verifier verifier(bytes.data(), bytes.size(), options);
  if (!fb::VerifySizePrefixedRecordBuffer(verifier)) return Invalid("record failed verification");
  const fb::Record* root = fb::GetSizePrefixedRecord(bytes.data());
  if (root->version() != kRecordVersion) {
    return Invalid("unsupported record version %d (this build reads %d)", root->version(),
                   kRecordVersion);
  }
  switch (root->body_type()) {
    case fb::Body::Module: {
      const fb::Module* m = root->body_as_Module();
      if (m->owner() > 1) {
        return Invalid("module record's owner %d is not 0 or 1", static_cast<int>(m->owner()));
      }
      return PersistedModule{m->term(), m->owner(), m->admin_stopped(), m->pinned(),
                             m->wrote_alone()};
    }
    case fb::Body::Incarnation:
      return PersistIncarnation{root->body_as_Incarnation()->incarnation()};
    case fb::Body::ReplicaBatch: {
      const auto* entries = root->body_as_ReplicaBatch()->records();
      if (entries == nullptr) return Invalid("replica batch has no record list");
      if (entries->size() > kMaxBatchRecords) {
        return Invalid("replica batch of %d records exceeds limit %d", entries->size(),
                       kMaxBatchRecords);
      }
      ReplicaBatch batch;
      batch.reserve(entries->size());
      for (flatbuffers::uoffset_t i = 0; i < entries->size(); ++i) {
        absl::StatusOr<ReplicaRecord> r = DecodeEntry(entries->Get(i));
        if (!r.ok()) {
          return Invalid("replica batch entry %d: %s", i, r.status().message());
        }
        batch.push_back(*std::move(r));
      }
      return batch;
    }
    case fb::Body::NONE:
      break;
  }
  return Invalid("record of unknown type %d", static_cast<int>(root->body_type()));
}

}  // namespace duet::wire
