#include "adapters/fuse/errno_status.h"

#include <cerrno>

#include "gtest/gtest.h"

namespace duet {
namespace {

TEST(ErrnoFromStatus, OkIsZero) { EXPECT_EQ(ErrnoFromStatus(absl::OkStatus()), 0); }

TEST(ErrnoFromStatus, InvertsTheStoresErrnoToStatusExactly) {
  for (int e : {ENOSPC, ENOENT, EEXIST, ENOTEMPTY, ENOTDIR, EISDIR, EXDEV, EACCES, EPERM, EROFS,
                EIO, EDQUOT, EFBIG, ENAMETOOLONG, ELOOP, EMLINK, EINVAL}) {
    EXPECT_EQ(ErrnoFromStatus(absl::ErrnoToStatus(e, "apply vol/f")), e) << strerror(e);
  }
}

TEST(ErrnoFromStatus, EnginesReadOnlyAndFencedAnswersAreErofs) {
  EXPECT_EQ(ErrnoFromStatus(absl::FailedPreconditionError("read-only: not primary")), EROFS);
  EXPECT_EQ(
      ErrnoFromStatus(absl::FailedPreconditionError("m: read-only on this node (not primary)")),
      EROFS);
  EXPECT_EQ(ErrnoFromStatus(absl::AbortedError("fenced: no longer primary")), EROFS);
}

TEST(ErrnoFromStatus, ErrnoNameFirstInTheMessageWins) {
  EXPECT_EQ(ErrnoFromStatus(absl::DataLossError("EIO: an earlier flush of this copy failed")), EIO);
  EXPECT_EQ(ErrnoFromStatus(absl::FailedPreconditionError("ENOTEMPTY: dir")), ENOTEMPTY);
}

TEST(ErrnoFromStatus, PayloadGivesTheExactErrno) {
  absl::Status status = absl::InternalError("whatever");
  status.SetPayload(kErrnoPayloadUrl, absl::Cord("39"));  // ENOTEMPTY
  EXPECT_EQ(ErrnoFromStatus(status), ENOTEMPTY);
}

TEST(ErrnoFromStatus, BareCodesMapToTheirDocumentedErrno) {
  EXPECT_EQ(ErrnoFromStatus(absl::NotFoundError("x")), ENOENT);
  EXPECT_EQ(ErrnoFromStatus(absl::AlreadyExistsError("x")), EEXIST);
  EXPECT_EQ(ErrnoFromStatus(absl::ResourceExhaustedError("x")), ENOSPC);
  EXPECT_EQ(ErrnoFromStatus(absl::DataLossError("x")), EIO);
  EXPECT_EQ(ErrnoFromStatus(absl::PermissionDeniedError("x")), EACCES);
  EXPECT_EQ(ErrnoFromStatus(absl::UnimplementedError("x")), ENOTSUP);
  EXPECT_EQ(ErrnoFromStatus(absl::InternalError("x")), EIO);
  EXPECT_EQ(ErrnoFromStatus(absl::UnavailableError("x")), EIO);
}

}  // namespace
}  // namespace duet
