#include "sim/cluster.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/overloaded.h"

namespace duet::sim {
namespace {

constexpr absl::Duration kOracleInterval = absl::Milliseconds(50);
// Replication mode: the application issues an operation per module every 5..50 ms, with at
// most this many of its calls in flight.
constexpr absl::Duration kWorkloadMin = absl::Milliseconds(5);
constexpr absl::Duration kWorkloadMax = absl::Milliseconds(50);
constexpr int kWorkloadOutstanding = 4;
// Disk: latency per operation, plus the transfer at this rate.
constexpr absl::Duration kDiskMin = absl::Microseconds(20);
constexpr absl::Duration kDiskMax = absl::Microseconds(800);
constexpr absl::Duration kDiskSlowMax = absl::Milliseconds(30);
constexpr double kDiskBytesPerSecond = 1e9;
// A stream write held back by a stream-gap swap waits at most this long past its delivery
// time for the next message of its module.
constexpr absl::Duration kSwapHoldMax = absl::Milliseconds(100);

uint64_t Fnv(uint64_t hash, const std::string& text) {
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

std::vector<NodeIndex> DefaultPrimaries(const Config& config) {
  std::vector<NodeIndex> result;
  for (const ModuleConfig& m : config.modules) result.push_back(m.default_primary);
  return result;
}

const std::string& ModuleOf(const ReplMessage& message) {
  return std::visit([](const auto& m) -> const std::string& { return m.module; }, message);
}

bool IsStartScript(ScriptKind kind) {
  return kind == ScriptKind::kStartPrim || kind == ScriptKind::kStartSecond ||
         kind == ScriptKind::kPrestart;
}

}  // namespace

SimCluster::SimCluster(Config config, uint64_t seed, bool replication)
    : config_(std::move(config)),
      rng_(seed),
      now_(absl::UnixEpoch() + absl::Hours(1)),
      start_time_(now_),
      clocks_{DriftingClock(now_, now_, 0), DriftingClock(now_, now_, 0)},
      witness_clock_(now_, now_, 0),
      oracle_(DefaultPrimaries(config_), absl::Seconds(1)),
      writers_checker_(config_),
      lease_checker_(config_),
      scripts_checker_(config_),
      replication_(replication) {
  for (NodeIndex n = 0; n < 2; ++n) {
    links_[n].resize(config_.nodes[n].heartbeat.size());
    observed_[n].resize(config_.modules.size());
    for (Observed& obs : observed_[n]) obs.state = ModuleState::kWait;
  }
  AddChecker(&writers_checker_);
  AddChecker(&lease_checker_);
  AddChecker(&scripts_checker_);
  if (replication_) {
    const size_t modules = config_.modules.size();
    for (NodeIndex n = 0; n < 2; ++n) {
      stores_[n].resize(modules);
      disk_ops_[n].assign(modules, {});
      alone_since_synced_[n].assign(modules, false);
    }
    repl_next_at_.fill(absl::InfinitePast());
    split_.assign(modules, false);
    workload_.emplace(modules, rng_.Next());
  }
}

void SimCluster::Start() {
  // The witness has been up for a while: its start-up quiet period is over.
  if (config_.witness) {
    witness_.emplace(config_.witness->lease, witness_clock_.Local(now_) - config_.witness->lease);
  }
  for (NodeIndex n = 0; n < 2; ++n) RestartNode(n);
  if (!replication_) {
    Schedule(kOracleInterval, OracleTick{});
    return;
  }
  for (ModuleIndex m = 0; m < config_.modules.size(); ++m) {
    Schedule(absl::Nanoseconds(rng_.Between(absl::ToInt64Nanoseconds(kWorkloadMin),
                                            absl::ToInt64Nanoseconds(kWorkloadMax))),
             WorkloadTick{m});
  }
}

void SimCluster::SetClockOffset(NodeIndex n, absl::Duration offset) {
  assert(now_ == start_time_ && !nodes_[n]);
  clocks_[n] = DriftingClock(now_, now_ + offset, clocks_[n].drift_ppm());
}

void SimCluster::SetClockDrift(NodeIndex n, int64_t drift_ppm) {
  clocks_[n].SetDrift(now_, drift_ppm);
}

void SimCluster::SetWitnessClockDrift(int64_t drift_ppm) {
  witness_clock_.SetDrift(now_, drift_ppm);
}

void SimCluster::Schedule(absl::Duration after, EventBody body) {
  events_queue_.push(Event{now_ + after, next_seq_++, std::move(body)});
}

void SimCluster::RunFor(absl::Duration d) {
  const absl::Time end = now_ + d;
  while (true) {
    if (replication_) UpdateReplicationLink();
    absl::Time next = events_queue_.empty() ? absl::InfiniteFuture() : events_queue_.top().at;
    for (NodeIndex n = 0; n < 2; ++n) {
      if (nodes_[n]) next = std::min(next, clocks_[n].TrueAt(nodes_[n]->NextDeadline()));
    }
    if (next > end) break;
    now_ = std::max(now_, next);
    // Messages and completions due now first, in the order they were scheduled; then timers.
    if (!events_queue_.empty() && events_queue_.top().at <= now_) {
      Event event = events_queue_.top();
      events_queue_.pop();
      Process(event);
      continue;
    }
    for (NodeIndex n = 0; n < 2; ++n) {
      if (nodes_[n] && nodes_[n]->NextDeadline() <= LocalNow(n)) {
        ++stats_.ticks;
        StepNode(n, Tick{});
        if (nodes_[n] && nodes_[n]->NextDeadline() <= LocalNow(n)) {
          FlagViolation("deadlines move forward",
                        absl::StrCat("node ", config_.nodes[n].name,
                                     " did not move its deadline past now after a tick"));
          return;
        }
      }
    }
  }
  now_ = end;
}

void SimCluster::Process(const Event& event) {
  ++events_;
  std::visit(Overloaded{
                 [&](const DeliverPeer& d) {
                   if (!nodes_[d.to]) return;
                   for (ClusterObserver* o : observers_) {
                     o->OnPeerMessageDelivered(now_, d.to, d.link, d.message);
                   }
                   StepNode(d.to, PeerReceived{d.link, d.message});
                 },
                 [&](const DeliverToWitness& d) {
                   if (!witness_) return;
                   WitnessAnswer answer = witness_->Handle(witness_clock_.Local(now_), d.request);
                   if (answer.persist) ApplyOutdateRecord(witness_persisted_, *answer.persist);
                   LeaseReply reply = std::move(answer.reply);
                   const NodeIndex to = d.request.from;
                   if (reply.granted) {
                     if (const auto m = config_.FindModule(reply.module)) {
                       for (ClusterObserver* o : observers_) o->OnLeaseGranted(now_, to, *m);
                     }
                   }
                   ++stats_.witness_messages_sent;
                   if (Drop(witness_links_[to]) || Drop(witness_reply_links_[to])) {
                     ++stats_.witness_messages_lost;
                     return;
                   }
                   Schedule(Latency(witness_links_[to]), DeliverLeaseReply{to, std::move(reply)});
                 },
                 [&](const DeliverLeaseReply& d) {
                   if (nodes_[d.to]) StepNode(d.to, WitnessReceived{d.reply});
                 },
                 [&](const ScriptDone& d) {
                   if (!nodes_[d.node] || boots_[d.node] != d.boot) return;  // died with it
                   for (ClusterObserver* o : observers_) o->OnScriptEnded(now_, d.node, d.module);
                   StepNode(d.node, ScriptExited{d.module, d.run_id, d.exit_code, d.timed_out});
                 },
                 [&](const OracleTick&) {
                   FeedOracle();
                   Schedule(kOracleInterval, OracleTick{});
                 },
                 [&](const DeliverReplication& d) {
                   if (d.epoch != repl_epoch_ || !nodes_[d.to]) return;  // connection gone
                   if (debug_sink_) {
                     Debug(d.to, ModuleOf(d.message), "<- " + DescribeReplMessage(d.message));
                   }
                   for (ClusterObserver* o : observers_) o->OnReplicationDelivered(now_, d.to);
                   StepNode(d.to, ReplicationReceived{d.message});
                 },
                 [&](const DiskDone& d) { FinishDisk(d); },
                 [&](const ReleaseHeld& r) { ReleaseHeldWrite(r.from, r.hold_id); },
                 [&](const WorkloadTick& w) {
                   IssueWorkload(w.module);
                   Schedule(absl::Nanoseconds(rng_.Between(absl::ToInt64Nanoseconds(kWorkloadMin),
                                                           absl::ToInt64Nanoseconds(kWorkloadMax))),
                            WorkloadTick{w.module});
                 },
             },
             event.body);
}

void SimCluster::StepNode(NodeIndex n, const Input& input) {
  const Actions actions = nodes_[n]->Step(LocalNow(n), input);
  if (crash_mid_step_[n] && actions.size() >= 2) {
    // The machine dies while the daemon carries out this step: what came before the cut is
    // done (a persist is durable, a message is on the wire), the rest never happens.
    crash_mid_step_[n] = false;
    const size_t cut = 1 + rng_.Below(actions.size() - 1);
    Execute(n, Actions(actions.begin(), actions.begin() + static_cast<long>(cut)));
    Note(absl::StrCat("node ", config_.nodes[n].name, " crashes after ", cut, " of ",
                      actions.size(), " actions of one step"));
    CrashNode(n, /*lose_unsynced=*/true, /*torn=*/true);
    return;
  }
  Execute(n, actions);
}

void SimCluster::SetDiskFull(NodeIndex n, bool full) {
  for (MemStore& store : stores_[n]) {
    store.set_capacity(full ? store.used_bytes() : MemStore::kUnlimited);
  }
}

void SimCluster::SetModuleDiskFull(ModuleIndex m, bool full) {
  for (NodeIndex n = 0; n < 2; ++n) {
    MemStore& store = stores_[n][m];
    store.set_capacity(full ? store.used_bytes() : MemStore::kUnlimited);
  }
}

void SimCluster::SetDiskSyncFailure(NodeIndex n, bool fail) {
  for (MemStore& store : stores_[n]) store.set_sync_failure(fail);
}

void SimCluster::Execute(NodeIndex n, const Actions& actions) {
  for (const Action& action : actions) {
    std::visit(
        Overloaded{
            [&](const duet::SendPeer& send) { SendPeer(n, send); },
            [&](const SendWitness& send) {
              const LinkFaults& out = witness_links_[n];
              ++stats_.witness_messages_sent;
              if (Drop(out)) {
                ++stats_.witness_messages_lost;
                return;
              }
              Schedule(Latency(out), DeliverToWitness{send.request});
            },
            [&](const PersistModule& p) {
              persisted_[n].modules[config_.modules[p.module].name] = p.record;
              for (ClusterObserver* o : observers_) {
                o->OnTokenPersisted(now_, n, p.module, p.record);
              }
            },
            [&](const PersistIncarnation& p) { persisted_[n].incarnation = p.incarnation; },
            [&](const RunScript& run) { RunScriptAction(n, run); },
            [&](const SetCheckers& s) { observed_[n][s.module].checkers = s.running; },
            [&](const SetVip& s) {
              observed_[n][s.module].vip = s.assigned;
              for (ClusterObserver* o : observers_) o->OnVip(now_, n, s.module, s.assigned);
            },
            [&](const SetWritable& s) {
              observed_[n][s.module].writable = s.writable;
              if (s.writable) keep_aside_.BranchNoLongerOwed(n, s.module);
              for (ClusterObserver* o : observers_) {
                o->OnWritable(now_, n, s.module, s.writable);
              }
              if (replication_ && s.writable) CheckSplitBrain(n, s.module);
            },
            [&](const AdminReply& r) { admin_replies_[r.request_id] = r.status; },
            [&](const duet::SendReplication& send) {
              if (replication_) SendReplicationAction(n, send);
            },
            [&](const ApplyMutation& apply) {
              if (!replication_) return;
              SubmitDisk(n, apply.module, apply, apply.mutation.data_size());
            },
            [&](const ReadZone& read) {
              if (!replication_) return;
              SubmitDisk(n, read.module, read, read.length);
            },
            [&](const ListTree& list) {
              if (!replication_) return;
              SubmitDisk(n, list.module, list, 0);
            },
            [&](const PersistReplica& p) {
              if (!replication_) return;
              const ModuleConfig& mc = config_.modules[p.module];
              if (debug_sink_) {
                std::string kinds;
                for (const ReplicaRecord& r : p.records) absl::StrAppend(&kinds, " ", r.index());
                Debug(n, config_.modules[p.module].name,
                      absl::StrCat("persist ", p.records.size(), " records (kinds", kinds, ")"));
              }
              ReplicaDurableState& state = persisted_[n].replicas[mc.name];
              for (const ReplicaRecord& r : p.records) {
                ApplyRecord(state, r, mc.zone_size);
              }
            },
            [&](const CompleteLocal& c) {
              Debug(n, config_.modules[c.module].name,
                    absl::StrCat("complete op ", c.op_id, ": ", c.status.ToString()));
              if (workload_) {
                const bool alone = alone_since_synced_[n][c.module] ||
                                   nodes_[n]->Status(c.module).state == ModuleState::kAlone;
                workload_->Completed(c.op_id, c.status, alone);
              }
            },
            [&](const PreserveDivergent& p) {
              Trace(n, absl::StrCat(config_.modules[p.module].name, ": sim keeps ", p.paths.size(),
                                    " divergent paths aside"));
              // A disk operation of the module: answered in order with the others.
              if (replication_) SubmitDisk(n, p.module, p, 0);
            },
            [&](const LogEvent& e) {
              Trace(n, e.text);
              if (replication_ && e.module) {
                // Detected: one side's changes are being discarded (kept aside). Both may
                // have acknowledged writes alone one after the other, without ever being
                // writable at the same instant (no witness, a partition): what the
                // discarding node acknowledged may be gone.
                // Under the default policy the default primary's copy survives a split
                // brain: what it acknowledged is never an allowed loss (a loss shows at the
                // end), unless the admin chose otherwise.
                const ModuleConfig& mc = config_.modules[*e.module];
                const bool policy_keeps_mine =
                    mc.split_brain == SplitBrainPolicy::kDiscardNonDefault &&
                    mc.default_primary == n &&
                    e.text.find("resolved by the admin") == std::string::npos;
                if (e.text.find("split brain") != std::string::npos &&
                    e.text.find("discards its changes") != std::string::npos &&
                    !policy_keeps_mine) {
                  workload_->DiscardFrom(*e.module, n);
                }
                // The admin dropped this copy of unrelated data: what it acknowledged goes.
                if (e.text.find("unrelated data resolved by the admin: this node discards") !=
                    std::string::npos) {
                  workload_->DiscardFrom(*e.module, n);
                }
                // The data handshake decided (one copy is the source): the two writers'
                // changes are reconciled from here on. Not before: Node's own "split brain"
                // (both claimed a term) leaves the loser writable until it hears of it, and
                // while both write, an fsync on one makes durable only what that node wrote.
                if (e.text.find(": connected: ") != std::string::npos) {
                  workload_->Resolved(*e.module);
                  split_[*e.module] = false;
                }
              }
              if (replication_ && e.module && e.text.find("resync done: ") != std::string::npos &&
                  e.text.find(" bytes sent") != std::string::npos) {
                alone_since_synced_[n][*e.module] = false;  // the peer has it all now
              }
              if (!e.module || !nodes_[n] || observers_.empty()) return;
              // Every change of the state shown comes with a log event of the module.
              Observed& obs = observed_[n][*e.module];
              const ModuleState state = nodes_[n]->Status(*e.module).state;
              if (state == obs.state) return;
              if (replication_) {
                std::vector<bool>::reference alone = alone_since_synced_[n][*e.module];
                if (state == ModuleState::kAlone) alone = true;
                if (state == ModuleState::kPrim || state == ModuleState::kSecond) alone = false;
              }
              for (ClusterObserver* o : observers_) {
                o->OnModuleState(now_, n, *e.module, obs.state, state);
              }
              obs.state = state;
            },
        },
        action);
  }
}

void SimCluster::RunScriptAction(NodeIndex n, const RunScript& run) {
  ++stats_.scripts_run;
  for (ClusterObserver* o : observers_) o->OnScriptStarted(now_, n, run.module, run.kind);
  int exit_code = IsStartScript(run.kind) && rng_.Chance(scripts_.failure) ? 1 : 0;
  const absl::Duration latency =
      absl::Nanoseconds(rng_.Between(absl::ToInt64Nanoseconds(scripts_.latency_min),
                                     absl::ToInt64Nanoseconds(scripts_.latency_max)));
  Trace(n, absl::StrCat(config_.modules[run.module].name, ": run ", ScriptKindName(run.kind)));
  // The daemon kills a script at its timeout, measured on the node's own clock.
  const absl::Duration timeout =
      clocks_[n].TrueAt(LocalNow(n) + config_.modules[run.module].script_timeout) - now_;
  const bool hang = scripts_.hang > 0 && rng_.Chance(scripts_.hang);
  if (hang || latency >= timeout) {
    ++stats_.scripts_timed_out;
    Schedule(timeout, ScriptDone{n, boots_[n], run.module, run.run_id, -1, true});
    return;
  }
  if (exit_code != 0) ++stats_.scripts_failed;
  Schedule(latency, ScriptDone{n, boots_[n], run.module, run.run_id, exit_code, false});
}

void SimCluster::SendPeer(NodeIndex from, const duet::SendPeer& send) {
  const NodeIndex to = Peer(from);
  const int links = static_cast<int>(links_[from].size());
  for (int l = 0; l < links; ++l) {
    if (send.link != kAllLinks && send.link != l) continue;
    const LinkFaults& faults = links_[from][l];
    ++stats_.peer_messages_sent;
    if (Drop(faults)) {
      ++stats_.peer_messages_lost;
      continue;
    }
    Schedule(Latency(faults), DeliverPeer{to, l, send.message});
    if (rng_.Chance(faults.duplicate)) {
      ++stats_.peer_messages_duplicated;
      Schedule(Latency(faults), DeliverPeer{to, l, send.message});
    }
  }
}

bool SimCluster::Drop(const LinkFaults& faults) { return !faults.up || rng_.Chance(faults.loss); }

absl::Duration SimCluster::Latency(const LinkFaults& faults) {
  return absl::Nanoseconds(rng_.Between(absl::ToInt64Nanoseconds(faults.latency_min),
                                        absl::ToInt64Nanoseconds(faults.latency_max)));
}

void SimCluster::FeedOracle() {
  const bool connected = [&] {
    if (!nodes_[0] || !nodes_[1]) return false;
    auto any_up = [&](NodeIndex from) {
      return std::any_of(links_[from].begin(), links_[from].end(),
                         [](const LinkFaults& f) { return f.up && f.loss < 1.0; });
    };
    return any_up(0) && any_up(1);
  }();
  for (ModuleIndex m = 0; m < config_.modules.size(); ++m) {
    std::array<DataOracle::NodeView, 2> views;
    for (NodeIndex n = 0; n < 2; ++n) {
      views[n].up = nodes_[n].has_value();
      views[n].writable = observed_[n][m].writable;
      views[n].secondary = nodes_[n] && nodes_[n]->Status(m).app_role == AppRole::kSecondary;
    }
    oracle_.Observe(now_, m, views, connected);
    for (NodeIndex n = 0; n < 2; ++n) {
      if (!nodes_[n]) continue;
      const ModuleStatus status = nodes_[n]->Status(m);
      const DataState reported = oracle_.Reported(n, m);
      const uint8_t percent = oracle_.Percent(n, m);
      if (status.data != reported ||
          (reported == DataState::kSyncing && status.sync_percent != percent)) {
        oracle_states_[n].Set(m, {reported, percent});
        StepNode(n, Tick{});
      }
    }
  }
}

void SimCluster::UpdateReplicationLink() {
  const bool up =
      nodes_[0] && nodes_[1] && !links_[0].empty() && links_[0][0].up && links_[1][0].up;
  if (up == repl_connected_) return;
  repl_connected_ = up;
  ++repl_epoch_;  // whatever was in flight on the old connection is gone
  repl_next_at_.fill(absl::InfinitePast());
  held_.fill(std::nullopt);
  if (up) ++stats_.replication_connects;
  Note(up ? "replication connection up" : "replication connection down");
  for (NodeIndex n = 0; n < 2; ++n) {
    if (!nodes_[n]) continue;
    if (up) {
      StepNode(n, duet::ReplicationConnected{});
    } else {
      StepNode(n, ReplicationDisconnected{});
    }
  }
}

void SimCluster::SendReplicationAction(NodeIndex from, const duet::SendReplication& send) {
  if (!repl_connected_) return;
  ++stats_.replication_messages;
  const NodeIndex to = Peer(from);
  // A stream: never delivered before what was sent earlier in the same direction (unless a
  // stream-gap fault breaks it).
  absl::Time at = std::max(repl_next_at_[from], now_ + Latency(links_[from][0]));
  repl_next_at_[from] = at;
  const bool write = std::holds_alternative<ReplWrite>(send.message);
  if (write && BreakWrite(from, send.message, at)) return;
  std::optional<HeldWrite>& held = held_[from];
  if (held && ModuleOf(held->message) == ModuleOf(send.message)) {
    // The held write goes with its module's next message: after it if that is a write too
    // (the two are swapped), else before it.
    if (write) {
      ++stats_.stream_writes_swapped;
      Note(absl::StrCat("stream-gap: ", DescribeReplMessage(send.message), " of ",
                        ModuleOf(send.message), " overtakes ", DescribeReplMessage(held->message),
                        " (", config_.nodes[from].name, "->", config_.nodes[to].name, ")"));
      Schedule(at - now_, DeliverReplication{to, repl_epoch_, send.message});
      Schedule(at - now_, DeliverReplication{to, held->epoch, std::move(held->message)});
    } else {
      Schedule(at - now_, DeliverReplication{to, held->epoch, std::move(held->message)});
      Schedule(at - now_, DeliverReplication{to, repl_epoch_, send.message});
    }
    held.reset();
    return;
  }
  Schedule(at - now_, DeliverReplication{to, repl_epoch_, send.message});
}

bool SimCluster::BreakWrite(NodeIndex from, const ReplMessage& message, absl::Time at) {
  if (stream_fault_ == StreamFault::kNone || held_[from]) return false;
  const StreamFault fault = std::exchange(stream_fault_, StreamFault::kNone);
  const std::string what =
      absl::StrCat(DescribeReplMessage(message), " of ", ModuleOf(message), " (",
                   config_.nodes[from].name, "->", config_.nodes[Peer(from)].name, ")");
  if (fault == StreamFault::kLose) {
    ++stats_.stream_writes_lost;
    Note(absl::StrCat("stream-gap: the transport loses ", what, "; the connection stays up"));
    return true;
  }
  const uint64_t id = next_hold_id_++;
  held_[from] = HeldWrite{id, repl_epoch_, message};
  Note(absl::StrCat("stream-gap: the transport holds ", what, " back behind the next one"));
  Schedule(at + kSwapHoldMax - now_, ReleaseHeld{from, id});
  return true;
}

void SimCluster::ReleaseHeldWrite(NodeIndex from, uint64_t hold_id) {
  std::optional<HeldWrite>& held = held_[from];
  if (!held || held->id != hold_id) return;  // gone with its message or its connection
  const absl::Time at = std::max(repl_next_at_[from], now_);
  repl_next_at_[from] = at;
  Schedule(at - now_, DeliverReplication{Peer(from), held->epoch, std::move(held->message)});
  held.reset();
}

void SimCluster::Debug(NodeIndex n, const std::string& module, const std::string& text) {
  if (!debug_sink_ || module != debug_module_) return;
  debug_sink_(absl::StrCat(FormatTime(now_), " ", config_.nodes[n].name, " ", text));
}

void SimCluster::SubmitDisk(NodeIndex n, ModuleIndex m, DiskOpBody op, uint64_t bytes) {
  ++stats_.disk_ops;
  DiskOp entry{next_disk_op_++, std::move(op), bytes, true, ""};
  std::visit(Overloaded{
                 [&](const ApplyMutation& apply) {
                   entry.barrier = DiskOrderOf(apply.mutation) == DiskOrder::kBarrier;
                   entry.key = apply.mutation.path;
                 },
                 [&](const ReadZone& read) {
                   entry.barrier = false;
                   entry.key = read.path;
                 },
                 [](const auto&) {},  // ListTree, PreserveDivergent: barriers
             },
             entry.body);
  disk_ops_[n][m].push_back(std::move(entry));
  StartRunnableDisk(n, m);
}

void SimCluster::StartRunnableDisk(NodeIndex n, ModuleIndex m) {
  absl::flat_hash_set<std::string> earlier_keys;
  bool earlier = false;
  for (DiskOp& op : disk_ops_[n][m]) {
    const bool runnable = op.barrier ? !earlier : !earlier_keys.contains(op.key);
    if (runnable && !op.started) {
      op.started = true;
      // Mostly quick, sometimes slow (a seek, a journal commit): later operations on other
      // files overtake a slow one.
      const absl::Duration base = rng_.Chance(0.2) ? kDiskSlowMax : kDiskMax;
      const absl::Duration latency =
          absl::Nanoseconds(
              rng_.Between(absl::ToInt64Nanoseconds(kDiskMin), absl::ToInt64Nanoseconds(base))) +
          absl::Seconds(static_cast<double>(op.bytes) / kDiskBytesPerSecond);
      Schedule(latency, DiskDone{n, boots_[n], m, op.id});
    }
    if (op.barrier) return;  // holds everything after it
    earlier = true;
    earlier_keys.insert(op.key);
  }
}

void SimCluster::FinishDisk(const DiskDone& done) {
  if (!nodes_[done.node] || boots_[done.node] != done.boot) return;  // died with its process
  std::deque<DiskOp>& queue = disk_ops_[done.node][done.module];
  auto it =
      std::find_if(queue.begin(), queue.end(), [&](const DiskOp& op) { return op.id == done.id; });
  assert(it != queue.end() && it->started);
  if (it != queue.begin()) ++stats_.disk_ops_overtaking;
  const NodeIndex node = done.node;
  const DiskOpBody op = std::move(it->body);
  queue.erase(it);
  StartRunnableDisk(done.node, done.module);
  const ModuleIndex module = done.module;
  if (!std::holds_alternative<PreserveDivergent>(op) && keep_aside_.Stopped(node, module)) {
    // C5: issued before the engine knew its keep-aside failed; changes nothing.
    ++stats_.ops_not_carried_out;
    if (const auto* apply = std::get_if<ApplyMutation>(&op)) {
      StepNode(node, MutationApplied{module, apply->apply_id, NotCarriedOut()});
    } else if (const auto* list = std::get_if<ListTree>(&op)) {
      StepNode(node, TreeListed{module, list->list_id, NotCarriedOut(), {}});
    } else {
      ZoneRead read;
      read.module = module;
      read.read_id = std::get<ReadZone>(op).read_id;
      read.status = NotCarriedOut();
      StepNode(node, std::move(read));
    }
    return;
  }
  if (const auto* apply = std::get_if<ApplyMutation>(&op)) {
    if (auto overwrite =
            keep_aside_.CheckApply(node, module, *apply, observed_[node][module].writable)) {
      FlagViolation("an unkept divergent branch is never overwritten",
                    absl::StrCat(config_.nodes[node].name, " ", config_.modules[module].name, ": ",
                                 *overwrite));
    }
    MemStore& store = stores_[node][apply->module];
    absl::Status status = store.Apply(apply->mutation);
    if (status.ok() && apply->durable) status = store.Sync(apply->mutation.path);
    if (debug_sink_) {
      const Mutation& m = apply->mutation;
      Debug(node, config_.modules[apply->module].name,
            absl::StrCat("applied ", apply->apply_id, ": ", MutationKindName(m.kind), " ", m.path,
                         m.path2.empty() ? "" : " -> ", m.path2,
                         m.rename_flags != 0 ? absl::StrCat(" flags ", m.rename_flags) : "", " @",
                         m.offset, " +", m.data_size(), apply->durable ? " durable" : "", " = ",
                         status.ToString()));
    }
    StepNode(node, MutationApplied{apply->module, apply->apply_id, std::move(status)});
    return;
  }
  if (const auto* list = std::get_if<ListTree>(&op)) {
    StepNode(node, stores_[node][list->module].List(list->module, list->list_id));
    return;
  }
  if (const auto* keep = std::get_if<PreserveDivergent>(&op)) {
    const bool disk_full = stores_[node][keep->module].capacity() != MemStore::kUnlimited;
    absl::Status status = keep_aside_.Preserve(node, *keep, disk_full);
    if (!status.ok()) {
      ++stats_.keep_asides_failed;
      Trace(node, absl::StrCat(config_.modules[keep->module].name,
                               ": sim fails keeping divergent paths aside: ", status.message()));
    }
    StepNode(node, DivergentPreserved{keep->module, keep->preserve_id, std::move(status)});
    return;
  }
  const auto& read = std::get<ReadZone>(op);
  if (debug_sink_) {
    Debug(
        node, config_.modules[read.module].name,
        absl::StrCat("read ", read.read_id, ": ", read.path, " @", read.offset, " +", read.length));
  }
  StepNode(node, stores_[node][read.module].Read(read.module, read.read_id, read.path, read.offset,
                                                 read.length, read.content));
}

void SimCluster::IssueWorkload(ModuleIndex m) {
  if (!workload_running_ || workload_->outstanding(m) >= kWorkloadOutstanding) return;
  std::optional<NodeIndex> writer;
  for (NodeIndex n = 0; n < 2; ++n) {
    if (!nodes_[n] || !observed_[n][m].writable) continue;
    if (!writer || rng_.Chance(0.5)) writer = n;  // two writers: a split brain
  }
  if (!writer) return;
  const uint64_t op_id = next_op_id_++;
  Mutation mutation = workload_->Next(m, *writer, op_id);
  if (auto dir = Workload::MissingDirectory(mutation, stores_[*writer][m].live())) {
    // The application finds its directory gone (never made, or lost in a crash): the call
    // fails, and it makes the directory (an operation of its own the model does not check).
    workload_->Completed(op_id, absl::NotFoundError("ENOENT: " + *dir));
    Mutation mkdir = MakeMutation(MutationKind::kMkdir, *dir);
    mkdir.mode = 0755;
    mkdir.mtime_ns = std::max<int64_t>(1, absl::ToUnixNanos(LocalNow(*writer)));
    const uint64_t mkdir_id = next_op_id_++;
    Debug(*writer, config_.modules[m].name,
          absl::StrCat("issue op ", mkdir_id, ": mkdir ", *dir, " (the application's own)"));
    StepNode(*writer, LocalMutation{m, mkdir_id, std::move(mkdir)});
    return;
  }
  if (absl::Status lookup = Workload::LookUpParents(mutation, stores_[*writer][m].live());
      !lookup.ok()) {
    Debug(*writer, config_.modules[m].name,
          absl::StrCat("op ", op_id, " fails in the kernel: ", lookup.message()));
    workload_->Completed(op_id, lookup);
    return;
  }
  // As the mount stamps it: the writer's clock at the call (never 0, which means unstamped).
  if (StampsChangeTime(mutation)) {
    mutation.mtime_ns = std::max<int64_t>(1, absl::ToUnixNanos(LocalNow(*writer)));
  }
  Debug(*writer, config_.modules[m].name,
        absl::StrCat("issue op ", op_id, ": ", MutationKindName(mutation.kind), " ", mutation.path,
                     " @", mutation.offset, " +", mutation.data_size()));
  StepNode(*writer, LocalMutation{m, op_id, std::move(mutation)});
}

void SimCluster::CheckSplitBrain(NodeIndex n, ModuleIndex m) {
  if (!nodes_[Peer(n)] || !observed_[Peer(n)][m].writable) return;
  // Both write: once they meet, the side that is not the default primary discards its
  // changes (DESIGN.md §5), acknowledged or not.
  const NodeIndex loser = Peer(config_.modules[m].default_primary);
  Note(absl::StrCat(config_.modules[m].name, ": both nodes writable; what ",
                    config_.nodes[loser].name, " acknowledges may be discarded"));
  split_[m] = true;
  workload_->DiscardFrom(m, loser);
}

void SimCluster::SetPartitioned(bool partitioned) {
  for (auto& per_node : links_) {
    for (LinkFaults& f : per_node) f.up = !partitioned;
  }
}

void SimCluster::HealNetwork() {
  for (auto& per_node : links_) {
    for (LinkFaults& f : per_node) f = LinkFaults{};
  }
  for (LinkFaults& f : witness_links_) f = LinkFaults{};
  for (LinkFaults& f : witness_reply_links_) f = LinkFaults{};
}

bool SimCluster::PeerHoldsAll(NodeIndex n, ModuleIndex m) const {
  // Not if this node wrote alone since the pair was last in sync (its generation moved on,
  // or it was ALONE), whatever its state now (it may have been fenced since): the peer may
  // count itself up to date (it never heard the outdate: the engine then waited for the
  // peer to be declared lost, or the witness recorded it), yet lacks those writes.
  const NodeIndex peer = Peer(n);
  auto replica = persisted_[n].replicas.find(config_.modules[m].name);
  const bool wrote_alone =
      (replica != persisted_[n].replicas.end() && replica->second.gens.bitmap != 0) ||
      alone_since_synced_[n][m] || nodes_[n]->Status(m).state == ModuleState::kAlone;
  return nodes_[peer] && nodes_[peer]->Status(m).data == DataState::kUpToDate && !wrote_alone;
}

void SimCluster::CrashNode(NodeIndex n, bool lose_unsynced, bool torn) {
  if (!nodes_[n]) return;
  ++stats_.node_crashes;
  Trace(n, "CRASH");
  if (replication_) {
    for (ModuleIndex m = 0; m < config_.modules.size(); ++m) {
      // With no up-to-date copy left, the pair is one machine: what this node acknowledged
      // and did not fsync may be gone.
      if (lose_unsynced && !PeerHoldsAll(n, m)) workload_->LoseUnsynced(m);
      if (lose_unsynced && torn) {
        stores_[n][m].CrashTearingWrites(rng_);
      } else if (lose_unsynced) {
        stores_[n][m].Crash();
      }
      // Nothing of a branch that was never synced survives: none is left to keep aside.
      if (stores_[n][m].live().empty()) keep_aside_.BranchNoLongerOwed(n, m);
    }
    lost_unsynced_[n] = lose_unsynced;
    workload_->NodeDown(n);
    for (std::deque<DiskOp>& queue : disk_ops_[n]) queue.clear();  // died with the process
  }
  nodes_[n].reset();
  // The daemon's guard takes the VIP and the application down with it.
  for (Observed& obs : observed_[n]) obs = Observed{};
  for (ClusterObserver* o : observers_) o->OnNodeDown(now_, n);
  if (replication_) UpdateReplicationLink();
}

void SimCluster::ReplaceDisk(NodeIndex n) {
  if (!nodes_[n]) return;
  if (replication_) {
    for (ModuleIndex m = 0; m < config_.modules.size(); ++m) {
      // Only the peer's copy is left: if it may lack anything this node acknowledged, that
      // may be gone.
      if (!PeerHoldsAll(n, m)) workload_->LoseAll(m);
    }
  }
  CrashNode(n, /*lose_unsynced=*/true);
  if (!replication_) return;
  for (MemStore& store : stores_[n]) {
    const uint64_t capacity = store.capacity();
    store = MemStore();
    store.set_capacity(capacity);
  }
  persisted_[n].replicas.clear();
  keep_aside_.DiskReplaced(n);
}

void SimCluster::RestartNode(NodeIndex n) {
  if (nodes_[n]) return;
  ++boots_[n];
  keep_aside_.ProcessStarted(n);
  for (ClusterObserver* o : observers_) o->OnNodeStarted(now_, n);
  Trace(n, "BOOT");
  oracle_.NodeStarted(n);
  for (Observed& obs : observed_[n]) obs.state = ModuleState::kWait;
  if (replication_) {
    nodes_[n].emplace(config_, n, rng_.Next(), persisted_[n], LocalNow(n));
  } else {
    // A new process knows nothing of its data until the oracle says.
    std::vector<std::string> names;
    for (const ModuleConfig& mc : config_.modules) names.push_back(mc.name);
    oracle_states_[n] = OracleDataStates(std::move(names));
    nodes_[n].emplace(config_, n, rng_.Next(), persisted_[n], LocalNow(n), oracle_states_[n]);
  }
  Execute(n, nodes_[n]->Start(LocalNow(n), lost_unsynced_[n]));
  // A new process starts disconnected, then connects if the link allows.
  if (replication_) UpdateReplicationLink();
}

void SimCluster::CrashWitness() {
  if (!witness_) return;
  ++stats_.witness_crashes;
  Note("witness CRASH");
  witness_.reset();
}

void SimCluster::RestartWitness() {
  if (!config_.witness || witness_) return;
  Note("witness BOOT");
  witness_.emplace(config_.witness->lease, witness_clock_.Local(now_), witness_persisted_);
}

bool SimCluster::FailChecker(NodeIndex n, ModuleIndex m) {
  if (!nodes_[n] || !observed_[n][m].checkers) return false;
  ++stats_.checker_failures;
  StepNode(n, CheckerFailed{m, 0, "injected"});
  return true;
}

std::optional<absl::Status> SimCluster::Admin(NodeIndex n, AdminVerb verb, ModuleIndex m,
                                              bool force) {
  if (!nodes_[n]) return std::nullopt;
  ++stats_.admin_commands;
  bool forcing = false;
  if (replication_ && verb == AdminVerb::kPrim && force &&
      nodes_[n]->Status(m).data != DataState::kUpToDate) {
    // A copy not known up to date may become primary: anything acknowledged may be gone.
    forcing = true;
    Note(absl::StrCat("forced promotion of ", config_.modules[m].name, " on ",
                      config_.nodes[n].name, " (data ", DataStateName(nodes_[n]->Status(m).data),
                      "): acknowledged writes may be lost"));
    workload_->LoseAll(m);
  }
  const uint64_t id = next_admin_id_++;
  for (ClusterObserver* o : observers_) o->OnAdminCommand(now_, n, m, verb, force);
  StepNode(n, AdminCommand{id, verb, m, force});
  auto it = admin_replies_.find(id);
  if (it == admin_replies_.end()) return absl::InternalError("no admin reply");
  absl::Status status = it->second;
  admin_replies_.erase(it);
  // Only a promotion the node accepted is the admin's choice of copy (LastForced).
  if (forcing && status.ok()) last_forced_[m] = n;
  return status;
}

ModuleStatus SimCluster::Status(NodeIndex n, ModuleIndex m) const {
  if (!nodes_[n]) {
    ModuleStatus down;
    down.state = ModuleState::kStop;
    down.reason = "node down";
    return down;
  }
  return nodes_[n]->Status(m);
}

void SimCluster::AddChecker(InvariantChecker* checker) {
  checker->set_sink([this](const sim::Violation& v) { RecordViolation(v); });
  checker->set_time_format([this](absl::Time t) { return FormatTime(t); });
  AddObserver(checker);
}

void SimCluster::ForceWritableForTest(NodeIndex n, ModuleIndex m, bool writable) {
  Execute(n, Actions{SetWritable{m, writable}});
}

void SimCluster::RecordViolation(const sim::Violation& v) {
  violation_records_.push_back(v);
  violations_.push_back(absl::StrCat(FormatTime(v.at), " ", v.invariant, ": ", v.detail));
}

void SimCluster::FlagViolation(const std::string& invariant, const std::string& what) {
  RecordViolation(sim::Violation{now_, invariant, what});
}

std::string SimCluster::FormatTime(absl::Time t) const {
  return absl::FormatTime("%H:%M:%E3S", absl::UnixEpoch() + (t - start_time_), absl::UTCTimeZone());
}

void SimCluster::Note(const std::string& text) {
  const std::string line = absl::StrCat(FormatTime(now_), " sim ", text);
  trace_hash_ = Fnv(trace_hash_, line);
  log_.push_back(line);
  for (ClusterObserver* o : observers_) o->OnTraceLine(line);
}

void SimCluster::Trace(NodeIndex n, const std::string& text) {
  const std::string line = absl::StrCat(FormatTime(now_), " ", config_.nodes[n].name, " ", text);
  trace_hash_ = Fnv(trace_hash_, line);
  log_.push_back(line);
  if (log_sink_) log_sink_(now_, n, text);
  for (ClusterObserver* o : observers_) {
    o->OnLog(now_, n, text);
    o->OnTraceLine(line);
  }
}

}  // namespace duet::sim
