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
//  - Time changes a write or a read makes implicitly (mtime/ctime on write, atime on read)
//    are each node's own and do not replicate; only an explicit kSetattr and a resync make
//    the times of the two copies equal.
#ifndef DUET_ENGINE_REPLICATION_FILE_ATTRIBUTES_H_
#define DUET_ENGINE_REPLICATION_FILE_ATTRIBUTES_H_

#include <cstdint>

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

}  // namespace duet

#endif  // DUET_ENGINE_REPLICATION_FILE_ATTRIBUTES_H_
