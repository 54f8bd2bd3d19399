#include "sim/cluster.h"

#include <algorithm>
#include <cassert>

#include "absl/strings/str_cat.h"

namespace duet::sim {
namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

constexpr absl::Duration kOracleInterval = absl::Milliseconds(50);

uint64_t Fnv(uint64_t hash, const std::string& text) {
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

std::vector<NodeIndex> DefaultPrimaries(const Config& config) {
  std::vector<NodeIndex> result;
  for (const ModuleConfig& m : config.modules) result.push_back(m.default_primary);
  return result;
}

}  // namespace

SimCluster::SimCluster(Config config, uint64_t seed)
    : config_(std::move(config)),
      rng_(seed),
      now_(absl::UnixEpoch() + absl::Hours(1)),
      oracle_(DefaultPrimaries(config_), absl::Seconds(1)) {
  for (NodeIndex n = 0; n < 2; ++n) {
    links_[n].resize(config_.nodes[n].heartbeat.size());
    observed_[n].resize(config_.modules.size());
  }
}

void SimCluster::Start() {
  // The witness has been up for a while: its start-up quiet period is over.
  if (config_.witness) witness_.emplace(config_.witness->lease, now_ - config_.witness->lease);
  for (NodeIndex n = 0; n < 2; ++n) RestartNode(n);
  Schedule(kOracleInterval, OracleTick{});
}

void SimCluster::Schedule(absl::Duration after, EventBody body) {
  events_queue_.push(Event{now_ + after, next_seq_++, std::move(body)});
}

void SimCluster::RunFor(absl::Duration d) {
  const absl::Time end = now_ + d;
  while (true) {
    absl::Time next = events_queue_.empty() ? absl::InfiniteFuture() : events_queue_.top().at;
    for (NodeIndex n = 0; n < 2; ++n) {
      if (nodes_[n]) next = std::min(next, nodes_[n]->NextDeadline());
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
      if (nodes_[n] && nodes_[n]->NextDeadline() <= now_) {
        StepNode(n, Tick{});
        if (nodes_[n] && nodes_[n]->NextDeadline() <= now_) {
          Violation(absl::StrCat("node ", config_.nodes[n].name,
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
                   if (nodes_[d.to]) StepNode(d.to, PeerReceived{d.link, d.message});
                 },
                 [&](const DeliverToWitness& d) {
                   if (!witness_) return;
                   LeaseReply reply = witness_->Handle(now_, d.request);
                   const LinkFaults& back = witness_links_[d.request.from];
                   if (!back.up || rng_.Chance(back.loss)) return;
                   Schedule(Latency(back), DeliverLeaseReply{d.request.from, std::move(reply)});
                 },
                 [&](const DeliverLeaseReply& d) {
                   if (nodes_[d.to]) StepNode(d.to, WitnessReceived{d.reply});
                 },
                 [&](const ScriptDone& d) {
                   if (!nodes_[d.node] || boots_[d.node] != d.boot) return;  // died with it
                   observed_[d.node][d.module].script_running = false;
                   StepNode(d.node, ScriptExited{d.module, d.run_id, d.exit_code, false});
                 },
                 [&](const OracleTick&) {
                   FeedOracle();
                   Schedule(kOracleInterval, OracleTick{});
                 },
             },
             event.body);
}

void SimCluster::StepNode(NodeIndex n, const Input& input) {
  Execute(n, nodes_[n]->Step(now_, input));
}

void SimCluster::Execute(NodeIndex n, const Actions& actions) {
  for (const Action& action : actions) {
    std::visit(Overloaded{
                   [&](const duet::SendPeer& send) { SendPeer(n, send); },
                   [&](const SendWitness& send) {
                     const LinkFaults& out = witness_links_[n];
                     if (!out.up || rng_.Chance(out.loss)) return;
                     Schedule(Latency(out), DeliverToWitness{send.request});
                   },
                   [&](const PersistModule& p) {
                     persisted_[n].modules[config_.modules[p.module].name] = p.record;
                   },
                   [&](const PersistIncarnation& p) { persisted_[n].incarnation = p.incarnation; },
                   [&](const RunScript& run) {
                     Observed& obs = observed_[n][run.module];
                     if (obs.script_running) {
                       Violation(absl::StrCat("scripts overlap: ", ScriptKindName(run.kind),
                                              " started on ", config_.nodes[n].name, " for ",
                                              config_.modules[run.module].name,
                                              " while another script runs"));
                     }
                     obs.script_running = true;
                     const bool start = run.kind == ScriptKind::kStartPrim ||
                                        run.kind == ScriptKind::kStartSecond ||
                                        run.kind == ScriptKind::kPrestart;
                     const int exit_code = start && rng_.Chance(scripts_.failure) ? 1 : 0;
                     const absl::Duration latency = absl::Nanoseconds(
                         rng_.Between(absl::ToInt64Nanoseconds(scripts_.latency_min),
                                      absl::ToInt64Nanoseconds(scripts_.latency_max)));
                     Trace(n, absl::StrCat(config_.modules[run.module].name, ": run ",
                                           ScriptKindName(run.kind)));
                     Schedule(latency, ScriptDone{n, boots_[n], run.module, run.run_id, exit_code});
                   },
                   [&](const SetCheckers& s) { observed_[n][s.module].checkers = s.running; },
                   [&](const SetVip& s) { observed_[n][s.module].vip = s.assigned; },
                   [&](const SetWritable& s) {
                     observed_[n][s.module].writable = s.writable;
                     if (s.writable) CheckWriters(s.module);
                   },
                   [&](const AdminReply& r) { admin_replies_[r.request_id] = r.status; },
                   [&](const LogEvent& e) { Trace(n, e.text); },
               },
               action);
  }
}

void SimCluster::SendPeer(NodeIndex from, const duet::SendPeer& send) {
  const NodeIndex to = Peer(from);
  const int links = static_cast<int>(links_[from].size());
  for (int l = 0; l < links; ++l) {
    if (send.link != kAllLinks && send.link != l) continue;
    const LinkFaults& faults = links_[from][l];
    if (!faults.up || rng_.Chance(faults.loss)) continue;
    Schedule(Latency(faults), DeliverPeer{to, l, send.message});
    if (rng_.Chance(faults.duplicate)) Schedule(Latency(faults), DeliverPeer{to, l, send.message});
  }
}

absl::Duration SimCluster::Latency(const LinkFaults& faults) {
  return absl::Nanoseconds(rng_.Between(absl::ToInt64Nanoseconds(faults.latency_min),
                                        absl::ToInt64Nanoseconds(faults.latency_max)));
}

void SimCluster::CheckWriters(ModuleIndex m) {
  if (!config_.witness) return;  // without a witness a partition may split the brain
  if (observed_[0][m].writable && observed_[1][m].writable) {
    Violation(absl::StrCat("two writers for module ", config_.modules[m].name));
  }
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
        StepNode(n, DataStateChanged{m, reported, percent});
      }
    }
  }
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
}

void SimCluster::CrashNode(NodeIndex n) {
  if (!nodes_[n]) return;
  Trace(n, "CRASH");
  nodes_[n].reset();
  // The daemon's guard takes the VIP and the application down with it.
  for (Observed& obs : observed_[n]) obs = Observed{};
}

void SimCluster::RestartNode(NodeIndex n) {
  if (nodes_[n]) return;
  ++boots_[n];
  Trace(n, "BOOT");
  oracle_.NodeStarted(n);
  nodes_[n].emplace(config_, n, rng_.Next(), persisted_[n], now_);
  Execute(n, nodes_[n]->Start(now_));
}

void SimCluster::CrashWitness() {
  if (witness_) Trace(0, "WITNESS CRASH");
  witness_.reset();
}

void SimCluster::RestartWitness() {
  if (!config_.witness || witness_) return;
  Trace(0, "WITNESS BOOT");
  witness_.emplace(config_.witness->lease, now_);
}

void SimCluster::FailChecker(NodeIndex n, ModuleIndex m) {
  if (nodes_[n] && observed_[n][m].checkers) StepNode(n, CheckerFailed{m, 0, "injected"});
}

std::optional<absl::Status> SimCluster::Admin(NodeIndex n, AdminVerb verb, ModuleIndex m,
                                              bool force) {
  if (!nodes_[n]) return std::nullopt;
  const uint64_t id = next_admin_id_++;
  StepNode(n, AdminCommand{id, verb, m, force});
  auto it = admin_replies_.find(id);
  if (it == admin_replies_.end()) return absl::InternalError("no admin reply");
  absl::Status status = it->second;
  admin_replies_.erase(it);
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

void SimCluster::Violation(const std::string& what) {
  violations_.push_back(
      absl::StrCat(absl::FormatTime("%H:%M:%E3S", now_, absl::UTCTimeZone()), " ", what));
}

void SimCluster::Trace(NodeIndex n, const std::string& text) {
  const std::string line = absl::StrCat(absl::FormatTime("%H:%M:%E3S", now_, absl::UTCTimeZone()),
                                        " ", config_.nodes[n].name, " ", text);
  trace_hash_ = Fnv(trace_hash_, line);
  log_.push_back(line);
  if (log_sink_) log_sink_(now_, n, text);
}

}  // namespace duet::sim
