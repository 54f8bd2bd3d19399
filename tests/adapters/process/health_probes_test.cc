// The probes behind the process, interface and tcp checkers (adapters/process/health_probes.h).
#include "adapters/process/health_probes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/status/status.h"

namespace duet {
namespace {

TEST(ParseHostPortTest, AcceptsNamesIpv4AndBracketedIpv6) {
  EXPECT_EQ(*ParseHostPort("127.0.0.1:80"), (Endpoint{"127.0.0.1", 80}));
  EXPECT_EQ(*ParseHostPort("db.example:5432"), (Endpoint{"db.example", 5432}));
  EXPECT_EQ(*ParseHostPort("[::1]:65535"), (Endpoint{"::1", 65535}));
}

TEST(ParseHostPortTest, RejectsWhatIsNotHostPortSayingWhy) {
  EXPECT_EQ(ParseHostPort("localhost").status().message(), "'localhost' is not host:port: no port");
  EXPECT_EQ(ParseHostPort(":80").status().message(), "':80' is not host:port: no host");
  EXPECT_EQ(ParseHostPort("::1:80").status().message(),
            "'::1:80' is not host:port: write an IPv6 address as [addr]");
  for (const char* bad : {"h:0", "h:65536", "h:8o", "h:", "h:-1"}) {
    EXPECT_EQ(ParseHostPort(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(CheckProcessRunningTest, FindsThisTestByItsCommandName) {
  std::string comm;
  ASSERT_TRUE(std::getline(std::ifstream("/proc/self/comm"), comm));
  EXPECT_TRUE(CheckProcessRunning(comm).ok());
  EXPECT_EQ(CheckProcessRunning("duet-absent").message(),
            "no process named 'duet-absent' is running");
}

TEST(CheckInterfaceUpTest, LoopbackIsUpAndAMissingOneSaysSo) {
  EXPECT_TRUE(CheckInterfaceUp("lo").ok());
  absl::Status missing = CheckInterfaceUp("nonexistent0");
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.message(), "interface nonexistent0 does not exist");
}

TEST(CheckInterfaceUpTest, NamesThatAreNotInterfaceNamesAreRefused) {
  for (const char* bad : {"", ".", "..", "a/b", "abcdefghijklmnop"}) {
    EXPECT_EQ(CheckInterfaceUp(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace duet
