// The guard's mount cleanup on real Duet FUSE mounts whose daemon was killed, in a mount
// namespace of the test's own (nothing reaches the host's mounts).
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "adapters/daemon/guard_cleanup.h"
#include "adapters/fuse/replicated_mount.h"
#include "tests/adapters/daemon/process_test_util.h"

namespace duet::daemon {
namespace {

// Whether `directory` is a mount point of type `type` (anywhere in the stack).
bool MountedAs(const std::string& directory, const std::string& type) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, device, root, point;
    fields >> id >> parent >> device >> root >> point;
    if (point == directory && line.find(" - " + type + " ") != std::string::npos) return true;
  }
  return false;
}

class GuardMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "the mount tests need root";
    ASSERT_EQ(::access("/dev/fuse", R_OK | W_OK), 0) << "the mount tests need /dev/fuse";
    ASSERT_EQ(::unshare(CLONE_NEWNS), 0);
    ASSERT_EQ(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
    mnt_ = dir_.path() + "/mnt";
    backing_ = dir_.path() + "/backing";
    ASSERT_EQ(::mkdir(mnt_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir(backing_.c_str(), 0755), 0);
  }
  void TearDown() override {
    if (mounter_ > 0) {
      ::kill(mounter_, SIGKILL);
      WaitForChild(mounter_);
    }
    while (::umount2(mnt_.c_str(), MNT_DETACH) == 0) {
    }
  }

  // A process that mounts Duet's FUSE file system at mnt_ and is then SIGKILLed, as a dead
  // duetd leaves its mounts.
  void MountAndKillItsDaemon() {
    mounter_ = ::fork();
    ASSERT_GE(mounter_, 0);
    if (mounter_ == 0) {
      ReplicatedMountOptions options;
      options.mountpoint = mnt_;
      options.backing_root = backing_;
      ReplicatedMount mount(options, [](uint64_t, Mutation) {});
      if (!mount.Mount().ok()) ::_exit(1);
      for (;;) ::pause();
    }
    ASSERT_TRUE(WaitUntil([&] { return MountedAs(mnt_, "fuse.duet"); }));
    ::kill(mounter_, SIGKILL);
    WaitForChild(mounter_);
    mounter_ = -1;
    struct stat info;
    ASSERT_NE(::stat(mnt_.c_str(), &info), 0);  // a dead mount: ENOTCONN
  }

  TempDir dir_;
  std::string mnt_, backing_;
  pid_t mounter_ = -1;
};

TEST_F(GuardMountTest, ADeadDuetMountIsDetachedAndTheDirectoryUsableAgain) {
  MountAndKillItsDaemon();
  EXPECT_EQ(*HasDuetMount(mnt_), true);
  absl::StatusOr<int> detached = DetachDuetMounts(mnt_ + "/");
  ASSERT_TRUE(detached.ok()) << detached.status();
  EXPECT_EQ(*detached, 1);
  EXPECT_EQ(*HasDuetMount(mnt_), false);
  struct stat info;
  EXPECT_EQ(::stat(mnt_.c_str(), &info), 0);
  // Nothing left to do the second time.
  EXPECT_EQ(*DetachDuetMounts(mnt_), 0);
}

TEST_F(GuardMountTest, AFileSystemTheOperatorMountedUnderTheDirectoryStays) {
  ASSERT_EQ(::mount("tmpfs", mnt_.c_str(), "tmpfs", 0, "size=1m"), 0);
  MountAndKillItsDaemon();
  absl::StatusOr<int> detached = DetachDuetMounts(mnt_);
  ASSERT_TRUE(detached.ok()) << detached.status();
  EXPECT_EQ(*detached, 1);
  EXPECT_FALSE(MountedAs(mnt_, "fuse.duet"));
  EXPECT_TRUE(MountedAs(mnt_, "tmpfs"));
}

TEST_F(GuardMountTest, ADirectoryWithoutADuetMountIsLeftAlone) {
  EXPECT_EQ(*HasDuetMount(mnt_), false);
  EXPECT_EQ(*DetachDuetMounts(mnt_), 0);
  ASSERT_EQ(::mount("tmpfs", mnt_.c_str(), "tmpfs", 0, "size=1m"), 0);
  EXPECT_EQ(*DetachDuetMounts(mnt_), 0);
  EXPECT_TRUE(MountedAs(mnt_, "tmpfs"));
}

}  // namespace
}  // namespace duet::daemon
