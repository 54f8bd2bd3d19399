// A real duet-witness process on 127.0.0.4 and a node played by the test on 127.0.0.2 with
// the cluster key: a lease request recorded before the witness restarts and replayed after it
// is dropped as replayed (the witness kept its anti-replay state on disk), while the node's
// next request is answered as usual.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/net/cluster_key.h"
#include "adapters/net/datagram_auth.h"
#include "adapters/witness/witness_freshness_file.h"
#include "engine/wire/codec.h"

namespace duet::witness {
namespace {

constexpr char kCluster[] = "shop";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Polls `done` every 10 ms for up to `limit`.
template <class Pred>
bool WaitFor(Pred done, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

class WitnessReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/duet-witness-replay-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    absl::StatusOr<net::ClusterKey> key = net::WriteNewClusterKey(dir_ + "/cluster.key");
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = *key;
    port_ = static_cast<uint16_t>(21000 + ::getpid() % 20000);
    std::ofstream(dir_ + "/duet.toml")
        << "[cluster]\nname = \"" << kCluster << "\"\nkey_file = \"" << dir_
        << "/cluster.key\"\n"
           "[[node]]\nname = \"a\"\nheartbeat = [\"127.0.0.2:7200\"]\n"
           "replication = \"127.0.0.2:7100\"\n"
           "[[node]]\nname = \"b\"\nheartbeat = [\"127.0.0.3:7200\"]\n"
           "replication = \"127.0.0.3:7100\"\n"
           "[witness]\naddress = \"127.0.0.4:"
        << port_
        << "\"\nlease = \"3s\"\nrenew_interval = \"500ms\"\ndrift_margin = \"300ms\"\n"
           "[[module]]\nname = \"web\"\ndefault_primary = \"a\"\ndirectories = [\"/srv/web\"]\n";
    socket_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(socket_, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, "127.0.0.2", &local.sin_addr);
    ASSERT_EQ(::bind(socket_, reinterpret_cast<sockaddr*>(&local), sizeof local), 0);
    node_.emplace(key_, kCluster, /*self=*/0, /*epoch=*/7);
  }

  void TearDown() override {
    StopWitness();
    if (socket_ >= 0) ::close(socket_);
    std::filesystem::remove_all(dir_);
  }

  std::string LogPath() const { return dir_ + "/witness.log"; }
  std::string Log() const { return ReadFile(LogPath()); }

  void StartWitness() {
    const std::string config = dir_ + "/duet.toml", state = dir_ + "/state", log = LogPath();
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      if (fd < 0 || ::dup2(fd, 2) < 0) ::_exit(127);
      ::execl(DUET_WITNESS_BINARY, DUET_WITNESS_BINARY, "--config", config.c_str(), "--state-dir",
              state.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ++starts_;
    // Serving once it says so, as many times as it was started.
    ASSERT_TRUE(WaitFor([&] {
      const std::string text = Log();
      size_t count = 0;
      for (size_t at = text.find("serving cluster"); at != std::string::npos;
           at = text.find("serving cluster", at + 1)) {
        ++count;
      }
      return count >= starts_;
    })) << Log();
  }

  // SIGTERM, as systemd stops it; returns its exit status.
  int StopWitness() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  std::vector<uint8_t> LeaseRequestDatagram(uint64_t request_id) {
    LeaseRequest request;
    request.from = 0;
    request.module = "web";
    request.request_id = request_id;
    request.cluster = kCluster;
    absl::StatusOr<std::vector<uint8_t>> sealed = node_->SealRequest(
        net::kWitnessId, net::kWitnessChannel, wire::EncodeWitness(WitnessMessage{request}));
    EXPECT_TRUE(sealed.ok()) << sealed.status();
    return sealed.ok() ? *sealed : std::vector<uint8_t>{};
  }

  void Send(const std::vector<uint8_t>& datagram) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port_);
    ::inet_pton(AF_INET, "127.0.0.4", &to.sin_addr);
    ASSERT_EQ(::sendto(socket_, datagram.data(), datagram.size(), 0,
                       reinterpret_cast<sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(datagram.size()));
  }

  // The witness's answer to an outstanding request, if one comes within 5 s. Other datagrams
  // (a challenge to a replayed request, datagram_auth.h) are dropped as the node's link does.
  std::optional<LeaseReply> Answer() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{socket_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) {
        return std::nullopt;
      }
      std::vector<uint8_t> buffer(net::kMaxUdpDatagramBytes);
      const ssize_t n = ::recv(socket_, buffer.data(), buffer.size(), 0);
      if (n <= 0) return std::nullopt;
      buffer.resize(static_cast<size_t>(n));
      auto opened = node_->Open(buffer, net::kWitnessChannel);
      if (!std::holds_alternative<net::OpenedDatagram>(opened)) continue;
      absl::StatusOr<WitnessMessage> message =
          wire::DecodeWitness(std::get<net::OpenedDatagram>(opened).payload);
      if (!message.ok() || !std::holds_alternative<LeaseReply>(*message)) return std::nullopt;
      return std::get<LeaseReply>(*message);
    }
  }

  std::string dir_;
  net::ClusterKey key_;
  uint16_t port_ = 0;
  int socket_ = -1;
  std::optional<net::DatagramAuth> node_;
  pid_t pid_ = -1;
  size_t starts_ = 0;
};

TEST_F(WitnessReplayTest, ARequestRecordedBeforeARestartIsDroppedAsReplayedAfterIt) {
  StartWitness();
  const std::vector<uint8_t> recorded = LeaseRequestDatagram(1);
  Send(recorded);
  std::optional<LeaseReply> first = Answer();
  ASSERT_TRUE(first) << Log();
  EXPECT_EQ(first->request_id, 1u);

  const int status = StopWitness();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  StartWitness();
  Send(recorded);
  ASSERT_TRUE(WaitFor([&] { return Log().find("dropped (replayed)") != std::string::npos; }))
      << Log();

  // The node's next request is fresh: answered (the replayed one never was).
  Send(LeaseRequestDatagram(2));
  std::optional<LeaseReply> next = Answer();
  ASSERT_TRUE(next) << Log();
  EXPECT_EQ(next->request_id, 2u);
}

TEST_F(WitnessReplayTest, ACorruptFreshnessFileStopsTheWitnessAtStartNamingTheLine) {
  std::filesystem::create_directories(dir_ + "/state");
  std::ofstream(dir_ + "/state/freshness") << "0\t255\t7\t3\n0\t255\tseven\t3\n";
  const std::string config = dir_ + "/duet.toml", state = dir_ + "/state";
  const std::string command = absl::StrCat(DUET_WITNESS_BINARY, " --config ", config,
                                           " --state-dir ", state, " 2>", LogPath());
  EXPECT_EQ(WEXITSTATUS(std::system(command.c_str())), 1);
  EXPECT_NE(Log().find("freshness:2: not 'sender<TAB>channel<TAB>epoch<TAB>seq'"),
            std::string::npos)
      << Log();
}

TEST(WitnessFreshnessFileTest, TheNewestAcceptedPerSenderAndChannelSurvivesASaveAndALoad) {
  char pattern[] = "/tmp/duet-witness-fresh-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  const std::vector<net::DatagramAuth::Newest> newest = {{0, 255, 7, 12}, {1, 255, 3, 99}};
  ASSERT_TRUE(SaveWitnessFreshness(dir, newest).ok());
  absl::StatusOr<std::vector<net::DatagramAuth::Newest>> back = LoadWitnessFreshness(dir);
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, newest);
}

}  // namespace
}  // namespace duet::witness
