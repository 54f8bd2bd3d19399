// The mount across roles and its lifetime: read-only answers, fresh reads on the
// non-writable side while the backing files change behind it, unmounting with work pending.
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "adapters/fuse/replicated_mount.h"
#include "gtest/gtest.h"
#include "tests/adapters/fuse/mount_fixture.h"

namespace duet {
namespace {

using std::chrono::seconds;

TEST_F(MountTest, NotWritableAnswersEveryChangeWithErofsAndHandsNothingOn) {
  ASSERT_EQ(WriteFileAt(B("f"), "data", O_CREAT), 0);
  ASSERT_EQ(mkdir(B("d").c_str(), 0755), 0);
  mount_->SetWritable(false);
  EXPECT_EQ(WriteFileAt(M("new"), "x", O_CREAT), EROFS);
  EXPECT_EQ(WriteFileAt(M("f"), "x", 0), EROFS);
  EXPECT_EQ(mkdir(M("d2").c_str(), 0755), -1);
  EXPECT_EQ(errno, EROFS);
  EXPECT_EQ(unlink(M("f").c_str()), -1);
  EXPECT_EQ(errno, EROFS);
  EXPECT_EQ(rename(M("f").c_str(), M("g").c_str()), -1);
  EXPECT_EQ(errno, EROFS);
  EXPECT_EQ(chmod(M("f").c_str(), 0600), -1);
  EXPECT_EQ(errno, EROFS);
  EXPECT_EQ(rmdir(M("d").c_str()), -1);
  EXPECT_EQ(errno, EROFS);
  EXPECT_EQ(ReadFileAt(M("f")), "data");  // reads still work
  EXPECT_TRUE(sink_->Received().empty());

  mount_->SetWritable(true);
  EXPECT_EQ(WriteFileAt(M("f"), "DATA", 0), 0);
  EXPECT_EQ(ReadFileAt(B("f")), "DATA");
}

// A handle opened while primary keeps no right to allocate or punch once the node is not.
TEST_F(MountTest, FallocateOnANonWritableMountIsErofs) {
  ASSERT_EQ(WriteFileAt(M("img"), std::string(8192, 'x'), O_CREAT), 0);
  const int fd = open(M("img").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  const size_t before = sink_->Received().size();
  mount_->SetWritable(false);
  EXPECT_EQ(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096), -1);
  EXPECT_EQ(errno, EROFS);
  EXPECT_EQ(fallocate(fd, 0, 0, 1 << 20), -1);
  EXPECT_EQ(errno, EROFS);
  close(fd);
  EXPECT_EQ(sink_->Received().size(), before);
  EXPECT_EQ(ReadFileAt(B("img")), std::string(8192, 'x'));
}

TEST_F(MountTest, NonWritableReaderSeesBytesChangedBehindTheMount) {
  ASSERT_EQ(WriteFileAt(B("f"), "aaaa", O_CREAT), 0);
  mount_->SetWritable(false);
  EXPECT_EQ(ReadFileAt(M("f")), "aaaa");
  const int kept = open(M("f").c_str(), O_RDONLY);
  ASSERT_GE(kept, 0);
  char buf[64] = {};
  ASSERT_EQ(pread(kept, buf, sizeof buf, 0), 4);

  // What the stream's apply does on a secondary: the backing file changes, size included.
  ASSERT_EQ(WriteFileAt(B("f"), "bbbbbbbb", O_TRUNC), 0);
  EXPECT_EQ(ReadFileAt(M("f")), "bbbbbbbb");
  ASSERT_EQ(pread(kept, buf, sizeof buf, 0), 8);
  EXPECT_EQ(std::string(buf, 8), "bbbbbbbb");
  struct stat st;
  ASSERT_EQ(fstat(kept, &st), 0);
  EXPECT_EQ(st.st_size, 8);
  close(kept);

  // Names too: a rename and an unlink behind the mount show at once.
  ASSERT_EQ(rename(B("f").c_str(), B("g").c_str()), 0);
  EXPECT_EQ(access(M("f").c_str(), F_OK), -1);
  EXPECT_EQ(ReadFileAt(M("g")), "bbbbbbbb");
}

TEST_F(MountTest, DemotionDropsPagesCachedWhileWritable) {
  ASSERT_EQ(WriteFileAt(M("f"), "primary", O_CREAT), 0);
  EXPECT_EQ(ReadFileAt(M("f")), "primary");  // now in the page cache
  mount_->SetWritable(false);
  ASSERT_EQ(WriteFileAt(B("f"), "stream!", O_TRUNC), 0);  // same size
  EXPECT_EQ(ReadFileAt(M("f")), "stream!");
}

TEST_F(MountTest, UnmountAnswersAPendingRequestWithEio) {
  const int fd = open(M("f").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  const size_t before = sink_->Received().size();
  sink_->Hold(true);
  auto writer = std::async(std::launch::async, [fd] {
    const ssize_t n = write(fd, "never", 5);
    return n < 0 ? errno : 0;
  });
  ASSERT_TRUE(sink_->WaitForReceived(before + 1, std::chrono::milliseconds(10000)));
  EXPECT_EQ(writer.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  mount_->Unmount();
  ASSERT_EQ(writer.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_EQ(writer.get(), EIO);
  EXPECT_FALSE(mount_->mounted());
  close(fd);
  // The engine's late answer finds nothing to answer.
  EXPECT_EQ(mount_->Complete(1, absl::OkStatus()).code(), absl::StatusCode::kNotFound);
}

TEST_F(MountTest, UnmountWithAFileStillOpenDoesNotHang) {
  const int fd = open(M("f").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  mount_->Unmount();
  EXPECT_FALSE(mount_->mounted());
  EXPECT_EQ(write(fd, "x", 1), -1);  // the connection is gone
  EXPECT_EQ(errno, ENOTCONN);
  close(fd);
  EXPECT_EQ(ReadFileAt("/proc/self/mounts").find(mnt_), std::string::npos);
}

TEST_F(MountTest, AMountDetachedFromOutsideIsSeenAsNotMounted) {
  ASSERT_EQ(umount2(mnt_.c_str(), MNT_DETACH), 0);
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (mount_->mounted() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_FALSE(mount_->mounted());
  mount_->Unmount();  // still cleans up
}

TEST_F(MountTest, CompleteOfAnUnknownOpIsNotFound) {
  EXPECT_EQ(mount_->Complete(987654321, absl::OkStatus()).code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace duet
