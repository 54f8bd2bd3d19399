// The one place a Node lives in a daemon (adapter contract C1): an Asio event loop thread owns
// it, gives it each input with the monotonic time it is handled at, follows NextDeadline() with
// one timer, and hands every step's actions, in order, to the executor (C3). Inputs from other
// threads (FUSE workers, disk workers) come in through Post, which queues them on the loop.
// The timer is set again only when a step brings the deadline earlier than it is set for
// (most steps leave it where it was: re-arming after each one cost a system call and a
// cancelled wait per step); when it fires before the deadline it is set again, never Ticks.
#ifndef DUET_ADAPTERS_DAEMON_NODE_LOOP_H_
#define DUET_ADAPTERS_DAEMON_NODE_LOOP_H_

#include <functional>
#include <memory>

#include "absl/time/time.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/steady_timer.hpp"
#include "engine/actions.h"
#include "engine/inputs.h"
#include "engine/node.h"

namespace duet::daemon {

class OpTimings;

// The engine's clock: CLOCK_MONOTONIC as an absl::Time (it never goes back; C1).
absl::Time MonotonicNow();

class NodeLoop {
 public:
  // Carries out one step's actions in order; runs on the loop thread.
  using Executor = std::function<void(Actions)>;

  NodeLoop(boost::asio::io_context& io, std::unique_ptr<Node> node, Executor executor);
  NodeLoop(const NodeLoop&) = delete;
  NodeLoop& operator=(const NodeLoop&) = delete;

  // Node::Start, then the timer. Loop thread only.
  void Start(bool lost_unsynced, const std::vector<ModuleIndex>& took_in_existing = {});
  // Steps the node with `input` now. Loop thread only.
  void Feed(const Input& input);
  // Queues `input` to be fed on the loop thread. Any thread.
  void Post(Input input);

  const Node& node() const { return *node_; }
  // Tells `timings` (null: nobody) every input, its step's actions and their time from now
  // on. Loop thread only; it must outlive the loop's use of it.
  void Observe(OpTimings* timings) { timings_ = timings; }

 private:
  // Steps the node with `input`, posted at `posted` (InfinitePast: fed at once).
  void FeedPosted(const Input& input, absl::Time posted);
  void Run(Actions actions, absl::Time fed);
  void ArmTimer();

  boost::asio::io_context& io_;
  std::unique_ptr<Node> node_;
  Executor executor_;
  boost::asio::steady_timer timer_;
  absl::Time last_now_ = absl::InfinitePast();
  // When the timer's pending wait ends (MonotonicNow's clock); InfiniteFuture: none pending.
  absl::Time armed_for_ = absl::InfiniteFuture();
  OpTimings* timings_ = nullptr;
};

}  // namespace duet::daemon

#endif  // DUET_ADAPTERS_DAEMON_NODE_LOOP_H_
