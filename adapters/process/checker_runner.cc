#include "adapters/process/checker_runner.h"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "adapters/process/health_probes.h"
#include "adapters/process/script_environment.h"

namespace duet {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// One Start's worth of checkers. The loop's pending handlers hold it by shared_ptr; after
// Stop they find it stopped and do nothing, which is what makes "no callback after Stop"
// hold even for completions already queued.
class CheckerRunner::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(asio::io_context& io, FailureCallback on_failure, const Options& options,
          std::vector<CheckerConfig> checkers)
      : io_(io), on_failure_(std::move(on_failure)), options_(options) {
    for (CheckerConfig& config : checkers) {
      slots_.push_back(std::make_unique<Slot>(io, std::move(config)));
    }
  }

  void Start() {
    for (uint32_t i = 0; i < slots_.size(); ++i) ScheduleCheck(i);
  }

  void Stop() {
    stopped_ = true;
    on_failure_ = nullptr;
    for (auto& slot : slots_) EndAttempt(*slot);
  }

 private:
  struct Slot {
    Slot(asio::io_context& io, CheckerConfig c)
        : config(std::move(c)), next(io), deadline(io), resolver(io), socket(io) {}
    CheckerConfig config;
    asio::steady_timer next;      // until the next check
    asio::steady_timer deadline;  // the running check's timeout (tcp)
    tcp::resolver resolver;
    tcp::socket socket;
    std::shared_ptr<ChildProcess> command;  // custom
    std::string last_output;                // custom: the command's last line
    // Numbers the checks; a completion of an earlier one (after its timeout) is ignored.
    uint64_t attempt = 0;
    bool in_progress = false;
  };

  void ScheduleCheck(uint32_t index) {
    Slot& slot = *slots_[index];
    // A zero interval would spin the loop; configs are validated, this is a floor.
    slot.next.expires_after(
        ToTimerDuration(std::max(slot.config.interval, absl::Milliseconds(10))));
    slot.next.async_wait([self = shared_from_this(), index](const boost::system::error_code& e) {
      if (!e && !self->stopped_) self->RunCheck(index);
    });
  }

  void RunCheck(uint32_t index) {
    Slot& slot = *slots_[index];
    ++slot.attempt;
    slot.in_progress = true;
    switch (slot.config.type) {
      case CheckerType::kProcess:
        Complete(index, slot.attempt, CheckProcessRunning(slot.config.target));
        return;
      case CheckerType::kInterface:
        Complete(index, slot.attempt, CheckInterfaceUp(slot.config.target));
        return;
      case CheckerType::kTcp:
        StartTcpCheck(index);
        return;
      case CheckerType::kCustom:
        StartCustomCheck(index);
        return;
    }
  }

  void StartTcpCheck(uint32_t index) {
    Slot& slot = *slots_[index];
    const uint64_t attempt = slot.attempt;
    absl::StatusOr<Endpoint> endpoint = ParseHostPort(slot.config.target);
    if (!endpoint.ok()) {
      Complete(index, attempt, endpoint.status());
      return;
    }
    std::shared_ptr<Session> self = shared_from_this();
    const std::string target = slot.config.target;
    slot.deadline.expires_after(ToTimerDuration(slot.config.timeout));
    slot.deadline.async_wait([self, index, attempt, target,
                              timeout = slot.config.timeout](const boost::system::error_code& e) {
      if (e) return;
      self->Complete(index, attempt,
                     absl::DeadlineExceededError(absl::StrCat(
                         "no connection to ", target, " within ", absl::FormatDuration(timeout))));
    });
    slot.resolver.async_resolve(
        endpoint->host, std::to_string(endpoint->port), tcp::resolver::numeric_service,
        [self, index, attempt, target, host = endpoint->host](
            const boost::system::error_code& e, const tcp::resolver::results_type& results) {
          if (e) {
            self->Complete(
                index, attempt,
                absl::UnavailableError(absl::StrCat("cannot resolve ", host, ": ", e.message())));
            return;
          }
          if (self->stopped_ || self->slots_[index]->attempt != attempt) return;
          asio::async_connect(self->slots_[index]->socket, results,
                              [self, index, attempt, target](const boost::system::error_code& ce,
                                                             const tcp::endpoint&) {
                                self->Complete(
                                    index, attempt,
                                    ce ? absl::UnavailableError(absl::StrCat(
                                             "cannot connect to ", target, ": ", ce.message()))
                                       : absl::OkStatus());
                              });
        });
  }

  void StartCustomCheck(uint32_t index) {
    Slot& slot = *slots_[index];
    const uint64_t attempt = slot.attempt;
    ChildSpec spec;
    spec.argv = {"/bin/sh", "-c", slot.config.target};
    spec.env = options_.env;
    spec.env.emplace_back("DUET_CHECKER", slot.config.name);
    if (std::none_of(spec.env.begin(), spec.env.end(),
                     [](const auto& var) { return var.first == "PATH"; })) {
      spec.env.emplace_back("PATH", kStandardPath);
    }
    spec.timeout = slot.config.timeout;
    spec.kill_grace = options_.kill_grace;
    slot.last_output.clear();
    std::weak_ptr<Session> weak = weak_from_this();
    auto on_line = [weak, index](std::string_view line) {
      std::shared_ptr<Session> self = weak.lock();
      if (self && !line.empty()) self->slots_[index]->last_output = std::string(line);
    };
    auto on_exit = [weak, index, attempt, timeout = slot.config.timeout](const ChildExit& exit) {
      std::shared_ptr<Session> self = weak.lock();
      if (!self) return;
      self->Complete(index, attempt,
                     CustomOutcome(exit, timeout, self->slots_[index]->last_output));
    };
    absl::StatusOr<std::shared_ptr<ChildProcess>> command =
        ChildProcess::Spawn(io_, spec, std::move(on_line), std::move(on_exit));
    if (!command.ok()) {
      Complete(index, attempt, command.status());
      return;
    }
    slot.command = *std::move(command);
  }

  static absl::Status CustomOutcome(const ChildExit& exit, absl::Duration timeout,
                                    const std::string& last_output) {
    if (exit.exit_code == 0 && !exit.timed_out) return absl::OkStatus();
    std::string what =
        exit.timed_out     ? absl::StrCat("command timed out after ", absl::FormatDuration(timeout),
                                          " and was killed")
        : exit.signal != 0 ? absl::StrCat("command killed by signal ", exit.signal)
                           : absl::StrCat("command exited with status ", exit.exit_code);
    if (!last_output.empty()) absl::StrAppend(&what, " (last output: ", last_output, ")");
    return exit.timed_out ? absl::DeadlineExceededError(what) : absl::UnavailableError(what);
  }

  // The end of check `attempt` of checker `index`: reports a failure, then schedules the
  // next check. Later completions of the same attempt (the timer and the connect racing)
  // find it no longer in progress.
  void Complete(uint32_t index, uint64_t attempt, const absl::Status& status) {
    Slot& slot = *slots_[index];
    if (stopped_ || slot.attempt != attempt || !slot.in_progress) return;
    EndAttempt(slot);
    if (!status.ok()) {
      FailureCallback on_failure = on_failure_;  // the callback may Stop, which clears it
      if (on_failure) on_failure(index, std::string(status.message()));
    }
    if (!stopped_) ScheduleCheck(index);
  }

  // Cancels whatever the checker has in flight.
  static void EndAttempt(Slot& slot) {
    slot.in_progress = false;
    boost::system::error_code ignored;
    slot.next.cancel(ignored);
    slot.deadline.cancel(ignored);
    slot.resolver.cancel();
    slot.socket.close(ignored);
    if (slot.command) {
      slot.command->Abandon();
      slot.command.reset();
    }
  }

  asio::io_context& io_;
  FailureCallback on_failure_;
  Options options_;
  std::vector<std::unique_ptr<Slot>> slots_;
  bool stopped_ = false;
};

CheckerRunner::CheckerRunner(asio::io_context& io, FailureCallback on_failure)
    : CheckerRunner(io, std::move(on_failure), Options()) {}

CheckerRunner::CheckerRunner(asio::io_context& io, FailureCallback on_failure, Options options)
    : io_(io), on_failure_(std::move(on_failure)), options_(std::move(options)) {}

CheckerRunner::~CheckerRunner() { Stop(); }

void CheckerRunner::Start(std::vector<CheckerConfig> checkers) {
  Stop();
  session_ = std::make_shared<Session>(io_, on_failure_, options_, std::move(checkers));
  session_->Start();
}

void CheckerRunner::Stop() {
  if (session_ == nullptr) return;
  session_->Stop();
  session_.reset();
}

}  // namespace duet
