// TakeInExistingData: what a module's directory held before Duet's first start moves into
// its backing directory (adapters/daemon/existing_data.h).
#include "adapters/daemon/existing_data.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace duet {
namespace {

namespace fs = std::filesystem;

class ExistingDataTest : public testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/var/tmp/duet-existing-XXXXXX";
    ASSERT_NE(mkdtemp(name), nullptr);
    root_ = name;
    directory_ = root_ + "/app";
    backing_ = root_ + "/state/backing";
    fs::create_directories(directory_);
    fs::create_directories(backing_);
  }
  void TearDown() override { fs::remove_all(root_); }
  static void Write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::string root_, directory_, backing_;
};

TEST_F(ExistingDataTest, EveryEntryMovesWithItsLinksAndTheDirectorysModeAndOwner) {
  fs::create_directories(directory_ + "/db/wal");
  Write(directory_ + "/db/table", "rows");
  Write(directory_ + "/.hidden", "dot file");
  ASSERT_EQ(link((directory_ + "/db/table").c_str(), (directory_ + "/db/wal/same").c_str()), 0);
  ASSERT_EQ(chmod(directory_.c_str(), 0750), 0);
  ASSERT_EQ(chown(directory_.c_str(), 1234, 5678), 0);
  const absl::StatusOr<size_t> moved = TakeInExistingData(directory_, backing_);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(*moved, 2u);  // db and .hidden
  EXPECT_TRUE(fs::is_empty(directory_));
  EXPECT_EQ(Read(backing_ + "/db/table"), "rows");
  EXPECT_EQ(Read(backing_ + "/.hidden"), "dot file");
  EXPECT_TRUE(fs::equivalent(backing_ + "/db/table", backing_ + "/db/wal/same"));
  struct stat st;
  ASSERT_EQ(stat(backing_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
}

TEST_F(ExistingDataTest, AMissingOrEmptyDirectoryMovesNothing) {
  EXPECT_EQ(*TakeInExistingData(directory_, backing_), 0u);
  EXPECT_EQ(*TakeInExistingData(root_ + "/absent", backing_), 0u);
  EXPECT_TRUE(fs::is_empty(backing_));
}

TEST_F(ExistingDataTest, AnotherFileSystemMovesNothingAndSaysWhatToDo) {
  // /dev/shm is a tmpfs: never the file system of /var/tmp.
  char name[] = "/dev/shm/duet-existing-XXXXXX";
  ASSERT_NE(mkdtemp(name), nullptr);
  const std::string elsewhere = name;
  Write(directory_ + "/kept", "stays");
  const absl::StatusOr<size_t> moved = TakeInExistingData(directory_, elsewhere);
  fs::remove_all(elsewhere);
  ASSERT_FALSE(moved.ok());
  EXPECT_NE(moved.status().message().find("another file system"), std::string::npos)
      << moved.status();
  EXPECT_EQ(Read(directory_ + "/kept"), "stays");
}

}  // namespace
}  // namespace duet
