#include "adapters/net/cluster_key.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace duet::net {
namespace {

using ::testing::HasSubstr;

// A fresh directory removed at the end of the test, whatever happens.
class KeyDir : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "duet-key-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string PathOf(const std::string& name) const { return (dir_ / name).string(); }
  std::string WriteFile(const std::string& name, const std::string& content, mode_t mode) {
    std::string path = PathOf(name);
    { std::ofstream(path) << content; }
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }
  std::filesystem::path dir_;
};

const std::string kHexKey = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n";

TEST_F(KeyDir, KeyWithMode0600IsAccepted) {
  std::string path = WriteFile("key", kHexKey, 0600);
  absl::StatusOr<ClusterKey> key = LoadClusterKey(path);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->bytes[0], 0x00);
  EXPECT_EQ(key->bytes[1], 0x11);
  EXPECT_EQ(key->bytes[31], 0xff);
}

TEST_F(KeyDir, WorldReadableKeyIsRefusedNamingTheMode) {
  std::string path = WriteFile("key", kHexKey, 0644);
  absl::StatusOr<ClusterKey> key = LoadClusterKey(path);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(key.status().message(), HasSubstr("mode 0644"));
  EXPECT_THAT(key.status().message(), HasSubstr("chmod 600"));
}

TEST_F(KeyDir, GroupWritableKeyIsRefused) {
  std::string path = WriteFile("key", kHexKey, 0620);
  absl::StatusOr<ClusterKey> key = LoadClusterKey(path);
  ASSERT_FALSE(key.ok());
  EXPECT_THAT(key.status().message(), HasSubstr("mode 0620"));
}

TEST_F(KeyDir, KeyOwnedByAnotherUserIsRefused) {
  ASSERT_EQ(::geteuid(), 0u) << "this test changes a file's owner: run it as root (CI does)";
  std::string path = WriteFile("key", kHexKey, 0600);
  ASSERT_EQ(::chown(path.c_str(), 12345, 12345), 0);
  absl::StatusOr<ClusterKey> key = LoadClusterKey(path);
  ASSERT_FALSE(key.ok());
  EXPECT_THAT(key.status().message(), HasSubstr("owned by uid 12345"));
}

TEST_F(KeyDir, DirectoryInPlaceOfTheKeyIsRefused) {
  std::string path = PathOf("keydir");
  ASSERT_EQ(::mkdir(path.c_str(), 0700), 0);
  absl::StatusOr<ClusterKey> key = LoadClusterKey(path);
  ASSERT_FALSE(key.ok());
  EXPECT_THAT(key.status().message(), HasSubstr("not a regular file"));
}

TEST_F(KeyDir, KeyOfWrongLengthOrNotHexIsRefused) {
  absl::StatusOr<ClusterKey> short_key = LoadClusterKey(WriteFile("short", "abcd\n", 0600));
  EXPECT_EQ(short_key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(short_key.status().message(), HasSubstr("holds 4 characters"));
  std::string not_hex = kHexKey;
  not_hex[10] = 'g';
  absl::StatusOr<ClusterKey> bad = LoadClusterKey(WriteFile("nothex", not_hex, 0600));
  EXPECT_THAT(bad.status().message(), HasSubstr("character 11 is not hex"));
  absl::StatusOr<ClusterKey> extra = LoadClusterKey(WriteFile("extra", kHexKey + "\n", 0600));
  EXPECT_EQ(extra.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(KeyDir, MissingKeyIsNotFound) {
  EXPECT_EQ(LoadClusterKey(PathOf("absent")).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(KeyDir, NewKeyIsMode0600AndLoadsBack) {
  ::mode_t old_umask = ::umask(0);  // even a permissive umask must give 0600
  absl::StatusOr<ClusterKey> written = WriteNewClusterKey(PathOf("new"));
  ::umask(old_umask);
  ASSERT_TRUE(written.ok()) << written.status();
  struct stat st {};
  ASSERT_EQ(::stat(PathOf("new").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  absl::StatusOr<ClusterKey> loaded = LoadClusterKey(PathOf("new"));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(*loaded, *written);
  absl::StatusOr<ClusterKey> other = WriteNewClusterKey(PathOf("other"));
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other, *written);
}

TEST_F(KeyDir, NewKeyNeverOverwritesAnExistingFile) {
  std::string path = WriteFile("key", kHexKey, 0600);
  absl::StatusOr<ClusterKey> written = WriteNewClusterKey(path);
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.status().code(), absl::StatusCode::kAlreadyExists);
  absl::StatusOr<ClusterKey> loaded = LoadClusterKey(path);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->bytes[1], 0x11);
}

}  // namespace
}  // namespace duet::net
