// duet-net-bench: ReplicationLink throughput on loopback with 1 MiB frames, against a raw TCP
// socket measured in the same run (DESIGN.md §9: a figure is a ratio to a baseline, runs
// alternate, the median is quoted). Each side runs on its own thread and io_context, as the
// two daemons would. Reports, never asserts.
//
//   duet-net-bench [--gib N] [--runs N]
#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "adapters/net/replication_link.h"

namespace duet::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr size_t kFrameBytes = size_t{1} << 20;
// Bytes of an engine frame's head (a write's FlatBuffer without its data).
constexpr size_t kHeadBytes = 128;
// Bytes the sender lets queue before waiting: the engine's default window (64 MiB).
constexpr size_t kWindowBytes = size_t{64} << 20;

double GibPerSecond(size_t bytes, Clock::duration elapsed) {
  return static_cast<double>(bytes) / double(size_t{1} << 30) /
         std::chrono::duration<double>(elapsed).count();
}

// One raw TCP stream of `frames` 1 MiB writes on 127.0.0.2 -> 127.0.0.3.
double RawTcp(size_t frames) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.3"), 0));
  std::thread receiver([&] {
    tcp::socket socket = acceptor.accept();
    socket.set_option(tcp::no_delay(true));
    std::vector<uint8_t> buffer(kFrameBytes);
    for (size_t i = 0; i < frames; ++i) asio::read(socket, asio::buffer(buffer));
    asio::write(socket, asio::buffer(buffer.data(), 1));  // done
  });
  tcp::socket socket(io);
  socket.open(tcp::v4());
  socket.bind(tcp::endpoint(asio::ip::make_address("127.0.0.2"), 0));
  socket.connect(acceptor.local_endpoint());
  socket.set_option(tcp::no_delay(true));
  std::vector<uint8_t> frame(kFrameBytes, 0x5a);
  Clock::time_point start = Clock::now();
  for (size_t i = 0; i < frames; ++i) asio::write(socket, asio::buffer(frame));
  uint8_t done = 0;
  asio::read(socket, asio::buffer(&done, 1));
  Clock::duration elapsed = Clock::now() - start;
  receiver.join();
  return GibPerSecond(frames * kFrameBytes, elapsed);
}

// The same bytes through two ReplicationLinks (node 0 sends, node 1 receives).
double Link(size_t frames) {
  ClusterKey key;
  for (size_t i = 0; i < key.bytes.size(); ++i) key.bytes[i] = static_cast<uint8_t>(i * 7);
  ReplicationLinkOptions options;
  options.cluster = "bench";
  options.max_frame_bytes = kFrameBytes;

  asio::io_context listener_io;
  std::atomic<bool> listener_connected = false;
  std::atomic<size_t> received = 0;
  std::atomic<bool> done = false;
  Clock::time_point finished;
  options.self = 1;
  options.listen = {"127.0.0.3", 0};
  auto listener = ReplicationLink::Start(
      listener_io, key, options,
      {[&] { listener_connected = true; },
       [&](std::span<const uint8_t> head, Payload tail) {
         const size_t size = head.size() + (tail ? tail->size() : 0);
         if (received.fetch_add(size) + size == frames * kFrameBytes) {
           finished = Clock::now();
           done = true;
         }
       },
       [](const std::string& reason) { std::fprintf(stderr, "listener: %s\n", reason.c_str()); },
       nullptr});
  if (!listener.ok()) {
    std::fprintf(stderr, "%s\n", std::string(listener.status().message()).c_str());
    std::exit(1);
  }
  uint16_t port = (*listener)->listen_endpoint().port();
  std::thread listener_thread([&] {
    while (!done) listener_io.run_one_for(std::chrono::milliseconds(50));
  });

  asio::io_context dialer_io;
  bool connected = false;
  options.self = 0;
  options.peer = {"127.0.0.3", port};
  auto dialer = ReplicationLink::Start(
      dialer_io, key, options,
      {[&] { connected = true; }, [](std::span<const uint8_t>, Payload) {},
       [](const std::string& reason) { std::fprintf(stderr, "dialer: %s\n", reason.c_str()); },
       nullptr});
  if (!dialer.ok()) std::exit(1);
  while (!connected || !listener_connected) dialer_io.run_one_for(std::chrono::milliseconds(50));

  // As the daemon sends a 1 MiB write: a small head (its first 4 bytes the length of the rest,
  // as a FlatBuffers size prefix) and the data by reference, which the receiver reads apart.
  std::vector<uint8_t> head(kHeadBytes, 0);
  head[0] = kHeadBytes - 4;
  const Payload data = MakePayload(std::string(kFrameBytes - kHeadBytes, 'Z'));
  Clock::time_point start = Clock::now();
  for (size_t i = 0; i < frames; ++i) {
    while ((*dialer)->queued_bytes() > kWindowBytes) dialer_io.run_one();
    (*dialer)->Send(head, data);  // a copy of the head, as the encoder hands over a fresh one
    dialer_io.poll();             // as the daemon's loop would between two engine steps
  }
  while (!done) dialer_io.run_one_for(std::chrono::milliseconds(50));
  listener_thread.join();
  return GibPerSecond(frames * kFrameBytes, finished - start);
}

int Main(int argc, char** argv) {
  size_t gib = 2;
  int runs = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--gib") == 0) gib = std::strtoul(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--runs") == 0) runs = std::atoi(argv[i + 1]);
  }
  size_t frames = gib * 1024;
  std::vector<double> raw, link;
  for (int run = 0; run < runs; ++run) {
    raw.push_back(RawTcp(frames));
    link.push_back(Link(frames));
    std::printf("run %d: raw TCP %.2f GiB/s, ReplicationLink %.2f GiB/s\n", run + 1, raw.back(),
                link.back());
  }
  std::sort(raw.begin(), raw.end());
  std::sort(link.begin(), link.end());
  double raw_median = raw[raw.size() / 2];
  double link_median = link[link.size() / 2];
  std::printf(
      "loopback, 1 MiB frames, %zu GiB per run, median of %d: raw TCP %.2f GiB/s, "
      "ReplicationLink (HMAC-SHA256) %.2f GiB/s, ratio %.2f\n",
      gib, runs, raw_median, link_median, link_median / raw_median);
  return 0;
}

}  // namespace
}  // namespace duet::net

int main(int argc, char** argv) { return duet::net::Main(argc, argv); }
