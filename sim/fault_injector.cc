#include "sim/fault_injector.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"

namespace duet::sim {
namespace {

// Isolations last 1 s up to this (or the run's longest fault, if longer): long enough,
// often, for the isolated node's lease to run out and its peer to take over.
constexpr absl::Duration kLongIsolation = absl::Seconds(20);

}  // namespace

FaultInjector::FaultInjector(const RunOptions& options, SimCluster& cluster, uint64_t seed)
    : options_(options), cluster_(cluster), rng_(seed) {
  baseline_.latency_min = options.latency_min;
  baseline_.latency_max = options.latency_max;
  for (NodeIndex n = 0; n < 2; ++n) links_[n].resize(options.heartbeat_links);
}

void FaultInjector::Prepare() {
  for (NodeIndex n = 0; n < 2; ++n) {
    for (int l = 0; l < options_.heartbeat_links; ++l) ApplyLink(l, n);
    ApplyWitness(n);
    cluster_.SetClockOffset(n, options_.clock_offset[n]);
    cluster_.SetClockDrift(n, options_.drift_ppm[n]);
  }
  cluster_.SetWitnessClockDrift(options_.drift_ppm[2]);
  cluster_.scripts().latency_min = options_.script_latency_min;
  cluster_.scripts().latency_max = options_.script_latency_max;
}

void FaultInjector::Begin() {
  injecting_ = true;
  ScheduleNextFault();
}

absl::Time FaultInjector::next_at() const {
  absl::Time next = injecting_ ? next_fault_at_ : absl::InfiniteFuture();
  if (!pending_.empty()) next = std::min(next, pending_.top().at);
  return next;
}

void FaultInjector::RunDue() {
  const absl::Time now = cluster_.now();
  while (!pending_.empty() && pending_.top().at <= now) {
    std::function<void()> run = pending_.top().run;
    pending_.pop();
    run();
  }
  if (!injecting_ || next_fault_at_ > now) return;
  ScheduleNextFault();
  int total = 0;
  for (int k = 0; k < kFaultKinds; ++k) total += options_.enabled[k] ? options_.weight[k] : 0;
  if (total == 0) return;
  int pick = static_cast<int>(rng_.Below(static_cast<uint64_t>(total)));
  for (int k = 0; k < kFaultKinds; ++k) {
    if (!options_.enabled[k]) continue;
    pick -= options_.weight[k];
    if (pick < 0) {
      if (Inject(static_cast<FaultKind>(k))) ++injected_[k];
      return;
    }
  }
}

void FaultInjector::ScheduleNextFault() {
  // Exponential gaps: faults arrive as a Poisson process of the run's rate.
  const double u = (static_cast<double>(rng_.Next() >> 11) + 1) * 0x1.0p-53;
  const double gap = -std::log(u) * absl::ToDoubleSeconds(options_.mean_fault_interval);
  next_fault_at_ = cluster_.now() + absl::Microseconds(std::llround(gap * 1e6) + 1);
}

void FaultInjector::After(absl::Duration delay, std::function<void()> run) {
  pending_.push(Pending{cluster_.now() + delay, next_seq_++, std::move(run)});
}

absl::Duration FaultInjector::LogUniform(absl::Duration lo, absl::Duration hi) {
  const double a = std::log(absl::ToDoubleSeconds(lo));
  const double b = std::log(absl::ToDoubleSeconds(std::max(lo, hi)));
  const double u = static_cast<double>(rng_.Next() >> 11) * 0x1.0p-53;
  return absl::Microseconds(std::llround(std::exp(a + (b - a) * u) * 1e6));
}

// Short faults (below the heartbeat timeout) as likely as long ones.
absl::Duration FaultInjector::FaultDuration() {
  return LogUniform(absl::Milliseconds(100), options_.max_fault_duration);
}

std::string FaultInjector::Name(NodeIndex n) const { return cluster_.config().nodes[n].name; }

uint64_t FaultInjector::Record(FaultKind kind, const std::string& what) {
  cluster_.Note(absl::StrCat("FAULT ", what));
  return ledger_.Begin(cluster_.now(), kind, what);
}

size_t FaultInjector::Effect(uint64_t id, EffectKind kind, NodeIndex node, int link) {
  FaultEffect e;
  e.fault = id;
  e.kind = kind;
  e.start = cluster_.now();
  e.node = node;
  e.link = link;
  return ledger_.Add(std::move(e));
}

void FaultInjector::ApplyLink(int link, NodeIndex from) {
  const Direction& d = links_[from][link];
  LinkFaults f = d.degraded.value_or(baseline_);
  f.up = d.down == 0;
  cluster_.link(link, from) = f;
}

void FaultInjector::ApplyWitness(NodeIndex n) {
  LinkFaults both = baseline_;
  both.up = witness_[n].down == 0;
  both.loss = witness_[n].loss;
  cluster_.witness_link(n) = both;
  LinkFaults replies;
  replies.up = witness_[n].replies_down == 0;
  cluster_.witness_reply_link(n) = replies;
}

void FaultInjector::SetDown(int link, NodeIndex from, int delta) {
  links_[from][link].down += delta;
  ApplyLink(link, from);
}

void FaultInjector::ScriptWindow(bool hang, int delta) {
  int& windows = hang ? script_hang_windows_ : script_fail_windows_;
  windows += delta;
  if (hang) {
    cluster_.scripts().hang = windows > 0 ? options_.script_hang : 0;
  } else {
    cluster_.scripts().failure = windows > 0 ? options_.script_failure : 0;
  }
}

bool FaultInjector::Inject(FaultKind kind) {
  const int links = options_.heartbeat_links;
  const auto n = static_cast<NodeIndex>(rng_.Below(2));
  switch (kind) {
    case FaultKind::kLoss:
    case FaultKind::kDuplicate:
    case FaultKind::kDelay:
      return Degrade(kind);
    case FaultKind::kPartition:
    case FaultKind::kAsymmetric:
    case FaultKind::kLinkDown: {
      const absl::Duration d = FaultDuration();
      // Which directions of which links go down.
      std::vector<std::pair<int, NodeIndex>> cut;
      const int only = kind == FaultKind::kLinkDown ? static_cast<int>(rng_.Below(links)) : -1;
      for (int l = 0; l < links; ++l) {
        if (only >= 0 && l != only) continue;
        for (NodeIndex from = 0; from < 2; ++from) {
          if (kind != FaultKind::kAsymmetric || from == n) cut.emplace_back(l, from);
        }
      }
      const std::string what = kind == FaultKind::kPartition
                                   ? std::string("partition: every heartbeat link cut both ways")
                               : kind == FaultKind::kAsymmetric
                                   ? absl::StrCat("one-way partition: ", Name(n), "->",
                                                  Name(Peer(n)), " cut on every heartbeat link")
                                   : absl::StrCat("heartbeat link ", only, " down both ways");
      const uint64_t id = Record(kind, absl::StrCat(what, " for ", absl::FormatDuration(d)));
      std::vector<size_t> effects;
      for (auto [l, from] : cut) {
        SetDown(l, from, +1);
        effects.push_back(Effect(id, EffectKind::kLinkDown, from, l));
      }
      After(d, [this, cut, what, effects] {
        for (auto [l, from] : cut) SetDown(l, from, -1);
        for (size_t e : effects) EndEffect(e);
        cluster_.Note(absl::StrCat("heal: ", what, " ends"));
      });
      return true;
    }
    case FaultKind::kFlap: {
      const int l = static_cast<int>(rng_.Below(links));
      const int cycles = static_cast<int>(rng_.Between(2, 8));
      const uint64_t id =
          Record(kind, absl::StrCat("heartbeat link ", l, " flaps ", cycles, " times"));
      // Each down span's effects, one per direction, opened when it starts.
      auto down = std::make_shared<std::vector<size_t>>();
      absl::Duration t = absl::ZeroDuration();
      for (int i = 0; i < cycles; ++i) {
        After(t, [this, l, id, down] {
          for (NodeIndex from = 0; from < 2; ++from) {
            SetDown(l, from, +1);
            down->push_back(Effect(id, EffectKind::kLinkDown, from, l));
          }
          cluster_.Note(absl::StrCat("flap: heartbeat link ", l, " down"));
        });
        t += LogUniform(absl::Milliseconds(50), absl::Seconds(3));
        After(t, [this, l, down] {
          for (NodeIndex from = 0; from < 2; ++from) SetDown(l, from, -1);
          for (size_t e : *down) EndEffect(e);
          down->clear();
          cluster_.Note(absl::StrCat("flap: heartbeat link ", l, " up"));
        });
        t += LogUniform(absl::Milliseconds(50), absl::Seconds(3));
      }
      return true;
    }
    case FaultKind::kCrash:
    case FaultKind::kDaemonRestart: {
      if (!cluster_.NodeUp(n)) return false;
      const bool crash = kind == FaultKind::kCrash;
      const absl::Duration down =
          crash ? LogUniform(absl::Milliseconds(500),
                             std::max(absl::Seconds(1), options_.max_fault_duration))
                : LogUniform(absl::Milliseconds(10), absl::Seconds(2));
      const uint64_t id = Record(
          kind, absl::StrCat(crash ? "node " : "daemon on ", Name(n), crash ? " crashes" : " dies",
                             ", back in ", absl::FormatDuration(down)));
      const size_t effect = Effect(id, EffectKind::kNodeDown, n);
      cluster_.CrashNode(n, /*lose_unsynced=*/crash);
      After(down, [this, n, effect] {
        cluster_.RestartNode(n);
        EndEffect(effect);
      });
      return true;
    }
    case FaultKind::kDrift: {
      const int clock = static_cast<int>(rng_.Below(options_.witness ? 3 : 2));
      const int64_t ppm = DriftFromDraw(rng_.Next(), options_.drift_bound_ppm);
      if (clock == 2) {
        cluster_.SetWitnessClockDrift(ppm);
      } else {
        cluster_.SetClockDrift(static_cast<NodeIndex>(clock), ppm);
      }
      const uint64_t id = Record(
          kind, absl::StrCat("clock of ",
                             clock == 2 ? "the witness" : Name(static_cast<NodeIndex>(clock)),
                             " now drifts ", ppm >= 0 ? "+" : "", ppm, " ppm"));
      EndEffect(Effect(id, EffectKind::kOther, 0));
      return true;
    }
    case FaultKind::kWitnessCrash: {
      if (!cluster_.WitnessUp()) return false;
      const absl::Duration down = LogUniform(
          absl::Milliseconds(500), std::max(absl::Seconds(1), options_.max_fault_duration));
      const uint64_t id =
          Record(kind, absl::StrCat("witness crashes, back in ", absl::FormatDuration(down)));
      const size_t effect = Effect(id, EffectKind::kWitnessDown, 0);
      cluster_.CrashWitness();
      After(down, [this, effect] {
        cluster_.RestartWitness();
        EndEffect(effect);
      });
      return true;
    }
    case FaultKind::kWitnessLink: {
      const absl::Duration d = FaultDuration();
      const int mode = static_cast<int>(rng_.Below(3));
      WitnessPath& path = witness_[n];
      std::string what;
      if (mode == 0) {
        ++path.down;
        what = absl::StrCat("link ", Name(n), "<->witness down");
      } else if (mode == 1) {
        ++path.replies_down;
        what = absl::StrCat("link witness->", Name(n), " down (requests still arrive)");
      } else {
        path.loss =
            std::round(100 * (0.3 + 0.65 * static_cast<double>(rng_.Below(1000)) / 1000)) / 100;
        path.loss_id = next_id_++;
        what = absl::StrCat("link ", Name(n), "<->witness loses ", path.loss * 100, "%");
      }
      ApplyWitness(n);
      const size_t effect =
          Effect(Record(kind, absl::StrCat(what, " for ", absl::FormatDuration(d))),
                 EffectKind::kWitnessPath, n);
      const uint64_t id = path.loss_id;
      After(d, [this, n, mode, id, what, effect] {
        WitnessPath& p = witness_[n];
        if (mode == 0) --p.down;
        if (mode == 1) --p.replies_down;
        if (mode == 2 && p.loss_id == id) p.loss = 0;
        ApplyWitness(n);
        EndEffect(effect);
        cluster_.Note(absl::StrCat("heal: ", what, " ends"));
      });
      return true;
    }
    case FaultKind::kScriptFail:
    case FaultKind::kScriptTimeout: {
      const bool hang = kind == FaultKind::kScriptTimeout;
      const absl::Duration d = FaultDuration();
      ScriptWindow(hang, +1);
      const uint64_t id =
          Record(kind, absl::StrCat("scripts ", hang ? "hang" : "fail", " (rate ",
                                    hang ? options_.script_hang : options_.script_failure, ") for ",
                                    absl::FormatDuration(d)));
      const size_t effect =
          Effect(id, hang ? EffectKind::kScriptsHang : EffectKind::kScriptsFail, 0);
      After(d, [this, hang, effect] {
        ScriptWindow(hang, -1);
        EndEffect(effect);
        cluster_.Note(absl::StrCat("heal: scripts ", hang ? "hang" : "fail", " window ends"));
      });
      return true;
    }
    case FaultKind::kChecker: {
      const auto m = static_cast<ModuleIndex>(rng_.Below(options_.modules));
      // In the ledger before the node hears of it (it acts at once); the note follows.
      const std::string what = absl::StrCat("checker of ", cluster_.config().modules[m].name,
                                            " on ", Name(n), " reports a failure");
      const uint64_t id = ledger_.Begin(cluster_.now(), kind, what);
      const size_t effect = Effect(id, EffectKind::kChecker, n);
      ledger_.mutable_effect(effect).module = m;
      EndEffect(effect);
      if (!cluster_.FailChecker(n, m)) {
        ledger_.mutable_effect(effect).kind = EffectKind::kOther;  // nobody heard it
        return false;
      }
      cluster_.Note(absl::StrCat("FAULT ", what));
      return true;
    }
    case FaultKind::kAdmin:
      return Admin();
    case FaultKind::kIsolate: {
      // Node n loses its peer (every heartbeat link, and with link 0 the replication
      // connection) and the witness, while the peer still reaches the witness: a primary
      // here must fence itself before its lease can run out, since the peer takes over
      // once it has.
      // One isolation at a time: two would cut both nodes off from the witness.
      if (isolated_) return false;
      isolated_ = true;
      const absl::Duration d =
          LogUniform(absl::Seconds(1), std::max(options_.max_fault_duration, kLongIsolation));
      for (int l = 0; l < links; ++l) {
        for (NodeIndex from = 0; from < 2; ++from) SetDown(l, from, +1);
      }
      ++witness_[n].down;
      ApplyWitness(n);
      const std::string what = absl::StrCat(Name(n), " isolated from its peer and the witness (",
                                            Name(Peer(n)), " still reaches the witness)");
      const uint64_t id = Record(kind, absl::StrCat(what, " for ", absl::FormatDuration(d)));
      std::vector<size_t> effects;
      for (int l = 0; l < links; ++l) {
        for (NodeIndex from = 0; from < 2; ++from) {
          effects.push_back(Effect(id, EffectKind::kLinkDown, from, l));
        }
      }
      effects.push_back(Effect(id, EffectKind::kWitnessPath, n));
      After(d, [this, n, links, what, effects] {
        for (int l = 0; l < links; ++l) {
          for (NodeIndex from = 0; from < 2; ++from) SetDown(l, from, -1);
        }
        --witness_[n].down;
        ApplyWitness(n);
        for (size_t e : effects) EndEffect(e);
        isolated_ = false;
        cluster_.Note(absl::StrCat("heal: ", what, " ends"));
      });
      return true;
    }
    case FaultKind::kDiskFull:
    case FaultKind::kDiskEio: {
      if (!cluster_.replication()) return false;
      const bool full = kind == FaultKind::kDiskFull;
      if (full && rng_.Chance(0.5)) return ModuleDiskFull();
      const absl::Duration d = FaultDuration();
      const size_t effect = Effect(
          Record(kind, absl::StrCat("disk of ", Name(n), full ? " is full" : " fails fsyncs (EIO)",
                                    " for ", absl::FormatDuration(d))),
          EffectKind::kDisk, n);
      if (full) {
        cluster_.SetDiskFull(n, true);
      } else {
        cluster_.SetDiskSyncFailure(n, true);
      }
      After(d, [this, n, full, effect] {
        if (full) {
          cluster_.SetDiskFull(n, false);
        } else {
          cluster_.SetDiskSyncFailure(n, false);
        }
        EndEffect(effect);
      });
      return true;
    }
    case FaultKind::kTornCrash: {
      if (!cluster_.replication() || !cluster_.NodeUp(n)) return false;
      const absl::Duration down = LogUniform(absl::Milliseconds(500), absl::Seconds(5));
      const size_t effect =
          Effect(Record(kind, absl::StrCat("node ", Name(n),
                                           " crashes within its next engine step (torn writes), "
                                           "back in ",
                                           absl::FormatDuration(down))),
                 EffectKind::kNodeDown, n);
      cluster_.CrashMidStep(n);
      After(absl::Milliseconds(50), [this, n] {
        if (!cluster_.CrashMidStepArmed(n)) return;  // it did
        cluster_.DisarmCrashMidStep(n);
        cluster_.CrashNode(n, /*lose_unsynced=*/true, /*torn=*/true);
      });
      After(down, [this, n, effect] {
        cluster_.RestartNode(n);
        EndEffect(effect);
      });
      return true;
    }
    case FaultKind::kKeepAsideFail: {
      if (!cluster_.replication()) return false;
      const absl::Duration d = FaultDuration();
      const size_t effect =
          Effect(Record(kind, absl::StrCat(Name(n), " cannot keep divergent branches aside for ",
                                           absl::FormatDuration(d))),
                 EffectKind::kDisk, n);
      cluster_.SetKeepAsideFailure(n, true);
      After(d, [this, n, effect] {
        cluster_.SetKeepAsideFailure(n, false);
        EndEffect(effect);
      });
      return true;
    }
    case FaultKind::kDiskReplace: {
      if (!cluster_.replication() || !cluster_.NodeUp(n)) return false;
      const absl::Duration down = LogUniform(absl::Milliseconds(500), absl::Seconds(5));
      const size_t effect = Effect(
          Record(kind, absl::StrCat("node ", Name(n), " crashes; back with a new, empty disk in ",
                                    absl::FormatDuration(down))),
          EffectKind::kNodeDown, n);
      cluster_.ReplaceDisk(n);
      After(down, [this, n, effect] {
        cluster_.RestartNode(n);
        EndEffect(effect);
      });
      return true;
    }
    case FaultKind::kStreamGap: {
      if (!cluster_.replication()) return false;
      const bool swap = rng_.Chance(0.5);
      cluster_.BreakStream(swap ? StreamFault::kSwap : StreamFault::kLose);
      EndEffect(
          Effect(Record(kind, absl::StrCat("replication transport: the next stream write ",
                                           swap ? "goes after the one that follows it" : "is lost",
                                           "; the connection stays up")),
                 EffectKind::kOther, 0));
      return true;
    }
  }
  return false;
}

bool FaultInjector::Degrade(FaultKind kind) {
  const int links = options_.heartbeat_links;
  // One link or all of them; one direction or both.
  const int only = rng_.Chance(0.25) ? -1 : static_cast<int>(rng_.Below(links));
  const int dirs = static_cast<int>(rng_.Below(3));  // 0: a->b, 1: b->a, 2: both
  LinkFaults f = baseline_;
  std::string what;
  if (kind == FaultKind::kLoss) {
    f.loss = rng_.Chance(0.15) ? 1.0 : 0.05 + 0.65 * static_cast<double>(rng_.Below(100)) / 100;
    what = absl::StrCat("loses ", std::lround(f.loss * 100), "% of messages");
  } else if (kind == FaultKind::kDuplicate) {
    f.duplicate = 0.05 + 0.45 * static_cast<double>(rng_.Below(100)) / 100;
    what = absl::StrCat("duplicates ", std::lround(f.duplicate * 100), "% of messages");
  } else {
    f.latency_min = LogUniform(absl::Milliseconds(1), absl::Milliseconds(100));
    f.latency_max = f.latency_min + LogUniform(absl::Milliseconds(1), absl::Milliseconds(1500));
    what = absl::StrCat("delays messages ", absl::FormatDuration(f.latency_min), "..",
                        absl::FormatDuration(f.latency_max));
  }
  const absl::Duration d = FaultDuration();
  const uint64_t id = next_id_++;
  const std::string where =
      absl::StrCat(only < 0 ? "every heartbeat link" : absl::StrCat("heartbeat link ", only),
                   dirs == 2 ? " (both ways)"
                             : absl::StrCat(" (", Name(static_cast<NodeIndex>(dirs)), "->",
                                            Name(Peer(static_cast<NodeIndex>(dirs))), ")"));
  const uint64_t fault =
      Record(kind, absl::StrCat(where, " ", what, " for ", absl::FormatDuration(d)));
  // Loss and delay are what may silence a link (duplicates never do); a duplication still
  // replaces an earlier degradation, whose effect ends then.
  const std::optional<EffectKind> effect_kind =
      kind == FaultKind::kLoss    ? std::optional(EffectKind::kLinkLoss)
      : kind == FaultKind::kDelay ? std::optional(EffectKind::kLinkDelay)
                                  : std::nullopt;
  std::vector<std::pair<int, NodeIndex>> hit;
  for (int l = 0; l < links; ++l) {
    if (only >= 0 && l != only) continue;
    for (NodeIndex from = 0; from < 2; ++from) {
      if (dirs != 2 && from != dirs) continue;
      hit.emplace_back(l, from);
      Direction& dir = links_[from][l];
      if (dir.degraded_effect) EndEffect(*dir.degraded_effect);
      dir.degraded_effect.reset();
      if (effect_kind) {
        dir.degraded_effect = Effect(fault, *effect_kind, from, l);
        ledger_.mutable_effect(*dir.degraded_effect).loss = f.loss;
        ledger_.mutable_effect(*dir.degraded_effect).latency_max = f.latency_max;
      }
      dir.degraded = f;
      dir.degraded_id = id;
      ApplyLink(l, from);
    }
  }
  After(d, [this, hit, id, where] {
    for (auto [l, from] : hit) {
      Direction& dir = links_[from][l];
      if (dir.degraded_id != id) continue;  // a later degradation replaced this one
      dir.degraded.reset();
      if (dir.degraded_effect) EndEffect(*dir.degraded_effect);
      dir.degraded_effect.reset();
      ApplyLink(l, from);
    }
    cluster_.Note(absl::StrCat("heal: ", where, " back to normal"));
  });
  return true;
}

bool FaultInjector::Admin() {
  struct Choice {
    AdminVerb verb;
    bool force;
    int weight;
  };
  static constexpr Choice kChoices[] = {
      {AdminVerb::kStart, false, 3},  {AdminVerb::kStop, false, 1}, {AdminVerb::kRestart, false, 1},
      {AdminVerb::kSwap, false, 2},   {AdminVerb::kPrim, false, 2}, {AdminVerb::kPrim, true, 1},
      {AdminVerb::kSecond, false, 2},
  };
  int total = 0;
  for (const Choice& c : kChoices) total += c.weight;
  int pick = static_cast<int>(rng_.Below(static_cast<uint64_t>(total)));
  const Choice* choice = &kChoices[0];
  for (const Choice& c : kChoices) {
    pick -= c.weight;
    if (pick < 0) {
      choice = &c;
      break;
    }
  }
  const auto n = static_cast<NodeIndex>(rng_.Below(2));
  const auto m = static_cast<ModuleIndex>(rng_.Below(options_.modules));
  if (!cluster_.NodeUp(n)) return false;
  const std::string command =
      absl::StrCat("duetctl ", AdminVerbName(choice->verb), choice->force ? " --force " : " ",
                   cluster_.config().modules[m].name, " on ", Name(n));
  const size_t effect =
      Effect(Record(FaultKind::kAdmin, absl::StrCat("admin: ", command)), EffectKind::kAdmin, n);
  FaultEffect& e = ledger_.mutable_effect(effect);
  e.module = m;
  e.verb = choice->verb;
  e.force = choice->force;
  EndEffect(effect);
  const std::optional<absl::Status> status = cluster_.Admin(n, choice->verb, m, choice->force);
  cluster_.Note(absl::StrCat("admin reply: ", status ? status->ToString() : "node down"));
  return true;
}

void FaultInjector::RecordOperator(NodeIndex n, AdminVerb verb, ModuleIndex m,
                                   const std::string& what) {
  const size_t effect =
      Effect(ledger_.Begin(cluster_.now(), FaultKind::kAdmin, absl::StrCat("operator: ", what)),
             EffectKind::kAdmin, n);
  ledger_.mutable_effect(effect).module = m;
  ledger_.mutable_effect(effect).verb = verb;
  EndEffect(effect);
}

void FaultInjector::PartitionByHand(bool partitioned) {
  cluster_.SetPartitioned(partitioned);
  for (size_t e : by_hand_) EndEffect(e);
  by_hand_.clear();
  if (!partitioned) return;
  const uint64_t id = ledger_.Begin(cluster_.now(), FaultKind::kPartition,
                                    "partition by hand: every heartbeat link cut both ways");
  for (int l = 0; l < options_.heartbeat_links; ++l) {
    for (NodeIndex from = 0; from < 2; ++from) {
      by_hand_.push_back(Effect(id, EffectKind::kLinkDown, from, l));
    }
  }
}

void FaultInjector::HealAll() {
  ledger_.EndAll(cluster_.now());
  injecting_ = false;
  pending_ = {};
  for (NodeIndex from = 0; from < 2; ++from) {
    for (int l = 0; l < options_.heartbeat_links; ++l) {
      links_[from][l] = Direction{};  // (its ledger effects ended above)
      ApplyLink(l, from);
    }
    witness_[from] = WitnessPath{};
    ApplyWitness(from);
  }
  cluster_.BreakStream(StreamFault::kNone);
  script_fail_windows_ = 0;
  script_hang_windows_ = 0;
  isolated_ = false;
  ScriptWindow(false, 0);
  ScriptWindow(true, 0);
  cluster_.RestartWitness();
  for (NodeIndex n = 0; n < 2; ++n) {
    if (cluster_.replication()) {
      cluster_.SetDiskFull(n, false);
      cluster_.SetDiskSyncFailure(n, false);
      cluster_.SetKeepAsideFailure(n, false);
    }
    cluster_.DisarmCrashMidStep(n);
    cluster_.RestartNode(n);
  }
}

bool FaultInjector::ModuleDiskFull() {
  // One module's file system is full on both nodes (each module may have its own): the two
  // copies refuse the same writes, the engine's case where a refusal keeps the pair in sync.
  const auto m = static_cast<ModuleIndex>(rng_.Below(options_.modules));
  const absl::Duration d = FaultDuration();
  const uint64_t id = Record(FaultKind::kDiskFull,
                             absl::StrCat("the file system of ", cluster_.config().modules[m].name,
                                          " is full on both nodes for ", absl::FormatDuration(d)));
  const size_t effects[2] = {Effect(id, EffectKind::kDisk, 0), Effect(id, EffectKind::kDisk, 1)};
  cluster_.SetModuleDiskFull(m, true);
  After(d, [this, m, effects] {
    cluster_.SetModuleDiskFull(m, false);
    for (size_t e : effects) EndEffect(e);
  });
  return true;
}

}  // namespace duet::sim
