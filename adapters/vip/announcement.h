// The frames that make neighbours switch to the node that now holds a VIP, and sending them.
// IPv4: a gratuitous ARP request and reply, both with the VIP as sender and target (RFC 5227
// announcements; some hosts only heed one of the two). IPv6: an unsolicited neighbour
// advertisement (RFC 4861 §7.2.6) to all-nodes ff02::1, hop limit 255, override flag set, with
// the target link-layer address option. Frames are written whole on an AF_PACKET socket, so
// sending does not depend on the address's state in the kernel.
#ifndef DUET_ADAPTERS_VIP_ANNOUNCEMENT_H_
#define DUET_ADAPTERS_VIP_ANNOUNCEMENT_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "adapters/vip/vip_address.h"

namespace duet::vip {

using MacAddress = std::array<uint8_t, 6>;

inline constexpr uint16_t kArpRequest = 1;
inline constexpr uint16_t kArpReply = 2;

// An Ethernet frame carrying a gratuitous ARP `operation` (kArpRequest or kArpReply) for an
// IPv4 address, padded to the 60-byte Ethernet minimum.
std::vector<uint8_t> GratuitousArpFrame(const MacAddress& source, const VipAddress& address,
                                        uint16_t operation);

// An Ethernet frame carrying an unsolicited neighbour advertisement for an IPv6 address, sent
// from it, checksummed.
std::vector<uint8_t> UnsolicitedNeighbourAdvertisementFrame(const MacAddress& source,
                                                            const VipAddress& address);

// Sends one round of announcements for `address` out of the interface. An interface that is
// not Ethernet-like (loopback, tun) has no neighbours to tell: nothing is sent, and that is
// success. Errors (interface down, permission) name the errno and what was being sent.
[[nodiscard]] absl::Status AnnounceAddress(const std::string& interface_name, int interface_index,
                                           const VipAddress& address);

}  // namespace duet::vip

#endif  // DUET_ADAPTERS_VIP_ANNOUNCEMENT_H_
