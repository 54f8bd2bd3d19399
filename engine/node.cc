// Node, first half of a step: the inputs (DESIGN.md §2). Each handler updates the facts
// it brings (the peer's liveness and views, tokens, leases, script and checker results,
// admin requests, the data verdict) and marks the modules it touches dirty; the second half,
// node_reconcile.cc, then re-decides them.
#include "engine/node.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/admin_verbs.h"
#include "engine/overloaded.h"
#include "engine/ownership.h"
#include "engine/role_decision.h"

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
      authority(cluster.witness) {}

Node::Node(const Config& config, NodeIndex self, uint64_t seed, PersistedNode persisted,
           absl::Time now, const DataStateSource& data)
    : config_(config),
      self_(self),
      data_source_(data),
      rng_(seed),
      incarnation_(persisted.incarnation + 1),
      // Heartbeat links, then the replication connection, which counts as a link too.
      liveness_(static_cast<int>(config.nodes[self].heartbeat.size()) + 1, config.heartbeat.timeout,
                now),
      heartbeats_(self, incarnation_, config.heartbeat.interval),
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
    modules_.back().data = data_source_.Verdict(index, modules_.back().replica);
    by_name_[mc.name] = index;
    auto it = persisted.modules.find(mc.name);
    modules_.back().token =
        it != persisted.modules.end() ? it->second : PersistedModule{0, mc.default_primary, false};
    if (auto problem = persisted.problems.find(mc.name); problem != persisted.problems.end()) {
      modules_.back().problem = problem->second;
    }
  }
}

Actions Node::Start(absl::Time now, bool lost_unsynced,
                    const std::vector<ModuleIndex>& took_in_existing) {
  out_.push_back(PersistIncarnation{incarnation_});
  for (ModuleIndex m = 0; m < modules_.size(); ++m) {
    if (!modules_[m].problem.empty()) {
      Log(m, "metadata not recovered (" + modules_[m].problem + "): waiting for the admin");
      continue;
    }
    modules_[m].replica.OnStart(lost_unsynced, out_);
  }
  for (ModuleIndex m : took_in_existing) {
    if (m < modules_.size() && modules_[m].problem.empty()) {
      modules_[m].replica.TakeInExistingData(out_);
    }
  }
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
  // A source other than the replicas changes between steps: its news comes first.
  for (ModuleIndex m = 0; m < modules_.size(); ++m) TakeVerdict(m);
  std::visit(Overloaded{
                 [&](const Tick&) {},
                 [&](const PeerReceived& in) { HandlePeer(now, in); },
                 [&](const WitnessReceived& in) { HandleWitness(in); },
                 [&](const ScriptExited& in) { HandleScriptExited(now, in); },
                 [&](const CheckerFailed& in) { HandleCheckerFailed(now, in); },
                 [&](const AdminCommand& in) { HandleAdmin(now, in); },
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
                 [&](const DivergentPreserved& in) {
                   if (in.module >= modules_.size()) return;
                   modules_[in.module].replica.OnDivergentPreserved(now, in, out_);
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
                     if (!modules_[m].problem.empty()) continue;
                     modules_[m].replica.OnConnected(now, out_);
                     AfterReplica(m);
                   }
                 },
                 [&](const ReplicationDisconnected&) {
                   Log(std::nullopt, "replication connection down");
                   for (ModuleIndex m = 0; m < modules_.size(); ++m) {
                     if (!modules_[m].problem.empty()) continue;
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
  absl::Time next = std::min(heartbeats_.next_at(), deadlines_.Earliest());
  if (peer_was_alive_) next = std::min(next, liveness_.LostAt());
  return next;
}

std::vector<bool> Node::PeerLinksHeard(absl::Time now) const {
  std::vector<bool> heard;
  for (int link = 0; link < liveness_.links(); ++link) {
    heard.push_back(liveness_.LinkHeard(link, now));
  }
  return heard;
}

// After a split brain the peer may have served the module and announced its VIPs, so clients
// may send to its link address: the owner holding them announces them again.
void Node::AnnounceVipsAgain(ModuleIndex m, absl::string_view why) {
  const Module& mod = modules_[m];
  if (mod.token.owner != self_ || !mod.runner.vip_assigned()) return;
  Log(m, absl::StrCat(why, ": announcing its VIPs again"));
  out_.push_back(SetVip{m, true});
}

// Whatever time alone changes: the peer's liveness, module deadlines, the heartbeat.
void Node::HandleTick(absl::Time now) {
  const bool alive = liveness_.Alive(now);
  if (alive != peer_was_alive_) {
    peer_was_alive_ = alive;
    if (!alive) peer_lost_at_ = now;
    Log(std::nullopt, alive ? "peer " + config_.nodes[Peer(self_)].name + " is back"
                            : "peer " + config_.nodes[Peer(self_)].name +
                                  " lost: every heartbeat link silent for " +
                                  absl::FormatDuration(config_.heartbeat.timeout));
    MarkAllDirty();
    for (ModuleIndex m = 0; m < modules_.size(); ++m) {
      Module& mod = modules_[m];
      mod.replica.SetPeerReachable(now, alive, out_);
      AfterReplica(m);
      // It may have claimed the module and announced its VIPs while it could not see this
      // node; it yields within a heartbeat or two, inside the announcements' rounds.
      if (alive) AnnounceVipsAgain(m, "peer back");
    }
    if (!alive) {
      // A primary that goes on alone starts a new term, so that if the peer claimed the module
      // meanwhile (a partition, no witness) the two claims meet at the same term and the
      // split brain is seen when the peers meet again.
      for (ModuleIndex m = 0; m < modules_.size(); ++m) {
        Module& mod = modules_[m];
        if (mod.token.owner == self_ && mod.runner.role() == AppRole::kPrimary) {
          mod.token = ContinuedAlone(mod.token);
          mod.authority.ForgetAck();
          Persist(m);
          Log(m, absl::StrCat("continuing alone, term ", mod.token.term));
        }
      }
    }
  }
  for (ModuleIndex m : deadlines_.PopDue(now)) MarkDirty(m);
  if (now >= heartbeats_.next_at()) heartbeat_now_ = true;
}

void Node::HandlePeer(absl::Time now, const PeerReceived& in) {
  std::visit(Overloaded{
                 [&](const Heartbeat& hb) {
                   if (hb.from != Peer(self_)) {
                     Log(std::nullopt, "dropped a heartbeat claiming to be from this node");
                     return;
                   }
                   const Heartbeats::Received received = heartbeats_.Receive(hb);
                   if (received.proves_link) liveness_.Heard(in.link, now);
                   if (received.peer_restarted) {
                     Log(std::nullopt,
                         absl::StrCat("peer restarted (incarnation ", hb.incarnation, ")"));
                   }
                   if (received.news) HandleHeartbeat(now, hb);
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
  if (found == by_name_.end() || !modules_[found->second].problem.empty()) return;
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

void Node::TakeVerdict(ModuleIndex m) {
  Module& mod = modules_[m];
  const DataVerdict verdict = data_source_.Verdict(m, mod.replica);
  if (verdict == mod.data) return;
  const DataStateSource::Rules rules = data_source_.rules();
  if (verdict.state != mod.data.state) {
    Log(m,
        absl::StrCat("data ", DataStateName(mod.data.state), " -> ", DataStateName(verdict.state)));
  }
  if (rules.announce_change) heartbeat_now_ = true;
  mod.force.OnVerdict(verdict.state, rules.up_to_date_ends_force);
  mod.data = verdict;
  MarkDirty(m);
}

void Node::AfterReplica(ModuleIndex m) {
  TakeVerdict(m);
  MarkDirty(m);
}

absl::string_view FailoverCauseName(FailoverCause cause) {
  switch (cause) {
    case FailoverCause::kPeerLost:
      return "peer lost";
    case FailoverCause::kAdminPrim:
      return "admin prim";
    case FailoverCause::kAppFailed:
      return "app failed";
  }
  return "unknown";
}

void Node::HandleHeartbeat(absl::Time now, const Heartbeat& hb) {
  const absl::Time ack_until =
      PeerAckUntil(now, hb.echo_sent_at_ns, config_.heartbeat.timeout, DriftMargin(config_));
  for (const ModuleView& view : hb.modules) {
    auto found = by_name_.find(view.module);
    if (found == by_name_.end()) continue;  // config mismatch; see ModuleView docs
    HandlePeerView(now, found->second, view, ack_until);
  }
}

// The peer's view of one module: its token meets ours (engine/ownership.h).
void Node::HandlePeerView(absl::Time now, ModuleIndex m, const ModuleView& view,
                          absl::Time ack_until) {
  Module& mod = modules_[m];
  if (!mod.problem.empty()) return;  // its token is unknown here: nothing to merge into
  bool changed = !mod.peer_view || *mod.peer_view != view;
  const MergedToken merged = Merge(mod.token, view, mod.config->default_primary);
  switch (merged.merge) {
    case TokenMerge::kKept:
      break;
    case TokenMerge::kPeerNewer:
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
      mod.admin_claim = false;
      break;
    case TokenMerge::kBothClaimed:
      // Both sides claimed this term while they could not see each other (split brain).
      Log(m, absl::StrCat("split brain: both nodes claimed term ", view.term, "; default primary ",
                          config_.nodes[merged.token.owner].name, " keeps the module"));
      if (merged.token.owner != self_ && mod.runner.writable()) {
        FenceNow(m, "split brain: yielding");
      }
      break;
  }
  if (merged.merge != TokenMerge::kKept) {
    const bool handed_here_by_peer = mod.token.owner != self_ && merged.token.owner == self_;
    mod.token = merged.token;
    if (mod.token.owner != self_) {
      mod.failover_pending.reset();
      mod.force.OnTokenNamingPeer();
    }
    if (handed_here_by_peer && view.app_failed) {
      // Not a planned handover: the application failed there, so it is timed as a failover.
      mod.failover_pending = FailoverRecord{
          .from = Peer(self_), .cause = FailoverCause::kAppFailed, .began = now, .completed = now};
    }
    mod.handoff = false;
    mod.handoff_by_admin = false;
    mod.handoff_deferred = false;
    mod.authority.ForgetAck();
    Persist(m);
    changed = true;
  }
  if (AcknowledgesOwner(mod.token, view, self_) && mod.authority.Acknowledged(ack_until)) {
    changed = true;  // the fencing deadline moved
  }
  if (Agree(mod.token, view)) {
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
  if (changed && merged.token.owner == self_ && view.owner != self_) {
    AnnounceVipsAgain(m, "the peer claimed this module while this node kept it");
  }
  mod.peer_view = view;
  if (changed) MarkDirty(m);
}

void Node::HandleSwapRequest(const SwapRequest& request) {
  auto found = by_name_.find(request.module);
  if (found == by_name_.end()) return;
  Module& mod = modules_[found->second];
  if (mod.token.owner != self_ || request.term != mod.token.term) return;
  Log(found->second, "peer asked for the module (swap)");
  mod.handoff = true;
  mod.handoff_by_admin = true;
  mod.handoff_deferred = false;
  MarkDirty(found->second);
}

void Node::HandleWitness(const WitnessReceived& in) {
  auto found = by_name_.find(in.reply.module);
  if (found == by_name_.end()) return;
  if (in.reply.cluster != config_.cluster_name) {
    Log(found->second, "ignored a witness reply for cluster '" + in.reply.cluster + "'");
    return;
  }
  modules_[found->second].authority.lease().OnReply(in.reply);
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
  if (ok && outcome->kind == ScriptKind::kStartPrim && mod.failover_pending) {
    mod.failover_pending->completed = now;
    mod.last_failover = std::exchange(mod.failover_pending, std::nullopt);
    Log(in.module,
        absl::StrCat("failover from ", config_.nodes[mod.last_failover->from].name, " (",
                     FailoverCauseName(mod.last_failover->cause),
                     ") complete: start_prim succeeded ",
                     absl::FormatDuration(mod.last_failover->duration()), " after its cause"));
  }
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
  if (in.module >= modules_.size()) {
    out_.push_back(AdminReply{
        in.request_id, absl::NotFoundError(absl::StrCat("no module with index ", in.module))});
    return;
  }
  const ModuleIndex m = in.module;
  Module& mod = modules_[m];
  if (!mod.problem.empty()) {
    out_.push_back(
        AdminReply{in.request_id,
                   absl::FailedPreconditionError(absl::StrCat(
                       mod.config->name, ": ", mod.problem,
                       "; nothing runs until its metadata is repaired or removed (then the module "
                       "resyncs from the peer) and duetd restarts"))});
    return;
  }
  Log(m, absl::StrCat("admin: ", AdminVerbName(in.verb), in.force ? " --force" : ""));
  MarkDirty(m);
  const AdminPlan plan =
      PlanAdmin({.verb = in.verb,
                 .force = in.force,
                 .module = mod.config->name,
                 .owner = mod.token.owner == self_,
                 .peer_alive = liveness_.Alive(now),
                 .peer_eligible = PeerEligible(now, mod),
                 .self_eligible = SelfEligible(mod),
                 .data = mod.data.state,
                 .data_allows_primary = DataAllowsPrimary(mod.data.state, mod.force.counts()),
                 .busy = mod.runner.Busy()});
  if (plan.discard) {
    out_.push_back(AdminReply{in.request_id, data_source_.Discard(m, mod.replica, out_)});
    return;
  }
  if (plan.stop) {
    mod.token.admin_stopped = true;
    mod.admin_claim = false;
    Persist(m);
  }
  if (plan.run_here) {
    if (mod.token.admin_stopped) {
      mod.token.admin_stopped = false;
      Persist(m);
    }
    mod.failed = false;
    mod.budget.Reset();
  }
  if (plan.restart_app) mod.runner.Restart(next_run_id_, out_);
  if (plan.hand_to_peer) {
    mod.handoff = true;
    mod.handoff_by_admin = true;
    mod.handoff_deferred = false;
  }
  if (plan.take_here) {
    mod.force.OnCommand(in.force);
    mod.handoff = false;
    mod.handoff_by_admin = false;
    mod.handoff_deferred = false;
  }
  if (plan.ask_peer) {
    out_.push_back(SendPeer{kAllLinks, SwapRequest{self_, mod.config->name, mod.token.term}});
  }
  if (plan.claim) {
    mod.force.OnCommand(in.force);
    mod.admin_claim = true;  // takes over (with a witness, once the lease is granted)
  }
  out_.push_back(AdminReply{in.request_id, plan.status});
}

ModuleStatus Node::Status(ModuleIndex m) const {
  const Module& mod = modules_[m];
  ModuleStatus status;
  status.state = mod.shown;
  status.reason = mod.reason;
  status.data = mod.data.state;
  status.sync_percent = mod.data.sync_percent;
  status.term = mod.token.term;
  status.owner = mod.token.owner;
  status.app_role = mod.runner.role();
  status.running_script = mod.runner.running_script();
  status.writable = mod.runner.writable();
  status.vip_assigned = mod.runner.vip_assigned();
  status.resync = mod.replica.resync_status(last_now_);
  status.replication_lag_bytes = mod.replica.lag_bytes();
  status.activity_log_zones = mod.replica.durable().hot.zones();
  status.replication_refused = mod.replica.refused_reason();
  status.last_failover = mod.last_failover;
  return status;
}

void Node::Persist(ModuleIndex m) { out_.push_back(PersistModule{m, modules_[m].token}); }

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
