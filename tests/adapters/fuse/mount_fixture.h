// A real ReplicatedMount in a temporary directory, over the backing directory
// <tmp>/module/vol (path_prefix "vol"), with an ApplyingSink standing in for the engine.
// The tests need root and /dev/fuse: they fail, never skip, without them. The mount is
// detached and the directory removed even when a test fails.
#ifndef DUET_TESTS_ADAPTERS_FUSE_MOUNT_FIXTURE_H_
#define DUET_TESTS_ADAPTERS_FUSE_MOUNT_FIXTURE_H_

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "adapters/fuse/replicated_mount.h"
#include "gtest/gtest.h"
#include "tests/adapters/fuse/applying_sink.h"

namespace duet {

// 0 on success, else the errno of the first failing call.
inline int WriteFileAt(const std::string& path, const std::string& data, int flags,
                       mode_t mode = 0644) {
  const int fd = open(path.c_str(), flags | O_WRONLY | O_CLOEXEC, mode);
  if (fd < 0) return errno;
  const ssize_t n = write(fd, data.data(), data.size());
  const int err = n < 0 ? errno : 0;
  if (close(fd) != 0 && err == 0) return errno;
  if (err == 0 && static_cast<size_t>(n) != data.size()) return EIO;
  return err;
}

inline std::string ReadFileAt(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "<open failed: " + std::string(strerror(errno)) + ">";
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

class MountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "the FUSE mount tests need root";
    ASSERT_EQ(access("/dev/fuse", R_OK | W_OK), 0)
        << "/dev/fuse is missing or unusable: the FUSE mount tests need it";
    char dir_template[] = "/tmp/duet-fuse-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    module_root_ = dir_ + "/module";
    backing_ = module_root_ + "/vol";
    mnt_ = dir_ + "/mnt";
    ASSERT_EQ(mkdir(module_root_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(backing_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(mnt_.c_str(), 0755), 0);
    sink_ = std::make_unique<ApplyingSink>(module_root_);
    ReplicatedMountOptions options;
    options.mountpoint = mnt_;
    options.backing_root = backing_;
    options.path_prefix = "vol";
    mount_ = std::make_unique<ReplicatedMount>(
        options, [this](uint64_t op_id, Mutation m) { sink_->Receive(op_id, std::move(m)); });
    sink_->SetCompleter([this](uint64_t op_id, absl::Status status) {
      (void)mount_->Complete(op_id, std::move(status));
    });
    const absl::Status mounted = mount_->Mount();
    ASSERT_TRUE(mounted.ok()) << mounted;
  }

  void TearDown() override {
    if (mount_ != nullptr) mount_->Unmount();
    if (!mnt_.empty()) umount2(mnt_.c_str(), MNT_DETACH);  // in case Unmount did not
    if (sink_ != nullptr) sink_->Stop();
    mount_.reset();
    sink_.reset();
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  std::string M(const std::string& name) const { return mnt_ + "/" + name; }
  std::string B(const std::string& name) const { return backing_ + "/" + name; }

  std::string dir_, module_root_, backing_, mnt_;
  std::unique_ptr<ApplyingSink> sink_;
  std::unique_ptr<ReplicatedMount> mount_;
};

}  // namespace duet

#endif  // DUET_TESTS_ADAPTERS_FUSE_MOUNT_FIXTURE_H_
