#include "sim/accuracy.h"

#include <algorithm>
#include <functional>
#include <utility>
#include <variant>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace duet::sim {
namespace {

// Messages already in flight when a silence began may have been dropped by a fault that
// ended just before it: faults this much earlier still count (a delay fault's latency is
// below 2 s).
constexpr absl::Duration kInFlight = absl::Seconds(2);
// A script's exit code is drawn when it starts, and it runs under a second.
constexpr absl::Duration kScriptRun = absl::Seconds(2);
// A copy that cannot serve (data not up to date after a restart, a resync, a disk fault)
// hands its module over within this long of the fault that made it so.
constexpr absl::Duration kHandoverWindow = absl::Seconds(30);

bool DropsMessages(const FaultEffect& e) {
  return e.kind == EffectKind::kLinkDown || (e.kind == EffectKind::kLinkLoss && e.loss > 0);
}

std::vector<uint64_t> Union(std::vector<uint64_t> a, const std::vector<uint64_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  std::sort(a.begin(), a.end());
  a.erase(std::unique(a.begin(), a.end()), a.end());
  return a;
}

}  // namespace

AccuracyChecker::AccuracyChecker(const Config& config, const FaultLedger& ledger,
                                 int64_t drift_bound_ppm)
    : InvariantChecker("failovers are explained by faults"),
      config_(config),
      ledger_(ledger),
      // The node's clock may run fast by the bound: its timeout then passes sooner in true
      // time. Less a microsecond for the clocks' rounding.
      min_silence_(config.heartbeat.timeout / (1 + static_cast<double>(drift_bound_ppm) / 1e6) -
                   absl::Microseconds(1)),
      alone_since_(config.modules.size(), absl::InfinitePast()),
      alone_causes_(config.modules.size()),
      prim_at_(config.modules.size(), absl::InfinitePast()),
      split_seen_(config.modules.size(), absl::InfinitePast()),
      split_key_(config.modules.size()) {
  for (NodeIndex n = 0; n < 2; ++n) {
    last_claim_[n].resize(config.modules.size());
    claims_by_term_[n].resize(config.modules.size());
    writable_[n].assign(config.modules.size(), false);
    last_grant_[n].assign(config.modules.size(), absl::InfinitePast());
    reason_[n].resize(config.modules.size());
    both_claimed_[n].assign(config.modules.size(), 0);
  }
}

int AccuracyChecker::failovers() const {
  return static_cast<int>(std::count_if(events_.begin(), events_.end(), [](const auto& e) {
    return e.explained && e.kind != AccountedEvent::Kind::kSplitBrain;
  }));
}

int AccuracyChecker::split_brains() const {
  return static_cast<int>(std::count_if(events_.begin(), events_.end(), [](const auto& e) {
    return e.explained && e.kind == AccountedEvent::Kind::kSplitBrain;
  }));
}

template <typename Match>
std::vector<uint64_t> AccuracyChecker::Causes(absl::Time from, absl::Time to, Match match) const {
  std::vector<uint64_t> ids;
  for (const FaultEffect& e : ledger_.effects()) {
    if (e.Overlaps(from, to) && match(e)) ids.push_back(e.fault);
  }
  return Union(std::move(ids), {});
}

std::string AccuracyChecker::Names(const std::vector<uint64_t>& causes) const {
  std::vector<std::string> names;
  for (uint64_t id : causes)
    names.push_back(ledger_.Label(id, [this](absl::Time t) { return FormatTime(t); }));
  return absl::StrJoin(names, "; ");
}

std::string AccuracyChecker::Describe(const AccountedEvent& e) const {
  const char* kind = e.kind == AccountedEvent::Kind::kFailover              ? "failover"
                     : e.kind == AccountedEvent::Kind::kApplicationFailover ? "application failover"
                                                                            : "split brain";
  return absl::StrCat(FormatTime(e.at), " ", kind, ": ", e.what,
                      e.explained ? "; caused by " : "; NOT EXPLAINED (faults near: ",
                      e.causes.empty() ? "none" : Names(e.causes), e.explained ? "" : ")");
}

void AccuracyChecker::Record(absl::Time at, AccountedEvent::Kind kind, ModuleIndex m, NodeIndex n,
                             std::string what, std::vector<uint64_t> causes) {
  events_.push_back(AccountedEvent{at, kind, m, n, std::move(what), std::move(causes),
                                   failures() == failures_before_});
}

void AccuracyChecker::OnNodeStarted(absl::Time now, NodeIndex n) {
  for (Reason& r : reason_[n]) r = Reason{};
  up_[n] = true;
  boot_[n] = now;
  last_heard_[n] = absl::InfinitePast();
  newest_incarnation_[n] = 0;
  newest_seq_[n] = 0;
  episode_[n] = Episode{};
}

void AccuracyChecker::OnNodeDown(absl::Time, NodeIndex n) {
  up_[n] = false;
  episode_[n] = Episode{};
  writable_[n].assign(writable_[n].size(), false);
}

void AccuracyChecker::OnPeerMessageDelivered(absl::Time now, NodeIndex n, int,
                                             const PeerMessage& message) {
  const auto* hb = std::get_if<Heartbeat>(&message);
  if (hb == nullptr || hb->from != Peer(n)) return;
  // As the engine counts them: a newer heartbeat, or another copy of the newest (each link
  // delivers its own); an older one, overtaken on the way, proves nothing.
  const bool newer = hb->incarnation > newest_incarnation_[n] ||
                     (hb->incarnation == newest_incarnation_[n] && hb->seq > newest_seq_[n]);
  const bool same = hb->incarnation == newest_incarnation_[n] && hb->seq == newest_seq_[n];
  if (!newer && !same) return;
  last_heard_[n] = now;
  newest_incarnation_[n] = hb->incarnation;
  newest_seq_[n] = hb->seq;
}

void AccuracyChecker::OnReplicationDelivered(absl::Time now, NodeIndex n) { last_heard_[n] = now; }

void AccuracyChecker::OnWritable(absl::Time now, NodeIndex n, ModuleIndex m, bool writable) {
  failures_before_ = failures();
  writable_[n][m] = writable;
  // With a witness, two writers are a violation of their own (NoTwoWritersChecker).
  if (config_.witness || !writable || !writable_[Peer(n)][m]) return;
  SplitBrain(
      now, n, m,
      absl::StrCat(config_.modules[m].name, " writable on both nodes (", config_.nodes[n].name,
                   " became writable while ", config_.nodes[Peer(n)].name, " was)"));
}

void AccuracyChecker::OnLeaseGranted(absl::Time now, NodeIndex n, ModuleIndex m) {
  last_grant_[n][m] = now;
}

void AccuracyChecker::OnModuleState(absl::Time now, NodeIndex n, ModuleIndex m, ModuleState,
                                    ModuleState to) {
  if (to == ModuleState::kPrim) {
    alone_since_[m] = absl::InfinitePast();
    // In sync again: earlier claims explain no later split brain (but the detections of the
    // one they opened, which the other node may log a little later).
    prim_at_[m] = now;
    alone_causes_[m].clear();
    return;
  }
  if (to != ModuleState::kAlone) return;
  if (alone_since_[m] == absl::InfinitePast()) alone_since_[m] = now;
  // Whatever touched the pair (or this module) lately may be why this node writes alone.
  const std::vector<uint64_t> causes =
      Causes(now - config_.heartbeat.timeout - kInFlight, now, [&](const FaultEffect& e) {
        switch (e.kind) {
          case EffectKind::kLinkDown:
          case EffectKind::kLinkLoss:
          case EffectKind::kLinkDelay:
          case EffectKind::kNodeDown:
          case EffectKind::kDisk:
          case EffectKind::kScriptsFail:
          case EffectKind::kScriptsHang:
            return true;
          case EffectKind::kAdmin:
          case EffectKind::kChecker:
            return e.module == m;
          default:
            return false;
        }
      });
  alone_causes_[m] = Union(std::move(alone_causes_[m]), causes);
  (void)n;
}

void AccuracyChecker::OnLog(absl::Time now, NodeIndex n, const std::string& text) {
  failures_before_ = failures();
  const std::string peer = config_.nodes[Peer(n)].name;
  if (absl::StartsWith(text, absl::StrCat("peer ", peer, " lost: "))) {
    PeerLost(now, n);
    return;
  }
  if (text == absl::StrCat("peer ", peer, " is back")) {
    episode_[n].active = false;
    return;
  }
  const size_t colon = text.find(": ");
  if (colon == std::string::npos) return;
  const std::optional<ModuleIndex> m = config_.FindModule(text.substr(0, colon));
  if (!m) return;
  ModuleLog(now, n, *m, text.substr(colon + 2));
}

void AccuracyChecker::PeerLost(absl::Time now, NodeIndex n) {
  ++peer_losses_;
  const NodeIndex peer = Peer(n);
  const std::string& name = config_.nodes[n].name;
  const std::string& peer_name = config_.nodes[peer].name;
  const bool booted_since = last_heard_[n] < boot_[n];
  const absl::Time silent_since = std::max(last_heard_[n], boot_[n]);
  Episode episode{true, now, {}};
  if (now - silent_since < min_silence_) {
    Fail(now, absl::StrCat(name, " declared its peer ", peer_name, " lost ",
                           absl::FormatDuration(now - silent_since), " after it ",
                           booted_since ? "booted" : "last heard from it", " (",
                           FormatTime(silent_since), "), less than the heartbeat timeout (",
                           absl::FormatDuration(config_.heartbeat.timeout), ", at least ",
                           absl::FormatDuration(min_silence_), " at the drift bound)"));
  }
  const absl::Time from = silent_since - kInFlight;
  for (int l = 0; l < static_cast<int>(config_.nodes[peer].heartbeat.size()); ++l) {
    const std::vector<uint64_t> causes = Causes(from, now, [&](const FaultEffect& e) {
      return (DropsMessages(e) && e.link == l && e.node == peer) ||
             (e.kind == EffectKind::kNodeDown && e.node == peer);
    });
    if (causes.empty()) {
      Fail(now, absl::StrCat(name, " declared its peer ", peer_name,
                             " lost, but no fault dropped messages on heartbeat link ", l, " (",
                             peer_name, "->", name, ") and ", peer_name, " was up from ",
                             FormatTime(silent_since), " to ", FormatTime(now),
                             ": nothing explains the silence"));
    }
    episode.causes = Union(std::move(episode.causes), causes);
  }
  episode_[n] = std::move(episode);
}

void AccuracyChecker::ModuleLog(absl::Time now, NodeIndex n, ModuleIndex m,
                                const std::string& body) {
  const std::string& name = config_.nodes[n].name;
  const std::string& module = config_.modules[m].name;
  if (absl::StartsWith(body, "taking over (")) {
    const bool by_admin = absl::StartsWith(body, "taking over (admin prim");
    std::vector<uint64_t> causes = episode_[n].causes;
    if (!episode_[n].active) {
      Fail(now, absl::StrCat(name, " took ", module, " over (", body,
                             ") while its peer was not lost: no peer-lost episode explains it"));
    }
    if (by_admin) {
      const std::vector<uint64_t> admin =
          Causes(absl::InfinitePast(), now, [&](const FaultEffect& e) {
            // swap on the node that does not own the module asks for it, as prim does.
            return e.kind == EffectKind::kAdmin && e.node == n && e.module == m &&
                   (e.verb == AdminVerb::kPrim || e.verb == AdminVerb::kSwap);
          });
      if (admin.empty()) {
        Fail(now, absl::StrCat(name, " took ", module,
                               " over by an admin prim, but no admin ran prim there"));
      } else {
        causes = Union(std::move(causes), {admin.back()});
      }
    }
    Claimed(now, n, m, body, causes);
    Record(now, AccountedEvent::Kind::kFailover, m, n,
           absl::StrCat(name, " takes ", module, " over (", by_admin ? "admin prim, " : "",
                        "peer lost at ", FormatTime(episode_[n].at), ")"),
           std::move(causes));
    return;
  }
  if (absl::StartsWith(body, "continuing alone, term ")) {
    // A primary that loses its peer starts a new term: a claim of the module (no move).
    if (!episode_[n].active) {
      Fail(now, absl::StrCat(name, " went on alone with ", module,
                             " at a new term while its peer was not lost"));
    }
    Claimed(now, n, m, body, episode_[n].causes);
    return;
  }
  if (absl::EndsWith(body, "; failing over")) {
    std::vector<uint64_t> causes;
    const char* needed;
    if (absl::StartsWith(body, "checker ")) {
      needed = "a checker failure injected on this node for this module";
      causes = Causes(now, now, [&](const FaultEffect& e) {
        return e.kind == EffectKind::kChecker && e.node == n && e.module == m;
      });
    } else {
      needed =
          absl::StrContains(body, " timed out") ? "a script-timeout fault" : "a script-fail fault";
      causes = ScriptCauses(now, m, body);
    }
    if (causes.empty()) {
      Fail(now, absl::StrCat(name, " fails ", module, " over (", body, ") without ", needed));
    }
    reason_[n][m] = Reason{Reason::kFailoverRecorded, body, causes};
    Record(now, AccountedEvent::Kind::kApplicationFailover, m, n,
           absl::StrCat(module, " leaves ", name, ": ", body), std::move(causes));
    return;
  }
  if (absl::StartsWith(body, "prestart ") || absl::StartsWith(body, "start_second ")) {
    if (absl::EndsWith(body, " timed out") || absl::StrContains(body, " failed (exit")) {
      // The module fails here: its owner hands it over (HandedOver records the failover).
      std::vector<uint64_t> causes = ScriptCauses(now, m, body);
      if (causes.empty()) {
        Fail(now, absl::StrCat(module, " on ", name, ": ", body,
                               " outside any script-fail or script-timeout fault"));
      }
      reason_[n][m] = Reason{Reason::kScriptFailure, body, std::move(causes)};
    }
    return;
  }
  if (absl::StartsWith(body, "failback: ") || absl::StartsWith(body, "admin: ") ||
      absl::StartsWith(body, "peer asked for the module") ||
      absl::StartsWith(body, "split brain: the peer's copy survives")) {
    reason_[n][m] = Reason{Reason::kPlanned, body, {}};
    // (a split brain's verdict is also a detection: fall through to the split brain below)
    if (!absl::StartsWith(body, "split brain")) return;
  }
  if (absl::StartsWith(body, "handed over to ")) {
    HandedOver(now, n, m, body);
    return;
  }
  if (absl::StartsWith(body, "fencing: ")) {
    ++fences_;
    if (absl::StartsWith(body, "fencing: split brain")) {
      // "the peer took over at term N while this node was still primary": the peer claimed
      // term N. "yielding": both claimed the term this node just logged.
      const uint64_t term =
          absl::StrContains(body, "took over at term ") ? TermOf(body) : both_claimed_[n][m];
      const auto& by_peer = claims_by_term_[Peer(n)][m];
      const auto claim = by_peer.find(term);
      if (claim == by_peer.end()) {
        Fail(now, absl::StrCat(name, " fenced ", module, " (", body, ") but ",
                               config_.nodes[Peer(n)].name, " never claimed it at term ", term,
                               ": nothing explains the split brain"));
        return;
      }
      SplitBrain(now, n, m, absl::StrCat(module, ": ", name, " ", body), claim->second.causes);
      return;
    }
    const NodeIndex peer = Peer(n);
    const absl::Duration lease = config_.witness ? config_.witness->lease : absl::ZeroDuration();
    const absl::Duration margin =
        config_.witness ? config_.witness->drift_margin : absl::ZeroDuration();
    // The peer's acknowledgement lasts its echo + timeout - margin: a round trip (and a
    // heartbeat interval) slower than that lets it lapse without a message dropped.
    const absl::Duration slow =
        (config_.heartbeat.timeout - margin - config_.heartbeat.interval) / 2 -
        absl::Milliseconds(100);
    const std::vector<uint64_t> peer_causes =
        Causes(now - config_.heartbeat.timeout - kInFlight, now, [&](const FaultEffect& e) {
          return DropsMessages(e) || (e.kind == EffectKind::kLinkDelay && e.latency_max >= slow) ||
                 (e.kind == EffectKind::kNodeDown && e.node == peer);
        });
    const std::vector<uint64_t> witness_causes =
        Causes(now - 2 * lease - kInFlight, now, [&](const FaultEffect& e) {
          return e.kind == EffectKind::kWitnessDown ||
                 (e.kind == EffectKind::kWitnessPath && e.node == n);
        });
    // The witness refuses n while the peer's lease runs (on the witness's clock, which may
    // run slow).
    const bool peer_holds_lease = now - last_grant_[peer][m] < lease * 1.2 + kInFlight;
    if (peer_causes.empty() || (witness_causes.empty() && !peer_holds_lease)) {
      Fail(now,
           absl::StrCat(name, " fenced ", module, " (", body, ") with no fault cutting it off ",
                        peer_causes.empty() ? "from its peer" : "from the witness",
                        witness_causes.empty() && peer_causes.empty() ? " or the witness" : "",
                        peer_causes.empty() ? "" : " and no lease held by its peer"));
    }
    return;
  }
  if (absl::StartsWith(body, "split brain: both nodes claimed term ")) {
    // Both claimed that term: each claim's faults explain it.
    const uint64_t term = TermOf(body.substr(0, body.find(';')));
    both_claimed_[n][m] = term;
    std::vector<uint64_t> causes;
    for (NodeIndex k = 0; k < 2; ++k) {
      const auto claim = claims_by_term_[k][m].find(term);
      if (claim == claims_by_term_[k][m].end()) {
        Fail(now, absl::StrCat(module, ": ", name, " logs ", body, ", but ", config_.nodes[k].name,
                               " never claimed term ", term, ": nothing explains the split brain"));
        return;
      }
      causes = Union(std::move(causes), claim->second.causes);
    }
    SplitBrain(now, n, m, absl::StrCat(module, ": ", name, " logs ", body), std::move(causes));
    return;
  }
  if (absl::StrContains(body, "split brain")) {
    SplitBrain(now, n, m, absl::StrCat(module, ": ", name, " logs ", body));
  }
}

std::optional<AccuracyChecker::Claim> AccuracyChecker::Current(absl::Time now, ModuleIndex m,
                                                               NodeIndex n) const {
  const std::optional<Claim>& claim = last_claim_[n][m];
  if (!claim || claim->at >= prim_at_[m] ||
      now - prim_at_[m] <= config_.heartbeat.timeout + kInFlight) {
    return claim;
  }
  return std::nullopt;
}

std::vector<uint64_t> AccuracyChecker::ScriptCauses(absl::Time now, ModuleIndex m,
                                                    const std::string& body) const {
  if (absl::StrContains(body, " timed out")) {
    // It started hanging a script timeout earlier (on a clock that may run slow).
    const absl::Duration run = config_.modules[m].script_timeout * 1.2 + kScriptRun;
    return Causes(now - run, now,
                  [](const FaultEffect& e) { return e.kind == EffectKind::kScriptsHang; });
  }
  return Causes(now - kScriptRun, now,
                [](const FaultEffect& e) { return e.kind == EffectKind::kScriptsFail; });
}

void AccuracyChecker::HandedOver(absl::Time now, NodeIndex n, ModuleIndex m,
                                 const std::string& body) {
  const Reason reason = std::exchange(reason_[n][m], Reason{});
  const std::string& name = config_.nodes[n].name;
  const std::string& module = config_.modules[m].name;
  switch (reason.kind) {
    case Reason::kPlanned:           // failback, admin, split brain verdict: not failovers
    case Reason::kFailoverRecorded:  // recorded when the application failed
      return;
    case Reason::kScriptFailure:
      Record(now, AccountedEvent::Kind::kApplicationFailover, m, n,
             absl::StrCat(module, " leaves ", name, " (", reason.what, "): ", body), reason.causes);
      return;
    case Reason::kNone:
      break;
  }
  // This copy cannot serve: something happened to this node (named first: the latest
  // restart or crash of it, else its disk), or the admin touched the module, or the pair
  // was cut apart (a node down, a link fault).
  std::vector<uint64_t> causes;
  const absl::Time from = now - kHandoverWindow;
  for (const auto& specific : std::vector<std::function<bool(const FaultEffect&)>>{
           [&](const FaultEffect& e) { return e.kind == EffectKind::kNodeDown && e.node == n; },
           [&](const FaultEffect& e) { return e.kind == EffectKind::kDisk && e.node == n; },
           [&](const FaultEffect& e) { return e.kind == EffectKind::kAdmin && e.module == m; }}) {
    causes = Causes(from, now, specific);
    if (!causes.empty()) {
      causes = {causes.back()};
      break;
    }
  }
  if (causes.empty()) {
    causes = Causes(from, now, [](const FaultEffect& e) {
      return e.kind == EffectKind::kNodeDown || DropsMessages(e);
    });
  }
  if (causes.empty()) {
    Fail(now, absl::StrCat(name, " handed ", module, " over (", body,
                           ") with no failback, admin command or failure asking for it, and no "
                           "fault in the last ",
                           absl::FormatDuration(kHandoverWindow)));
  }
  Record(now, AccountedEvent::Kind::kFailover, m, Peer(n),
         absl::StrCat(module, " leaves ", name, " (this copy cannot serve): ", body),
         std::move(causes));
}

uint64_t AccuracyChecker::TermOf(const std::string& text) {
  const size_t at = text.rfind("term ");
  if (at == std::string::npos) return 0;
  uint64_t term = 0;
  for (size_t i = at + 5; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    term = term * 10 + static_cast<uint64_t>(text[i] - '0');
  }
  return term;
}

void AccuracyChecker::Claimed(absl::Time now, NodeIndex n, ModuleIndex m, const std::string& body,
                              std::vector<uint64_t> causes) {
  last_claim_[n][m] = Claim{now, causes};
  if (const uint64_t term = TermOf(body); term > 0) {
    claims_by_term_[n][m][term] = Claim{now, std::move(causes)};
  }
}

std::array<absl::Time, 3> AccuracyChecker::EpisodeKey(ModuleIndex m) const {
  const std::optional<Claim>& a = last_claim_[0][m];
  const std::optional<Claim>& b = last_claim_[1][m];
  if (a || b) {
    return {a ? a->at : absl::InfinitePast(), b ? b->at : absl::InfinitePast(),
            absl::InfinitePast()};
  }
  return {absl::InfinitePast(), absl::InfinitePast(), alone_since_[m]};
}

bool AccuracyChecker::Continuing(absl::Time now, ModuleIndex m) const {
  // The engine logs a split brain again at each heartbeat until both sides have heard of it
  // (a one-way partition may hold one side back for long): the same claims, seen lately.
  return split_key_[m] == EpisodeKey(m) &&
         now - split_seen_[m] <= config_.heartbeat.timeout + kInFlight;
}

void AccuracyChecker::SplitBrain(absl::Time now, NodeIndex n, ModuleIndex m,
                                 const std::string& what,
                                 std::optional<std::vector<uint64_t>> explained) {
  if (Continuing(now, m)) {
    split_seen_[m] = now;
    return;
  }
  const std::optional<Claim> a = Current(now, m, 0);
  const std::optional<Claim> b = Current(now, m, 1);
  std::vector<uint64_t> causes = explained ? *std::move(explained)
                                           : Union(Union(a ? a->causes : std::vector<uint64_t>{},
                                                         b ? b->causes : std::vector<uint64_t>{}),
                                                   alone_causes_[m]);
  if (causes.empty()) {
    Fail(now, absl::StrCat("split brain (", what,
                           ") but neither node claimed the module, nor went ALONE with a fault "
                           "since it was last PRIM: no fault explains it"));
    return;
  }
  // One split brain per pair of claims (or ALONE spell): the engine's detections and the
  // writability seen belong to the one episode they opened.
  const std::array<absl::Time, 3> key = EpisodeKey(m);
  split_seen_[m] = now;
  if (split_key_[m] == key) return;
  split_key_[m] = key;
  Record(now, AccountedEvent::Kind::kSplitBrain, m, n, what, std::move(causes));
}

}  // namespace duet::sim
