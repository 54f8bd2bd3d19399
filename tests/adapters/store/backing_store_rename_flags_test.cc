// A rename's flags (renameat2's RENAME_NOREPLACE and RENAME_EXCHANGE), applied to a real
// directory: what `ls` and `cat` show afterwards, and the errno a refused call gets.
#include <sys/stat.h>

#include <string>

#include "adapters/errno_payload.h"
#include "adapters/store/backing_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/adapters/store/store_test_util.h"

namespace duet::store::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

Mutation RenameWith(uint32_t flags, std::string from, std::string to) {
  Mutation m = MakeMutation(MutationKind::kRename, std::move(from), std::move(to));
  m.rename_flags = flags;
  return m;
}

// The errno the store attached (adapters/errno_payload.h), 0 if none.
int ErrnoOf(const absl::Status& status) {
  const auto payload = status.GetPayload(kErrnoPayloadUrl);
  return payload ? std::stoi(std::string(*payload)) : 0;
}

using RenameFlagsTest = StoreFixture;

TEST_F(RenameFlagsTest, NoReplaceOntoAFreeNameRenames) {
  ASSERT_EQ(mkdir(At("new").c_str(), 0755), 0);
  WriteFile(At("tmp-msg"), "mail");
  ASSERT_TRUE(Apply(RenameWith(kRenameNoReplace, "tmp-msg", "new/msg")).ok());
  EXPECT_FALSE(Exists(At("tmp-msg")));
  EXPECT_EQ(ReadFile(At("new/msg")), "mail");
}

TEST_F(RenameFlagsTest, NoReplaceOntoAnExistingNameIsAlreadyExistsAndChangesNothing) {
  WriteFile(At("a"), "one");
  WriteFile(At("b"), "two");
  const absl::Status status = Apply(RenameWith(kRenameNoReplace, "a", "b"));
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith("EEXIST: rename 'a' -> 'b'"));
  EXPECT_EQ(ErrnoOf(status), EEXIST);
  EXPECT_EQ(ReadFile(At("a")), "one");
  EXPECT_EQ(ReadFile(At("b")), "two");
}

TEST_F(RenameFlagsTest, ExchangeSwapsTwoFilesInDifferentDirectories) {
  ASSERT_EQ(mkdir(At("d").c_str(), 0755), 0);
  WriteFile(At("a"), "one");
  WriteFile(At("d/b"), "two");
  const ino_t a_inode = Lstat(At("a")).st_ino;
  ASSERT_TRUE(Apply(RenameWith(kRenameExchange, "a", "d/b")).ok());
  EXPECT_EQ(ReadFile(At("a")), "two");
  EXPECT_EQ(ReadFile(At("d/b")), "one");
  EXPECT_EQ(Lstat(At("d/b")).st_ino, a_inode);  // the same file, renamed, not a copy
}

TEST_F(RenameFlagsTest, ExchangeSwapsAFileWithADirectoryAndItsContents) {
  ASSERT_EQ(mkdir(At("conf").c_str(), 0755), 0);
  WriteFile(At("conf/x"), "inside");
  WriteFile(At("flat"), "a file");
  ASSERT_TRUE(Apply(RenameWith(kRenameExchange, "conf", "flat"), /*durable=*/true).ok());
  EXPECT_TRUE(S_ISDIR(Lstat(At("flat")).st_mode));
  EXPECT_EQ(ReadFile(At("flat/x")), "inside");
  EXPECT_EQ(ReadFile(At("conf")), "a file");
}

TEST_F(RenameFlagsTest, ExchangeWithAMissingNameIsNotFoundAndChangesNothing) {
  WriteFile(At("a"), "one");
  const absl::Status status = Apply(RenameWith(kRenameExchange, "a", "missing"));
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith("ENOENT: rename (exchange) 'a' -> "));
  EXPECT_EQ(ReadFile(At("a")), "one");
  EXPECT_FALSE(Exists(At("missing")));
}

TEST_F(RenameFlagsTest, ExchangeOfADirectoryWithOneInsideItIsRefused) {
  ASSERT_EQ(mkdir(At("d").c_str(), 0755), 0);
  WriteFile(At("d/f"), "x");
  const absl::Status status = Apply(RenameWith(kRenameExchange, "d", "d/f"));
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(ErrnoOf(status), EINVAL) << status;
  EXPECT_EQ(ReadFile(At("d/f")), "x");
}

TEST_F(RenameFlagsTest, BothFlagsOrUnknownBitsAreInvalidArgument) {
  WriteFile(At("a"), "one");
  WriteFile(At("b"), "two");
  for (const uint32_t flags : {uint32_t{kRenameNoReplace | kRenameExchange}, uint32_t{4}}) {
    const absl::Status status = Apply(RenameWith(flags, "a", "b"));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("EINVAL: rename (flags"));
  }
  EXPECT_EQ(ReadFile(At("a")), "one");
  EXPECT_EQ(ReadFile(At("b")), "two");
}

TEST_F(RenameFlagsTest, ExchangeThroughASymlinkedDirectoryIsRefused) {
  const std::string outside = tmp_ / "outside";
  ASSERT_EQ(mkdir(outside.c_str(), 0755), 0);
  WriteFile(outside + "/precious", "keep");
  ASSERT_EQ(symlink(outside.c_str(), At("escape").c_str()), 0);
  WriteFile(At("inside"), "i");
  const absl::Status status = Apply(RenameWith(kRenameExchange, "inside", "escape/precious"));
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(ReadFile(outside + "/precious"), "keep");
  EXPECT_EQ(ReadFile(At("inside")), "i");
}

}  // namespace
}  // namespace duet::store::testing
