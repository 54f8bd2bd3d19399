// Owners, times and extended attributes of one entry of a backing tree, read and set through
// its parent directory's fd without following the entry if it is a symlink (the data model
// of engine/replication/file_attributes.h, adapter contract C13). Xattrs are reached through
// an O_PATH descriptor's /proc/self/fd link, so a symlink, FIFO or socket is never opened
// for I/O and never followed.
#ifndef DUET_ADAPTERS_STORE_FILE_ATTRS_H_
#define DUET_ADAPTERS_STORE_FILE_ATTRS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/replication/file_attributes.h"

namespace duet::store {

// Sets what `attr_mask` names (file_attributes.h AttrBit) of the entry `name` in `dir`: the
// owner first (a chown clears setuid/setgid bits, as on the primary), then the mode (not for
// a symlink: Linux has none of its own), then the times. `path` names it in errors.
absl::Status SetAttrsAt(int dir, const std::string& name, uint32_t attr_mask, uint32_t mode,
                        uint32_t uid, uint32_t gid, int64_t atime_ns, int64_t mtime_ns,
                        absl::string_view path);

// Gives the open entry `fd` the time of the change its mutation carries (Mutation::mtime_ns,
// StampsChangeTime): the mtime, and for an entry the mutation made, the atime too. Nothing
// when `mtime_ns` is 0 (a mutation not stamped). `path` names it in errors.
absl::Status StampChangeTime(int fd, int64_t mtime_ns, bool new_entry, absl::string_view path);

// The entry's whole xattr set, sorted by name. InvalidArgument if it exceeds the limits a
// resync carries (kMaxXattrSetBytes).
absl::StatusOr<XattrSet> ReadXattrsAt(int dir, const std::string& name, absl::string_view path);

// setxattr(2) with XattrFlag `flags` (EEXIST AlreadyExists, ENODATA NotFound).
absl::Status SetXattrAt(int dir, const std::string& name, const std::string& xattr,
                        const std::string& value, uint32_t flags, absl::string_view path);
// removexattr(2); an absent name is fine (the apply is idempotent).
absl::Status RemoveXattrAt(int dir, const std::string& name, const std::string& xattr,
                           absl::string_view path);
// Makes the entry's xattr set exactly `xattrs`: removes the others, sets these.
absl::Status ReplaceXattrsAt(int dir, const std::string& name, const XattrSet& xattrs,
                             absl::string_view path);

}  // namespace duet::store

#endif  // DUET_ADAPTERS_STORE_FILE_ATTRS_H_
