// The simulator's application workload.
#include "sim/workload.h"

#include <gtest/gtest.h>

namespace duet::sim {
namespace {

TEST(WorkloadTest, WorkloadBytesFollowTheirPattern) {
  for (const uint64_t size : {0, 1, 7, 1791, 1792, 1793, 5000, 1 << 20}) {
    const std::string bytes = WorkloadBytes(99, size);
    ASSERT_EQ(bytes.size(), size);
    const uint64_t salt = 99 * 0x9e3779b97f4a7c15ull;
    for (uint64_t i = 0; i < size; ++i) {
      ASSERT_EQ(bytes[i], static_cast<char>((salt >> ((i % 7) * 8)) + i / 7)) << size << " " << i;
    }
  }
  EXPECT_NE(WorkloadBytes(1, 64), WorkloadBytes(2, 64));
}

}  // namespace
}  // namespace duet::sim
