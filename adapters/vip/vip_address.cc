#include "adapters/vip/vip_address.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace duet::vip {

size_t VipAddress::size() const { return family == AF_INET ? 4 : 16; }

namespace {

bool IsUnspecified(const VipAddress& address) {
  return std::all_of(address.bytes.begin(), address.bytes.begin() + address.size(),
                     [](uint8_t byte) { return byte == 0; });
}

bool IsMulticast(const VipAddress& address) {
  if (address.family == AF_INET) return (address.bytes[0] & 0xf0) == 0xe0;  // 224.0.0.0/4
  return address.bytes[0] == 0xff;                                          // ff00::/8
}

}  // namespace

absl::StatusOr<VipAddress> ParseVipAddress(absl::string_view text) {
  auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("VIP address '", text, "': ", why));
  };
  size_t slash = text.find('/');
  if (slash == absl::string_view::npos) {
    return refuse("no prefix length (write it as ADDRESS/PREFIX, e.g. 10.0.0.100/24)");
  }
  std::string host(text.substr(0, slash));
  absl::string_view prefix_text = text.substr(slash + 1);

  VipAddress address;
  if (inet_pton(AF_INET, host.c_str(), address.bytes.data()) == 1) {
    address.family = AF_INET;
  } else if (inet_pton(AF_INET6, host.c_str(), address.bytes.data()) == 1) {
    address.family = AF_INET6;
  } else {
    return refuse(absl::StrCat("'", host, "' is not an IPv4 or IPv6 address"));
  }

  const int max_prefix = address.family == AF_INET ? 32 : 128;
  int prefix = 0;
  bool digits_only = !prefix_text.empty() && prefix_text.size() <= 3 &&
                     std::all_of(prefix_text.begin(), prefix_text.end(),
                                 [](char c) { return c >= '0' && c <= '9'; });
  if (!digits_only || !absl::SimpleAtoi(prefix_text, &prefix) || prefix < 1 ||
      prefix > max_prefix) {
    return refuse(
        absl::StrCat("prefix length '", prefix_text, "' is not a number from 1 to ", max_prefix));
  }
  address.prefix_length = static_cast<uint8_t>(prefix);

  if (IsUnspecified(address)) return refuse("the unspecified address cannot be a VIP");
  if (IsMulticast(address)) return refuse("a multicast address cannot be a VIP");
  return address;
}

}  // namespace duet::vip
