// The fixture base of the descriptor cache's tests: a temporary directory on /tmp's file
// system (which makes file handles) and the process's soft open-file limit lowered to
// kTestFileLimit for the test's length, so the cache's bound (a quarter of it) is small.
#ifndef DUET_TESTS_ADAPTERS_FUSE_LOWERED_FILE_LIMIT_TEST_BASE_H_
#define DUET_TESTS_ADAPTERS_FUSE_LOWERED_FILE_LIMIT_TEST_BASE_H_

#include <stdlib.h>
#include <sys/resource.h>

#include <filesystem>
#include <string>

#include "gtest/gtest.h"

namespace duet {

class LoweredFileLimitTestBase : public ::testing::Test {
 protected:
  static constexpr rlim_t kTestFileLimit = 128;  // a cache of 32

  void SetUp() override {
    char dir[] = "/tmp/duet-descriptors-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    root_ = dir;
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old_limit_), 0);
    rlimit lowered = old_limit_;
    lowered.rlim_cur = kTestFileLimit;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  }
  void TearDown() override {
    setrlimit(RLIMIT_NOFILE, &old_limit_);
    std::filesystem::remove_all(root_);
  }

  std::string root_;
  rlimit old_limit_{};
};

}  // namespace duet

#endif  // DUET_TESTS_ADAPTERS_FUSE_LOWERED_FILE_LIMIT_TEST_BASE_H_
