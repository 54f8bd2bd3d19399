// The fields that wire frames (codec.cc) and metadata records (record_codec.cc, through
// mutation_codec.cc) carry alike: paths, symlink targets, payloads, xattr names and sets, path
// kinds. Writers leave empty values out; readers check each value against the limits of
// codec.h and file_attributes.h and return an absl::InvalidArgumentError naming `subject`
// (the holder, e.g. "ReplWrite 'db' rename mutation") and what is wrong. Internal to
// engine/wire: nothing outside encodes or decodes FlatBuffers.
#ifndef DUET_ENGINE_WIRE_FIELD_CODEC_H_
#define DUET_ENGINE_WIRE_FIELD_CODEC_H_

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "engine/replication/file_attributes.h"
#include "engine/replication/mutation.h"
#include "engine/wire/duet_generated.h"
#include "flatbuffers/flatbuffers.h"

namespace duet::wire {

// Largest file offset (off_t): a write, truncate or fallocate must end at or below it.
inline constexpr uint64_t kMaxFileOffset = std::numeric_limits<int64_t>::max();

template <typename... Args>
absl::Status Invalid(const absl::FormatSpec<Args...>& format, const Args&... args) {
  return absl::InvalidArgumentError(absl::StrFormat(format, args...));
}

// Names come from the peer or the disk; keep control bytes out of the error text and logs.
std::string Quoted(std::string_view name);
// An absent string reads as empty (the writers leave empty ones out).
std::string_view View(const flatbuffers::String* text);

// ----- Writing --------------------------------------------------------------------------

flatbuffers::Offset<flatbuffers::String> OptionalString(flatbuffers::FlatBufferBuilder& builder,
                                                        const std::string& text);
// A null payload is left out; a present one, even empty, is written, so null and empty
// payloads both survive the round trip.
flatbuffers::Offset<flatbuffers::Vector<uint8_t>> OptionalBytes(
    flatbuffers::FlatBufferBuilder& builder, const Payload& data);
// An empty set is left out (read back as an empty set).
flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::Xattr>>> OptionalXattrs(
    flatbuffers::FlatBufferBuilder& builder, const XattrSet& xattrs);
// Bytes an xattr set adds to a buffer, about (for sizing a builder).
size_t XattrBytes(const XattrSet& xattrs);
fb::PathKind ToWire(PathKind kind);

// ----- Reading --------------------------------------------------------------------------

absl::StatusOr<PathKind> FromWire(fb::PathKind kind, std::string_view subject);
// A path inside the module's tree: non-empty (unless `allow_empty`), at most kMaxPathBytes,
// no NUL, not absolute, no empty, "." or ".." component. `field` names it: "path2".
absl::StatusOr<std::string> ReadRelativePath(const flatbuffers::String* text,
                                             std::string_view subject, std::string_view field,
                                             bool allow_empty);
// A symlink's target, kept verbatim: non-empty, no NUL, at most kMaxPathBytes.
absl::StatusOr<std::string> ReadLinkTarget(const flatbuffers::String* text,
                                           std::string_view subject, std::string_view field);
// The bytes of `data` (absent: no payload), at most `limit` of them, copied.
absl::StatusOr<Payload> ReadPayload(const flatbuffers::Vector<uint8_t>* data, size_t limit,
                                    std::string_view subject);
// An xattr name: non-empty, no NUL, at most kMaxXattrNameBytes.
absl::StatusOr<std::string> ReadXattrName(const flatbuffers::String* text,
                                          std::string_view subject);

// A whole xattr set: valid names in strictly increasing order (sorted, none twice), values
// of at most kMaxXattrValueBytes, at most kMaxXattrSetBytes of names and values in all.
// `XattrTable`: any table with `name: string; value: [ubyte]` (duet.fbs's, or records.fbs's
// of version 2 records).
template <class XattrTable>
absl::StatusOr<XattrSet> ReadXattrSet(
    const flatbuffers::Vector<flatbuffers::Offset<XattrTable>>* in, std::string_view subject) {
  XattrSet out;
  if (in == nullptr) return out;
  size_t total = 0;
  for (const XattrTable* x : *in) {
    Xattr entry;
    absl::StatusOr<std::string> name = ReadXattrName(x->name(), subject);
    if (!name.ok()) return name.status();
    entry.name = *std::move(name);
    const size_t value_size = x->value() == nullptr ? 0 : x->value()->size();
    if (value_size > kMaxXattrValueBytes) {
      return Invalid("%s xattr %s value of %d bytes exceeds limit %d", subject, Quoted(entry.name),
                     value_size, kMaxXattrValueBytes);
    }
    if (value_size > 0) {
      entry.value.assign(reinterpret_cast<const char*>(x->value()->data()), value_size);
    }
    total += entry.name.size() + value_size;
    if (total > kMaxXattrSetBytes) {
      return Invalid("%s xattr set exceeds limit %d bytes", subject, kMaxXattrSetBytes);
    }
    if (!out.empty() && out.back().name >= entry.name) {
      return Invalid("%s xattr set not sorted by name at %s", subject, Quoted(entry.name));
    }
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace duet::wire

#endif  // DUET_ENGINE_WIRE_FIELD_CODEC_H_
