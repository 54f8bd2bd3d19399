// Write data buffers are reused once the engine lets go of their Payload, only for writes of
// about their size, and a Payload holds its bytes whatever happens to the buffers.
#include "adapters/fuse/payload_buffers.h"

#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace duet {
namespace {

constexpr size_t kMiB = 1 << 20;

Payload Filled(PayloadBuffers& buffers, size_t size, char byte) {
  std::unique_ptr<std::string> bytes = buffers.Take(size);
  EXPECT_EQ(bytes->size(), size);
  memset(bytes->data(), byte, size);
  return buffers.Seal(std::move(bytes));
}

TEST(PayloadBuffersTest, AReleasedLargeBufferIsReusedForTheNextWriteOfAboutItsSize) {
  auto buffers = PayloadBuffers::Create(4);
  Payload first = Filled(*buffers, kMiB, 'a');
  const char* storage = first->data();
  EXPECT_EQ(*first, std::string(kMiB, 'a'));
  EXPECT_EQ(buffers->kept(), 0u);
  first.reset();
  EXPECT_EQ(buffers->kept(), 1u);
  Payload second = Filled(*buffers, kMiB - 4096, 'b');
  EXPECT_EQ(second->data(), storage);
  EXPECT_EQ(*second, std::string(kMiB - 4096, 'b'));
  EXPECT_EQ(buffers->kept(), 0u);
}

TEST(PayloadBuffersTest, ABufferInUseOrTwiceTooLargeIsNotGivenToAnotherWrite) {
  auto buffers = PayloadBuffers::Create(4);
  Payload held = Filled(*buffers, kMiB, 'a');
  Payload other = Filled(*buffers, kMiB, 'b');
  EXPECT_NE(held->data(), other->data());
  other.reset();
  Payload small = Filled(*buffers, 256 << 10, 'c');  // a 1 MiB buffer is kept, not used
  EXPECT_EQ(buffers->kept(), 1u);
  EXPECT_EQ(*held, std::string(kMiB, 'a'));
  EXPECT_EQ(*small, std::string(256 << 10, 'c'));
}

TEST(PayloadBuffersTest, SmallWritesAreNotPooledAndAtMostMaxKeptWait) {
  auto buffers = PayloadBuffers::Create(2);
  Filled(*buffers, 4096, 'x').reset();
  EXPECT_EQ(buffers->kept(), 0u);
  Payload a = Filled(*buffers, kMiB, 'a');
  Payload b = Filled(*buffers, kMiB, 'b');
  Payload c = Filled(*buffers, kMiB, 'c');
  a.reset();
  b.reset();
  c.reset();
  EXPECT_EQ(buffers->kept(), 2u);
}

TEST(PayloadBuffersTest, APayloadOutlivesItsBuffers) {
  auto buffers = PayloadBuffers::Create(2);
  Payload kept = Filled(*buffers, kMiB, 'k');
  buffers.reset();
  EXPECT_EQ(*kept, std::string(kMiB, 'k'));
  kept.reset();  // freed, not given back (ASan checks)
}

}  // namespace
}  // namespace duet
