#include "engine/wire/field_codec.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "engine/wire/codec.h"

namespace duet::wire {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

// (Debian's absl::string_view is its own type, not std::string_view.)
std::string Quoted(std::string_view name) {
  return "'" + absl::CHexEscape(absl::string_view(name.data(), name.size())) + "'";
}

fb::PathKind ToWire(PathKind kind) {
  switch (kind) {
    case PathKind::kAbsent:
      return fb::PathKind::Absent;
    case PathKind::kFile:
      return fb::PathKind::File;
    case PathKind::kDirectory:
      return fb::PathKind::Directory;
    case PathKind::kSymlink:
      return fb::PathKind::Symlink;
    case PathKind::kFifo:
      return fb::PathKind::Fifo;
    case PathKind::kSocket:
      return fb::PathKind::Socket;
  }
  return static_cast<fb::PathKind>(kind);
}

// An empty string is left out of the frame (the decoder reads an absent string as empty).
Offset<flatbuffers::String> OptionalString(FlatBufferBuilder& builder, const std::string& text) {
  if (text.empty()) return 0;
  return builder.CreateString(text);
}

// A null payload is left out; a present one, even empty, is written, so null and empty
// payloads both survive the round trip.
Offset<flatbuffers::Vector<uint8_t>> OptionalBytes(FlatBufferBuilder& builder,
                                                   const Payload& data) {
  if (data == nullptr) return 0;
  return builder.CreateVector(reinterpret_cast<const uint8_t*>(data->data()), data->size());
}

// An empty set is left out (the decoder reads an absent vector as an empty set).
Offset<flatbuffers::Vector<Offset<fb::Xattr>>> OptionalXattrs(FlatBufferBuilder& builder,
                                                              const XattrSet& xattrs) {
  if (xattrs.empty()) return 0;
  std::vector<Offset<fb::Xattr>> entries;
  entries.reserve(xattrs.size());
  for (const Xattr& x : xattrs) {
    const auto name = builder.CreateString(x.name);
    const auto value =
        builder.CreateVector(reinterpret_cast<const uint8_t*>(x.value.data()), x.value.size());
    entries.push_back(fb::CreateXattr(builder, name, value));
  }
  return builder.CreateVector(entries);
}

size_t XattrBytes(const XattrSet& xattrs) {
  size_t bytes = 0;
  for (const Xattr& x : xattrs) bytes += x.name.size() + x.value.size() + 16;
  return bytes;
}

absl::StatusOr<PathKind> FromWire(fb::PathKind kind, std::string_view subject) {
  switch (kind) {
    case fb::PathKind::Absent:
      return PathKind::kAbsent;
    case fb::PathKind::File:
      return PathKind::kFile;
    case fb::PathKind::Directory:
      return PathKind::kDirectory;
    case fb::PathKind::Symlink:
      return PathKind::kSymlink;
    case fb::PathKind::Fifo:
      return PathKind::kFifo;
    case fb::PathKind::Socket:
      return PathKind::kSocket;
  }
  return Invalid("%s has unknown path kind %d", subject, static_cast<int>(kind));
}

// An absent string reads as empty (the encoder leaves empty ones out).
std::string_view View(const flatbuffers::String* text) {
  return text == nullptr ? std::string_view() : std::string_view(text->data(), text->size());
}

// A path inside the module's tree, as the secondary's apply will resolve it under the backing
// directory (which also refuses symlinks out of it: this check is the first line only).
// `subject` and `field` name it in errors: "ReplWrite 'db' rename mutation", "path2".
absl::StatusOr<std::string> ReadRelativePath(const flatbuffers::String* text,
                                             std::string_view subject, std::string_view field,
                                             bool allow_empty) {
  const std::string_view path = View(text);
  if (path.empty()) {
    if (allow_empty) return std::string();
    return Invalid("%s without a %s", subject, field);
  }
  if (path.size() > kMaxPathBytes) {
    return Invalid("%s %s of %d bytes exceeds limit %d", subject, field, path.size(),
                   kMaxPathBytes);
  }
  if (path.find('\0') != std::string_view::npos) {
    return Invalid("%s %s %s contains a NUL byte", subject, field, Quoted(path));
  }
  if (path.front() == '/') {
    return Invalid("%s %s %s is absolute", subject, field, Quoted(path));
  }
  size_t start = 0;
  while (true) {
    const size_t end = std::min(path.find('/', start), path.size());
    const std::string_view component = path.substr(start, end - start);
    if (component.empty()) {
      return Invalid("%s %s %s has an empty component", subject, field, Quoted(path));
    }
    if (component == "." || component == "..") {
      return Invalid("%s %s %s has a '%s' component", subject, field, Quoted(path), component);
    }
    if (end == path.size()) break;
    start = end + 1;
  }
  return std::string(path);
}

// A symlink's target, kept verbatim (the link may point anywhere, as on the primary; what it
// points at is never followed by the apply).
absl::StatusOr<std::string> ReadLinkTarget(const flatbuffers::String* text,
                                           std::string_view subject, std::string_view field) {
  const std::string_view target = View(text);
  if (target.empty()) return Invalid("%s without a %s", subject, field);
  if (target.size() > kMaxPathBytes) {
    return Invalid("%s %s of %d bytes exceeds limit %d", subject, field, target.size(),
                   kMaxPathBytes);
  }
  if (target.find('\0') != std::string_view::npos) {
    return Invalid("%s %s %s contains a NUL byte", subject, field, Quoted(target));
  }
  return std::string(target);
}

// The bytes of `data` (absent: no payload), at most `limit` of them. This copies: the Payload
// must outlive the frame buffer. The adapter could avoid the copy by handing the decoder a
// reference-counted frame buffer and pointing the Payload into it (shared_ptr's aliasing
// constructor), at the price of keeping the whole frame alive as long as the payload.
absl::StatusOr<Payload> ReadPayload(const flatbuffers::Vector<uint8_t>* data, size_t limit,
                                    std::string_view subject) {
  if (data == nullptr) return Payload();
  if (data->size() > limit) {
    return Invalid("%s with %d bytes of data exceeds limit %d", subject, data->size(), limit);
  }
  return MakePayload(std::string(reinterpret_cast<const char*>(data->data()), data->size()));
}

// An xattr name: non-empty, no NUL, at most kMaxXattrNameBytes.
absl::StatusOr<std::string> ReadXattrName(const flatbuffers::String* text,
                                          std::string_view subject) {
  const std::string_view name = View(text);
  if (name.empty()) return Invalid("%s without an xattr name", subject);
  if (name.size() > kMaxXattrNameBytes) {
    return Invalid("%s xattr name of %d bytes exceeds limit %d", subject, name.size(),
                   kMaxXattrNameBytes);
  }
  if (name.find('\0') != std::string_view::npos) {
    return Invalid("%s xattr name %s contains a NUL byte", subject, Quoted(name));
  }
  return std::string(name);
}

}  // namespace duet::wire
