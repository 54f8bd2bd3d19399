#include "adapters/vip/vip_manager.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "adapters/vip/address_netlink.h"
#include "adapters/vip/announcement.h"
#include "adapters/vip/vip_address.h"
#include "boost/asio/steady_timer.hpp"
#include "engine/status_macros.h"

namespace duet::vip {

// One Assign's remaining announcements. Timer handlers own it through a shared_ptr and never
// touch the manager, so a handler that runs after the manager is gone only sees `cancelled`.
struct VipManager::AnnouncementRun {
  AnnouncementRun(boost::asio::io_context& io, const VipConfig& config, int index,
                  const VipAddress& parsed, const Options& options)
      : timer(io),
        vip(config),
        interface_index(index),
        address(parsed),
        rounds_left(options.announcements - 1),
        interval(absl::ToChronoMilliseconds(options.announcement_interval)),
        on_failure(options.on_announcement_failure) {}

  boost::asio::steady_timer timer;
  VipConfig vip;
  int interface_index;
  VipAddress address;
  int rounds_left;
  std::chrono::milliseconds interval;
  std::function<void(const absl::Status&)> on_failure;
  bool cancelled = false;
};

namespace {

absl::Status AboutVip(const VipConfig& vip, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("VIP ", vip.address, " on ", vip.interface, ": ",
                                                  status.message()));
}

struct ResolvedVip {
  VipAddress address;
  int interface_index = 0;
};

absl::StatusOr<ResolvedVip> Resolve(const VipConfig& vip) {
  ResolvedVip resolved;
  DUET_ASSIGN_OR_RETURN(resolved.address, ParseVipAddress(vip.address));
  DUET_ASSIGN_OR_RETURN(resolved.interface_index, InterfaceIndex(vip.interface));
  return resolved;
}

}  // namespace

VipManager::VipManager(boost::asio::io_context& io, Options options)
    : io_(io), options_(std::move(options)) {}

VipManager::~VipManager() {
  for (auto& [key, run] : announcing_) {
    run->cancelled = true;
    run->timer.cancel();
  }
}

absl::Status VipManager::Assign(const VipConfig& vip) {
  absl::StatusOr<ResolvedVip> resolved = Resolve(vip);
  if (!resolved.ok()) return AboutVip(vip, resolved.status());
  absl::StatusOr<bool> added = AddInterfaceAddress(resolved->interface_index, resolved->address);
  if (!added.ok()) return AboutVip(vip, added.status());

  StopAnnouncing(vip);
  absl::Status first_round =
      AnnounceAddress(vip.interface, resolved->interface_index, resolved->address);
  // Later rounds still run after a failed first one: a link that was down may be up by then.
  auto run = std::make_shared<AnnouncementRun>(io_, vip, resolved->interface_index,
                                               resolved->address, options_);
  announcing_[VipKey(vip.address, vip.interface)] = run;
  ScheduleNextRound(run);
  if (!first_round.ok()) {
    return AboutVip(
        vip, absl::Status(first_round.code(), absl::StrCat("assigned, but announcing it failed: ",
                                                           first_round.message())));
  }
  return absl::OkStatus();
}

void VipManager::ScheduleNextRound(const std::shared_ptr<AnnouncementRun>& run) {
  if (run->cancelled || run->rounds_left <= 0) return;
  run->timer.expires_after(run->interval);
  run->timer.async_wait([run](const boost::system::error_code& error) {
    if (error || run->cancelled) return;
    --run->rounds_left;
    absl::Status sent = AnnounceAddress(run->vip.interface, run->interface_index, run->address);
    if (!sent.ok() && run->on_failure) {
      run->on_failure(AboutVip(
          run->vip, absl::Status(sent.code(), absl::StrCat("repeating the announcement failed: ",
                                                           sent.message()))));
    }
    ScheduleNextRound(run);
  });
}

void VipManager::StopAnnouncing(const VipConfig& vip) {
  auto found = announcing_.find(VipKey(vip.address, vip.interface));
  if (found == announcing_.end()) return;
  found->second->cancelled = true;
  found->second->timer.cancel();
  announcing_.erase(found);
}

absl::Status VipManager::Release(const VipConfig& vip) {
  // Announcing an address this node no longer holds would pull its traffic here: stop first.
  StopAnnouncing(vip);
  absl::StatusOr<ResolvedVip> resolved = Resolve(vip);
  if (!resolved.ok()) return AboutVip(vip, resolved.status());
  absl::StatusOr<bool> removed =
      RemoveInterfaceAddress(resolved->interface_index, resolved->address);
  if (!removed.ok()) return AboutVip(vip, removed.status());
  return absl::OkStatus();
}

absl::StatusOr<bool> VipManager::IsAssigned(const VipConfig& vip) const {
  absl::StatusOr<ResolvedVip> resolved = Resolve(vip);
  if (!resolved.ok()) return AboutVip(vip, resolved.status());
  absl::StatusOr<bool> present = InterfaceHasAddress(resolved->interface_index, resolved->address);
  if (!present.ok()) return AboutVip(vip, present.status());
  return *present;
}

VipManager::StaleSweep VipManager::ReleaseStale(const std::vector<VipConfig>& all_vips) {
  StaleSweep sweep;
  for (const VipConfig& vip : all_vips) {
    StopAnnouncing(vip);
    absl::StatusOr<ResolvedVip> resolved = Resolve(vip);
    if (!resolved.ok()) {
      sweep.failures.push_back(AboutVip(vip, resolved.status()));
      continue;
    }
    absl::StatusOr<bool> removed =
        RemoveInterfaceAddress(resolved->interface_index, resolved->address);
    if (!removed.ok()) {
      sweep.failures.push_back(AboutVip(vip, removed.status()));
    } else if (*removed) {
      sweep.removed.push_back(vip);
    }
  }
  return sweep;
}

}  // namespace duet::vip
