#include "adapters/daemon/node_loop.h"

#include <time.h>

#include <algorithm>
#include <chrono>

#include "boost/asio/post.hpp"

namespace duet::daemon {

absl::Time MonotonicNow() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return absl::TimeFromTimespec(ts);
}

NodeLoop::NodeLoop(boost::asio::io_context& io, std::unique_ptr<Node> node, Executor executor)
    : io_(io), node_(std::move(node)), executor_(std::move(executor)), timer_(io) {}

void NodeLoop::Start(bool lost_unsynced, const std::vector<ModuleIndex>& took_in_existing) {
  last_now_ = MonotonicNow();
  Run(node_->Start(last_now_, lost_unsynced, took_in_existing));
}

void NodeLoop::Feed(const Input& input) {
  // Never earlier than the previous step (C1), even if the clock were to stall.
  last_now_ = std::max(last_now_, MonotonicNow());
  Run(node_->Step(last_now_, input));
}

void NodeLoop::Post(Input input) {
  boost::asio::post(io_, [this, input = std::move(input)]() { Feed(input); });
}

void NodeLoop::Run(Actions actions) {
  executor_(std::move(actions));
  ArmTimer();
}

void NodeLoop::ArmTimer() {
  absl::Time deadline = node_->NextDeadline();
  absl::Duration wait = std::max(absl::ZeroDuration(), deadline - MonotonicNow());
  // A deadline far away (or none) still wakes the loop now and then; Tick is harmless.
  wait = std::min(wait, absl::Seconds(60));
  timer_.expires_after(absl::ToChronoNanoseconds(wait));
  timer_.async_wait([this](const boost::system::error_code& error) {
    if (error) return;  // re-armed or cancelled: a newer wait exists
    Feed(Tick{});
  });
}

}  // namespace duet::daemon
