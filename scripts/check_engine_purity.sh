#!/usr/bin/env bash
# The engine stays pure (DESIGN.md §1): no OS, socket, thread, clock, file, random-device,
# Boost or FUSE header under engine/, and no call that reads a clock or a random device.
# Prints every offending line and fails if there is one.
set -uo pipefail
cd "$(dirname "$0")/.."
headers='<(chrono|thread|mutex|shared_mutex|condition_variable|future|atomic|semaphore|random|fstream|iostream|cstdio|stdio\.h|filesystem|ctime|time\.h|csignal|signal\.h|unistd\.h|fcntl\.h|pthread\.h|dirent\.h|netdb\.h|poll\.h|syslog\.h)>|<(sys|netinet|arpa|linux|boost|fuse|fuse3|asio|openssl)/|<fuse[^>]*\.h>|"absl/time/clock\.h"|"absl/synchronization/|"absl/random/'
calls='absl::Now\(|std::rand\(|random_device|system_clock|steady_clock|high_resolution_clock|getenv\(|fopen\(|std::ifstream|std::ofstream|std::thread'
bad=$(grep -rnE "#[[:space:]]*include[[:space:]]*($headers)" engine/; grep -rnE "$calls" engine/)
if [ -n "$bad" ]; then
  echo "engine purity check FAILED: engine/ must not touch the OS, clock, threads, files or randomness:"
  echo "$bad"
  exit 1
fi
echo "engine purity check passed ($(find engine -name '*.h' -o -name '*.cc' | wc -l) files)"
