// Carries out the engine's SetVip for duetd: puts a module's VIP on its interface (rtnetlink)
// and announces it so neighbours switch at once, or takes it off. Announcements repeat
// `Options::announcements` times, `announcement_interval` apart (as keepalived and IPaddr2 do),
// the first round inside Assign and the rest on Asio timers: nothing here sleeps or blocks the
// loop beyond a netlink round trip to the kernel. Works in the calling thread's network
// namespace. Thread-compatible: call it from the event loop that runs `io`, which must outlive
// it. Destroying it stops pending announcements; it never removes addresses by itself.
#ifndef DUET_ADAPTERS_VIP_VIP_MANAGER_H_
#define DUET_ADAPTERS_VIP_VIP_MANAGER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "boost/asio/io_context.hpp"
#include "engine/config.h"

namespace duet::vip {

class VipManager {
 public:
  struct Options {
    // Rounds of announcements per Assign, the first at once (IPv4: an ARP request and reply;
    // IPv6: one neighbour advertisement). The first round is always sent, whatever this says.
    int announcements = 3;
    absl::Duration announcement_interval = absl::Milliseconds(200);
    // Told, on the loop, when a later round fails (the first round's failure is Assign's
    // result). May be empty.
    std::function<void(const absl::Status&)> on_announcement_failure;
  };

  // What ReleaseStale did: the VIPs it found and removed, and one error per VIP it could not
  // check or remove (each names the VIP and interface).
  struct StaleSweep {
    std::vector<VipConfig> removed;
    std::vector<absl::Status> failures;
  };

  explicit VipManager(boost::asio::io_context& io) : VipManager(io, Options()) {}
  VipManager(boost::asio::io_context& io, Options options);
  ~VipManager();
  VipManager(const VipManager&) = delete;
  VipManager& operator=(const VipManager&) = delete;

  // Adds the address with its prefix length to the interface and starts announcing it. Already
  // present is success (and announced again). Errors name the VIP and interface: bad address
  // text (InvalidArgument), no such interface (NotFound), no CAP_NET_ADMIN/CAP_NET_RAW
  // (PermissionDenied), the first announcement failing although the address is now assigned
  // (FailedPrecondition when the interface is down, else Internal; calling again retries).
  [[nodiscard]] absl::Status Assign(const VipConfig& vip);

  // Stops its announcements and removes the address from the interface, under whatever prefix
  // length it sits there. Absent is success. Errors as for Assign.
  [[nodiscard]] absl::Status Release(const VipConfig& vip);

  // Whether the VIP's address is on its interface now.
  [[nodiscard]] absl::StatusOr<bool> IsAssigned(const VipConfig& vip) const;

  // For start-up: removes every one of `all_vips` found on its interface (left there by a
  // crashed duetd), so this node claims nothing until the engine says so. Keeps going past a
  // VIP it cannot handle.
  [[nodiscard]] StaleSweep ReleaseStale(const std::vector<VipConfig>& all_vips);

 private:
  struct AnnouncementRun;
  using VipKey = std::pair<std::string, std::string>;  // address text, interface

  void StopAnnouncing(const VipConfig& vip);
  static void ScheduleNextRound(const std::shared_ptr<AnnouncementRun>& run);

  boost::asio::io_context& io_;
  Options options_;
  std::map<VipKey, std::shared_ptr<AnnouncementRun>> announcing_;
};

}  // namespace duet::vip

#endif  // DUET_ADAPTERS_VIP_VIP_MANAGER_H_
