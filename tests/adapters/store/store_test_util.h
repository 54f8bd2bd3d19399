// Helpers for the store's tests: a temporary directory under /tmp removed even when a test
// fails, mutations in one line, and what `stat` and `cat` would show.
#ifndef DUET_TESTS_ADAPTERS_STORE_STORE_TEST_UTIL_H_
#define DUET_TESTS_ADAPTERS_STORE_STORE_TEST_UTIL_H_

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "adapters/store/backing_store.h"
#include "engine/replication/mutation.h"
#include "gtest/gtest.h"

namespace duet::store::testing {

// A fresh directory /tmp/duet-store-test-XXXXXX, removed with its contents (symlinks not
// followed) when this object goes away.
class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/duet-store-test-XXXXXX";
    if (mkdtemp(name) == nullptr) {
      ADD_FAILURE() << "mkdtemp: " << strerror(errno);
      return;
    }
    path_ = name;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline Mutation Write(std::string path, uint64_t offset, std::string bytes) {
  Mutation m = MakeMutation(MutationKind::kWrite, std::move(path));
  m.offset = offset;
  m.data = MakePayload(std::move(bytes));
  return m;
}
inline Mutation Truncate(std::string path, uint64_t size) {
  Mutation m = MakeMutation(MutationKind::kTruncate, std::move(path));
  m.offset = size;
  return m;
}
inline Mutation WithMode(MutationKind kind, std::string path, uint32_t mode) {
  Mutation m = MakeMutation(kind, std::move(path));
  m.mode = mode;
  return m;
}
// chmod and the mtime of utimensat in one setattr.
inline Mutation Setattr(std::string path, uint32_t mode, int64_t mtime_ns) {
  Mutation m = WithMode(MutationKind::kSetattr, std::move(path), mode);
  m.mtime_ns = mtime_ns;
  m.attr_mask = kAttrMode | kAttrMtime;
  return m;
}
// chmod alone.
inline Mutation Chmod(std::string path, uint32_t mode) {
  Mutation m = WithMode(MutationKind::kSetattr, std::move(path), mode);
  m.attr_mask = kAttrMode;
  return m;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
inline void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}
inline bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}
inline struct stat Lstat(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path << ": " << strerror(errno);
  return st;
}
inline uint32_t ModeOf(const std::string& path) { return Lstat(path).st_mode & 07777; }

// Every name under `dir` (relative, any depth, symlinks not followed).
inline std::set<std::string> NamesUnder(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    names.insert(e.path().lexically_relative(dir).string());
  }
  return names;
}

// A store over `dir`/root (created 0700) in a TempDir, for a test fixture.
class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(mkdir(root_.c_str(), 0700), 0) << strerror(errno);
    absl::StatusOr<BackingStore> store = BackingStore::Open(root_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_.emplace(*std::move(store));
  }

  std::string At(const std::string& relative) const { return root_ + "/" + relative; }
  absl::Status Apply(const Mutation& m, bool durable = false) { return store_->Apply(m, durable); }

  TempDir tmp_;
  const std::string root_ = tmp_ / "root";
  std::optional<BackingStore> store_;
};

}  // namespace duet::store::testing

#endif  // DUET_TESTS_ADAPTERS_STORE_STORE_TEST_UTIL_H_
