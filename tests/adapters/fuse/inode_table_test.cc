// The inode table's bounded descriptors (adapters/fuse/descriptor_cache.h): lookups past the
// bound keep at most a quarter of RLIMIT_NOFILE open, and an inode whose descriptor was let
// go is reopened by its file handle with its name as the tree has it now.
#include "adapters/fuse/inode_table.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/adapters/fuse/lowered_file_limit_test_base.h"

namespace duet {
namespace {

size_t OpenDescriptorsOfThisProcess() {
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)entry;
    ++n;
  }
  return n;
}

void WriteFile(const std::string& path, const std::string& data) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  close(fd);
}

// A backing directory (on /tmp's file system) and a table over it, with the process's
// open-file limit lowered to kTestFileLimit for the test's length.
class InodeTableDescriptorsTest : public LoweredFileLimitTestBase {
 protected:
  void SetUp() override {
    LoweredFileLimitTestBase::SetUp();
    ASSERT_EQ(table_.Open(root_), 0);
  }
  void TearDown() override {
    table_.Clear();
    LoweredFileLimitTestBase::TearDown();
  }

  std::string At(const std::string& relative) const { return root_ + "/" + relative; }

  Inode* LookUp(Inode& parent, const std::string& name) {
    Inode* found = nullptr;
    struct stat st;
    EXPECT_EQ(table_.Lookup(parent, name.c_str(), &found, &st), 0) << name;
    return found;
  }

  // Looks up more files than the cache holds, so every earlier descriptor is let go.
  void LookUpFillers() {
    std::filesystem::create_directory(At("fillers"));
    Inode* dir = LookUp(table_.root(), "fillers");
    for (size_t i = 0; i < table_.descriptor_capacity() + 8; ++i) {
      const std::string name = "filler-" + std::to_string(i);
      WriteFile(At("fillers/" + name), "");
      LookUp(*dir, name);
    }
  }

  std::string PathOf(const Inode& inode) {
    std::string path;
    EXPECT_EQ(table_.RelativePath(inode, &path), 0);
    return path;
  }

  InodeTable table_;
};

TEST_F(InodeTableDescriptorsTest, LookupsOfMoreFilesThanTheBoundKeepAtMostTheBoundOpen) {
  ASSERT_EQ(table_.descriptor_capacity(), kTestFileLimit / 4);
  const size_t before = OpenDescriptorsOfThisProcess();
  constexpr int kFiles = 1000;  // far past the limit itself
  std::vector<Inode*> inodes;
  for (int i = 0; i < kFiles; ++i) {
    const std::string name = "f-" + std::to_string(i);
    WriteFile(At(name), name);
    inodes.push_back(LookUp(table_.root(), name));
    ASSERT_NE(inodes.back(), nullptr);
  }
  EXPECT_EQ(table_.open_descriptors(), table_.descriptor_capacity());
  EXPECT_LE(OpenDescriptorsOfThisProcess(), before + table_.descriptor_capacity());
  // Every inode is still reachable, by its own name: reopened by its handle.
  for (int i = 0; i < kFiles; ++i) {
    struct stat st;
    ASSERT_EQ(table_.Stat(*inodes[i], &st), 0);
    EXPECT_EQ(st.st_ino, inodes[i]->ino);
    EXPECT_EQ(PathOf(*inodes[i]), "f-" + std::to_string(i));
    int fd = -1;
    ASSERT_EQ(table_.OpenReadOnly(*inodes[i], &fd), 0);
    char buf[16] = {};
    EXPECT_EQ(std::string(buf, static_cast<size_t>(read(fd, buf, sizeof buf))),
              "f-" + std::to_string(i));
    close(fd);
  }
  EXPECT_LE(OpenDescriptorsOfThisProcess(), before + table_.descriptor_capacity());
}

TEST_F(InodeTableDescriptorsTest,
       AFileRenamedIntoAnotherDirectoryAfterItsDescriptorWentHasItsNewPath) {
  std::filesystem::create_directory(At("a"));
  std::filesystem::create_directory(At("b"));
  WriteFile(At("a/x"), "x");
  Inode* a = LookUp(table_.root(), "a");
  Inode* x = LookUp(*a, "x");
  LookUpFillers();
  std::filesystem::rename(At("a/x"), At("b/y"));
  std::filesystem::rename(At("b"), At("c"));  // its directory moves too
  EXPECT_EQ(PathOf(*x), "c/y");
}

TEST_F(InodeTableDescriptorsTest, ADirectoryRenamedAfterItsDescriptorWentHasItsNewPath) {
  std::filesystem::create_directories(At("a/b"));
  Inode* a = LookUp(table_.root(), "a");
  Inode* b = LookUp(*a, "b");
  LookUpFillers();
  std::filesystem::create_directory(At("z"));
  std::filesystem::rename(At("a"), At("z/a2"));
  EXPECT_EQ(PathOf(*b), "z/a2/b");
}

TEST_F(InodeTableDescriptorsTest, AFileUnlinkedAfterItsDescriptorWentAnswersEstale) {
  WriteFile(At("gone"), "");
  Inode* gone = LookUp(table_.root(), "gone");
  LookUpFillers();
  ASSERT_EQ(unlink(At("gone").c_str()), 0);
  struct stat st;
  EXPECT_EQ(table_.Stat(*gone, &st), ESTALE);
  std::string path;
  EXPECT_EQ(table_.RelativePath(*gone, &path), ESTALE);
}

TEST_F(InodeTableDescriptorsTest, AFileUnlinkedWhileOpenIsReopenedAfterItsDescriptorWent) {
  WriteFile(At("open"), "data");
  Inode* open_file = LookUp(table_.root(), "open");
  int reader = -1;
  ASSERT_EQ(table_.OpenReadOnly(*open_file, &reader), 0);  // as a FileHandle holds it
  LookUpFillers();
  ASSERT_EQ(unlink(At("open").c_str()), 0);
  struct stat st;
  ASSERT_EQ(table_.Stat(*open_file, &st), 0);
  EXPECT_EQ(st.st_nlink, 0u);
  EXPECT_EQ(st.st_size, 4);
  std::string path;
  EXPECT_EQ(table_.RelativePath(*open_file, &path), ENOTSUP);  // no name left
  close(reader);
}

TEST_F(InodeTableDescriptorsTest, AHardLinkIsFoundByItsOtherNameOnceTheFirstIsUnlinked) {
  std::filesystem::create_directory(At("d"));
  WriteFile(At("first"), "linked");
  ASSERT_EQ(link(At("first").c_str(), At("d/second").c_str()), 0);
  Inode* first = LookUp(table_.root(), "first");
  Inode* d = LookUp(table_.root(), "d");
  Inode* second = LookUp(*d, "second");
  ASSERT_EQ(first, second);  // one inode, two names
  LookUpFillers();
  ASSERT_EQ(unlink(At("first").c_str()), 0);
  EXPECT_EQ(PathOf(*first), "d/second");
}

TEST_F(InodeTableDescriptorsTest, AHeldDescriptorStaysOpenAfterTheCacheLetsItGo) {
  WriteFile(At("held"), "");
  Inode* held = LookUp(table_.root(), "held");
  const HeldFd fd = table_.Fd(*held);
  ASSERT_GE(fd.get(), 0);
  LookUpFillers();
  struct stat st;
  ASSERT_EQ(fstatat(fd.get(), "", &st, AT_EMPTY_PATH), 0);
  EXPECT_EQ(st.st_ino, held->ino);
}

TEST_F(InodeTableDescriptorsTest, ASymlinkIsReopenedAsItselfNotItsTarget) {
  ASSERT_EQ(symlink("target-that-does-not-exist", At("link").c_str()), 0);
  Inode* link_inode = LookUp(table_.root(), "link");
  LookUpFillers();
  const HeldFd fd = table_.Fd(*link_inode);
  ASSERT_GE(fd.get(), 0) << fd.error();
  char target[64];
  const ssize_t n = readlinkat(fd.get(), "", target, sizeof target);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(target, static_cast<size_t>(n)), "target-that-does-not-exist");
  EXPECT_EQ(PathOf(*link_inode), "link");
}

TEST_F(InodeTableDescriptorsTest, LoweringTheLimitShrinksTheCacheAtItsNextMiss) {
  LookUpFillers();
  ASSERT_EQ(table_.open_descriptors(), kTestFileLimit / 4);
  rlimit lower = old_limit_;
  lower.rlim_cur = kTestFileLimit / 2;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lower), 0);
  WriteFile(At("one-more"), "");
  LookUp(table_.root(), "one-more");
  EXPECT_EQ(table_.open_descriptors(), kTestFileLimit / 8);
}

TEST_F(InodeTableDescriptorsTest, ALimitLoweredUnderAFullCacheShrinksItWhenAnOpenMeetsEmfile) {
  LookUpFillers();  // the cache is full, and every later use of its files is a hit
  ASSERT_EQ(table_.open_descriptors(), kTestFileLimit / 4);
  WriteFile(At("past-the-limit"), "");
  // The limit just past the highest descriptor open, and every lower number taken.
  int highest = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    highest = std::max(highest, std::stoi(entry.path().filename().string()));
  }
  rlimit lower = old_limit_;
  lower.rlim_cur = static_cast<rlim_t>(highest + 1);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lower), 0);
  std::vector<int> gaps;
  for (int fd = open("/dev/null", O_RDONLY | O_CLOEXEC); fd >= 0;
       fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) {
    gaps.push_back(fd);
  }
  Inode* found = nullptr;
  struct stat st;
  const int looked_up = table_.Lookup(table_.root(), "past-the-limit", &found, &st);
  const size_t kept_open = table_.open_descriptors();
  int fd = -1;
  const int opened = looked_up == 0 ? table_.OpenReadOnly(*found, &fd) : -1;
  close(fd);
  for (int gap : gaps) close(gap);
  // Reporting a failure needs descriptors too.
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old_limit_), 0);
  EXPECT_EQ(looked_up, 0);
  EXPECT_LT(kept_open, kTestFileLimit / 4);  // half of what it held, or the new bound
  EXPECT_EQ(opened, 0);
}

}  // namespace
}  // namespace duet
