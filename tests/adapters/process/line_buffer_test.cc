// LineBuffer (adapters/process/line_buffer.h): how a child's output becomes log lines.
#include "adapters/process/line_buffer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace duet {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class LineBufferTest : public ::testing::Test {
 protected:
  LineBuffer::LineCallback Collect() {
    return [this](std::string_view line) { lines_.emplace_back(line); };
  }
  std::vector<std::string> lines_;
};

TEST_F(LineBufferTest, LinesSplitAcrossReadsComeOutWhole) {
  LineBuffer buffer;
  buffer.Append("hel", Collect());
  EXPECT_THAT(lines_, IsEmpty());
  buffer.Append("lo\nwor", Collect());
  buffer.Append("ld\r\n\nlast", Collect());
  buffer.Flush(Collect());
  EXPECT_THAT(lines_, ElementsAre("hello", "world", "", "last"));
}

TEST_F(LineBufferTest, ALineLongerThanTheCapIsCutIntoPiecesOfTheCap) {
  LineBuffer buffer(4);
  buffer.Append("abcdefghij\nxy", Collect());
  buffer.Append("zw\n", Collect());
  EXPECT_THAT(lines_, ElementsAre("abcd", "efgh", "ij", "xyzw"));
}

TEST_F(LineBufferTest, FlushWithNothingPendingGivesNothing) {
  LineBuffer buffer;
  buffer.Append("done\n", Collect());
  buffer.Flush(Collect());
  EXPECT_THAT(lines_, ElementsAre("done"));
}

}  // namespace
}  // namespace duet
