#include "tests/adapters/vip/test_netns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"

namespace duet::vip {
namespace {

constexpr uint16_t kMarkerEtherType = 0x88b5;

absl::Status ErrnoError(absl::string_view doing) {
  return absl::InternalError(absl::StrCat(doing, ": ", strerror(errno)));
}

// Waits (polling with a deadline, never a fixed sleep) until the interface reports carrier:
// before that the kernel drops what is sent on a veth end.
absl::Status WaitForRunning(const std::string& interface) {
  int socket = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (socket < 0) return ErrnoError("opening a socket for SIOCGIFFLAGS");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  absl::Status result =
      absl::DeadlineExceededError(absl::StrCat(interface, " did not get carrier within 10 s"));
  while (std::chrono::steady_clock::now() < deadline) {
    ifreq request{};
    std::strncpy(request.ifr_name, interface.c_str(), IFNAMSIZ - 1);
    if (ioctl(socket, SIOCGIFFLAGS, &request) != 0) {
      result = ErrnoError(absl::StrCat("SIOCGIFFLAGS on ", interface));
      break;
    }
    if ((request.ifr_flags & IFF_RUNNING) != 0) {
      result = absl::OkStatus();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  close(socket);
  return result;
}

}  // namespace

absl::StatusOr<std::string> RunCommand(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return ErrnoError(absl::StrCat("starting '", command, "'"));
  std::string output;
  char buffer[4096];
  size_t read = 0;
  while ((read = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, read);
  int status = pclose(pipe);
  if (status != 0) {
    return absl::InternalError(
        absl::StrCat("'", command, "' exited with status ", status, ": ", output));
  }
  return output;
}

TestNetns::TestNetns(std::string name, int original_namespace)
    : name_(std::move(name)), original_namespace_(original_namespace) {}

absl::StatusOr<std::unique_ptr<TestNetns>> TestNetns::Create() {
  static std::atomic<int> counter{0};
  std::string name = absl::StrCat("duet-vip-", getpid(), "-", counter++);
  int original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (original < 0) return ErrnoError("opening /proc/thread-self/ns/net");
  // From here the destructor cleans up whatever part was made.
  std::unique_ptr<TestNetns> netns(new TestNetns(name, original));
  absl::StatusOr<std::string> added = RunCommand("ip netns add " + name);
  if (!added.ok()) {
    netns->name_.clear();  // nothing to delete
    return added.status();
  }
  int target = open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) return ErrnoError("opening /run/netns/" + name);
  int entered = setns(target, CLONE_NEWNET);
  close(target);
  if (entered != 0) return ErrnoError("entering network namespace " + name);
  netns->entered_ = true;
  absl::Status links = netns->SetUpLinks();
  if (!links.ok()) return links;
  return netns;
}

absl::Status TestNetns::SetUpLinks() {
  const std::string ip = "ip -n " + name_ + " ";
  for (const std::string& command :
       {ip + "link set lo up", ip + "link add " + kVipSide + " type veth peer name " + kPeerSide,
        ip + "link set " + kVipSide + " up", ip + "link set " + kPeerSide + " up"}) {
    absl::StatusOr<std::string> output = RunCommand(command);
    if (!output.ok()) return output.status();
  }
  absl::Status vip_side = WaitForRunning(kVipSide);
  if (!vip_side.ok()) return vip_side;
  return WaitForRunning(kPeerSide);
}

TestNetns::~TestNetns() {
  if (entered_ && setns(original_namespace_, CLONE_NEWNET) != 0) {
    fprintf(stderr, "could not return to the original network namespace: %s\n", strerror(errno));
  }
  close(original_namespace_);
  if (!name_.empty()) {
    absl::StatusOr<std::string> deleted = RunCommand("ip netns del " + name_);
    if (!deleted.ok()) fprintf(stderr, "%s\n", deleted.status().ToString().c_str());
  }
}

absl::StatusOr<std::string> TestNetns::ShowVipSideAddresses(const std::string& family_flag) const {
  return RunCommand(
      absl::StrCat("ip -n ", name_, " -o ", family_flag, " addr show dev ", kVipSide));
}

absl::StatusOr<std::unique_ptr<FrameCapture>> FrameCapture::Open(const std::string& interface) {
  int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd < 0) return ErrnoError("opening an AF_PACKET capture socket");
  std::unique_ptr<FrameCapture> capture(new FrameCapture(fd));
  sockaddr_ll link{};
  link.sll_family = AF_PACKET;
  link.sll_protocol = htons(ETH_P_ALL);
  link.sll_ifindex = static_cast<int>(if_nametoindex(interface.c_str()));
  if (link.sll_ifindex == 0) return ErrnoError("looking up " + interface);
  if (bind(fd, reinterpret_cast<sockaddr*>(&link), sizeof link) != 0) {
    return ErrnoError("binding the capture socket to " + interface);
  }
  return capture;
}

FrameCapture::~FrameCapture() { close(fd_); }

std::optional<std::vector<uint8_t>> FrameCapture::Next(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) return std::nullopt;
    pollfd readable{.fd = fd_, .events = POLLIN, .revents = 0};
    if (poll(&readable, 1, static_cast<int>(left.count())) <= 0) continue;
    std::vector<uint8_t> frame(65536);
    sockaddr_ll from{};
    socklen_t from_size = sizeof from;
    ssize_t size = recvfrom(fd_, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&from),
                            &from_size);
    if (size < 0) continue;
    if (from.sll_pkttype == PACKET_OUTGOING) continue;
    frame.resize(static_cast<size_t>(size));
    return frame;
  }
}

absl::Status SendMarkerFrame(const std::string& interface) {
  int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("opening an AF_PACKET socket for the marker");
  absl::StatusOr<std::array<uint8_t, 6>> mac = InterfaceMac(interface);
  if (!mac.ok()) {
    close(fd);
    return mac.status();
  }
  std::vector<uint8_t> frame(60, 0);
  std::memset(frame.data(), 0xff, 6);
  std::memcpy(frame.data() + 6, mac->data(), 6);
  frame[12] = kMarkerEtherType >> 8;
  frame[13] = kMarkerEtherType & 0xff;
  sockaddr_ll link{};
  link.sll_family = AF_PACKET;
  link.sll_protocol = htons(kMarkerEtherType);
  link.sll_ifindex = static_cast<int>(if_nametoindex(interface.c_str()));
  link.sll_halen = 6;
  std::memset(link.sll_addr, 0xff, 6);
  ssize_t sent =
      sendto(fd, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&link), sizeof link);
  absl::Status result = sent == static_cast<ssize_t>(frame.size())
                            ? absl::OkStatus()
                            : ErrnoError("sending the marker frame");
  close(fd);
  return result;
}

bool IsMarkerFrame(const std::vector<uint8_t>& frame) {
  return frame.size() >= 14 && frame[12] == (kMarkerEtherType >> 8) &&
         frame[13] == (kMarkerEtherType & 0xff);
}

absl::StatusOr<std::array<uint8_t, 6>> InterfaceMac(const std::string& interface) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("opening a socket for SIOCGIFHWADDR");
  ifreq request{};
  std::strncpy(request.ifr_name, interface.c_str(), IFNAMSIZ - 1);
  int result = ioctl(fd, SIOCGIFHWADDR, &request);
  close(fd);
  if (result != 0) return ErrnoError("SIOCGIFHWADDR on " + interface);
  std::array<uint8_t, 6> mac;
  std::memcpy(mac.data(), request.ifr_hwaddr.sa_data, mac.size());
  return mac;
}

}  // namespace duet::vip
