// Runs one module's health checkers for duetd while the engine wants them (SetCheckers) and
// reports each failure, which becomes a CheckerFailed input (DESIGN.md §7).
//
// Contract
//  - Start(checkers) runs every checker of the list on its own schedule: the first check one
//    interval after Start, each next one an interval after the previous one ended (checks of
//    one checker never overlap; an interval under 10 ms counts as 10 ms). Start replaces the
//    checkers running before.
//  - A check: process (a live process whose comm or argv[0] base name is the target, read
//    from /proc), tcp ("host:port" accepts a connection within the timeout), interface (the
//    interface exists, is up and has its link), custom (the target run by /bin/sh -c in its
//    own process group; exit 0 is healthy; past the timeout its group gets SIGTERM, then
//    SIGKILL after kill_grace, and the check fails then). process and interface checks
//    answer at once; their timeout is not used.
//  - Every failed check calls on_failure(index in the list, what failed), from the loop;
//    successes are not reported.
//  - Stop() cancels every pending check (a custom command still running has its group
//    killed); no callback is called after Stop returns. The destructor stops.
//  - All calls and callbacks on the io_context's thread; on_failure may call Stop or Start.
#ifndef DUET_ADAPTERS_PROCESS_CHECKER_RUNNER_H_
#define DUET_ADAPTERS_PROCESS_CHECKER_RUNNER_H_

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "adapters/process/child_process.h"
#include "engine/config.h"

namespace duet {

class CheckerRunner {
 public:
  using FailureCallback = std::function<void(uint32_t checker, std::string detail)>;

  struct Options {
    // For custom commands (CheckerEnvironment in duetd); PATH is added when absent, and
    // DUET_CHECKER, the checker's name, always.
    Environment env;
    absl::Duration kill_grace = absl::Seconds(1);
  };

  CheckerRunner(boost::asio::io_context& io, FailureCallback on_failure);
  CheckerRunner(boost::asio::io_context& io, FailureCallback on_failure, Options options);
  CheckerRunner(const CheckerRunner&) = delete;
  CheckerRunner& operator=(const CheckerRunner&) = delete;
  ~CheckerRunner();

  void Start(std::vector<CheckerConfig> checkers);
  void Stop();
  bool running() const { return session_ != nullptr; }

 private:
  class Session;

  boost::asio::io_context& io_;
  FailureCallback on_failure_;
  Options options_;
  std::shared_ptr<Session> session_;
};

}  // namespace duet

#endif  // DUET_ADAPTERS_PROCESS_CHECKER_RUNNER_H_
