#include "adapters/store/errno_status.h"

#include <errno.h>
#include <string.h>

#include "absl/strings/str_cat.h"
#include "adapters/errno_payload.h"

namespace duet::store {

absl::StatusCode ErrnoCode(int err) {
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return absl::StatusCode::kResourceExhausted;
    case EIO:
      return absl::StatusCode::kDataLoss;
    case ENOENT:
    case ENODATA:  // an xattr name that is not there (Abseil says ResourceExhausted: a disk full)
      return absl::StatusCode::kNotFound;
    case EEXIST:
      return absl::StatusCode::kAlreadyExists;
    case EACCES:
    case EPERM:
      return absl::StatusCode::kPermissionDenied;
    case ENOTEMPTY:
    case EISDIR:
    case ENOTDIR:
    case ELOOP:
    case EROFS:
    case ENXIO:  // opening a FIFO with no reader for writing
      return absl::StatusCode::kFailedPrecondition;
    default:
      return absl::ErrnoToStatusCode(err);
  }
}

absl::Status ErrnoStatus(int err, absl::string_view op, absl::string_view path) {
  const char* name = strerrorname_np(err);
  const char* description = strerrordesc_np(err);
  return WithErrno(
      absl::Status(
          ErrnoCode(err),
          absl::StrCat(name != nullptr ? name : absl::StrCat("errno ", err), ": ", op, " '", path,
                       "': ", description != nullptr ? description : "unknown error")),
      err);
}

}  // namespace duet::store
