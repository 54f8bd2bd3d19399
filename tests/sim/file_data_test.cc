// FileData: a file's bytes in copy-on-write pages.
#include "sim/file_data.h"

#include <gtest/gtest.h>

#include <string>

namespace duet::sim {
namespace {

constexpr uint64_t kPage = FileData::kPageSize;

TEST(FileDataTest, HolesReadAsZerosAndTakeNoPages) {
  FileData data;
  data.Write(3 * kPage + 2, "xy");
  EXPECT_EQ(data.size(), 3 * kPage + 4);
  EXPECT_EQ(data.page_count(), 4u);
  EXPECT_EQ(data.allocated_pages(), 1u);
  EXPECT_EQ(data.substr(3 * kPage - 1, 5), std::string("\0\0\0xy", 5));
  EXPECT_EQ(data[0], '\0');
  EXPECT_EQ(data[3 * kPage + 3], 'y');
  EXPECT_EQ(data.PagesToAllocate(0, 2 * kPage + 1), 3u);
  EXPECT_EQ(data.PagesToAllocate(3 * kPage + 1, kPage), 1u);  // the end of page 3, then page 4
  EXPECT_EQ(data.PagesToAllocate(3 * kPage, kPage), 0u);
  EXPECT_EQ(data.PagesToAllocate(3 * kPage, 1), 0u);
}

TEST(FileDataTest, CopiesShareUntilWritten) {
  FileData a(std::string(3 * kPage, 'a'));
  FileData b = a;
  b.Write(kPage + 1, "B");
  EXPECT_EQ(a, std::string(3 * kPage, 'a'));
  EXPECT_EQ(b[kPage + 1], 'B');
  EXPECT_EQ(a.page(0), b.page(0));
  EXPECT_NE(a.page(1), b.page(1));
  EXPECT_EQ(a.page(2), b.page(2));
  // A page with one owner is written in place.
  const FileData::Page* own = b.page(1).get();
  b.Write(kPage + 2, "C");
  EXPECT_EQ(b.page(1).get(), own);
}

TEST(FileDataTest, TruncateZeroesTheTailOfTheLastPage) {
  FileData data(std::string(2 * kPage, 'x'));
  const FileData kept = data;
  data.Resize(10);
  data.Resize(2 * kPage);
  EXPECT_EQ(data, std::string(10, 'x') + std::string(2 * kPage - 10, '\0'));
  EXPECT_EQ(data.allocated_pages(), 1u);
  EXPECT_EQ(kept, std::string(2 * kPage, 'x'));  // the copy kept its page
}

TEST(FileDataTest, SetPageZeroesPastTheSize) {
  const FileData full(std::string(kPage, 'f'));
  FileData data(std::string(5, 's'));
  data.SetPage(0, full.page(0));
  EXPECT_EQ(data, "fffff");
}

TEST(FileDataTest, EqualityComparesBytesNotPointers) {
  FileData hole;
  hole.Resize(kPage + 3);
  FileData zeros(std::string(kPage + 3, '\0'));
  EXPECT_EQ(hole, zeros);
  EXPECT_EQ(FirstDifference(hole, zeros), kPage + 3);
  zeros.Write(kPage + 1, "z");
  EXPECT_FALSE(hole == zeros);
  EXPECT_EQ(FirstDifference(hole, zeros), kPage + 1);
  FileData longer = zeros;
  longer.Write(kPage + 3, "!");
  EXPECT_FALSE(longer == zeros);
  EXPECT_EQ(FirstDifference(longer, zeros), kPage + 3);
  EXPECT_EQ(zeros.FindMismatch(kPage, std::string("\0z\0", 3)), FileData::kNoMismatch);
  EXPECT_EQ(zeros.FindMismatch(kPage, std::string("\0z\0\0", 4)), kPage + 3);  // past the end
  EXPECT_EQ(zeros.FindMismatch(0, std::string(kPage + 2, '\0')), kPage + 1);
}

// A shared buffer lends its whole pages (no copy); a later write to such a page copies it
// first, leaving the buffer untouched.
TEST(FileDataTest, PayloadWriteLendsWholePagesAndNeverWritesIntoThem) {
  auto payload = std::make_shared<const std::string>(std::string(2 * kPage + 10, 'p'));
  FileData data;
  data.Write(kPage - 5, payload);  // partial, whole, whole, partial
  ASSERT_EQ(data.size(), 3 * kPage + 5);
  EXPECT_EQ(data.page(1).get(), reinterpret_cast<const FileData::Page*>(payload->data() + 5));
  EXPECT_EQ(data.page(2).get(),
            reinterpret_cast<const FileData::Page*>(payload->data() + 5 + kPage));
  EXPECT_EQ(data.substr(kPage - 5), *payload);
  FileData copy = data;
  payload.reset();  // the pages keep the buffer alive
  data.Write(kPage + 7, "X");
  EXPECT_EQ(data[kPage + 7], 'X');
  EXPECT_EQ(copy[kPage + 7], 'p');
  EXPECT_EQ(data.allocated_pages(), 4u);
}

}  // namespace
}  // namespace duet::sim
