#include "adapters/fuse/errno_status.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"

namespace duet {
namespace {

// Errnos large enough to cover every Linux errno (the highest, EHWPOISON, is 133).
constexpr int kMaxErrno = 134;

// The errno names the engine may put first in a message.
struct NamedErrno {
  const char* name;
  int value;
};
constexpr NamedErrno kNamedErrnos[] = {
    {"EIO", EIO},
    {"ENOSPC", ENOSPC},
    {"EDQUOT", EDQUOT},
    {"EROFS", EROFS},
    {"ENOENT", ENOENT},
    {"EEXIST", EEXIST},
    {"ENOTDIR", ENOTDIR},
    {"EISDIR", EISDIR},
    {"ENOTEMPTY", ENOTEMPTY},
    {"EXDEV", EXDEV},
    {"EACCES", EACCES},
    {"EPERM", EPERM},
    {"EINVAL", EINVAL},
    {"ENOTSUP", ENOTSUP},
    {"EFBIG", EFBIG},
    {"ENAMETOOLONG", ENAMETOOLONG},
    {"ELOOP", ELOOP},
    {"EMLINK", EMLINK},
    {"EBUSY", EBUSY},
    {"ETXTBSY", ETXTBSY},
    {"ESTALE", ESTALE},
    {"ETIMEDOUT", ETIMEDOUT},
    {"ENODATA", ENODATA},
    {"E2BIG", E2BIG},
    {"ERANGE", ERANGE},
};

int FromPayload(const absl::Status& status) {
  auto payload = status.GetPayload(kErrnoPayloadUrl);
  if (!payload.has_value()) return 0;
  int value = 0;
  if (!absl::SimpleAtoi(std::string(*payload), &value) || value <= 0 || value >= kMaxErrno) {
    return 0;
  }
  return value;
}

int FromStrerrorSuffix(const absl::Status& status) {
  const absl::string_view message = status.message();
  for (int e = 1; e < kMaxErrno; ++e) {
    if (absl::ErrnoToStatusCode(e) != status.code()) continue;
    const char* text = strerrordesc_np(e);  // thread-safe, nullptr for unknown values
    if (text == nullptr) continue;
    if (absl::EndsWith(message, text)) return e;
  }
  return 0;
}

int FromNamePrefix(const absl::Status& status) {
  const absl::string_view message = status.message();
  for (const NamedErrno& named : kNamedErrnos) {
    const absl::string_view name = named.name;
    if (absl::StartsWith(message, name) && message.size() > name.size() &&
        message[name.size()] == ':') {
      return named.value;
    }
  }
  return 0;
}

int FromCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 0;
    case absl::StatusCode::kNotFound:
      return ENOENT;
    case absl::StatusCode::kAlreadyExists:
      return EEXIST;
    case absl::StatusCode::kResourceExhausted:
      return ENOSPC;
    case absl::StatusCode::kPermissionDenied:
      return EACCES;
    case absl::StatusCode::kInvalidArgument:
      return EINVAL;
    case absl::StatusCode::kOutOfRange:
      return EFBIG;
    case absl::StatusCode::kUnimplemented:
      return ENOTSUP;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
      return EROFS;
    case absl::StatusCode::kDeadlineExceeded:
      return ETIMEDOUT;
    default:
      return EIO;
  }
}

}  // namespace

int ErrnoFromStatus(const absl::Status& status) {
  if (status.ok()) return 0;
  if (int e = FromPayload(status); e != 0) return e;
  if (int e = FromStrerrorSuffix(status); e != 0) return e;
  if (int e = FromNamePrefix(status); e != 0) return e;
  return FromCode(status.code());
}

}  // namespace duet
