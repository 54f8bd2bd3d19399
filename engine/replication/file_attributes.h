// The attributes of a path that replicate exactly: permission bits, owner, group and the two
// times an application can set (atime, mtime). ctime and the birth time are each node's own:
// no system call sets them. A size is not an attribute here: it changes by kTruncate.
//
// Rules every adapter keeps (see engine/adapter_contract.h C13):
//  - `mode` is the permission bits only (st_mode & 07777); the file type is the PathKind.
//  - Times are nanoseconds since the Unix epoch (negative: before 1970).
//  - utimensat's UTIME_NOW is resolved by the primary's adapter to a concrete time (its
//    CLOCK_REALTIME at the call) before the LocalMutation: the secondary sets that same value.
//    UTIME_OMIT leaves the time out of the mask. A utimensat that omits both times is no
//    mutation at all.
//  - The mtime a write, truncate or fallocate sets, and a new entry's atime and mtime, are
//    the primary's: its adapter stamps the mutation with its CLOCK_REALTIME at the call
//    (Mutation::mtime_ns, StampsChangeTime in mutation.h) and both nodes' stores set that
//    time after the change. What stays each node's own: ctime (no call sets it), atime
//    changed by reads, and the times of a directory whose entries change (a create, unlink
//    or rename in it); a resync sets those from the source.
#ifndef DUET_ENGINE_REPLICATION_FILE_ATTRIBUTES_H_
#define DUET_ENGINE_REPLICATION_FILE_ATTRIBUTES_H_

#include <cstdint>
#include <string>
#include <vector>

namespace duet {

// Which attributes a kSetattr sets: a bit set. A bit not set leaves that attribute as it is.
enum AttrBit : uint32_t {
  kAttrMode = 1u << 0,
  kAttrUid = 1u << 1,
  kAttrGid = 1u << 2,
  kAttrAtime = 1u << 3,
  kAttrMtime = 1u << 4,
};
inline constexpr uint32_t kAllAttrs = kAttrMode | kAttrUid | kAttrGid | kAttrAtime | kAttrMtime;
// The largest permission bits (setuid, setgid, sticky, rwx for three classes).
inline constexpr uint32_t kMaxModeBits = 07777;

// Extended attributes (POSIX ACLs are the xattrs system.posix_acl_access and
// system.posix_acl_default, replicated as bytes like any other). Names are at most 255 bytes
// (XATTR_NAME_MAX), non-empty, without NUL; values at most 64 KiB (XATTR_SIZE_MAX).
inline constexpr size_t kMaxXattrNameBytes = 255;
inline constexpr size_t kMaxXattrValueBytes = size_t{64} << 10;
// The most bytes (names and values) of one path's xattr set a resync carries.
inline constexpr size_t kMaxXattrSetBytes = size_t{1} << 20;

// A kSetxattr's flags, as setxattr(2) takes them. The primary's apply honours them (EEXIST,
// ENODATA go back to the application); the secondary applies with the same flags, so a copy
// that differs fails there too and asks for the path again.
enum XattrFlag : uint32_t {
  kXattrCreate = 1,   // XATTR_CREATE: fail if the name exists
  kXattrReplace = 2,  // XATTR_REPLACE: fail if it does not
};

struct Xattr {
  std::string name;
  std::string value;
  friend bool operator==(const Xattr&, const Xattr&) = default;
};
// A path's whole xattr set, sorted by name.
using XattrSet = std::vector<Xattr>;

// Copies the attributes above (mode, uid, gid, atime_ns, mtime_ns) between any two of the
// structs that carry them (ZoneRead, ResyncBlock, ResyncSame, Mutation).
template <class From, class To>
void CopyAttributes(const From& from, To& to) {
  to.mode = from.mode;
  to.uid = from.uid;
  to.gid = from.gid;
  to.atime_ns = from.atime_ns;
  to.mtime_ns = from.mtime_ns;
}

}  // namespace duet

#endif  // DUET_ENGINE_REPLICATION_FILE_ATTRIBUTES_H_
