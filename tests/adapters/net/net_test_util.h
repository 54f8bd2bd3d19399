// Helpers shared by the network adapter tests: a fixed cluster key, and waiting for a state
// on a real io_context with a timeout (never a fixed sleep).
#ifndef DUET_TESTS_ADAPTERS_NET_NET_TEST_UTIL_H_
#define DUET_TESTS_ADAPTERS_NET_NET_TEST_UTIL_H_

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "adapters/net/cluster_key.h"

namespace duet::net {

inline ClusterKey TestKey(uint8_t fill = 7) {
  ClusterKey key;
  for (size_t i = 0; i < key.bytes.size(); ++i) key.bytes[i] = static_cast<uint8_t>(fill + i);
  return key;
}

// Runs handlers until `done` holds or `timeout` passes; returns whether it holds.
inline bool RunUntil(boost::asio::io_context& io, const std::function<bool()>& done,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(20));
  }
  return true;
}

// Collects log lines, to assert that a drop was named.
struct LogLines {
  std::vector<std::string> lines;
  std::function<void(std::string)> Sink() {
    return [this](std::string line) { lines.push_back(std::move(line)); };
  }
  bool Contains(const std::string& text) const {
    for (const std::string& line : lines) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }
};

}  // namespace duet::net

#endif  // DUET_TESTS_ADAPTERS_NET_NET_TEST_UTIL_H_
