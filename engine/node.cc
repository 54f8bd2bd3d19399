#include "engine/node.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/overloaded.h"

namespace duet {
namespace {

absl::Duration DriftMargin(const Config& config) {
  return config.witness ? config.witness->drift_margin : absl::ZeroDuration();
}

}  // namespace

Node::Module::Module(const ModuleConfig& c, ModuleIndex index, const Config& cluster,
                     NodeIndex self, ReplicaDurableState durable, Rng& rng)
    : config(&c),
      runner(index),
      replica(index, c.name, ReplicaOptions::From(c, cluster.replication, self), std::move(durable),
              rng),
      budget(c.restart_max, c.restart_window),
      lease(cluster.witness ? cluster.witness->renew_interval : absl::Seconds(1),
            DriftMargin(cluster)) {}

Node::Node(const Config& config, NodeIndex self, uint64_t seed, PersistedNode persisted,
           absl::Time now, DataStateSource data_source)
    : config_(config),
      self_(self),
      data_source_(data_source),
      rng_(seed),
      incarnation_(persisted.incarnation + 1),
      // Heartbeat links, then the replication connection, which counts as a link too.
      liveness_(static_cast<int>(config.nodes[self].heartbeat.size()) + 1, config.heartbeat.timeout,
                now),
      deadlines_(config.modules.size()),
      is_dirty_(config.modules.size(), false) {
  modules_.reserve(config.modules.size());
  for (size_t i = 0; i < config.modules.size(); ++i) {
    const ModuleConfig& mc = config.modules[i];
    const auto index = static_cast<ModuleIndex>(i);
    auto replica = persisted.replicas.find(mc.name);
    modules_.emplace_back(
        mc, index, config, self,
        replica != persisted.replicas.end() ? std::move(replica->second) : ReplicaDurableState{},
        rng_);
    if (data_source_ == DataStateSource::kReplication) {
      modules_.back().data = modules_.back().replica.data_state();
    }
    by_name_[mc.name] = index;
    auto it = persisted.modules.find(mc.name);
    modules_.back().token =
        it != persisted.modules.end() ? it->second : PersistedModule{0, mc.default_primary, false};
  }
}

Actions Node::Start(absl::Time now, bool lost_unsynced) {
  out_.push_back(PersistIncarnation{incarnation_});
  for (Module& mod : modules_) mod.replica.OnStart(lost_unsynced, out_);
  Log(std::nullopt,
      absl::StrCat("node ", config_.nodes[self_].name, " starting, incarnation ", incarnation_));
  MarkAllDirty();
  heartbeat_now_ = true;
  peer_was_alive_ = liveness_.Alive(now);
  Settle(now);
  return std::exchange(out_, {});
}

Actions Node::Step(absl::Time now, const Input& input) {
  last_now_ = now;
  std::visit(Overloaded{
                 [&](const Tick&) {},
                 [&](const PeerReceived& in) { HandlePeer(now, in); },
                 [&](const WitnessReceived& in) { HandleWitness(in); },
                 [&](const ScriptExited& in) { HandleScriptExited(now, in); },
                 [&](const CheckerFailed& in) { HandleCheckerFailed(now, in); },
                 [&](const AdminCommand& in) { HandleAdmin(now, in); },
                 [&](const DataStateChanged& in) { HandleDataState(in); },
                 [&](const LocalMutation& in) { HandleLocalMutation(now, in); },
                 [&](const MutationApplied& in) {
                   if (in.module >= modules_.size()) return;
                   modules_[in.module].replica.OnApplied(now, in.apply_id, in.status, out_);
                   AfterReplica(in.module);
                 },
                 [&](const ZoneRead& in) {
                   if (in.module >= modules_.size()) return;
                   modules_[in.module].replica.OnZoneRead(now, in, out_);
                   AfterReplica(in.module);
                 },
                 [&](const TreeListed& in) {
                   if (in.module >= modules_.size()) return;
                   modules_[in.module].replica.OnTreeListed(now, in, out_);
                   AfterReplica(in.module);
                 },
                 [&](const ReplicationReceived& in) { HandleReplication(now, in.message); },
                 [&](const ReplicationConnected&) {
                   Log(std::nullopt, "replication connection up");
                   for (ModuleIndex m = 0; m < modules_.size(); ++m) {
                     modules_[m].replica.OnConnected(now, out_);
                     AfterReplica(m);
                   }
                 },
                 [&](const ReplicationDisconnected&) {
                   Log(std::nullopt, "replication connection down");
                   for (ModuleIndex m = 0; m < modules_.size(); ++m) {
                     modules_[m].replica.OnDisconnected(now, "connection lost", out_);
                     AfterReplica(m);
                   }
                 },
             },
             input);
  HandleTick(now);
  Settle(now);
  return std::exchange(out_, {});
}

absl::Time Node::NextDeadline() const {
  absl::Time next = std::min(next_heartbeat_at_, deadlines_.Earliest());
  if (peer_was_alive_) next = std::min(next, liveness_.LostAt());
  return next;
}

// Whatever time alone changes: the peer's liveness, module deadlines, the heartbeat.
void Node::HandleTick(absl::Time now) {
  const bool alive = liveness_.Alive(now);
  if (alive != peer_was_alive_) {
    peer_was_alive_ = alive;
    Log(std::nullopt, alive ? "peer " + config_.nodes[Peer(self_)].name + " is back"
                            : "peer " + config_.nodes[Peer(self_)].name +
                                  " lost: every heartbeat link silent for " +
                                  absl::FormatDuration(config_.heartbeat.timeout));
    MarkAllDirty();
    if (!alive) {
      // A primary that goes on alone starts a new term, so that if the peer claimed the module
      // meanwhile (a partition, no witness) the two claims meet at the same term and the
      // split brain is seen when the peers meet again.
      for (ModuleIndex m = 0; m < modules_.size(); ++m) {
        Module& mod = modules_[m];
        if (mod.token.owner == self_ && mod.runner.role() == AppRole::kPrimary) {
          mod.token.term += 1;
          mod.peer_ack_until = absl::InfinitePast();
          Persist(m);
          Log(m, absl::StrCat("continuing alone, term ", mod.token.term));
        }
      }
    }
  }
  for (ModuleIndex m : deadlines_.PopDue(now)) MarkDirty(m);
  if (now >= next_heartbeat_at_) heartbeat_now_ = true;
}

void Node::HandlePeer(absl::Time now, const PeerReceived& in) {
  std::visit(Overloaded{
                 [&](const Heartbeat& hb) {
                   if (hb.from != Peer(self_)) {
                     Log(std::nullopt, "dropped a heartbeat claiming to be from this node");
                     return;
                   }
                   const bool newer = hb.incarnation > peer_incarnation_ ||
                                      (hb.incarnation == peer_incarnation_ && hb.seq > peer_seq_);
                   const bool same = hb.incarnation == peer_incarnation_ && hb.seq == peer_seq_;
                   // The same heartbeat arrives once per link: each copy proves its link works.
                   if (newer || same) liveness_.Heard(in.link, now);
                   if (newer) HandleHeartbeat(now, hb);
                 },
                 [&](const SwapRequest& request) { HandleSwapRequest(request); },
             },
             in.message);
}

void Node::HandleReplication(absl::Time now, const ReplMessage& message) {
  // Replication traffic proves the peer alive: the connection counts as a link.
  liveness_.Heard(liveness_.links() - 1, now);
  const std::string& name =
      std::visit([](const auto& m) -> const std::string& { return m.module; }, message);
  auto found = by_name_.find(name);
  if (found == by_name_.end()) return;
  modules_[found->second].replica.OnMessage(now, message, out_);
  AfterReplica(found->second);
}

void Node::HandleLocalMutation(absl::Time now, const LocalMutation& in) {
  if (in.module >= modules_.size()) return;
  Module& mod = modules_[in.module];
  if (!mod.runner.writable()) {
    out_.push_back(CompleteLocal{in.module, in.op_id,
                                 absl::FailedPreconditionError(absl::StrCat(
                                     mod.config->name, ": read-only on this node (not primary)"))});
    return;
  }
  mod.replica.OnLocalMutation(now, in.op_id, in.mutation, out_);
  AfterReplica(in.module);
}

void Node::AfterReplica(ModuleIndex m) {
  Module& mod = modules_[m];
  if (data_source_ == DataStateSource::kReplication) {
    const DataState state = mod.replica.data_state();
    const uint8_t percent = mod.replica.sync_percent();
    if (state != mod.data) {
      Log(m, absl::StrCat("data ", DataStateName(mod.data), " -> ", DataStateName(state)));
    }
    if (state != mod.data || percent != mod.sync_percent) heartbeat_now_ = true;
    mod.data = state;
    mod.sync_percent = percent;
  }
  MarkDirty(m);
}

void Node::HandleHeartbeat(absl::Time now, const Heartbeat& hb) {
  if (hb.incarnation != peer_incarnation_ && peer_incarnation_ != 0) {
    Log(std::nullopt, absl::StrCat("peer restarted (incarnation ", hb.incarnation, ")"));
  }
  peer_incarnation_ = hb.incarnation;
  peer_seq_ = hb.seq;
  peer_sent_at_ns_ = hb.sent_at_ns;
  // The peer heard us at or after `echo` (our clock): it will not declare us lost before
  // echo + timeout, so its acknowledgement lets us write until then, less the drift margin.
  const absl::Time echo =
      hb.echo_sent_at_ns >= 0 ? absl::FromUnixNanos(hb.echo_sent_at_ns) : absl::InfinitePast();
  const absl::Time ack_until =
      echo <= now ? echo + config_.heartbeat.timeout - DriftMargin(config_) : absl::InfinitePast();
  for (const ModuleView& view : hb.modules) {
    auto found = by_name_.find(view.module);
    if (found == by_name_.end()) continue;  // config mismatch; see ModuleView docs
    const ModuleIndex m = found->second;
    Module& mod = modules_[m];
    bool changed = !mod.peer_view || *mod.peer_view != view;
    if (view.term > mod.token.term) {
      if (mod.token.owner == self_ && view.owner != self_) {
        Log(m, absl::StrCat("peer took the module over at term ", view.term));
        if (mod.token.wrote_alone && !mod.runner.writable()) {
          Log(m,
              "split brain: this node went on writing alone while the peer took over; "
              "the data of the two sides is reconciled by the split-brain policy");
        }
      }
      if (view.owner != self_ && mod.runner.writable()) {
        // The peer declared us lost and took over while we still wrote: both wrote.
        FenceNow(m, absl::StrCat("split brain: the peer took over at term ", view.term,
                                 " while this node was still primary"));
      }
      mod.token.term = view.term;
      mod.token.owner = view.owner;
      mod.token.pinned = view.pinned;
      mod.token.wrote_alone = false;  // reported above: the peer's term is the module's now
      mod.handoff = false;
      mod.admin_claim = false;
      mod.peer_ack_until = absl::InfinitePast();
      Persist(m);
      changed = true;
    } else if (view.term == mod.token.term && view.owner != mod.token.owner) {
      // Both sides claimed this term while they could not see each other (split brain).
      // Both apply the same rule, so they agree without another round trip.
      const NodeIndex winner = mod.config->default_primary;
      Log(m, absl::StrCat("split brain: both nodes claimed term ", view.term, "; default primary ",
                          config_.nodes[winner].name, " keeps the module"));
      mod.token.owner = winner;
      mod.token.wrote_alone = false;
      if (winner != self_ && mod.runner.writable()) FenceNow(m, "split brain: yielding");
      mod.handoff = false;
      mod.peer_ack_until = absl::InfinitePast();
      Persist(m);
      changed = true;
    }
    if (mod.token.owner == self_ && view.term == mod.token.term && view.owner == self_ &&
        ack_until > mod.peer_ack_until) {
      mod.peer_ack_until = ack_until;
      if (config_.witness) changed = true;  // the fencing deadline moved
    }
    if (view.term == mod.token.term && view.owner == mod.token.owner) {
      if (mod.token.wrote_alone) {
        mod.token.wrote_alone = false;
        Persist(m);
      }
      // The owner writes without us: our copy must not be promoted until it resyncs.
      if (view.owner != self_ && view.writing_alone) {
        mod.replica.MarkOutdated(out_);
        AfterReplica(m);
      }
    }
    mod.peer_view = view;
    if (changed) MarkDirty(m);
  }
}

void Node::HandleSwapRequest(const SwapRequest& request) {
  auto found = by_name_.find(request.module);
  if (found == by_name_.end()) return;
  Module& mod = modules_[found->second];
  if (mod.token.owner != self_ || request.term != mod.token.term) return;
  Log(found->second, "peer asked for the module (swap)");
  mod.handoff = true;
  mod.handoff_by_admin = true;
  MarkDirty(found->second);
}

void Node::HandleWitness(const WitnessReceived& in) {
  auto found = by_name_.find(in.reply.module);
  if (found == by_name_.end()) return;
  modules_[found->second].lease.OnReply(in.reply);
  MarkDirty(found->second);
}

void Node::HandleScriptExited(absl::Time now, const ScriptExited& in) {
  if (in.module >= modules_.size()) return;
  Module& mod = modules_[in.module];
  const bool ok = in.exit_code == 0 && !in.timed_out;
  // The runner continues only when Reconcile drives it again, after re-deciding the role.
  const std::optional<ScriptOutcome> outcome = mod.runner.OnScriptExited(in.run_id, ok);
  if (!outcome) return;  // not the script we are waiting for
  MarkDirty(in.module);
  if (ok) return;
  const std::string what =
      absl::StrCat(ScriptKindName(outcome->kind),
                   in.timed_out ? " timed out" : absl::StrCat(" failed (exit ", in.exit_code, ")"));
  Log(in.module, what);
  switch (outcome->kind) {
    case ScriptKind::kStartPrim:
      OnApplicationFailed(now, in.module, what, /*failover_now=*/false);
      break;
    case ScriptKind::kPrestart:
    case ScriptKind::kStartSecond:
      mod.failed = true;
      mod.failed_reason = what;
      break;
    default:
      break;  // a stop script failing does not stop the stop sequence
  }
}

void Node::HandleCheckerFailed(absl::Time now, const CheckerFailed& in) {
  if (in.module >= modules_.size()) return;
  Module& mod = modules_[in.module];
  if (in.checker >= mod.config->checkers.size()) return;
  // Results from checkers we have stopped, or from a restart in progress, are stale.
  if (!mod.runner.checkers_running() || mod.runner.Busy() || mod.token.owner != self_) return;
  const CheckerConfig& checker = mod.config->checkers[in.checker];
  OnApplicationFailed(
      now, in.module,
      absl::StrCat("checker ", checker.name, " failed", in.detail.empty() ? "" : ": ", in.detail),
      checker.on_failure == OnFailure::kFailover);
}

void Node::OnApplicationFailed(absl::Time now, ModuleIndex m, const std::string& what,
                               bool failover_now) {
  Module& mod = modules_[m];
  if (!failover_now && mod.budget.TryConsume(now)) {
    Log(m, absl::StrCat(what, "; local restart ", mod.budget.used(now), " of ",
                        mod.config->restart_max));
    mod.runner.Restart(next_run_id_, out_);
  } else {
    mod.failed = true;
    mod.failed_reason = failover_now ? what : absl::StrCat(what, "; restart budget exhausted");
    Log(m, mod.failed_reason + "; failing over");
  }
  MarkDirty(m);
}

void Node::HandleAdmin(absl::Time now, const AdminCommand& in) {
  auto reply = [&](absl::Status status) {
    out_.push_back(AdminReply{in.request_id, std::move(status)});
  };
  if (in.module >= modules_.size()) {
    reply(absl::NotFoundError(absl::StrCat("no module with index ", in.module)));
    return;
  }
  const ModuleIndex m = in.module;
  Module& mod = modules_[m];
  const std::string& name = mod.config->name;
  const bool owner = mod.token.owner == self_;
  const bool peer_alive = liveness_.Alive(now);
  Log(m, absl::StrCat("admin: ", AdminVerbName(in.verb), in.force ? " --force" : ""));
  MarkDirty(m);
  auto restart_here = [&] {
    if (mod.token.admin_stopped) {
      mod.token.admin_stopped = false;
      Persist(m);
    }
    mod.failed = false;
    mod.budget.Reset();
  };
  switch (in.verb) {
    case AdminVerb::kStart:
      restart_here();
      reply(absl::OkStatus());
      return;
    case AdminVerb::kStop:
      mod.token.admin_stopped = true;
      mod.admin_claim = false;
      Persist(m);
      reply(absl::OkStatus());
      return;
    case AdminVerb::kDiscard:
      if (data_source_ != DataStateSource::kReplication) {
        reply(absl::FailedPreconditionError(absl::StrCat(name, ": no replication engine here")));
        return;
      }
      reply(mod.replica.DiscardMyData(out_));
      return;
    case AdminVerb::kRestart:
      if (mod.runner.Busy()) {
        reply(absl::UnavailableError(absl::StrCat(name, ": a script is running; retry later")));
        return;
      }
      restart_here();
      mod.runner.Restart(next_run_id_, out_);
      reply(absl::OkStatus());
      return;
    case AdminVerb::kSwap:
    case AdminVerb::kSecond:
    case AdminVerb::kPrim: {
      const bool to_peer = in.verb == AdminVerb::kSwap ? owner : in.verb == AdminVerb::kSecond;
      if (to_peer) {
        if (!owner) {  // `second` where the peer already owns it: just run as secondary
          restart_here();
          reply(absl::OkStatus());
          return;
        }
        if (!PeerEligible(now, mod)) {
          reply(absl::FailedPreconditionError(
              absl::StrCat(name, ": the peer is not an up-to-date secondary")));
          return;
        }
        mod.handoff = true;
        mod.handoff_by_admin = true;
        reply(absl::OkStatus());
        return;
      }
      // The module should come here.
      if (owner) {
        if (!DataAllowsPrimary(mod) && !in.force) {
          reply(absl::FailedPreconditionError(absl::StrCat(
              name, ": data is ", DataStateName(mod.data), " here; use --force to promote")));
          return;
        }
        restart_here();
        mod.forced = mod.forced || in.force;
        mod.handoff = false;
        reply(absl::OkStatus());
        return;
      }
      if (peer_alive) {
        if (!SelfEligible(mod)) {
          reply(absl::FailedPreconditionError(
              absl::StrCat(name, ": this node is not an up-to-date secondary")));
          return;
        }
        out_.push_back(SendPeer{kAllLinks, SwapRequest{self_, name, mod.token.term}});
        reply(absl::OkStatus());
        return;
      }
      if (mod.data != DataState::kUpToDate && !in.force) {
        reply(absl::FailedPreconditionError(absl::StrCat(
            name, ": peer lost and data is ", DataStateName(mod.data), " here; use --force")));
        return;
      }
      restart_here();
      mod.forced = mod.forced || in.force;
      mod.admin_claim = true;  // takes over (with a witness, once the lease is granted)
      reply(absl::OkStatus());
      return;
    }
  }
}

void Node::HandleDataState(const DataStateChanged& in) {
  if (in.module >= modules_.size() || data_source_ != DataStateSource::kExternal) return;
  Module& mod = modules_[in.module];
  if (mod.data != in.state) {
    Log(in.module, absl::StrCat("data ", DataStateName(mod.data), " -> ", DataStateName(in.state)));
  }
  mod.data = in.state;
  mod.sync_percent = in.sync_percent;
  if (in.state == DataState::kUpToDate) mod.forced = false;
  MarkDirty(in.module);
}

void Node::Settle(absl::Time now) {
  // Reconcile may mark more modules dirty (e.g. a claim); keep going until quiet.
  for (size_t i = 0; i < dirty_.size(); ++i) {
    const ModuleIndex m = dirty_[i];
    is_dirty_[m] = false;
    Reconcile(now, m);
  }
  dirty_.clear();
  if (heartbeat_now_) SendHeartbeat(now);
}

void Node::Reconcile(absl::Time now, ModuleIndex m) {
  Module& mod = modules_[m];
  std::string reason;
  AppRole target;
  if (mod.token.owner == self_) {
    target = DecideOwnerRole(now, m, mod, reason);
  } else if (mod.token.admin_stopped) {
    target = AppRole::kNone;
    reason = "stopped by the admin";
  } else {
    target = DecideNonOwnerRole(now, m, mod, reason);
  }
  mod.runner.Drive(target, next_run_id_, out_);
  // The peer took the module over while our last writes were in flight (we had already
  // stopped writing, so no fence ran): they were never acknowledged, and now fail, so that
  // the replica can become secondary. A planned handover passes the token only once drained.
  if (mod.token.owner != self_ && !mod.runner.writable() && !mod.replica.drained()) {
    mod.replica.Fence(out_);
  }
  // The replica writes while the module is writable here; it gives the primary role up only
  // once everything it sent is acknowledged (the stream drains).
  if (mod.runner.writable()) {
    mod.replica.SetRole(now, ReplRole::kPrimary, out_);
  } else if (mod.replica.drained()) {
    mod.replica.SetRole(now, ReplRole::kSecondary, out_);
  }
  mod.replica.OnTick(now, out_);
  // Writes made alone complete once the peer cannot take over with its older copy: it says
  // its copy is not up to date, or it is gone. With a witness, "gone" is the witness's
  // record that the peer's copy is outdated (it then refuses the peer the lease): a peer
  // that is only cut off from us may still reach the witness once our lease ends. Without
  // one, a partition that only looks like a death is the split brain the generations catch.
  if (mod.replica.writing_alone()) {
    if (config_.witness && mod.token.owner == self_) RequestLeaseIfDue(now, mod);
    const bool peer_gone = config_.witness ? mod.lease.outdate_recorded() : !liveness_.Alive(now);
    if (peer_gone || (mod.peer_view && mod.peer_view->data != DataState::kUpToDate &&
                      mod.peer_view->term == mod.token.term)) {
      mod.replica.OnPeerOutdated(now, out_);
    }
  }
  if (data_source_ == DataStateSource::kReplication) {
    mod.data = mod.replica.data_state();
    mod.sync_percent = mod.replica.sync_percent();
  }
  if (mod.token.owner == self_ && mod.runner.writable() && !liveness_.Alive(now) &&
      !mod.token.wrote_alone) {
    mod.token.wrote_alone = true;
    Persist(m);
  }
  UpdateShownState(now, m, reason);
  UpdateDeadline(now, m);
}

AppRole Node::DecideOwnerRole(absl::Time now, ModuleIndex m, Module& mod, std::string& reason) {
  if (config_.witness) {
    // Whatever else is going on (a handover, a restart), a writer without authority stops.
    if (mod.runner.role() == AppRole::kPrimary) RequestLeaseIfDue(now, mod);
    if (mod.runner.writable() && !HasAuthority(now, mod)) {
      FenceNow(m, "neither the peer's acknowledgement nor the witness lease is current");
    }
  }
  const bool peer_ok = PeerEligible(now, mod);
  if (!mod.handoff && peer_ok && mod.config->failback == Failback::kAuto && !mod.token.pinned &&
      self_ != mod.config->default_primary && mod.runner.role() == AppRole::kPrimary &&
      !mod.runner.Busy()) {
    Log(m, "failback: the default primary is an up-to-date secondary again");
    mod.handoff = true;
  }
  // The handshake chose the peer's copy (a split brain's policy, or writes it acknowledged
  // alone): the module goes where its data survives, unless the admin placed it here.
  const bool copy_lost = mod.replica.peer_copy_survives() && !mod.token.pinned;
  const bool must_leave =
      mod.token.admin_stopped || mod.failed || !DataAllowsPrimary(mod) || copy_lost;
  if (copy_lost && peer_ok && !mod.leaving_for_peer_copy) {
    mod.leaving_for_peer_copy = true;
    Log(m, "split brain: the peer's copy survives; handing the module over to it");
  }
  // A copy that a resync is overwriting cannot serve: a handover in progress goes on (the
  // peer's view may lag the handshake that made this copy the target).
  if (mod.handoff && !peer_ok && !mod.replica.resync_target()) {
    mod.handoff = false;
    mod.handoff_by_admin = false;
    Log(m, "handover cancelled: the peer is no longer an up-to-date secondary");
  }
  if (mod.handoff || (must_leave && peer_ok)) {
    // Demote fully first; only then pass the token, so there is never a second writer.
    const AppRole here = mod.token.admin_stopped ? AppRole::kNone : AppRole::kSecondary;
    // Writes still held for an outdate will be discarded with this copy (whoever asked for
    // the handover: the split brain's verdict, or the admin): they fail.
    if (mod.replica.peer_copy_survives() && mod.runner.role() != AppRole::kPrimary &&
        !mod.runner.Busy()) {
      mod.replica.Fence(out_);
    }
    if (mod.runner.role() != AppRole::kPrimary && !mod.runner.Busy() && mod.replica.drained()) {
      PassToPeer(mod, m);
      return DecideNonOwnerRole(now, m, mod, reason);
    }
    reason = "handing over to the peer";
    return here;
  }
  if (mod.token.admin_stopped) {
    reason = "stopped by the admin";
    return AppRole::kNone;
  }
  if (mod.failed) {
    reason = mod.failed_reason + "; no up-to-date secondary to fail over to";
    return AppRole::kNone;
  }
  if (!DataAllowsPrimary(mod)) {
    reason = absl::StrCat("data is ", DataStateName(mod.data),
                          " here and the peer is not an up-to-date secondary");
    return AppRole::kNone;
  }
  if (config_.witness) {
    RequestLeaseIfDue(now, mod);  // kept fresh so that we can outlive a partition
    if (!HasAuthority(now, mod)) {
      reason = mod.lease.refused_by()
                   ? LeaseRefusal(mod)
                   : "waiting for the peer's acknowledgement or the witness lease";
      return AppRole::kNone;
    }
  }
  return AppRole::kPrimary;
}

AppRole Node::DecideNonOwnerRole(absl::Time now, ModuleIndex m, Module& mod, std::string& reason) {
  if (mod.token.admin_stopped) {
    reason = "stopped by the admin";
    return AppRole::kNone;
  }
  if (liveness_.Alive(now)) {
    if (mod.failed) reason = mod.failed_reason + "; not eligible until restarted by the admin";
    return AppRole::kSecondary;
  }
  if (!mod.config->failover && !mod.admin_claim) {
    reason = "peer lost; failover = off (duetctl prim takes over)";
    return AppRole::kSecondary;
  }
  if (!DataAllowsPrimary(mod)) {
    reason = absl::StrCat("peer lost; data is ", DataStateName(mod.data), " here");
    return AppRole::kNone;
  }
  if (config_.witness && !mod.lease.Valid(now)) {
    RequestLeaseIfDue(now, mod);
    reason = mod.lease.refused_as_outdated()
                 ? absl::StrCat("peer lost; the witness records this copy as outdated (",
                                config_.nodes[*mod.lease.refused_by()].name,
                                " wrote without it); duetctl prim --force takes over anyway")
             : mod.lease.refused_by() ? "peer lost; " + LeaseRefusal(mod)
                                      : "peer lost; waiting for the witness lease";
    return AppRole::kSecondary;
  }
  Claim(mod, m, mod.admin_claim ? "admin prim with the peer lost" : "peer lost");
  return DecideOwnerRole(now, m, mod, reason);
}

std::string Node::LeaseRefusal(const Module& mod) const {
  // The witness names the requester itself only while it grants nothing: it restarted and
  // waits out any lease it may have granted before.
  if (*mod.lease.refused_by() == self_) {
    return "the witness grants no lease yet (it restarted and waits out the leases it may "
           "have granted)";
  }
  return absl::StrCat("lost arbitration: the witness lease is held by ",
                      config_.nodes[*mod.lease.refused_by()].name);
}

void Node::FenceNow(ModuleIndex m, const std::string& why) {
  Module& mod = modules_[m];
  Log(m, "fencing: " + why);
  mod.runner.Fence(out_);
  mod.replica.Fence(out_);
  MarkDirty(m);
}

void Node::Claim(Module& mod, ModuleIndex m, const char* why) {
  mod.token.term += 1;
  mod.token.owner = self_;
  mod.token.pinned = mod.admin_claim;
  mod.handoff = false;
  mod.admin_claim = false;
  mod.failed = false;
  mod.budget.Reset();
  mod.peer_ack_until = absl::InfinitePast();
  Persist(m);
  Log(m, absl::StrCat("taking over (", why, "), term ", mod.token.term));
  heartbeat_now_ = true;
}

void Node::PassToPeer(Module& mod, ModuleIndex m) {
  mod.token.term += 1;
  mod.token.owner = Peer(self_);
  mod.token.pinned = mod.handoff_by_admin;
  mod.handoff_by_admin = false;
  mod.handoff = false;
  mod.leaving_for_peer_copy = false;
  mod.forced = false;
  mod.peer_ack_until = absl::InfinitePast();
  mod.lease.Drop();
  Persist(m);
  Log(m,
      absl::StrCat("handed over to ", config_.nodes[Peer(self_)].name, ", term ", mod.token.term));
  heartbeat_now_ = true;
}

void Node::UpdateShownState(absl::Time now, ModuleIndex m, const std::string& reason) {
  Module& mod = modules_[m];
  ModuleState state;
  const AppRole role = mod.runner.role();
  if (role == AppRole::kPrimary && mod.runner.writable()) {
    const bool replica = liveness_.Alive(now) && mod.peer_view &&
                         mod.peer_view->state == ModuleState::kSecond &&
                         mod.peer_view->data == DataState::kUpToDate &&
                         (data_source_ == DataStateSource::kExternal || mod.replica.attached());
    state = replica ? ModuleState::kPrim : ModuleState::kAlone;
  } else if (role == AppRole::kSecondary) {
    state = ModuleState::kSecond;
  } else if (mod.token.admin_stopped && !mod.runner.Busy()) {
    state = ModuleState::kStop;
  } else {
    state = ModuleState::kWait;
  }
  std::string shown_reason = reason;
  if (state == ModuleState::kWait && shown_reason.empty()) {
    shown_reason = mod.runner.Busy() ? "changing role" : "starting";
  }
  if (state != mod.shown || shown_reason != mod.reason) {
    if (state != mod.shown) {
      Log(m, absl::StrCat(ModuleStateName(mod.shown), " -> ", ModuleStateName(state),
                          shown_reason.empty() ? "" : ": ", shown_reason));
    }
    mod.shown = state;
    mod.reason = shown_reason;
    heartbeat_now_ = true;
  }
}

void Node::UpdateDeadline(absl::Time now, ModuleIndex m) {
  Module& mod = modules_[m];
  absl::Time next = absl::InfiniteFuture();
  if (config_.witness) {
    if (mod.token.owner == self_ && mod.runner.writable()) {
      next = std::max(mod.peer_ack_until, mod.lease.valid_until());  // fence then
    }
    const bool wants_lease = (mod.token.owner == self_ && mod.runner.role() == AppRole::kPrimary) ||
                             (mod.token.owner != self_ && !liveness_.Alive(now));
    if (wants_lease) next = std::min(next, mod.lease.next_request_at());
  }
  next = std::min(next, mod.replica.NextDeadline());
  deadlines_.Set(m, next > now ? next : absl::InfiniteFuture());
}

void Node::RequestLeaseIfDue(absl::Time now, Module& mod) {
  // The peer lacks what this node acknowledged alone until a resync from here clears
  // alone_acked: say so after writing stops too (fenced, stopping, restarted), or the
  // witness forgets the outdate and may later grant the peer's older copy the lease.
  const bool alone = mod.token.owner == self_ &&
                     (mod.replica.writing_alone() || mod.replica.durable().alone_acked);
  if (auto request = mod.lease.RequestIfDue(now, self_, mod.config->name, next_request_id_, alone,
                                            mod.forced)) {
    out_.push_back(SendWitness{*std::move(request)});
  }
}

bool Node::HasAuthority(absl::Time now, const Module& mod) const {
  if (!config_.witness) return true;
  return now < mod.peer_ack_until || mod.lease.Valid(now);
}

bool Node::PeerEligible(absl::Time now, const Module& mod) const {
  // Writes made alone here were acknowledged since the pair was last in sync: the peer lacks
  // them whatever it says (it may never have heard the outdate: the witness recorded it, or
  // it was declared lost). It is eligible again once resynced from this copy.
  // Not so if the handshake chose the peer's copy (it survives, or resyncs into ours).
  if (mod.replica.durable().alone_acked && !mod.replica.peer_copy_survives() &&
      !mod.replica.resync_target()) {
    return false;
  }
  return liveness_.Alive(now) && mod.peer_view && mod.peer_view->eligible &&
         mod.peer_view->data == DataState::kUpToDate && mod.peer_view->term == mod.token.term;
}

bool Node::SelfEligible(const Module& mod) const {
  return !mod.token.admin_stopped && !mod.failed && mod.data == DataState::kUpToDate &&
         mod.runner.role() == AppRole::kSecondary && !mod.runner.Busy();
}

ModuleView Node::ViewOf(const Module& mod) const {
  ModuleView view;
  view.module = mod.config->name;
  view.state = mod.shown;
  view.data = mod.data;
  view.sync_percent = mod.sync_percent;
  view.term = mod.token.term;
  view.owner = mod.token.owner;
  view.eligible = mod.token.owner != self_ && SelfEligible(mod);
  view.pinned = mod.token.pinned;
  view.writing_alone = mod.token.owner == self_ && mod.replica.writing_alone();
  return view;
}

ModuleStatus Node::Status(ModuleIndex m) const {
  const Module& mod = modules_[m];
  ModuleStatus status;
  status.state = mod.shown;
  status.reason = mod.reason;
  status.data = mod.data;
  status.sync_percent = mod.sync_percent;
  status.term = mod.token.term;
  status.owner = mod.token.owner;
  status.app_role = mod.runner.role();
  status.running_script = mod.runner.running_script();
  status.writable = mod.runner.writable();
  status.vip_assigned = mod.runner.vip_assigned();
  status.resync = mod.replica.resync_status(last_now_);
  status.replication_lag_bytes = mod.replica.lag_bytes();
  status.replication_refused = mod.replica.refused_reason();
  return status;
}

void Node::Persist(ModuleIndex m) { out_.push_back(PersistModule{m, modules_[m].token}); }

void Node::SendHeartbeat(absl::Time now) {
  Heartbeat hb;
  hb.from = self_;
  hb.incarnation = incarnation_;
  hb.seq = next_seq_++;
  hb.sent_at_ns = absl::ToUnixNanos(now);
  hb.echo_sent_at_ns = peer_sent_at_ns_;
  hb.modules.reserve(modules_.size());
  for (const Module& mod : modules_) hb.modules.push_back(ViewOf(mod));
  out_.push_back(SendPeer{kAllLinks, std::move(hb)});
  // A little jitter keeps the two nodes' heartbeats from falling into lockstep.
  const int64_t interval_ns = absl::ToInt64Nanoseconds(config_.heartbeat.interval);
  next_heartbeat_at_ =
      now + absl::Nanoseconds(interval_ns - static_cast<int64_t>(rng_.Below(
                                                static_cast<uint64_t>(interval_ns / 10 + 1))));
  heartbeat_now_ = false;
}

void Node::MarkDirty(ModuleIndex m) {
  if (is_dirty_[m]) return;
  is_dirty_[m] = true;
  dirty_.push_back(m);
}

void Node::MarkAllDirty() {
  for (ModuleIndex m = 0; m < modules_.size(); ++m) MarkDirty(m);
}

void Node::Log(std::optional<ModuleIndex> m, std::string text) {
  if (m) text = absl::StrCat(config_.modules[*m].name, ": ", text);
  out_.push_back(LogEvent{m, std::move(text)});
}

}  // namespace duet
