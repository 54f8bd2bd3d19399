// Open-unlinked files (adapter contract C15): a file whose last name the application removes
// while it holds it open lives on under the mount root's hidden `.duet-unlinked/`, written
// through its handles, until the last one is released; the application never sees that
// directory; and a mount that becomes writable empties it of what no handle holds.
#include "adapters/fuse/unlinked_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/adapters/fuse/mount_fixture.h"

namespace duet {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The names in `dir` (a real directory), without "." and ".."; empty if it is missing.
std::set<std::string> Entries(const std::string& dir) {
  std::set<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (const dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.insert(name);
  }
  closedir(d);
  return names;
}

bool WaitUntil(const std::function<bool()>& done, seconds timeout = seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

std::string PreadAll(int fd) {
  char buf[256];
  const ssize_t n = pread(fd, buf, sizeof buf, 0);
  return n < 0 ? "<pread failed>" : std::string(buf, static_cast<size_t>(n));
}

// The mutations of `kind` the sink received, in order.
std::vector<Mutation> OfKind(const std::vector<Mutation>& all, MutationKind kind) {
  std::vector<Mutation> out;
  for (const Mutation& m : all) {
    if (m.kind == kind) out.push_back(m);
  }
  return out;
}

TEST(UnlinkedEntryName, DiffersByInodeInstanceAndCounterAndIsOneComponent) {
  const std::set<std::string> names = {
      UnlinkedEntryName(12, 1000, 1),    UnlinkedEntryName(12, 1000, 2),
      UnlinkedEntryName(13, 1000, 1),    UnlinkedEntryName(12, 1001, 1),
      UnlinkedEntryName(0x1, 0x21, 0x1), UnlinkedEntryName(0x12, 0x1, 0x1)};
  EXPECT_EQ(names.size(), 6u);
  for (const std::string& name : names) {
    EXPECT_EQ(name.find('/'), std::string::npos) << name;
    EXPECT_NE(name.front(), '.') << name;
  }
  EXPECT_EQ(UnlinkedEntryPath("c.3e8.1"), ".duet-unlinked/c.3e8.1");
}

TEST(UnlinkedDirName, IsHiddenAtTheMountRootOnly) {
  EXPECT_TRUE(IsUnlinkedDirName(true, ".duet-unlinked"));
  EXPECT_FALSE(IsUnlinkedDirName(false, ".duet-unlinked"));
  EXPECT_FALSE(IsUnlinkedDirName(true, ".duet-unlinked2"));
  EXPECT_FALSE(IsUnlinkedDirName(true, "duet-unlinked"));
}

TEST_F(MountTest, AnOpenFileUnlinkedIsWrittenUnderTheHiddenDirectoryUntilItsLastClose) {
  const int fd = open(M("tmp").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "before\n", 7), 7);
  ASSERT_EQ(unlink(M("tmp").c_str()), 0);
  EXPECT_EQ(access(M("tmp").c_str(), F_OK), -1);
  EXPECT_EQ(errno, ENOENT);

  // As on ext4: the handle still writes, syncs, reads and stats the file, which has no link.
  ASSERT_EQ(write(fd, "after\n", 6), 6);
  EXPECT_EQ(fsync(fd), 0);
  EXPECT_EQ(PreadAll(fd), "before\nafter\n");
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_nlink, 0u);
  EXPECT_EQ(st.st_size, 13);
  EXPECT_EQ(ftruncate(fd, 7), 0);
  EXPECT_EQ(fchmod(fd, 0600), 0);
  EXPECT_EQ(fsetxattr(fd, "user.note", "n", 1, 0), 0);
  EXPECT_EQ(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 8192), 0);

  // The engine was handed a move into the hidden directory, and every change after names it.
  const std::set<std::string> hidden = Entries(B(".duet-unlinked"));
  ASSERT_EQ(hidden.size(), 1u);
  const std::string entry = "vol/.duet-unlinked/" + *hidden.begin();
  EXPECT_EQ(ReadFileAt(B(".duet-unlinked/" + *hidden.begin())), "before\n");
  const std::vector<Mutation> got = sink_->Received();
  const std::vector<Mutation> mkdirs = OfKind(got, MutationKind::kMkdir);
  ASSERT_EQ(mkdirs.size(), 1u);
  EXPECT_EQ(mkdirs[0].path, "vol/.duet-unlinked");
  EXPECT_EQ(mkdirs[0].mode, 0700u);
  const std::vector<Mutation> renames = OfKind(got, MutationKind::kRename);
  ASSERT_EQ(renames.size(), 1u);
  EXPECT_EQ(renames[0].path, "vol/tmp");
  EXPECT_EQ(renames[0].path2, entry);
  EXPECT_TRUE(OfKind(got, MutationKind::kUnlink).empty());
  for (MutationKind kind : {MutationKind::kFsync, MutationKind::kTruncate, MutationKind::kSetattr,
                            MutationKind::kSetxattr, MutationKind::kFallocate}) {
    const std::vector<Mutation> of_kind = OfKind(got, kind);
    ASSERT_EQ(of_kind.size(), 1u) << MutationKindName(kind);
    EXPECT_EQ(of_kind[0].path, entry) << MutationKindName(kind);
  }
  EXPECT_EQ(OfKind(got, MutationKind::kWrite).back().path, entry);

  // The last release removes it, by its hidden name.
  ASSERT_EQ(close(fd), 0);
  ASSERT_TRUE(WaitUntil([&] { return Entries(B(".duet-unlinked")).empty(); }));
  const std::vector<Mutation> unlinks = OfKind(sink_->Received(), MutationKind::kUnlink);
  ASSERT_EQ(unlinks.size(), 1u);
  EXPECT_EQ(unlinks[0].path, entry);
}

TEST_F(MountTest, AnUnlinkedFileStaysUntilItsLastHandleIsReleased) {
  ASSERT_EQ(WriteFileAt(M("shared"), "data", O_CREAT), 0);
  const int first = open(M("shared").c_str(), O_RDWR);
  const int second = open(M("shared").c_str(), O_RDONLY);
  ASSERT_GE(first, 0);
  ASSERT_GE(second, 0);
  ASSERT_EQ(unlink(M("shared").c_str()), 0);
  ASSERT_EQ(Entries(B(".duet-unlinked")).size(), 1u);
  ASSERT_EQ(close(first), 0);
  // The kernel sends the release after close returns: give a wrong unlink time to show.
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(Entries(B(".duet-unlinked")).size(), 1u);
  EXPECT_TRUE(OfKind(sink_->Received(), MutationKind::kUnlink).empty());
  EXPECT_EQ(PreadAll(second), "data");
  ASSERT_EQ(close(second), 0);
  EXPECT_TRUE(WaitUntil([&] { return Entries(B(".duet-unlinked")).empty(); }));
}

// (Made behind the mount: the kernel releases a handle after close returns, so a file closed
// just before would still count as open, and be hidden and then unlinked at its release.)
TEST_F(MountTest, AFileNotOpenIsUnlinkedAsUsual) {
  ASSERT_EQ(WriteFileAt(B("plain"), "p", O_CREAT), 0);
  ASSERT_EQ(unlink(M("plain").c_str()), 0);
  const std::vector<Mutation> got = sink_->Received();
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back().kind, MutationKind::kUnlink);
  EXPECT_EQ(got.back().path, "vol/plain");
  EXPECT_EQ(access(B(".duet-unlinked").c_str(), F_OK), -1);  // never made
}

TEST_F(MountTest, ARenameOverAnOpenFileKeepsItUnderTheHiddenDirectoryAndTheNameNeverMissing) {
  ASSERT_EQ(WriteFileAt(M("config"), "old settings\n", O_CREAT), 0);
  const int reader = open(M("config").c_str(), O_RDWR);
  ASSERT_GE(reader, 0);
  ASSERT_EQ(WriteFileAt(M("config.new"), "new settings\n", O_CREAT), 0);
  ASSERT_EQ(rename(M("config.new").c_str(), M("config").c_str()), 0);
  EXPECT_EQ(ReadFileAt(M("config")), "new settings\n");
  EXPECT_EQ(PreadAll(reader), "old settings\n");
  ASSERT_EQ(pwrite(reader, "OLD", 3, 0), 3);  // through the old file's handle
  EXPECT_EQ(PreadAll(reader), "OLD settings\n");
  EXPECT_EQ(ReadFileAt(M("config")), "new settings\n");
  struct stat st;
  ASSERT_EQ(fstat(reader, &st), 0);
  EXPECT_EQ(st.st_nlink, 0u);

  const std::set<std::string> hidden = Entries(B(".duet-unlinked"));
  ASSERT_EQ(hidden.size(), 1u);
  const std::string entry = "vol/.duet-unlinked/" + *hidden.begin();
  EXPECT_EQ(ReadFileAt(B(".duet-unlinked/" + *hidden.begin())), "OLD settings\n");
  // A hard link into the hidden directory, then the rename itself: "config" is always there.
  const std::vector<Mutation> got = sink_->Received();
  const std::vector<Mutation> links = OfKind(got, MutationKind::kLink);
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ((links[0].path + " -> " + links[0].path2), "vol/config -> " + entry);
  const std::vector<Mutation> renames = OfKind(got, MutationKind::kRename);
  ASSERT_EQ(renames.size(), 1u);
  EXPECT_EQ(renames[0].path + " -> " + renames[0].path2, "vol/config.new -> vol/config");
  EXPECT_EQ(OfKind(got, MutationKind::kWrite).back().path, entry);

  ASSERT_EQ(close(reader), 0);
  ASSERT_TRUE(WaitUntil([&] { return Entries(B(".duet-unlinked")).empty(); }));
  EXPECT_EQ(OfKind(sink_->Received(), MutationKind::kUnlink).back().path, entry);
  EXPECT_EQ(ReadFileAt(B("config")), "new settings\n");
}

TEST_F(MountTest, TheHiddenDirectoryIsNotListedNotFoundAndItsNameIsRefused) {
  ASSERT_EQ(mkdir(B(".duet-unlinked").c_str(), 0700), 0);
  ASSERT_EQ(WriteFileAt(B("f"), "f", O_CREAT), 0);
  EXPECT_EQ(Entries(mnt_), std::set<std::string>{"f"});
  struct stat st;
  EXPECT_EQ(stat(M(".duet-unlinked").c_str(), &st), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(mkdir(M(".duet-unlinked").c_str(), 0755), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(WriteFileAt(M(".duet-unlinked"), "x", O_CREAT), EPERM);
  EXPECT_EQ(rename(M("f").c_str(), M(".duet-unlinked").c_str()), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(link(M("f").c_str(), M(".duet-unlinked").c_str()), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(symlink("f", M(".duet-unlinked").c_str()), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(rmdir(M(".duet-unlinked").c_str()), -1);
  EXPECT_EQ(errno, ENOENT);  // the kernel looks the name up first
  EXPECT_TRUE(sink_->Received().empty());
  // Only the mount root's: the name is an ordinary one further down.
  ASSERT_EQ(mkdir(M("sub").c_str(), 0755), 0);
  EXPECT_EQ(mkdir(M("sub/.duet-unlinked").c_str(), 0755), 0);
  EXPECT_EQ(Entries(M("sub")), std::set<std::string>{".duet-unlinked"});
}

// What a restarted duetd meets: entries a previous process (or the peer, as primary) left.
TEST_F(MountTest, BecomingWritableUnlinksEveryHiddenEntryNoHandleHolds) {
  const int held = open(M("held").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(held, 0);
  ASSERT_EQ(unlink(M("held").c_str()), 0);
  const std::set<std::string> held_entry = Entries(B(".duet-unlinked"));
  ASSERT_EQ(held_entry.size(), 1u);
  ASSERT_EQ(WriteFileAt(B(".duet-unlinked/1.2.3"), "left by a previous process", O_CREAT), 0);
  ASSERT_EQ(WriteFileAt(B(".duet-unlinked/4.5.6"), "and another", O_CREAT), 0);
  const size_t before = sink_->Received().size();

  mount_->SetWritable(false);
  mount_->SetWritable(true);
  ASSERT_TRUE(WaitUntil([&] { return Entries(B(".duet-unlinked")) == held_entry; }))
      << Entries(B(".duet-unlinked")).size() << " entries";
  std::set<std::string> unlinked;
  const std::vector<Mutation> got = sink_->Received();
  for (size_t i = before; i < got.size(); ++i) {
    EXPECT_EQ(got[i].kind, MutationKind::kUnlink);
    unlinked.insert(got[i].path);
  }
  EXPECT_EQ(unlinked,
            (std::set<std::string>{"vol/.duet-unlinked/1.2.3", "vol/.duet-unlinked/4.5.6"}));

  // The one still open is written as before and removed at its release.
  ASSERT_EQ(write(held, "still mine", 10), 10);
  ASSERT_EQ(close(held), 0);
  EXPECT_TRUE(WaitUntil([&] { return Entries(B(".duet-unlinked")).empty(); }));
}

// A reader on the secondary holds a file the primary unlinked while open (the stream moved it
// into the hidden directory): once this node is primary, its release removes it.
TEST_F(MountTest, AHiddenFileOpenSinceBeforeTheRoleChangeIsRemovedAtItsRelease) {
  ASSERT_EQ(WriteFileAt(B("log"), "lines", O_CREAT), 0);
  mount_->SetWritable(false);
  const int reader = open(M("log").c_str(), O_RDONLY);
  ASSERT_GE(reader, 0);
  ASSERT_EQ(mkdir(B(".duet-unlinked").c_str(), 0700), 0);
  ASSERT_EQ(rename(B("log").c_str(), B(".duet-unlinked/9.9.9").c_str()), 0);  // the stream
  ASSERT_EQ(WriteFileAt(B(".duet-unlinked/1.1.1"), "no handle", O_CREAT), 0);
  mount_->SetWritable(true);
  // The emptying pass removes the other entry and keeps the held one.
  ASSERT_TRUE(
      WaitUntil([&] { return Entries(B(".duet-unlinked")) == std::set<std::string>{"9.9.9"}; }));
  EXPECT_EQ(PreadAll(reader), "lines");
  ASSERT_EQ(close(reader), 0);
  EXPECT_TRUE(WaitUntil([&] { return Entries(B(".duet-unlinked")).empty(); }));
  EXPECT_EQ(OfKind(sink_->Received(), MutationKind::kUnlink).back().path,
            "vol/.duet-unlinked/9.9.9");
}

TEST_F(MountTest, AHardLinkedFileIsWrittenThroughItsOtherNameOnceTheFirstIsGone) {
  const int fd = open(M("first").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(link(M("first").c_str(), M("second").c_str()), 0);
  ASSERT_EQ(unlink(M("first").c_str()), 0);  // a name stays: an ordinary unlink
  EXPECT_EQ(OfKind(sink_->Received(), MutationKind::kUnlink).back().path, "vol/first");
  ASSERT_EQ(write(fd, "via the handle", 14), 14);
  EXPECT_EQ(OfKind(sink_->Received(), MutationKind::kWrite).back().path, "vol/second");
  EXPECT_EQ(ReadFileAt(B("second")), "via the handle");
  ASSERT_EQ(close(fd), 0);
  EXPECT_EQ(access(B(".duet-unlinked").c_str(), F_OK), -1);
}

}  // namespace
}  // namespace duet
