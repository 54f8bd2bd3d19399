// A sink that applies and completes inside on_mutation itself (an engine that answers at
// once): the mount must not deadlock, and the answers still reach the application.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "adapters/fuse/replicated_mount.h"
#include "gtest/gtest.h"
#include "tests/adapters/fuse/mount_fixture.h"

namespace duet {
namespace {

class TempDir {
 public:
  TempDir() {
    char dir_template[] = "/tmp/duet-fuse-inline-XXXXXX";
    if (mkdtemp(dir_template) != nullptr) path_ = dir_template;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(InlineCompletion, MutationsCompletedInsideOnMutationAnswerTheApplication) {
  ASSERT_EQ(access("/dev/fuse", R_OK | W_OK), 0) << "/dev/fuse is missing: this test needs it";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string backing = dir.path() + "/backing";
  const std::string mnt = dir.path() + "/mnt";
  ASSERT_EQ(mkdir(backing.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);

  ReplicatedMountOptions options;
  options.mountpoint = mnt;
  options.backing_root = backing;
  std::unique_ptr<ReplicatedMount> mount;
  mount = std::make_unique<ReplicatedMount>(options, [&](uint64_t op_id, Mutation m) {
    absl::Status status = absl::OkStatus();
    const std::string path = backing + "/" + m.path;
    if (m.kind == MutationKind::kCreate) {
      const int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY, m.mode);
      if (fd < 0) status = absl::ErrnoToStatus(errno, "create");
      if (fd >= 0) close(fd);
    } else if (m.kind == MutationKind::kWrite) {
      const int fd = open(path.c_str(), O_WRONLY);
      if (fd < 0 || pwrite(fd, m.data->data(), m.data->size(), static_cast<off_t>(m.offset)) < 0) {
        status = absl::ErrnoToStatus(errno, "write");
      }
      if (fd >= 0) close(fd);
    } else if (m.kind == MutationKind::kMkdir && m.path == ".duet-unlinked") {
      if (mkdir(path.c_str(), m.mode) != 0) status = absl::ErrnoToStatus(errno, "mkdir");
    } else if (m.kind == MutationKind::kMkdir) {
      status = absl::ErrnoToStatus(ENOSPC, "mkdir refused");
    } else if (m.kind == MutationKind::kRename) {
      if (rename(path.c_str(), (backing + "/" + m.path2).c_str()) != 0) {
        status = absl::ErrnoToStatus(errno, "rename");
      }
    } else if (m.kind == MutationKind::kUnlink) {
      if (unlink(path.c_str()) != 0) status = absl::ErrnoToStatus(errno, "unlink");
    }
    EXPECT_TRUE(mount->Complete(op_id, status).ok());
  });
  struct Detach {
    std::string mnt;
    ReplicatedMount* mount;
    ~Detach() {
      mount->Unmount();
      umount2(mnt.c_str(), MNT_DETACH);
    }
  } detach{mnt, mount.get()};
  const absl::Status mounted = mount->Mount();
  ASSERT_TRUE(mounted.ok()) << mounted;

  ASSERT_EQ(WriteFileAt(mnt + "/f", "inline", O_CREAT | O_APPEND), 0);
  EXPECT_EQ(ReadFileAt(mnt + "/f"), "inline");
  EXPECT_EQ(mkdir((mnt + "/d").c_str(), 0755), -1);
  EXPECT_EQ(errno, ENOSPC);

  // An open file unlinked: its move into the hidden directory, and the unlink there that
  // its release hands on, are completed inline too.
  const int fd = open((mnt + "/f").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(unlink((mnt + "/f").c_str()), 0);
  EXPECT_EQ(pwrite(fd, "still", 5, 0), 5);
  ASSERT_EQ(close(fd), 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!std::filesystem::is_empty(backing + "/.duet-unlinked") &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(std::filesystem::is_empty(backing + "/.duet-unlinked"));
}

}  // namespace
}  // namespace duet
