// renameat2 through the mount: RENAME_NOREPLACE and RENAME_EXCHANGE reach the engine as a
// kRename with the engine's flags, and what the application sees afterwards (names, contents,
// the paths of open files) is what a local file system shows.
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/adapters/fuse/mount_fixture.h"

namespace duet {
namespace {

int Renameat2(const std::string& from, const std::string& to, unsigned int flags) {
  return renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), flags) == 0 ? 0 : errno;
}

TEST_F(MountTest, RenameNoReplaceOntoAFreeNameIsAFlaggedRename) {
  ASSERT_EQ(WriteFileAt(M("tmp-msg"), "mail", O_CREAT), 0);
  ASSERT_EQ(Renameat2(M("tmp-msg"), M("msg"), RENAME_NOREPLACE), 0);
  EXPECT_EQ(ReadFileAt(M("msg")), "mail");
  EXPECT_EQ(access(M("tmp-msg").c_str(), F_OK), -1);
  const Mutation got = sink_->Received().back();
  EXPECT_EQ(got.kind, MutationKind::kRename);
  EXPECT_EQ(got.path, "vol/tmp-msg");
  EXPECT_EQ(got.path2, "vol/msg");
  EXPECT_EQ(got.rename_flags, kRenameNoReplace);
}

TEST_F(MountTest, RenameNoReplaceOntoAnExistingNameIsEexistAndChangesNothing) {
  ASSERT_EQ(WriteFileAt(M("a"), "one", O_CREAT), 0);
  ASSERT_EQ(WriteFileAt(M("b"), "two", O_CREAT), 0);
  EXPECT_EQ(Renameat2(M("a"), M("b"), RENAME_NOREPLACE), EEXIST);
  EXPECT_EQ(ReadFileAt(M("a")), "one");
  EXPECT_EQ(ReadFileAt(M("b")), "two");
}

TEST_F(MountTest, RenameExchangeSwapsTwoFilesAndOpenFilesFollowTheirContent) {
  ASSERT_EQ(mkdir(M("d").c_str(), 0755), 0);
  ASSERT_EQ(WriteFileAt(M("a"), "one", O_CREAT), 0);
  ASSERT_EQ(WriteFileAt(M("d/b"), "two", O_CREAT), 0);
  const int fd = open(M("a").c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(Renameat2(M("a"), M("d/b"), RENAME_EXCHANGE), 0);
  EXPECT_EQ(ReadFileAt(M("a")), "two");
  EXPECT_EQ(ReadFileAt(M("d/b")), "one");
  // The descriptor opened as "a" writes the file now named d/b: the mutation names it so.
  ASSERT_EQ(write(fd, "+", 1), 1);
  close(fd);
  EXPECT_EQ(ReadFileAt(M("d/b")), "one+");
  EXPECT_EQ(ReadFileAt(B("d/b")), "one+");
  const std::vector<Mutation> got = sink_->Received();
  ASSERT_GE(got.size(), 2u);
  const Mutation& exchange = got[got.size() - 2];
  EXPECT_EQ(exchange.kind, MutationKind::kRename);
  EXPECT_EQ(exchange.rename_flags, kRenameExchange);
  EXPECT_EQ(exchange.path, "vol/a");
  EXPECT_EQ(exchange.path2, "vol/d/b");
  EXPECT_EQ(got.back().kind, MutationKind::kWrite);
  EXPECT_EQ(got.back().path, "vol/d/b");
}

TEST_F(MountTest, RenameExchangeSwapsAFileWithAFullDirectory) {
  ASSERT_EQ(mkdir(M("conf").c_str(), 0755), 0);
  ASSERT_EQ(WriteFileAt(M("conf/x"), "inside", O_CREAT), 0);
  ASSERT_EQ(WriteFileAt(M("flat"), "a file", O_CREAT), 0);
  ASSERT_EQ(Renameat2(M("conf"), M("flat"), RENAME_EXCHANGE), 0);
  struct stat st;
  ASSERT_EQ(stat(M("flat").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(ReadFileAt(M("flat/x")), "inside");
  EXPECT_EQ(ReadFileAt(M("conf")), "a file");
  // New names under the directory's new name land there.
  ASSERT_EQ(WriteFileAt(M("flat/y"), "new", O_CREAT), 0);
  EXPECT_EQ(ReadFileAt(B("flat/y")), "new");
}

TEST_F(MountTest, RenameExchangeWithAMissingNameIsEnoent) {
  ASSERT_EQ(WriteFileAt(M("a"), "one", O_CREAT), 0);
  const size_t before = sink_->Received().size();
  EXPECT_EQ(Renameat2(M("a"), M("missing"), RENAME_EXCHANGE), ENOENT);
  EXPECT_EQ(ReadFileAt(M("a")), "one");
  EXPECT_EQ(sink_->Received().size(), before);
}

TEST_F(MountTest, RenameWhiteoutAndBothFlagsAreEinvalWithoutReachingTheEngine) {
  ASSERT_EQ(WriteFileAt(M("a"), "one", O_CREAT), 0);
  ASSERT_EQ(WriteFileAt(M("b"), "two", O_CREAT), 0);
  const size_t before = sink_->Received().size();
  EXPECT_EQ(Renameat2(M("a"), M("c"), RENAME_WHITEOUT), EINVAL);
  EXPECT_EQ(Renameat2(M("a"), M("b"), RENAME_NOREPLACE | RENAME_EXCHANGE), EINVAL);
  EXPECT_EQ(sink_->Received().size(), before);
  EXPECT_EQ(ReadFileAt(M("a")), "one");
  EXPECT_EQ(ReadFileAt(M("b")), "two");
}

}  // namespace
}  // namespace duet
