// The descriptor cache under concurrency (adapters/fuse/descriptor_cache.h): threads holding,
// adopting anew and dropping slots past the bound each get their own slot's file, and the
// cache stays within its bound. Run in a ThreadSanitizer build too: the cache takes handles
// and closes descriptors outside its lock, and that build checks the hand-over.
#include "adapters/fuse/descriptor_cache.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/adapters/fuse/lowered_file_limit_test_base.h"

namespace duet {
namespace {

constexpr int kFiles = 96;   // three times the cache
constexpr int kSwapped = 8;  // slots 0..7 switch between two files

class DescriptorCacheTest : public LoweredFileLimitTestBase {
 protected:
  void SetUp() override {
    LoweredFileLimitTestBase::SetUp();
    root_fd_ = open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(root_fd_, 0);
    // kFiles files, and a second file for each swapped slot.
    for (int i = 0; i < kFiles + kSwapped; ++i) {
      const std::string path = root_ + "/f-" + std::to_string(i);
      const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      ASSERT_GE(fd, 0);
      close(fd);
      struct stat st;
      ASSERT_EQ(stat(path.c_str(), &st), 0);
      inos_.push_back(st.st_ino);
    }
    cache_ = std::make_unique<DescriptorCache>(root_fd_);
    ASSERT_EQ(cache_->capacity(), kTestFileLimit / 4);
    slots_ = std::vector<DescriptorSlot>(kFiles);
    for (int i = 0; i < kFiles; ++i) cache_->Adopt(slots_[i], OpenPath(i), /*replace=*/true);
  }
  void TearDown() override {
    cache_.reset();
    slots_.clear();
    if (root_fd_ >= 0) close(root_fd_);
    LoweredFileLimitTestBase::TearDown();
  }

  int OpenPath(int file) const {
    const std::string name = "f-" + std::to_string(file);
    return openat(root_fd_, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  }

  // The inode `slot` holds now, or 0 if it holds none (dropped).
  ino_t InoHeld(DescriptorSlot& slot) {
    const HeldFd fd = cache_->Hold(slot);
    if (fd.get() < 0) {
      EXPECT_EQ(fd.error(), EBADF);  // dropped, and only that
      return 0;
    }
    struct stat st;
    EXPECT_EQ(fstatat(fd.get(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW), 0);
    return st.st_ino;
  }

  int root_fd_ = -1;
  std::vector<ino_t> inos_;  // of f-0, f-1, ...
  std::unique_ptr<DescriptorCache> cache_;
  std::vector<DescriptorSlot> slots_;
};

TEST_F(DescriptorCacheTest,
       ThreadsHoldingSwappingAndDroppingSlotsPastTheBoundEachGetTheirSlotsFile) {
  constexpr int kHolders = 3;
  constexpr int kHoldsEach = 3000;
  constexpr int kSwaps = 400;
  std::atomic<int> wrong_file{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kHolders; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(static_cast<unsigned>(t + 1));
      for (int n = 0; n < kHoldsEach; ++n) {
        const int i = static_cast<int>(random() % kFiles);
        const ino_t ino = InoHeld(slots_[i]);
        const bool right = i < kSwapped ? ino == 0 || ino == inos_[i] || ino == inos_[kFiles + i]
                                        : ino == inos_[i];
        if (!right) ++wrong_file;
      }
    });
  }
  // One thread drops each swapped slot and adopts it anew, on the other of its two files,
  // while the holders push descriptors out (and so take handles again) around it.
  std::vector<int> last_file(kSwapped);
  for (int i = 0; i < kSwapped; ++i) last_file[i] = i;
  threads.emplace_back([&] {
    for (int n = 0; n < kSwaps; ++n) {
      const int i = n % kSwapped;
      last_file[i] = last_file[i] == i ? kFiles + i : i;
      DescriptorCache::Released released;
      cache_->Drop(slots_[i], &released);
      const int fd = OpenPath(last_file[i]);
      cache_->Adopt(slots_[i], fd, cache_->HandleOf(fd), /*replace=*/true, &released);
    }
  });
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong_file.load(), 0);
  EXPECT_LE(cache_->open_count(), cache_->capacity());
  // Every slot, pushed out and reopened by its handle, opens its own file still.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kFiles; ++i) {
      const int file = i < kSwapped ? last_file[i] : i;
      EXPECT_EQ(InoHeld(slots_[i]), inos_[file]) << "slot " << i << " round " << round;
    }
  }
  EXPECT_LE(cache_->open_count(), cache_->capacity());
}

TEST_F(DescriptorCacheTest, ADroppedSlotAnswersEbadfAndItsDescriptorIsClosed) {
  const HeldFd held = cache_->Hold(slots_[kFiles - 1]);  // the most recent: still open
  ASSERT_GE(held.get(), 0);
  const size_t before = cache_->open_count();
  {
    DescriptorCache::Released released;
    cache_->Drop(slots_[kFiles - 1], &released);
  }
  EXPECT_EQ(cache_->open_count(), before - 1);
  EXPECT_EQ(cache_->Hold(slots_[kFiles - 1]).error(), EBADF);
  // The hold taken before keeps its descriptor open.
  struct stat st;
  ASSERT_EQ(fstatat(held.get(), "", &st, AT_EMPTY_PATH), 0);
  EXPECT_EQ(st.st_ino, inos_[kFiles - 1]);
}

}  // namespace
}  // namespace duet
