#include "adapters/vip/address_netlink.h"

#include <errno.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cstring>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "adapters/vip/owned_socket.h"
#include "engine/status_macros.h"

namespace duet::vip {
namespace {

// Large enough for any single message of an address dump (the kernel fills at most a page
// or so per datagram).
constexpr size_t kReceiveBufferSize = 64 * 1024;

absl::Status ErrnoStatus(int error, absl::string_view doing) {
  std::string text = absl::StrCat(doing, ": ", strerror(error));
  switch (error) {
    case EPERM:
    case EACCES:
      return absl::PermissionDeniedError(absl::StrCat(text, " (needs CAP_NET_ADMIN)"));
    case ENODEV:
      return absl::NotFoundError(text);
    case EINVAL:
    case EAFNOSUPPORT:
      return absl::InvalidArgumentError(text);
    case EAGAIN:
      return absl::DeadlineExceededError(text);
    default:
      return absl::InternalError(text);
  }
}

// One rtnetlink request: a header, a fixed ifaddrmsg and attributes, each NLMSG-aligned.
class AddressRequest {
 public:
  AddressRequest(uint16_t type, uint16_t flags, const ifaddrmsg& body) {
    bytes_.resize(NLMSG_LENGTH(sizeof(ifaddrmsg)));
    nlmsghdr header{};
    header.nlmsg_len = static_cast<uint32_t>(bytes_.size());
    header.nlmsg_type = type;
    header.nlmsg_flags = flags;
    header.nlmsg_seq = 1;
    std::memcpy(bytes_.data(), &header, sizeof header);
    std::memcpy(bytes_.data() + NLMSG_HDRLEN, &body, sizeof body);
  }

  void AddAttribute(uint16_t type, const void* data, size_t size) {
    size_t start = NLMSG_ALIGN(bytes_.size());
    rtattr attribute{};
    attribute.rta_len = static_cast<uint16_t>(RTA_LENGTH(size));
    attribute.rta_type = type;
    bytes_.resize(start + RTA_SPACE(size), 0);
    std::memcpy(bytes_.data() + start, &attribute, sizeof attribute);
    std::memcpy(bytes_.data() + start + RTA_LENGTH(0), data, size);
    uint32_t length = static_cast<uint32_t>(bytes_.size());
    std::memcpy(bytes_.data() + offsetof(nlmsghdr, nlmsg_len), &length, sizeof length);
  }

  const std::vector<char>& bytes() const { return bytes_; }

 private:
  std::vector<char> bytes_;
};

absl::StatusOr<OwnedSocket> OpenRouteSocket() {
  OwnedSocket socket(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!socket.valid()) return ErrnoStatus(errno, "opening a NETLINK_ROUTE socket");
  timeval timeout{.tv_sec = 2, .tv_usec = 0};
  if (setsockopt(socket.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0) {
    return ErrnoStatus(errno, "setting the netlink receive timeout");
  }
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (bind(socket.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    return ErrnoStatus(errno, "binding a NETLINK_ROUTE socket");
  }
  return socket;
}

// Sends the request and reads replies until the kernel's acknowledgement (NLMSG_ERROR) or the
// end of a dump (NLMSG_DONE), handing every data message to `on_message`. Returns the errno
// the kernel answered with (0 for success).
absl::StatusOr<int> Exchange(const AddressRequest& request,
                             const std::function<void(const nlmsghdr&)>& on_message) {
  DUET_ASSIGN_OR_RETURN(OwnedSocket socket, OpenRouteSocket());
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  const std::vector<char>& bytes = request.bytes();
  if (sendto(socket.get(), bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
             sizeof kernel) < 0) {
    return ErrnoStatus(errno, "sending a netlink request");
  }
  std::vector<char> buffer(kReceiveBufferSize);
  for (;;) {
    ssize_t received = recv(socket.get(), buffer.data(), buffer.size(), 0);
    if (received < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "reading the kernel's netlink answer");
    }
    int remaining = static_cast<int>(received);
    for (auto* message = reinterpret_cast<const nlmsghdr*>(buffer.data());
         NLMSG_OK(message, remaining); message = NLMSG_NEXT(message, remaining)) {
      if (message->nlmsg_seq != 1) continue;
      if (message->nlmsg_type == NLMSG_DONE) return 0;
      if (message->nlmsg_type == NLMSG_ERROR) {
        if (message->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
          return absl::InternalError("the kernel sent a truncated netlink error message");
        }
        nlmsgerr error;
        std::memcpy(&error, NLMSG_DATA(message), sizeof error);
        return -error.error;
      }
      on_message(*message);
    }
  }
}

ifaddrmsg AddressMessage(int interface_index, const VipAddress& address, uint8_t prefix_length) {
  ifaddrmsg body{};
  body.ifa_family = static_cast<uint8_t>(address.family);
  body.ifa_prefixlen = prefix_length;
  body.ifa_scope = RT_SCOPE_UNIVERSE;
  body.ifa_index = static_cast<uint32_t>(interface_index);
  return body;
}

// The prefix lengths under which the address sits on the interface (usually none or one).
absl::StatusOr<std::vector<uint8_t>> FindAddressEntries(int interface_index,
                                                        const VipAddress& address) {
  ifaddrmsg filter{};
  filter.ifa_family = static_cast<uint8_t>(address.family);
  AddressRequest dump(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, filter);
  std::vector<uint8_t> prefix_lengths;
  auto collect = [&](const nlmsghdr& message) {
    if (message.nlmsg_type != RTM_NEWADDR) return;
    if (message.nlmsg_len < NLMSG_LENGTH(sizeof(ifaddrmsg))) return;
    const auto* entry = static_cast<const ifaddrmsg*>(NLMSG_DATA(&message));
    if (entry->ifa_family != address.family ||
        entry->ifa_index != static_cast<uint32_t>(interface_index)) {
      return;
    }
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point
    // links, and the only one IPv6 usually sends.
    const void* local = nullptr;
    const void* other = nullptr;
    int length = static_cast<int>(IFA_PAYLOAD(&message));
    for (const rtattr* attribute = IFA_RTA(entry); RTA_OK(attribute, length);
         attribute = RTA_NEXT(attribute, length)) {
      if (RTA_PAYLOAD(attribute) != address.size()) continue;
      if (attribute->rta_type == IFA_LOCAL) local = RTA_DATA(attribute);
      if (attribute->rta_type == IFA_ADDRESS) other = RTA_DATA(attribute);
    }
    const void* own = local != nullptr ? local : other;
    if (own != nullptr && std::memcmp(own, address.bytes.data(), address.size()) == 0) {
      prefix_lengths.push_back(entry->ifa_prefixlen);
    }
  };
  DUET_ASSIGN_OR_RETURN(int error, Exchange(dump, collect));
  if (error != 0) return ErrnoStatus(error, "listing the interface addresses");
  return prefix_lengths;
}

}  // namespace

absl::StatusOr<int> InterfaceIndex(const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError("the interface name is empty");
  if (name.size() >= IFNAMSIZ) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", name, "' is longer than an interface name can be (", IFNAMSIZ - 1, " characters)"));
  }
  unsigned index = if_nametoindex(name.c_str());
  if (index == 0) {
    if (errno == ENODEV || errno == ENXIO) return absl::NotFoundError("no such interface");
    return ErrnoStatus(errno, "looking up the interface");
  }
  return static_cast<int>(index);
}

absl::StatusOr<bool> AddInterfaceAddress(int interface_index, const VipAddress& address) {
  ifaddrmsg body = AddressMessage(interface_index, address, address.prefix_length);
  // Duplicate address detection would leave an IPv6 VIP tentative (unusable as a source and
  // not announceable) for a second or more; a VIP moves by design, so it is not wanted.
  if (address.family == AF_INET6) body.ifa_flags = IFA_F_NODAD;
  AddressRequest request(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body);
  request.AddAttribute(IFA_LOCAL, address.bytes.data(), address.size());
  request.AddAttribute(IFA_ADDRESS, address.bytes.data(), address.size());
  DUET_ASSIGN_OR_RETURN(int error, Exchange(request, [](const nlmsghdr&) {}));
  if (error == EEXIST) return false;
  if (error != 0) return ErrnoStatus(error, "adding the address");
  return true;
}

absl::StatusOr<bool> RemoveInterfaceAddress(int interface_index, const VipAddress& address) {
  DUET_ASSIGN_OR_RETURN(std::vector<uint8_t> prefix_lengths,
                        FindAddressEntries(interface_index, address));
  bool removed = false;
  for (uint8_t prefix_length : prefix_lengths) {
    // IFA_LOCAL alone matches the entry by address (IPv4 would also demand IFA_ADDRESS's
    // prefix to match); the prefix length found above satisfies IPv6's exact match.
    AddressRequest request(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK,
                           AddressMessage(interface_index, address, prefix_length));
    request.AddAttribute(IFA_LOCAL, address.bytes.data(), address.size());
    DUET_ASSIGN_OR_RETURN(int error, Exchange(request, [](const nlmsghdr&) {}));
    if (error == EADDRNOTAVAIL) continue;  // removed by someone else since the listing
    if (error != 0) return ErrnoStatus(error, "removing the address");
    removed = true;
  }
  return removed;
}

absl::StatusOr<bool> InterfaceHasAddress(int interface_index, const VipAddress& address) {
  DUET_ASSIGN_OR_RETURN(std::vector<uint8_t> prefix_lengths,
                        FindAddressEntries(interface_index, address));
  return !prefix_lengths.empty();
}

}  // namespace duet::vip
