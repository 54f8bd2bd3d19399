// A VIP's address text ("10.0.0.100/24", "fd00::100/64") parsed into what netlink and the
// announcements need. The prefix length is required: without it the kernel would pick /32 or
// /128 and the VIP would have no on-link route, which is never what a config means.
#ifndef DUET_ADAPTERS_VIP_VIP_ADDRESS_H_
#define DUET_ADAPTERS_VIP_VIP_ADDRESS_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace duet::vip {

struct VipAddress {
  int family = 0;                   // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};  // network order; the first 4 for AF_INET
  uint8_t prefix_length = 0;

  size_t size() const;  // 4 or 16: how many of `bytes` are the address
};

// Parses "ADDRESS/PREFIX". Refuses a missing or out-of-range prefix (0 too: a /0 VIP would
// claim every destination as on-link), an address inet_pton does not accept, and the
// unspecified and multicast addresses, with a message saying which part is wrong.
[[nodiscard]] absl::StatusOr<VipAddress> ParseVipAddress(absl::string_view text);

}  // namespace duet::vip

#endif  // DUET_ADAPTERS_VIP_VIP_ADDRESS_H_
