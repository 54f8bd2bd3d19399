// A network namespace of the test's own with a veth pair, and a frame capture on one end.
// The calling thread enters the namespace for the object's lifetime (so the code under test,
// run on that thread, works inside it) and the destructor returns to the original namespace
// and deletes the new one, also when the test has failed.
#ifndef DUET_TESTS_ADAPTERS_VIP_TEST_NETNS_H_
#define DUET_TESTS_ADAPTERS_VIP_TEST_NETNS_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace duet::vip {

// Runs a shell command; returns its standard output, or an error naming the command and its
// exit status.
absl::StatusOr<std::string> RunCommand(const std::string& command);

class TestNetns {
 public:
  // The veth pair's ends, both up with carrier: the VIP goes on kVipSide, captures listen on
  // kPeerSide.
  static constexpr const char* kVipSide = "vipv0";
  static constexpr const char* kPeerSide = "vipv1";

  static absl::StatusOr<std::unique_ptr<TestNetns>> Create();
  ~TestNetns();
  TestNetns(const TestNetns&) = delete;
  TestNetns& operator=(const TestNetns&) = delete;

  const std::string& name() const { return name_; }
  // `ip -o ADDRESS_ARGS addr show dev kVipSide` inside the namespace.
  absl::StatusOr<std::string> ShowVipSideAddresses(const std::string& family_flag = "") const;

 private:
  TestNetns(std::string name, int original_namespace);
  absl::Status SetUpLinks();

  std::string name_;
  int original_namespace_;
  bool entered_ = false;
};

// Frames arriving on an interface (AF_PACKET, all protocols, outgoing ones left out).
class FrameCapture {
 public:
  static absl::StatusOr<std::unique_ptr<FrameCapture>> Open(const std::string& interface);
  ~FrameCapture();
  FrameCapture(const FrameCapture&) = delete;
  FrameCapture& operator=(const FrameCapture&) = delete;

  // The next arriving frame, or nullopt after `timeout` without one.
  std::optional<std::vector<uint8_t>> Next(std::chrono::milliseconds timeout);

 private:
  explicit FrameCapture(int fd) : fd_(fd) {}
  int fd_;
};

// Sends an Ethernet frame of a local experimental type (0x88b5) out of `interface`: a marker
// that every earlier frame sent there has been read once it is captured on the other end.
absl::Status SendMarkerFrame(const std::string& interface);
bool IsMarkerFrame(const std::vector<uint8_t>& frame);

// The interface's MAC address.
absl::StatusOr<std::array<uint8_t, 6>> InterfaceMac(const std::string& interface);

}  // namespace duet::vip

#endif  // DUET_TESTS_ADAPTERS_VIP_TEST_NETNS_H_
