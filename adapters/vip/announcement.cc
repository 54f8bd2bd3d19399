#include "adapters/vip/announcement.h"

#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "adapters/vip/owned_socket.h"
#include "engine/status_macros.h"

namespace duet::vip {
namespace {

constexpr uint16_t kEtherTypeArp = 0x0806;
constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
constexpr size_t kEthernetMinimumFrame = 60;  // without the frame check sequence
constexpr uint8_t kIcmpv6 = 58;
constexpr uint8_t kNeighbourAdvertisement = 136;
constexpr uint8_t kOverrideFlag = 0x20;
constexpr uint8_t kTargetLinkLayerOption = 2;

constexpr MacAddress kBroadcastMac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
// ff02::1 and its multicast MAC 33:33:00:00:00:01.
constexpr std::array<uint8_t, 16> kAllNodes = {0xff, 0x02, 0, 0, 0, 0, 0, 0,
                                               0,    0,    0, 0, 0, 0, 0, 1};
constexpr MacAddress kAllNodesMac = {0x33, 0x33, 0, 0, 0, 1};

class FrameWriter {
 public:
  void Byte(uint8_t value) { bytes_.push_back(value); }
  void U16(uint16_t value) {
    Byte(static_cast<uint8_t>(value >> 8));
    Byte(static_cast<uint8_t>(value));
  }
  void U32(uint32_t value) {
    U16(static_cast<uint16_t>(value >> 16));
    U16(static_cast<uint16_t>(value));
  }
  void Bytes(const uint8_t* data, size_t size) { bytes_.insert(bytes_.end(), data, data + size); }
  template <size_t N>
  void Bytes(const std::array<uint8_t, N>& data) {
    Bytes(data.data(), N);
  }
  void Zeros(size_t count) { bytes_.resize(bytes_.size() + count, 0); }
  void Ethernet(const MacAddress& destination, const MacAddress& source, uint16_t ether_type) {
    Bytes(destination);
    Bytes(source);
    U16(ether_type);
  }
  size_t size() const { return bytes_.size(); }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// The Internet checksum (RFC 1071) over the IPv6 pseudo-header and the ICMPv6 message.
uint16_t Icmpv6Checksum(const std::array<uint8_t, 16>& source,
                        const std::array<uint8_t, 16>& destination, const uint8_t* message,
                        size_t size) {
  FrameWriter pseudo;
  pseudo.Bytes(source);
  pseudo.Bytes(destination);
  pseudo.U32(static_cast<uint32_t>(size));
  pseudo.Zeros(3);
  pseudo.Byte(kIcmpv6);
  pseudo.Bytes(message, size);
  if (pseudo.size() % 2 != 0) pseudo.Byte(0);
  uint32_t sum = 0;
  const std::vector<uint8_t>& bytes = pseudo.bytes();
  for (size_t i = 0; i < bytes.size(); i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

absl::Status SendError(int error, absl::string_view what) {
  std::string text = absl::StrCat("sending ", what, ": ", strerror(error));
  if (error == EPERM || error == EACCES) {
    return absl::PermissionDeniedError(absl::StrCat(text, " (needs CAP_NET_RAW)"));
  }
  if (error == ENETDOWN) return absl::FailedPreconditionError(text);
  return absl::InternalError(text);
}

// The interface's MAC address, or nullopt when it has none of the Ethernet kind.
absl::StatusOr<std::optional<MacAddress>> EthernetAddress(int socket,
                                                          const std::string& interface_name) {
  ifreq request{};
  std::strncpy(request.ifr_name, interface_name.c_str(), IFNAMSIZ - 1);
  if (ioctl(socket, SIOCGIFHWADDR, &request) != 0) {
    return absl::InternalError(
        absl::StrCat("reading the interface's hardware address: ", strerror(errno)));
  }
  if (request.ifr_hwaddr.sa_family != ARPHRD_ETHER) return std::optional<MacAddress>();
  MacAddress mac;
  std::memcpy(mac.data(), request.ifr_hwaddr.sa_data, mac.size());
  return std::optional<MacAddress>(mac);
}

absl::Status SendFrame(int socket, int interface_index, const MacAddress& destination,
                       uint16_t ether_type, const std::vector<uint8_t>& frame,
                       absl::string_view what) {
  sockaddr_ll link{};
  link.sll_family = AF_PACKET;
  link.sll_protocol = htons(ether_type);
  link.sll_ifindex = interface_index;
  link.sll_halen = static_cast<unsigned char>(destination.size());
  std::memcpy(link.sll_addr, destination.data(), destination.size());
  ssize_t sent = sendto(socket, frame.data(), frame.size(), 0,
                        reinterpret_cast<const sockaddr*>(&link), sizeof link);
  if (sent < 0) return SendError(errno, what);
  if (static_cast<size_t>(sent) != frame.size()) {
    return absl::InternalError(absl::StrCat("sending ", what, ": the frame was cut short"));
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<uint8_t> GratuitousArpFrame(const MacAddress& source, const VipAddress& address,
                                        uint16_t operation) {
  FrameWriter frame;
  frame.Ethernet(kBroadcastMac, source, kEtherTypeArp);
  frame.U16(ARPHRD_ETHER);
  frame.U16(0x0800);  // IPv4
  frame.Byte(6);
  frame.Byte(4);
  frame.U16(operation);
  frame.Bytes(source);
  frame.Bytes(address.bytes.data(), 4);
  // The target hardware address means nothing in an announcement: zero in the request
  // (RFC 5227), broadcast in the reply (what iputils' `arping -A` sends).
  if (operation == kArpReply) {
    frame.Bytes(kBroadcastMac);
  } else {
    frame.Zeros(6);
  }
  frame.Bytes(address.bytes.data(), 4);
  if (frame.size() < kEthernetMinimumFrame) frame.Zeros(kEthernetMinimumFrame - frame.size());
  return std::move(frame.bytes());
}

std::vector<uint8_t> UnsolicitedNeighbourAdvertisementFrame(const MacAddress& source,
                                                            const VipAddress& address) {
  FrameWriter icmp;
  icmp.Byte(kNeighbourAdvertisement);
  icmp.Byte(0);  // code
  icmp.U16(0);   // checksum, filled in below
  icmp.Byte(kOverrideFlag);
  icmp.Zeros(3);  // the rest of the flags word
  icmp.Bytes(address.bytes);
  icmp.Byte(kTargetLinkLayerOption);
  icmp.Byte(1);  // option length in units of 8 bytes
  icmp.Bytes(source);
  std::vector<uint8_t>& message = icmp.bytes();
  uint16_t checksum = Icmpv6Checksum(address.bytes, kAllNodes, message.data(), message.size());
  message[2] = static_cast<uint8_t>(checksum >> 8);
  message[3] = static_cast<uint8_t>(checksum);

  FrameWriter frame;
  frame.Ethernet(kAllNodesMac, source, kEtherTypeIpv6);
  frame.U32(6u << 28);  // version 6, traffic class 0, flow label 0
  frame.U16(static_cast<uint16_t>(message.size()));
  frame.Byte(kIcmpv6);
  frame.Byte(255);  // hop limit: receivers drop neighbour discovery with any other
  frame.Bytes(address.bytes);
  frame.Bytes(kAllNodes);
  frame.Bytes(message.data(), message.size());
  return std::move(frame.bytes());
}

absl::Status AnnounceAddress(const std::string& interface_name, int interface_index,
                             const VipAddress& address) {
  // Protocol 0: this socket only sends, so the kernel queues nothing to it.
  OwnedSocket socket(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
  if (!socket.valid()) {
    absl::string_view what = "announcements (opening an AF_PACKET socket)";
    return SendError(errno, what);
  }
  DUET_ASSIGN_OR_RETURN(std::optional<MacAddress> mac,
                        EthernetAddress(socket.get(), interface_name));
  if (!mac.has_value()) return absl::OkStatus();
  if (address.family == AF_INET) {
    DUET_RETURN_IF_ERROR(SendFrame(socket.get(), interface_index, kBroadcastMac, kEtherTypeArp,
                                   GratuitousArpFrame(*mac, address, kArpRequest),
                                   "the gratuitous ARP request"));
    return SendFrame(socket.get(), interface_index, kBroadcastMac, kEtherTypeArp,
                     GratuitousArpFrame(*mac, address, kArpReply), "the gratuitous ARP reply");
  }
  return SendFrame(socket.get(), interface_index, kAllNodesMac, kEtherTypeIpv6,
                   UnsolicitedNeighbourAdvertisementFrame(*mac, address),
                   "the unsolicited neighbour advertisement");
}

}  // namespace duet::vip
