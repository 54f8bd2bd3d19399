// VipManager on a real veth pair in a network namespace each test creates (root needed: the
// tests fail without it). The VIP goes on one end; frames are captured on the other.
#include "adapters/vip/vip_manager.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "boost/asio/io_context.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/adapters/vip/test_netns.h"

namespace duet::vip {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr const char* kVip4 = "10.0.0.100/24";
constexpr const char* kVip6 = "fd00::100/64";

VipConfig Vip(const char* address) { return VipConfig{address, TestNetns::kVipSide}; }

// How many lines of `ip -o addr show` carry exactly this address with this prefix.
int CountAddressLines(const std::string& listing, const std::string& address) {
  int count = 0;
  for (absl::string_view line : absl::StrSplit(listing, '\n')) {
    for (absl::string_view word : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
      if (word == address) ++count;
    }
  }
  return count;
}

std::array<uint8_t, 4> Ipv4Bytes(const char* text) {
  std::array<uint8_t, 4> bytes{};
  EXPECT_EQ(inet_pton(AF_INET, text, bytes.data()), 1);
  return bytes;
}

std::array<uint8_t, 16> Ipv6Bytes(const char* text) {
  std::array<uint8_t, 16> bytes{};
  EXPECT_EQ(inet_pton(AF_INET6, text, bytes.data()), 1);
  return bytes;
}

template <size_t N>
std::array<uint8_t, N> Slice(const std::vector<uint8_t>& frame, size_t offset) {
  std::array<uint8_t, N> bytes{};
  std::copy_n(frame.begin() + static_cast<std::ptrdiff_t>(offset), N, bytes.begin());
  return bytes;
}

struct ArpSeen {
  uint16_t operation;
  std::array<uint8_t, 6> sender_mac;
  std::array<uint8_t, 4> sender_ip;
  std::array<uint8_t, 4> target_ip;
};

std::optional<ArpSeen> AsArp(const std::vector<uint8_t>& frame) {
  if (frame.size() < 42 || frame[12] != 0x08 || frame[13] != 0x06) return std::nullopt;
  return ArpSeen{static_cast<uint16_t>(frame[20] << 8 | frame[21]), Slice<6>(frame, 22),
                 Slice<4>(frame, 28), Slice<4>(frame, 38)};
}

struct NeighbourAdvertisementSeen {
  std::array<uint8_t, 6> destination_mac;
  uint8_t hop_limit;
  std::array<uint8_t, 16> source;
  std::array<uint8_t, 16> destination;
  uint8_t flags;
  std::array<uint8_t, 16> target;
  std::array<uint8_t, 6> target_link_layer;
  bool checksum_valid;
};

// Checked here independently of the code under test: RFC 1071 over the pseudo-header.
bool Icmpv6ChecksumValid(const std::vector<uint8_t>& frame, size_t icmp_length) {
  std::vector<uint8_t> sum_over(frame.begin() + 22, frame.begin() + 54);  // source, destination
  sum_over.insert(sum_over.end(), {0, 0, static_cast<uint8_t>(icmp_length >> 8),
                                   static_cast<uint8_t>(icmp_length), 0, 0, 0, 58});
  sum_over.insert(sum_over.end(), frame.begin() + 54,
                  frame.begin() + 54 + static_cast<std::ptrdiff_t>(icmp_length));
  if (sum_over.size() % 2 != 0) sum_over.push_back(0);
  uint32_t sum = 0;
  for (size_t i = 0; i < sum_over.size(); i += 2) sum += sum_over[i] << 8 | sum_over[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

std::optional<NeighbourAdvertisementSeen> AsNeighbourAdvertisement(
    const std::vector<uint8_t>& frame) {
  if (frame.size() < 86 || frame[12] != 0x86 || frame[13] != 0xdd) return std::nullopt;
  if (frame[20] != 58 || frame[54] != 136) return std::nullopt;
  size_t icmp_length = static_cast<size_t>(frame[18] << 8 | frame[19]);
  if (frame.size() < 54 + icmp_length || frame[78] != 2 || frame[79] != 1) return std::nullopt;
  return NeighbourAdvertisementSeen{Slice<6>(frame, 0),
                                    frame[21],
                                    Slice<16>(frame, 22),
                                    Slice<16>(frame, 38),
                                    frame[58],
                                    Slice<16>(frame, 62),
                                    Slice<6>(frame, 80),
                                    Icmpv6ChecksumValid(frame, icmp_length)};
}

class VipManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "these tests need root (network namespaces, CAP_NET_ADMIN)";
    absl::StatusOr<std::unique_ptr<TestNetns>> netns = TestNetns::Create();
    ASSERT_TRUE(netns.ok()) << netns.status();
    netns_ = *std::move(netns);
  }

  // Fewer, faster rounds than the default keep the tests short; the count is what is checked.
  VipManager::Options FastAnnouncements() {
    VipManager::Options options;
    options.announcements = 3;
    options.announcement_interval = absl::Milliseconds(20);
    options.on_announcement_failure = [this](const absl::Status& status) {
      announcement_failures_.push_back(status);
    };
    return options;
  }

  std::string Addresses(const std::string& family_flag = "") {
    absl::StatusOr<std::string> listing = netns_->ShowVipSideAddresses(family_flag);
    EXPECT_TRUE(listing.ok()) << listing.status();
    return listing.ok() ? *listing : "";
  }

  std::unique_ptr<FrameCapture> CaptureOnPeer() {
    absl::StatusOr<std::unique_ptr<FrameCapture>> capture =
        FrameCapture::Open(TestNetns::kPeerSide);
    EXPECT_TRUE(capture.ok()) << capture.status();
    return capture.ok() ? *std::move(capture) : nullptr;
  }

  // Every frame the peer end received up to a marker sent after the work was done (so no
  // frame still in flight is missed and no fixed wait is needed).
  std::vector<std::vector<uint8_t>> FramesUntilMarker(FrameCapture& capture) {
    std::vector<std::vector<uint8_t>> frames;
    absl::Status marker = SendMarkerFrame(TestNetns::kVipSide);
    EXPECT_TRUE(marker.ok()) << marker;
    for (;;) {
      std::optional<std::vector<uint8_t>> frame = capture.Next(std::chrono::seconds(5));
      if (!frame.has_value()) {
        ADD_FAILURE() << "the marker frame never arrived on " << TestNetns::kPeerSide;
        return frames;
      }
      if (IsMarkerFrame(*frame)) return frames;
      frames.push_back(*std::move(frame));
    }
  }

  std::unique_ptr<TestNetns> netns_;
  boost::asio::io_context io_;
  std::vector<absl::Status> announcement_failures_;
};

TEST_F(VipManagerTest, AssignPutsTheAddressOnTheInterface) {
  VipManager manager(io_, FastAnnouncements());
  ASSERT_TRUE(manager.Assign(Vip(kVip4)).ok());
  EXPECT_EQ(CountAddressLines(Addresses(), kVip4), 1) << Addresses();
  absl::StatusOr<bool> assigned = manager.IsAssigned(Vip(kVip4));
  ASSERT_TRUE(assigned.ok()) << assigned.status();
  EXPECT_TRUE(*assigned);
}

TEST_F(VipManagerTest, AssigningTwiceSucceedsAndLeavesOneAddress) {
  VipManager manager(io_, FastAnnouncements());
  ASSERT_TRUE(manager.Assign(Vip(kVip4)).ok());
  absl::Status again = manager.Assign(Vip(kVip4));
  EXPECT_TRUE(again.ok()) << again;
  EXPECT_EQ(CountAddressLines(Addresses(), kVip4), 1) << Addresses();
  io_.run();
  EXPECT_THAT(announcement_failures_, IsEmpty());
}

TEST_F(VipManagerTest, ReleaseRemovesTheAddress) {
  VipManager manager(io_, FastAnnouncements());
  ASSERT_TRUE(manager.Assign(Vip(kVip4)).ok());
  absl::Status released = manager.Release(Vip(kVip4));
  ASSERT_TRUE(released.ok()) << released;
  EXPECT_EQ(CountAddressLines(Addresses(), kVip4), 0) << Addresses();
  absl::StatusOr<bool> assigned = manager.IsAssigned(Vip(kVip4));
  ASSERT_TRUE(assigned.ok()) << assigned.status();
  EXPECT_FALSE(*assigned);
}

TEST_F(VipManagerTest, ReleasingAVipThatIsNotThereSucceeds) {
  VipManager manager(io_, FastAnnouncements());
  absl::Status released = manager.Release(Vip(kVip4));
  EXPECT_TRUE(released.ok()) << released;
}

TEST_F(VipManagerTest, ReleaseStaleRemovesAVipLeftByAnEarlierRun) {
  ASSERT_TRUE(
      RunCommand("ip -n " + netns_->name() + " addr add " + kVip4 + " dev " + TestNetns::kVipSide)
          .ok());
  VipManager manager(io_, FastAnnouncements());
  VipManager::StaleSweep sweep = manager.ReleaseStale({Vip(kVip4), Vip("10.0.0.101/24")});
  EXPECT_THAT(sweep.removed, ElementsAre(Vip(kVip4)));
  EXPECT_THAT(sweep.failures, IsEmpty());
  EXPECT_EQ(CountAddressLines(Addresses(), kVip4), 0) << Addresses();
}

TEST_F(VipManagerTest, ReleaseStaleRemovesAVipLeftUnderAnOlderPrefixLength) {
  ASSERT_TRUE(
      RunCommand("ip -n " + netns_->name() + " addr add 10.0.0.100/16 dev " + TestNetns::kVipSide)
          .ok());
  VipManager manager(io_, FastAnnouncements());
  VipManager::StaleSweep sweep = manager.ReleaseStale({Vip(kVip4)});
  EXPECT_THAT(sweep.removed, ElementsAre(Vip(kVip4)));
  EXPECT_THAT(Addresses(), ::testing::Not(HasSubstr("10.0.0.100")));
}

TEST_F(VipManagerTest, ReleaseStaleReportsAMissingInterfaceAndKeepsGoing) {
  ASSERT_TRUE(
      RunCommand("ip -n " + netns_->name() + " addr add " + kVip4 + " dev " + TestNetns::kVipSide)
          .ok());
  VipManager manager(io_, FastAnnouncements());
  VipManager::StaleSweep sweep =
      manager.ReleaseStale({VipConfig{"10.0.0.101/24", "nosuch0"}, Vip(kVip4)});
  EXPECT_THAT(sweep.removed, ElementsAre(Vip(kVip4)));
  ASSERT_EQ(sweep.failures.size(), 1u);
  EXPECT_THAT(sweep.failures[0].message(), HasSubstr("VIP 10.0.0.101/24 on nosuch0"));
}

TEST_F(VipManagerTest, AssignOnAMissingInterfaceNamesTheVipAndInterface) {
  VipManager manager(io_, FastAnnouncements());
  absl::Status assigned = manager.Assign(VipConfig{kVip4, "nosuch0"});
  EXPECT_EQ(assigned.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(assigned.message(), "VIP 10.0.0.100/24 on nosuch0: no such interface");
  EXPECT_EQ(manager.Release(VipConfig{kVip4, "nosuch0"}).code(), absl::StatusCode::kNotFound);
}

TEST_F(VipManagerTest, AssignRefusesAnAddressWithoutPrefixLength) {
  VipManager manager(io_, FastAnnouncements());
  absl::Status assigned = manager.Assign(Vip("10.0.0.100"));
  EXPECT_EQ(assigned.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(assigned.message(), HasSubstr("VIP 10.0.0.100 on vipv0"));
  EXPECT_THAT(assigned.message(), HasSubstr("no prefix length"));
  EXPECT_EQ(CountAddressLines(Addresses(), "10.0.0.100/32"), 0);
}

TEST_F(VipManagerTest, AssignSendsGratuitousArpRequestsAndRepliesEveryRound) {
  std::unique_ptr<FrameCapture> capture = CaptureOnPeer();
  ASSERT_NE(capture, nullptr);
  absl::StatusOr<std::array<uint8_t, 6>> mac = InterfaceMac(TestNetns::kVipSide);
  ASSERT_TRUE(mac.ok()) << mac.status();
  VipManager manager(io_, FastAnnouncements());
  ASSERT_TRUE(manager.Assign(Vip(kVip4)).ok());
  io_.run();  // returns once the last repeated round has been sent

  int requests = 0;
  int replies = 0;
  for (const std::vector<uint8_t>& frame : FramesUntilMarker(*capture)) {
    std::optional<ArpSeen> arp = AsArp(frame);
    if (!arp.has_value() || arp->sender_ip != Ipv4Bytes("10.0.0.100")) continue;
    EXPECT_EQ(arp->target_ip, Ipv4Bytes("10.0.0.100"));
    EXPECT_EQ(arp->sender_mac, *mac);
    if (arp->operation == 1) ++requests;
    if (arp->operation == 2) ++replies;
  }
  EXPECT_EQ(requests, 3);
  EXPECT_EQ(replies, 3);
  EXPECT_THAT(announcement_failures_, IsEmpty());
}

TEST_F(VipManagerTest, ReleaseStopsTheRepeatedAnnouncements) {
  std::unique_ptr<FrameCapture> capture = CaptureOnPeer();
  ASSERT_NE(capture, nullptr);
  VipManager manager(io_, FastAnnouncements());
  ASSERT_TRUE(manager.Assign(Vip(kVip4)).ok());
  ASSERT_TRUE(manager.Release(Vip(kVip4)).ok());
  io_.run();

  int announcements = 0;
  for (const std::vector<uint8_t>& frame : FramesUntilMarker(*capture)) {
    std::optional<ArpSeen> arp = AsArp(frame);
    if (arp.has_value() && arp->sender_ip == Ipv4Bytes("10.0.0.100")) ++announcements;
  }
  EXPECT_EQ(announcements, 2) << "only the first round (request and reply), before Release";
}

TEST_F(VipManagerTest, DestroyingTheManagerStopsItsAnnouncementsAndKeepsTheAddress) {
  std::unique_ptr<FrameCapture> capture = CaptureOnPeer();
  ASSERT_NE(capture, nullptr);
  {
    VipManager manager(io_, FastAnnouncements());
    ASSERT_TRUE(manager.Assign(Vip(kVip4)).ok());
  }
  io_.run();
  int announcements = 0;
  for (const std::vector<uint8_t>& frame : FramesUntilMarker(*capture)) {
    std::optional<ArpSeen> arp = AsArp(frame);
    if (arp.has_value() && arp->sender_ip == Ipv4Bytes("10.0.0.100")) ++announcements;
  }
  EXPECT_EQ(announcements, 2);
  EXPECT_EQ(CountAddressLines(Addresses(), kVip4), 1) << Addresses();
}

TEST_F(VipManagerTest, Ipv6AssignAddsTheAddressAndSendsUnsolicitedNeighbourAdvertisements) {
  std::unique_ptr<FrameCapture> capture = CaptureOnPeer();
  ASSERT_NE(capture, nullptr);
  absl::StatusOr<std::array<uint8_t, 6>> mac = InterfaceMac(TestNetns::kVipSide);
  ASSERT_TRUE(mac.ok()) << mac.status();
  VipManager manager(io_, FastAnnouncements());
  absl::Status assigned = manager.Assign(Vip(kVip6));
  ASSERT_TRUE(assigned.ok()) << assigned;
  EXPECT_EQ(CountAddressLines(Addresses("-6"), kVip6), 1) << Addresses("-6");
  io_.run();

  int advertisements = 0;
  for (const std::vector<uint8_t>& frame : FramesUntilMarker(*capture)) {
    std::optional<NeighbourAdvertisementSeen> advert = AsNeighbourAdvertisement(frame);
    if (!advert.has_value() || advert->target != Ipv6Bytes("fd00::100")) continue;
    ++advertisements;
    EXPECT_EQ(advert->destination, Ipv6Bytes("ff02::1"));
    EXPECT_EQ(advert->destination_mac, (std::array<uint8_t, 6>{0x33, 0x33, 0, 0, 0, 1}));
    EXPECT_EQ(advert->source, Ipv6Bytes("fd00::100"));
    EXPECT_EQ(advert->hop_limit, 255);
    EXPECT_EQ(advert->flags, 0x20) << "override set; router and solicited clear";
    EXPECT_EQ(advert->target_link_layer, *mac);
    EXPECT_TRUE(advert->checksum_valid);
  }
  EXPECT_EQ(advertisements, 3);
  EXPECT_THAT(announcement_failures_, IsEmpty());

  ASSERT_TRUE(manager.Release(Vip(kVip6)).ok());
  EXPECT_EQ(CountAddressLines(Addresses("-6"), kVip6), 0) << Addresses("-6");
}

TEST_F(VipManagerTest, Ipv6AssignTwiceAndReleaseStaleAreIdempotent) {
  VipManager manager(io_, FastAnnouncements());
  ASSERT_TRUE(manager.Assign(Vip(kVip6)).ok());
  EXPECT_TRUE(manager.Assign(Vip(kVip6)).ok());
  EXPECT_EQ(CountAddressLines(Addresses("-6"), kVip6), 1) << Addresses("-6");
  VipManager::StaleSweep sweep = manager.ReleaseStale({Vip(kVip6)});
  EXPECT_THAT(sweep.removed, ElementsAre(Vip(kVip6)));
  EXPECT_THAT(manager.ReleaseStale({Vip(kVip6)}).removed, IsEmpty());
}

TEST_F(VipManagerTest, AssignOnADownInterfaceSaysTheAnnouncementFailed) {
  ASSERT_TRUE(
      RunCommand("ip -n " + netns_->name() + " link set " + TestNetns::kVipSide + " down").ok());
  VipManager manager(io_, FastAnnouncements());
  absl::Status assigned = manager.Assign(Vip(kVip4));
  EXPECT_EQ(assigned.code(), absl::StatusCode::kFailedPrecondition) << assigned;
  EXPECT_THAT(assigned.message(), HasSubstr("VIP 10.0.0.100/24 on vipv0: assigned, but"));
  EXPECT_EQ(CountAddressLines(Addresses(), kVip4), 1) << Addresses();
  io_.run();
  EXPECT_EQ(announcement_failures_.size(), 2u);
}

}  // namespace
}  // namespace duet::vip
