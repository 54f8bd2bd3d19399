#include "adapters/vip/vip_address.h"

#include <sys/socket.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace duet::vip {
namespace {

using ::testing::HasSubstr;

TEST(VipAddressTest, ParsesIpv4WithPrefix) {
  absl::StatusOr<VipAddress> address = ParseVipAddress("10.0.0.100/24");
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_EQ(address->family, AF_INET);
  EXPECT_EQ(address->size(), 4u);
  EXPECT_EQ(address->prefix_length, 24);
  EXPECT_EQ(address->bytes[0], 10);
  EXPECT_EQ(address->bytes[3], 100);
}

TEST(VipAddressTest, ParsesIpv6WithPrefix) {
  absl::StatusOr<VipAddress> address = ParseVipAddress("fd00::100/64");
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_EQ(address->family, AF_INET6);
  EXPECT_EQ(address->size(), 16u);
  EXPECT_EQ(address->prefix_length, 64);
  EXPECT_EQ(address->bytes[0], 0xfd);
  EXPECT_EQ(address->bytes[14], 0x01);
}

TEST(VipAddressTest, RefusesAnAddressWithoutPrefixLength) {
  absl::StatusOr<VipAddress> address = ParseVipAddress("10.0.0.100");
  EXPECT_EQ(address.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(address.status().message(), HasSubstr("10.0.0.100"));
  EXPECT_THAT(address.status().message(), HasSubstr("no prefix length"));
}

TEST(VipAddressTest, RefusesTextThatIsNotAnAddress) {
  for (const char* text : {"10.0.0/24", "10.0.0.256/24", "vip/24", "/24", "fe80::1%eth0/64"}) {
    absl::StatusOr<VipAddress> address = ParseVipAddress(text);
    EXPECT_EQ(address.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(address.status().message(), HasSubstr("not an IPv4 or IPv6 address")) << text;
  }
}

TEST(VipAddressTest, RefusesAPrefixLengthOutOfRange) {
  for (const char* text : {"10.0.0.100/33", "10.0.0.100/0", "10.0.0.100/", "10.0.0.100/2x",
                           "10.0.0.100/-1", "10.0.0.100/24/1", "fd00::100/129", "fd00::100/0064"}) {
    absl::StatusOr<VipAddress> address = ParseVipAddress(text);
    EXPECT_EQ(address.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(address.status().message(), HasSubstr("prefix length")) << text;
  }
}

TEST(VipAddressTest, RefusesUnspecifiedAndMulticastAddresses) {
  EXPECT_THAT(ParseVipAddress("0.0.0.0/8").status().message(), HasSubstr("unspecified"));
  EXPECT_THAT(ParseVipAddress("::/64").status().message(), HasSubstr("unspecified"));
  EXPECT_THAT(ParseVipAddress("224.0.0.1/24").status().message(), HasSubstr("multicast"));
  EXPECT_THAT(ParseVipAddress("ff02::1/64").status().message(), HasSubstr("multicast"));
}

}  // namespace
}  // namespace duet::vip
