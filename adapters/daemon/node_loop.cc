#include "adapters/daemon/node_loop.h"

#include <time.h>

#include <algorithm>
#include <chrono>

#include "adapters/daemon/op_timings.h"
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
  Run(node_->Start(last_now_, lost_unsynced, took_in_existing), last_now_);
}

void NodeLoop::Feed(const Input& input) { FeedPosted(input, absl::InfinitePast()); }

void NodeLoop::FeedPosted(const Input& input, absl::Time posted) {
  // Never earlier than the previous step (C1), even if the clock were to stall.
  last_now_ = std::max(last_now_, MonotonicNow());
  if (timings_ != nullptr)
    timings_->OnInput(input, posted == absl::InfinitePast() ? last_now_ : posted, last_now_);
  Run(node_->Step(last_now_, input), last_now_);
}

void NodeLoop::Post(Input input) {
  const absl::Time posted = timings_ != nullptr ? MonotonicNow() : absl::InfinitePast();
  boost::asio::post(io_, [this, posted, input = std::move(input)]() { FeedPosted(input, posted); });
}

void NodeLoop::Run(Actions actions, absl::Time fed) {
  if (timings_ != nullptr) timings_->OnActions(actions, fed);
  executor_(std::move(actions));
  if (timings_ != nullptr) timings_->OnStepDone(fed, MonotonicNow());
  ArmTimer();
}

void NodeLoop::ArmTimer() {
  const absl::Time now = MonotonicNow();
  // A deadline far away (or none) still wakes the loop now and then.
  const absl::Time wake = std::min(node_->NextDeadline(), now + absl::Seconds(60));
  if (armed_for_ <= wake) return;  // the pending wait ends first; it re-arms then
  armed_for_ = wake;
  timer_.expires_after(absl::ToChronoNanoseconds(std::max(absl::ZeroDuration(), wake - now)));
  timer_.async_wait([this](const boost::system::error_code& error) {
    if (error) return;  // re-armed or cancelled: a newer wait exists
    armed_for_ = absl::InfiniteFuture();
    if (MonotonicNow() < node_->NextDeadline()) {
      ArmTimer();  // set for an earlier deadline that has moved on, or the 60 s wake
      return;
    }
    Feed(Tick{});
  });
}

}  // namespace duet::daemon
