// duet-witness-bench: how many lease requests a real duet-witness answers per second when many
// modules renew at once, against the small durable file replacements per second the same
// disk allows, measured in the same run (DESIGN.md §9: a ratio to a baseline; reports, never
// asserts). Each request must have its anti-replay state durable before the witness acts on
// it (witness_freshness_file.h); a ratio above 1 shows requests sharing one save.
//
//   duet-witness-bench WITNESS_BINARY [--modules N] [--rounds N] [--dir DIR]
//
// DIR (default /var/tmp) holds the witness's state: put it on the disk the witness will use.
// The witness listens on 127.0.0.4, the node played by the bench sends from 127.0.0.2.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/net/cluster_key.h"
#include "adapters/net/datagram_auth.h"
#include "adapters/witness/durable_file.h"
#include "engine/wire/codec.h"

namespace duet::witness {
namespace {

using Clock = std::chrono::steady_clock;
constexpr char kCluster[] = "bench";

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Replacements per second of a small file in `dir`, as the witness makes them.
double FileReplacementsPerSecond(const std::string& dir, int count) {
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < count; ++i) {
    if (absl::Status s = ReplaceFileDurably(dir, "baseline", absl::StrCat("0\t1\t", i, "\n"));
        !s.ok()) {
      std::fprintf(stderr, "baseline: %s\n", std::string(s.message()).c_str());
      return 0;
    }
  }
  return count / Seconds(Clock::now() - start);
}

int Run(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: duet-witness-bench WITNESS_BINARY [--modules N] [--rounds N] "
                 "[--dir DIR]\n");
    return 2;
  }
  const std::string binary = argv[1];
  int modules = 200, rounds = 20;
  std::string base = "/var/tmp";
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--modules") modules = std::atoi(argv[i + 1]);
    if (a == "--rounds") rounds = std::atoi(argv[i + 1]);
    if (a == "--dir") base = argv[i + 1];
  }
  std::string pattern = base + "/duet-witness-bench-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string dir = pattern;
  absl::StatusOr<net::ClusterKey> key = net::WriteNewClusterKey(dir + "/cluster.key");
  if (!key.ok()) {
    std::fprintf(stderr, "%s\n", std::string(key.status().message()).c_str());
    return 1;
  }
  const uint16_t port = static_cast<uint16_t>(22000 + ::getpid() % 20000);
  {
    std::ofstream config(dir + "/duet.toml");
    config << "[cluster]\nname = \"" << kCluster << "\"\nkey_file = \"" << dir
           << "/cluster.key\"\n[[node]]\nname = \"a\"\nheartbeat = [\"127.0.0.2:7200\"]\n"
              "replication = \"127.0.0.2:7100\"\n[[node]]\nname = \"b\"\nheartbeat = "
              "[\"127.0.0.3:7200\"]\nreplication = \"127.0.0.3:7100\"\n[witness]\naddress = "
              "\"127.0.0.4:"
           << port << "\"\n";
    for (int m = 0; m < modules; ++m) {
      config << "[[module]]\nname = \"m" << m << "\"\ndefault_primary = \"a\"\ndirectories = "
             << "[\"/srv/m" << m << "\"]\n";
    }
  }
  const std::string log = dir + "/witness.log";
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0 || ::dup2(fd, 2) < 0) ::_exit(127);
    const std::string config = dir + "/duet.toml", state = dir + "/state";
    ::execl(binary.c_str(), binary.c_str(), "--config", config.c_str(), "--state-dir",
            state.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int socket_fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, "127.0.0.2", &local.sin_addr);
  ::bind(socket_fd, reinterpret_cast<sockaddr*>(&local), sizeof local);
  int buffer = 4 << 20;
  ::setsockopt(socket_fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.4", &to.sin_addr);
  net::DatagramAuth node(*key, kCluster, /*self=*/0, /*epoch=*/1);
  uint64_t request_id = 0;

  // One round: every module's request at once; waits for every answer (5 s at most).
  auto round = [&]() -> int {
    for (int m = 0; m < modules; ++m) {
      LeaseRequest request;
      request.from = 0;
      request.module = absl::StrCat("m", m);
      request.request_id = ++request_id;
      request.cluster = kCluster;
      absl::StatusOr<std::vector<uint8_t>> sealed = node.SealRequest(
          net::kWitnessId, net::kWitnessChannel, wire::EncodeWitness(WitnessMessage{request}));
      ::sendto(socket_fd, sealed->data(), sealed->size(), 0, reinterpret_cast<sockaddr*>(&to),
               sizeof to);
    }
    int answered = 0;
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(5);
    std::vector<uint8_t> datagram(net::kMaxUdpDatagramBytes);
    while (answered < modules && Clock::now() < deadline) {
      pollfd p{socket_fd, POLLIN, 0};
      if (::poll(&p, 1, 100) != 1) continue;
      const ssize_t n = ::recv(socket_fd, datagram.data(), datagram.size(), 0);
      if (n <= 0) continue;
      auto opened = node.Open(std::span<const uint8_t>(datagram.data(), static_cast<size_t>(n)),
                              net::kWitnessChannel);
      if (std::holds_alternative<net::OpenedDatagram>(opened)) ++answered;
    }
    return answered;
  };

  // Up once it answers a round (the first requests may meet it still binding).
  bool up = false;
  for (int i = 0; i < 50 && !up; ++i) up = round() == modules;
  int rc = 0;
  if (!up) {
    std::fprintf(stderr, "the witness did not answer every request; its log: %s\n", log.c_str());
    rc = 1;
  } else {
    const double baseline = FileReplacementsPerSecond(dir, 200);
    int answered = 0;
    const Clock::time_point start = Clock::now();
    for (int r = 0; r < rounds; ++r) answered += round();
    const double elapsed = Seconds(Clock::now() - start);
    const double per_second = answered / elapsed;
    std::printf("modules renewing at once: %d, rounds: %d, answered %d of %d\n", modules, rounds,
                answered, modules * rounds);
    std::printf(
        "witness: %.0f requests answered/s; disk: %.0f durable file replacements/s "
        "(%s)\n",
        per_second, baseline, dir.c_str());
    std::printf("ratio requests/replacement: %.1f (one save per request: about 1)\n",
                per_second / baseline);
  }
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  ::close(socket_fd);
  std::filesystem::remove_all(dir);
  return rc;
}

}  // namespace
}  // namespace duet::witness

int main(int argc, char** argv) { return duet::witness::Run(argc, argv); }
