// The Status a failed system call becomes (adapter contract C8): a code the engine acts on
// (ENOSPC/EDQUOT ResourceExhausted, EIO DataLoss, ENOENT/ENODATA NotFound, EEXIST AlreadyExists,
// EACCES/EPERM PermissionDenied, ENOTEMPTY/EISDIR/ENOTDIR/ELOOP/EROFS/ENXIO
// FailedPrecondition, the rest as Abseil maps them), and a message that starts with the
// errno's name, then the operation, the path and the system's description:
// "ENOSPC: write 'a/b': No space left on device". The errno itself rides along as the
// kErrnoPayloadUrl payload (adapters/errno_payload.h), which the mount reads back exactly.
#ifndef DUET_ADAPTERS_STORE_ERRNO_STATUS_H_
#define DUET_ADAPTERS_STORE_ERRNO_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace duet::store {

absl::StatusCode ErrnoCode(int err);

// `op` names the operation ("write", "rename"), `path` the module-relative path(s).
absl::Status ErrnoStatus(int err, absl::string_view op, absl::string_view path);

}  // namespace duet::store

#endif  // DUET_ADAPTERS_STORE_ERRNO_STATUS_H_
