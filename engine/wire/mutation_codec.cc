#include "engine/wire/mutation_codec.h"

#include <string>

#include "absl/strings/str_format.h"
#include "engine/status_macros.h"
#include "engine/wire/codec.h"
#include "engine/wire/duet_generated.h"
#include "engine/wire/field_codec.h"
#include "engine/wire/records_generated.h"

namespace duet::wire {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;
// The path-kind mappings of field_codec.h, overloaded with this file's own.
using ::duet::wire::FromWire;
using ::duet::wire::ToWire;

// A version-2 journal entry stores its kind and node kind as the engine's enum values; it is
// read through the wire enums' explicit mapping, so every value a journal held must be the
// same in both.
template <class A, class B>
constexpr bool Same(A a, B b) {
  return static_cast<int>(a) == static_cast<int>(b);
}
static_assert(Same(fb::MutationKind::Truncate, MutationKind::kTruncate) &&
              Same(fb::MutationKind::Create, MutationKind::kCreate) &&
              Same(fb::MutationKind::Mkdir, MutationKind::kMkdir) &&
              Same(fb::MutationKind::Unlink, MutationKind::kUnlink) &&
              Same(fb::MutationKind::Rmdir, MutationKind::kRmdir) &&
              Same(fb::MutationKind::Rename, MutationKind::kRename) &&
              Same(fb::MutationKind::Symlink, MutationKind::kSymlink) &&
              Same(fb::MutationKind::Link, MutationKind::kLink) &&
              Same(fb::MutationKind::Setattr, MutationKind::kSetattr) &&
              Same(fb::MutationKind::RemoveTree, MutationKind::kRemoveTree) &&
              Same(fb::MutationKind::Setxattr, MutationKind::kSetxattr) &&
              Same(fb::MutationKind::Removexattr, MutationKind::kRemovexattr) &&
              Same(fb::MutationKind::ReplaceXattrs, MutationKind::kReplaceXattrs) &&
              Same(fb::MutationKind::Mknod, MutationKind::kMknod));
static_assert(Same(fb::PathKind::Absent, PathKind::kAbsent) &&
              Same(fb::PathKind::Fifo, PathKind::kFifo) &&
              Same(fb::PathKind::Socket, PathKind::kSocket));

fb::MutationKind ToWire(MutationKind kind) {
  switch (kind) {
    case MutationKind::kWrite:
      return fb::MutationKind::Write;
    case MutationKind::kTruncate:
      return fb::MutationKind::Truncate;
    case MutationKind::kCreate:
      return fb::MutationKind::Create;
    case MutationKind::kMkdir:
      return fb::MutationKind::Mkdir;
    case MutationKind::kUnlink:
      return fb::MutationKind::Unlink;
    case MutationKind::kRmdir:
      return fb::MutationKind::Rmdir;
    case MutationKind::kRename:
      return fb::MutationKind::Rename;
    case MutationKind::kSymlink:
      return fb::MutationKind::Symlink;
    case MutationKind::kLink:
      return fb::MutationKind::Link;
    case MutationKind::kSetattr:
      return fb::MutationKind::Setattr;
    case MutationKind::kFsync:
      return fb::MutationKind::Fsync;
    case MutationKind::kRemoveTree:
      return fb::MutationKind::RemoveTree;
    case MutationKind::kSetxattr:
      return fb::MutationKind::Setxattr;
    case MutationKind::kRemovexattr:
      return fb::MutationKind::Removexattr;
    case MutationKind::kReplaceXattrs:
      return fb::MutationKind::ReplaceXattrs;
    case MutationKind::kMknod:
      return fb::MutationKind::Mknod;
    case MutationKind::kFallocate:
      return fb::MutationKind::Fallocate;
  }
  return static_cast<fb::MutationKind>(kind);
}

absl::StatusOr<MutationKind> FromWire(fb::MutationKind kind, std::string_view subject) {
  switch (kind) {
    case fb::MutationKind::Write:
      return MutationKind::kWrite;
    case fb::MutationKind::Truncate:
      return MutationKind::kTruncate;
    case fb::MutationKind::Create:
      return MutationKind::kCreate;
    case fb::MutationKind::Mkdir:
      return MutationKind::kMkdir;
    case fb::MutationKind::Unlink:
      return MutationKind::kUnlink;
    case fb::MutationKind::Rmdir:
      return MutationKind::kRmdir;
    case fb::MutationKind::Rename:
      return MutationKind::kRename;
    case fb::MutationKind::Symlink:
      return MutationKind::kSymlink;
    case fb::MutationKind::Link:
      return MutationKind::kLink;
    case fb::MutationKind::Setattr:
      return MutationKind::kSetattr;
    case fb::MutationKind::Fsync:
      return MutationKind::kFsync;
    case fb::MutationKind::RemoveTree:
      return MutationKind::kRemoveTree;
    case fb::MutationKind::Setxattr:
      return MutationKind::kSetxattr;
    case fb::MutationKind::Removexattr:
      return MutationKind::kRemovexattr;
    case fb::MutationKind::ReplaceXattrs:
      return MutationKind::kReplaceXattrs;
    case fb::MutationKind::Mknod:
      return MutationKind::kMknod;
    case fb::MutationKind::Fallocate:
      return MutationKind::kFallocate;
  }
  return Invalid("%s has unknown mutation kind %d", subject, static_cast<int>(kind));
}

// The fields the two tables name alike are read alike; these are the ones they do not.
fb::MutationKind KindOf(const fb::Mutation& in) { return in.kind(); }
fb::MutationKind KindOf(const records::JournalMutation& in) {
  return static_cast<fb::MutationKind>(in.kind());
}
fb::PathKind NodeKindOf(const fb::Mutation& in) { return in.node_kind(); }
fb::PathKind NodeKindOf(const records::JournalMutation& in) {
  return static_cast<fb::PathKind>(in.node_kind());
}
// A version-2 journal entry has no fallocate fields (and no fallocate).
uint64_t LengthOf(const fb::Mutation& in) { return in.length(); }
uint64_t LengthOf(const records::JournalMutation&) { return 0; }
uint32_t FallocateModeOf(const fb::Mutation& in) { return in.fallocate_mode(); }
uint32_t FallocateModeOf(const records::JournalMutation&) { return 0; }

// A fallocate's range and mode; no other kind has them.
template <class Table>
absl::Status ReadFallocateRange(const Table& in, std::string_view subject, Mutation& out) {
  const uint64_t length = LengthOf(in);
  const uint32_t mode = FallocateModeOf(in);
  if (out.kind != MutationKind::kFallocate) {
    if (length != 0) return Invalid("%s with a length", subject);
    if (mode != 0) return Invalid("%s with a fallocate mode", subject);
    return absl::OkStatus();
  }
  if (!ValidFallocateMode(mode)) {
    return Invalid(
        "%s with mode %s (%#x): allocate, keep-size, punch-hole|keep-size or "
        "zero-range[|keep-size] only",
        subject, FallocateModeName(mode), mode);
  }
  if (length == 0) return Invalid("%s of length 0", subject);
  if (out.offset > kMaxFileOffset || length > kMaxFileOffset - out.offset) {
    return Invalid("%s of %d bytes at offset %d ends past the largest file offset", subject, length,
                   out.offset);
  }
  out.length = length;
  out.fallocate_mode = mode;
  return absl::OkStatus();
}

// Both names, the offset and the data: which the kind has, and within their limits.
template <class Table>
absl::Status ReadNamesAndData(const Table& in, std::string_view subject, Mutation& out) {
  // An fsync without a path covers the whole tree.
  DUET_ASSIGN_OR_RETURN(
      out.path, ReadRelativePath(in.path(), subject, "path", out.kind == MutationKind::kFsync));
  if (out.kind == MutationKind::kRename || out.kind == MutationKind::kLink) {
    DUET_ASSIGN_OR_RETURN(out.path2, ReadRelativePath(in.path2(), subject, "path2", false));
  } else if (out.kind == MutationKind::kSymlink) {
    DUET_ASSIGN_OR_RETURN(out.path2, ReadLinkTarget(in.path2(), subject, "path2"));
  } else if (!View(in.path2()).empty()) {
    return Invalid("%s with a path2", subject);
  }
  const uint64_t data_size = in.data() == nullptr ? 0 : in.data()->size();
  out.offset = in.offset();
  if (out.kind == MutationKind::kWrite) {
    if (data_size > kMaxWriteBytes) {
      return Invalid("%s with %d bytes of data exceeds limit %d", subject, data_size,
                     kMaxWriteBytes);
    }
    if (out.offset > kMaxFileOffset - data_size) {
      return Invalid("%s of %d bytes at offset %d ends past the largest file offset", subject,
                     data_size, out.offset);
    }
  } else if (out.kind == MutationKind::kSetxattr) {
    if (data_size > kMaxXattrValueBytes) {
      return Invalid("%s with a value of %d bytes exceeds limit %d", subject, data_size,
                     kMaxXattrValueBytes);
    }
  } else if (data_size > 0) {
    return Invalid("%s with %d bytes of data", subject, data_size);
  }
  if (out.kind == MutationKind::kTruncate && out.offset > kMaxFileOffset) {
    return Invalid("%s to size %d exceeds the largest file size", subject, out.offset);
  }
  DUET_ASSIGN_OR_RETURN(out.data, ReadPayload(in.data(), kMaxWriteBytes, subject));
  return absl::OkStatus();
}

// The xattr name, flags and set, and the rename flags: only where the kind has them.
template <class Table>
absl::Status ReadXattrsAndFlags(const Table& in, std::string_view subject, Mutation& out) {
  if (out.kind == MutationKind::kSetxattr || out.kind == MutationKind::kRemovexattr) {
    DUET_ASSIGN_OR_RETURN(out.xattr_name, ReadXattrName(in.xattr_name(), subject));
  } else if (!View(in.xattr_name()).empty()) {
    return Invalid("%s with an xattr name", subject);
  }
  const uint32_t flags = in.xattr_flags();
  if (flags != 0 && out.kind != MutationKind::kSetxattr) {
    return Invalid("%s with xattr flags", subject);
  }
  if ((flags & ~uint32_t{kXattrCreate | kXattrReplace}) != 0 ||
      flags == (kXattrCreate | kXattrReplace)) {
    return Invalid("%s with xattr flags %#x: create, replace or neither", subject, flags);
  }
  out.xattr_flags = flags;
  if (out.kind == MutationKind::kReplaceXattrs) {
    DUET_ASSIGN_OR_RETURN(out.xattrs, ReadXattrSet(in.xattrs(), subject));
  } else if (in.xattrs() != nullptr && in.xattrs()->size() > 0) {
    return Invalid("%s with an xattr set", subject);
  }
  if (in.rename_flags() != 0 && out.kind != MutationKind::kRename) {
    return Invalid("%s with rename flags", subject);
  }
  if (!ValidRenameFlags(in.rename_flags())) {
    return Invalid("%s with rename flags %#x: noreplace, exchange or neither", subject,
                   in.rename_flags());
  }
  out.rename_flags = in.rename_flags();
  return absl::OkStatus();
}

// Mode, owners, times, attribute mask, sync flag and node kind.
template <class Table>
absl::Status ReadAttributes(const Table& in, std::string_view subject, Mutation& out) {
  if (in.sync() && out.kind != MutationKind::kWrite) return Invalid("%s with sync", subject);
  out.sync = in.sync();
  DUET_ASSIGN_OR_RETURN(out.node_kind, FromWire(NodeKindOf(in), subject));
  const bool special = out.node_kind == PathKind::kFifo || out.node_kind == PathKind::kSocket;
  if (out.kind == MutationKind::kMknod && !special) {
    return Invalid("%s makes a %s: only a FIFO or a socket", subject,
                   fb::EnumNamePathKind(NodeKindOf(in)));
  }
  if (out.kind != MutationKind::kMknod && out.node_kind != PathKind::kAbsent) {
    return Invalid("%s with a node kind", subject);
  }
  if (in.mode() > kMaxModeBits) {
    return Invalid("%s with mode %o: more than permission bits", subject, in.mode());
  }
  if ((in.attr_mask() & ~kAllAttrs) != 0) {
    return Invalid("%s with unknown attribute bits %#x", subject, in.attr_mask() & ~kAllAttrs);
  }
  if (in.attr_mask() != 0 && out.kind != MutationKind::kSetattr) {
    return Invalid("%s with an attribute mask", subject);
  }
  out.mode = in.mode();
  out.uid = in.uid();
  out.gid = in.gid();
  out.atime_ns = in.atime_ns();
  out.mtime_ns = in.mtime_ns();
  out.attr_mask = in.attr_mask();
  return absl::OkStatus();
}

template <class Table>
absl::StatusOr<Mutation> ReadAnyMutation(const Table& in, MutationHolder holder,
                                         std::string_view holder_name) {
  Mutation out;
  DUET_ASSIGN_OR_RETURN(out.kind, FromWire(KindOf(in), holder_name));
  const std::string subject =
      absl::StrFormat("%s %s mutation", holder_name, MutationKindName(out.kind));
  if (holder == MutationHolder::kJournal && !out.is_namespace()) {
    return Invalid("%s: not a namespace change (only those are journalled)", subject);
  }
  DUET_RETURN_IF_ERROR(ReadNamesAndData(in, subject, out));
  DUET_RETURN_IF_ERROR(ReadXattrsAndFlags(in, subject, out));
  DUET_RETURN_IF_ERROR(ReadAttributes(in, subject, out));
  DUET_RETURN_IF_ERROR(ReadFallocateRange(in, subject, out));
  return out;
}

}  // namespace

Offset<fb::Mutation> BuildMutation(FlatBufferBuilder& builder, const Mutation& m) {
  const auto path = OptionalString(builder, m.path);
  const auto path2 = OptionalString(builder, m.path2);
  const auto data = OptionalBytes(builder, m.data);
  const auto xattr_name = OptionalString(builder, m.xattr_name);
  const auto xattrs = OptionalXattrs(builder, m.xattrs);
  return fb::CreateMutation(builder, ToWire(m.kind), path, path2, m.offset, data, m.mode,
                            m.mtime_ns, m.uid, m.gid, m.atime_ns, m.attr_mask, xattr_name,
                            m.xattr_flags, xattrs, m.sync, ToWire(m.node_kind), m.length,
                            m.fallocate_mode, m.rename_flags);
}

absl::StatusOr<Mutation> ReadMutation(const fb::Mutation& in, MutationHolder holder,
                                      std::string_view holder_name) {
  return ReadAnyMutation(in, holder, holder_name);
}

absl::StatusOr<Mutation> ReadMutation(const records::JournalMutation& in,
                                      std::string_view holder_name) {
  return ReadAnyMutation(in, MutationHolder::kJournal, holder_name);
}

}  // namespace duet::wire
