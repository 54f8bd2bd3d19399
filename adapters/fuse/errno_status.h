// The errno an application's call returns for the Status the engine completes it with.
//
// The store turns a failed syscall into a Status with absl::ErrnoToStatus (ENOSPC becomes
// ResourceExhausted "...: No space left on device"); this is the inverse, so the application
// sees the errno the apply hit. The rule, first match wins:
//   1. OK: 0.
//   2. A payload under kErrnoPayloadUrl holding the errno in decimal: that errno (the store
//      attaches it to every failed system call: adapters/errno_payload.h).
//   3. A message ending in strerror(e) for an e whose absl::ErrnoToStatusCode is the status's
//      code (what absl::ErrnoToStatus writes): e.
//   4. A message starting with an errno name followed by ':' ("EIO: ...", as the engine's disk
//      fault status does): that errno.
//   5. By code alone: NotFound ENOENT, AlreadyExists EEXIST, ResourceExhausted ENOSPC,
//      PermissionDenied EACCES, InvalidArgument EINVAL, OutOfRange EFBIG, Unimplemented
//      ENOTSUP, FailedPrecondition and Aborted EROFS (the engine's "read-only: not primary"
//      and "fenced: no longer primary": the call was refused because this node may not
//      write), DeadlineExceeded ETIMEDOUT, DataLoss and everything else EIO.
#ifndef DUET_ADAPTERS_FUSE_ERRNO_STATUS_H_
#define DUET_ADAPTERS_FUSE_ERRNO_STATUS_H_

#include "absl/status/status.h"
#include "adapters/errno_payload.h"

namespace duet {

// The errno for `status` (0 for OK, never negative).
int ErrnoFromStatus(const absl::Status& status);

}  // namespace duet

#endif  // DUET_ADAPTERS_FUSE_ERRNO_STATUS_H_
