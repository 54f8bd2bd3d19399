// Interface addresses through rtnetlink: the NETLINK_ROUTE messages are built here by hand
// (no libnl, no `ip`). Each call opens its own socket in the calling thread's network
// namespace, sends one request and reads the kernel's answer; rtnetlink answers address
// requests synchronously, so nothing here waits on the network (a receive timeout guards the
// impossible case). Errors carry the errno text and what was being done, not the VIP's name:
// the caller adds that.
#ifndef DUET_ADAPTERS_VIP_ADDRESS_NETLINK_H_
#define DUET_ADAPTERS_VIP_ADDRESS_NETLINK_H_

#include <string>

#include "absl/status/statusor.h"
#include "adapters/vip/vip_address.h"

namespace duet::vip {

// The interface's index; NotFound when there is no such interface, InvalidArgument for a name
// that cannot be one (empty, too long).
[[nodiscard]] absl::StatusOr<int> InterfaceIndex(const std::string& name);

// RTM_NEWADDR with the prefix length (IPv6 with IFA_F_NODAD, so the address is usable at once
// and can be announced). Returns true if added, false if the kernel already had it.
[[nodiscard]] absl::StatusOr<bool> AddInterfaceAddress(int interface_index,
                                                       const VipAddress& address);

// Removes every entry of the address on the interface, whatever its prefix length (a stale VIP
// may have been added under an older config). Returns whether anything was removed.
[[nodiscard]] absl::StatusOr<bool> RemoveInterfaceAddress(int interface_index,
                                                          const VipAddress& address);

// Whether the address is on the interface, under any prefix length.
[[nodiscard]] absl::StatusOr<bool> InterfaceHasAddress(int interface_index,
                                                       const VipAddress& address);

}  // namespace duet::vip

#endif  // DUET_ADAPTERS_VIP_ADDRESS_NETLINK_H_
