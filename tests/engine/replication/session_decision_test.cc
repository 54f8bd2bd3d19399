// The handshake's decision table (engine/replication/session_decision.h): named cases, and an
// exhaustive check of every pair of copy facts within bounded histories.
#include "engine/replication/session_decision.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/replication/replica_state.h"

namespace duet {
namespace {

constexpr uint64_t kShared = 100;  // a generation both copies held

CopyFacts Joined(Generations gens) {
  CopyFacts f;
  f.gens = gens;
  f.joined = true;
  return f;
}

SessionPolicy DefaultHere() { return SessionPolicy{SplitBrainPolicy::kDiscardNonDefault, true}; }
SessionPolicy DefaultThere() { return SessionPolicy{SplitBrainPolicy::kDiscardNonDefault, false}; }

TEST(SessionDecisionTest, EqualCopiesAttachWithThePrimaryAsSource) {
  CopyFacts primary = Joined({kShared, 0, {}});
  primary.primary = true;
  const CopyFacts secondary = Joined({kShared, 0, {}});
  const SessionVerdict p = DecideSession(primary, secondary, DefaultThere());
  const SessionVerdict s = DecideSession(secondary, primary, DefaultHere());
  EXPECT_EQ(p.outcome, SessionOutcome::kAttach);
  EXPECT_TRUE(p.self_source);
  EXPECT_EQ(s.outcome, SessionOutcome::kAttach);
  EXPECT_FALSE(s.self_source);
  EXPECT_FALSE(s.behind);  // nothing to copy
}

TEST(SessionDecisionTest, CrashedSecondaryIsRepairedByThePeerThatLostNothing) {
  CopyFacts crashed = Joined({kShared, 0, {}});
  crashed.crashed = true;
  const CopyFacts intact = Joined({kShared, 0, {}});
  // Even when the crashed copy is the default primary.
  EXPECT_FALSE(DecideSession(crashed, intact, DefaultHere()).self_source);
  EXPECT_TRUE(DecideSession(intact, crashed, DefaultThere()).self_source);
}

TEST(SessionDecisionTest, CopyThatWroteAloneSendsItsDirtyZones) {
  CopyFacts newer = Joined({200, kShared, {kShared}});
  newer.primary = true;
  newer.alone_acked = true;
  const CopyFacts older = Joined({kShared, 0, {}});
  const SessionVerdict v = DecideSession(older, newer, DefaultHere());
  EXPECT_EQ(v.rule, SessionRule::kNewerSends);
  EXPECT_FALSE(v.self_source);
  EXPECT_TRUE(v.behind);
  EXPECT_FALSE(v.discard);
}

TEST(SessionDecisionTest, SplitBrainKeepsTheDefaultPrimarysCopyAsideTheOther) {
  CopyFacts a = Joined({200, kShared, {kShared}});
  CopyFacts b = Joined({300, kShared, {kShared}});
  a.alone_acked = b.alone_acked = true;
  const SessionVerdict va = DecideSession(a, b, DefaultHere());
  const SessionVerdict vb = DecideSession(b, a, DefaultThere());
  EXPECT_EQ(va.rule, SessionRule::kSplitBrainDefaultWins);
  EXPECT_TRUE(va.self_source);
  EXPECT_FALSE(vb.self_source);
  EXPECT_TRUE(vb.discard);  // kept aside, not lost
}

TEST(SessionDecisionTest, ACopyThatCouldNotKeepItsBranchAsideRefusesOnBothSidesUntilItRetries) {
  CopyFacts a = Joined({200, kShared, {kShared}});
  CopyFacts b = Joined({300, kShared, {kShared}});
  a.alone_acked = b.alone_acked = true;
  a.primary = true;
  b.keep_aside_failed = true;
  const SessionVerdict va = DecideSession(a, b, DefaultHere());
  const SessionVerdict vb = DecideSession(b, a, DefaultThere());
  EXPECT_EQ(va.outcome, SessionOutcome::kRefuse);
  EXPECT_EQ(vb.outcome, SessionOutcome::kRefuse);
  EXPECT_EQ(va.rule, SessionRule::kKeepAsideFailed);
  EXPECT_EQ(vb.rule, SessionRule::kKeepAsideFailed);
  b.keep_aside_failed = false;  // its retry's Hello
  EXPECT_TRUE(DecideSession(b, a, DefaultThere()).discard);
}

TEST(SessionDecisionTest, SplitBrainUnderManualPolicyWaitsForTheAdminOnBothSides) {
  CopyFacts a = Joined({200, kShared, {kShared}});
  CopyFacts b = Joined({300, kShared, {kShared}});
  a.alone_acked = b.alone_acked = true;
  const SessionPolicy manual{SplitBrainPolicy::kManual, true};
  const SessionVerdict v = DecideSession(a, b, manual);
  EXPECT_EQ(v.outcome, SessionOutcome::kRefuse);
  EXPECT_EQ(v.rule, SessionRule::kSplitBrainWaitsForAdmin);
  b.discard = true;  // duetctl discard on b
  EXPECT_TRUE(DecideSession(a, b, manual).self_source);
  EXPECT_TRUE(DecideSession(b, a, {SplitBrainPolicy::kManual, false}).discard);
}

TEST(SessionDecisionTest, ServingPrimaryWhoseCopyLosesHandsTheModuleOver) {
  // The default primary b wrote alone (acknowledged); a served alone meanwhile too.
  CopyFacts a = Joined({200, kShared, {kShared}});
  a.primary = true;
  a.alone_acked = true;
  CopyFacts b = Joined({300, kShared, {kShared}});
  b.alone_acked = true;
  const SessionVerdict va = DecideSession(a, b, DefaultThere());
  const SessionVerdict vb = DecideSession(b, a, DefaultHere());
  EXPECT_EQ(va.outcome, SessionOutcome::kHandOver);
  EXPECT_EQ(vb.outcome, SessionOutcome::kAwaitHandOver);
}

TEST(SessionDecisionTest, BlankCopyTakesTheWholeTreeAndKeepsWhatItHeldAside) {
  const CopyFacts joined = Joined({kShared, 0, {}});
  CopyFacts blank;
  blank.gens = {kInitialGeneration, 0, {}};
  const SessionVerdict v = DecideSession(blank, joined, DefaultHere());
  EXPECT_EQ(v.rule, SessionRule::kBlankCopy);
  EXPECT_TRUE(v.full);
  EXPECT_FALSE(v.self_source);
  EXPECT_TRUE(v.discard);
}

TEST(SessionDecisionTest, UnjoinedCopyThatWroteIsUnrelatedDataForTheAdmin) {
  const CopyFacts joined = Joined({kShared, 0, {}});
  CopyFacts other;
  other.gens = {555, kInitialGeneration, {kInitialGeneration}};
  EXPECT_EQ(DecideSession(other, joined, DefaultHere()).rule, SessionRule::kUnrelatedWaitsForAdmin);
  other.discard = true;
  const SessionVerdict v = DecideSession(other, joined, DefaultHere());
  EXPECT_EQ(v.rule, SessionRule::kAdminChoseUnrelated);
  EXPECT_TRUE(v.full);
  EXPECT_TRUE(v.discard);
}

TEST(SessionDecisionTest, BackFromACrashWithUnacknowledgedWritesRollsBack) {
  CopyFacts crashed = Joined({200, kShared, {kShared}});
  crashed.crashed = true;  // its writes alone waited for an outdate that never came
  const CopyFacts peer = Joined({kShared, 0, {}});
  const SessionVerdict v = DecideSession(crashed, peer, DefaultHere());
  EXPECT_EQ(v.rule, SessionRule::kRollBack);
  EXPECT_FALSE(v.self_source);
  EXPECT_TRUE(v.discard);
}

TEST(SessionDecisionTest, ZoneSizesThatDifferRefuseOnBothSides) {
  CopyFacts a = Joined({kShared, 0, {}});
  CopyFacts b = Joined({kShared, 0, {}});
  a.primary = true;
  a.zone_size = 64 * 1024;
  b.zone_size = 128 * 1024;
  const SessionVerdict va = DecideSession(a, b, DefaultHere());
  const SessionVerdict vb = DecideSession(b, a, DefaultThere());
  EXPECT_EQ(va.outcome, SessionOutcome::kRefuse);
  EXPECT_EQ(va.rule, SessionRule::kZoneSizesDiffer);
  EXPECT_EQ(vb.outcome, SessionOutcome::kRefuse);
  EXPECT_EQ(vb.rule, SessionRule::kZoneSizesDiffer);
}

// --- The exhaustive check -------------------------------------------------------------------

// Pairs of generations reachable from two copies that shared kShared, through up to kSteps
// events: a copy writes alone, a resync ends (on both sides, or only on the target: its end
// never reached the source), a disk is replaced (blank), a copy starts unrelated data.
constexpr int kSteps = 3;

struct GenPair {
  Generations a, b;
  bool operator<(const GenPair& o) const {
    auto key = [](const Generations& g) {
      return std::tuple(g.current, g.bitmap, g.history[0], g.history[1]);
    };
    return std::tuple(key(a), key(b)) < std::tuple(key(o.a), key(o.b));
  }
};

// Renames generation values in order of first appearance (kInitialGeneration and 0 kept),
// so that pairs equal up to the values drawn count once.
GenPair Normalize(const GenPair& p) {
  std::map<uint64_t, uint64_t> names = {{0, 0}, {kInitialGeneration, kInitialGeneration}};
  uint64_t next = 100;
  auto name = [&](uint64_t v) {
    auto [it, inserted] = names.try_emplace(v, next);
    if (inserted) next += 100;
    return it->second;
  };
  auto rename = [&](const Generations& g) {
    return Generations{name(g.current), name(g.bitmap), {name(g.history[0]), name(g.history[1])}};
  };
  GenPair out;
  out.a = rename(p.a);
  out.b = rename(p.b);
  return out;
}

void TakeCurrent(Generations& target, uint64_t current) {  // as FinishTarget does
  if (target.current != current) {
    target.history[1] = target.history[0];
    target.history[0] = target.current;
  }
  target.current = current;
  target.bitmap = 0;
}

std::set<GenPair> ReachableGenerations() {
  std::set<GenPair> out;
  std::vector<GenPair> frontier = {
      GenPair{{kShared, 0, {}}, {kShared, 0, {}}},
      GenPair{{kInitialGeneration, 0, {}}, {kInitialGeneration, 0, {}}}};
  uint64_t fresh = 1000;
  for (const GenPair& p : frontier) out.insert(Normalize(p));
  for (int step = 0; step < kSteps; ++step) {
    std::vector<GenPair> next;
    for (const GenPair& p : frontier) {
      for (int event = 0; event < 10; ++event) {
        GenPair q = p;
        Generations& x = event % 2 == 0 ? q.a : q.b;
        Generations& y = event % 2 == 0 ? q.b : q.a;
        switch (event / 2) {
          case 0:
            StartTracking(x, ++fresh);
            break;
          case 1:  // a resync x -> y ends on both sides
            TakeCurrent(y, x.current);
            x.bitmap = 0;
            break;
          case 2:  // a resync x -> y ends on the target only
            TakeCurrent(y, x.current);
            break;
          case 3:
            x = Generations{kInitialGeneration, 0, {}};
            break;
          case 4:
            x = Generations{++fresh, 0, {}};
            break;
        }
        if (out.insert(Normalize(q)).second) next.push_back(q);
      }
    }
    frontier = std::move(next);
  }
  return out;
}

// Every combination of the Hello's flags (a primary's copy is never partial).
std::vector<CopyFacts> AllFlags(const Generations& gens) {
  std::vector<CopyFacts> out;
  for (int bits = 0; bits < 256; ++bits) {
    CopyFacts f;
    f.gens = gens;
    f.primary = bits & 1;
    f.partial = bits & 2;
    f.crashed = bits & 4;
    f.disk_failed = bits & 8;
    f.dirty = bits & 16;
    f.alone_acked = bits & 32;
    f.discard = bits & 64;
    f.joined = bits & 128;
    if (f.primary && f.partial) continue;
    out.push_back(f);
  }
  return out;
}

std::string Describe(const CopyFacts& f) {
  return absl::StrCat("{gens ", f.gens.current, "/", f.gens.bitmap, "/", f.gens.history[0], ",",
                      f.gens.history[1], f.primary ? " primary" : "", f.partial ? " partial" : "",
                      f.crashed ? " crashed" : "", f.disk_failed ? " disk_failed" : "",
                      f.dirty ? " dirty" : "", f.alone_acked ? " alone_acked" : "",
                      f.discard ? " discard" : "", f.joined ? " joined" : "", "}");
}

std::string Describe(const SessionVerdict& v) {
  return absl::StrCat("{outcome ", static_cast<int>(v.outcome), " rule ", static_cast<int>(v.rule),
                      " ", v.Name(), v.self_source ? " source" : "", v.discard ? " discard" : "",
                      v.behind ? " behind" : "", "}");
}

// The two copies once the session's resync completed: the target took the source's
// current, the source closed its map; nothing is partial, dirty, crashed or to discard.
std::pair<CopyFacts, CopyFacts> AfterResync(CopyFacts source, CopyFacts target) {
  TakeCurrent(target.gens, source.gens.current);
  source.gens.bitmap = 0;
  for (CopyFacts* f : {&source, &target}) {
    f->partial = f->crashed = f->dirty = f->alone_acked = f->discard = false;
    f->joined = true;
  }
  target.disk_failed = false;  // rewritten by the resync
  return {source, target};
}

struct Checker {
  uint64_t pairs = 0;
  std::map<std::string, uint64_t> violations;
  std::vector<std::string> examples;
  std::map<SessionRule, uint64_t> rules_used;
  uint64_t failed_primaries_kept = 0;

  void Fail(const std::string& property, const CopyFacts& a, const CopyFacts& b,
            const SessionPolicy& pa, const SessionVerdict& va, const SessionVerdict& vb) {
    if (violations[property]++ < 3) {
      examples.push_back(absl::StrCat(property, ": a ", Describe(a), " b ", Describe(b),
                                      " a default=", pa.self_default_primary, " policy ",
                                      static_cast<int>(pa.split_brain), " -> a ", Describe(va),
                                      " b ", Describe(vb)));
    }
  }

  // Decides both sides; checks that they mirror each other. Returns false on a mismatch.
  bool Mirror(const CopyFacts& a, const CopyFacts& b, const SessionPolicy& pa, SessionVerdict& va,
              SessionVerdict& vb) {
    const SessionPolicy pb{pa.split_brain, !pa.self_default_primary};
    va = DecideSession(a, b, pa);
    vb = DecideSession(b, a, pb);
    using O = SessionOutcome;
    const auto pairs_up = [](O x, O y) {
      return (x == O::kAttach && y == O::kAttach) || (x == O::kRefuse && y == O::kRefuse) ||
             (x == O::kHandOver && y == O::kAwaitHandOver) ||
             (x == O::kAwaitHandOver && y == O::kHandOver);
    };
    if (!pairs_up(va.outcome, vb.outcome)) {
      Fail("outcomes do not mirror", a, b, pa, va, vb);
      return false;
    }
    if (va.outcome == O::kAttach && (va.self_source == vb.self_source || va.full != vb.full)) {
      Fail("not exactly one source, or kinds differ", a, b, pa, va, vb);
      return false;
    }
    return true;
  }

  void Check(const CopyFacts& a, const CopyFacts& b, const SessionPolicy& pa) {
    ++pairs;
    SessionVerdict va, vb;
    if (!Mirror(a, b, pa, va, vb)) return;
    ++rules_used[va.rule];
    using O = SessionOutcome;
    // A serving primary is never a resync target, and only a primary hands over.
    if (va.outcome == O::kAttach && a.primary && !va.self_source) {
      Fail("a serving primary is a resync target", a, b, pa, va, vb);
    }
    if (va.outcome == O::kHandOver && !a.primary) Fail("a secondary hands over", a, b, pa, va, vb);
    // A copy with changes the other lacks loses them only kept aside (a partial copy's
    // were kept aside when the resync into it started).
    const SyncDecision rel = Decide(a.gens, b.gens);
    const bool a_has_own = a.joined == b.joined &&
                           (rel == SyncDecision::kSelfIsSource || rel == SyncDecision::kSplitBrain);
    const bool a_overwritten = va.outcome == O::kAttach && !va.self_source;
    if (a_has_own && a_overwritten && !va.discard && !a.partial) {
      Fail("a newer copy is overwritten without keeping its changes aside", a, b, pa, va, vb);
    }
    // Acknowledged writes are lost only by the policy's or the admin's choice.
    if (a_has_own && a.alone_acked && !a.partial && !a.discard &&
        (a_overwritten || va.outcome == O::kHandOver)) {
      const bool policy_choice = rel == SyncDecision::kSplitBrain && b.alone_acked &&
                                 pa.split_brain == SplitBrainPolicy::kDiscardNonDefault &&
                                 !pa.self_default_primary;
      if (!policy_choice) Fail("acknowledged writes lost", a, b, pa, va, vb);
    }
    // Stable: the verdict's outcome, decided again, is in sync.
    if (va.outcome == O::kAttach) {
      auto [source, target] = va.self_source ? AfterResync(a, b) : AfterResync(b, a);
      for (int round = 0; round < 3; ++round) {
        SessionVerdict vs, vt;
        if (!Mirror(source, target, pa, vs, vt)) return;
        const bool settled = vs.outcome == O::kAttach && !vs.full &&
                             vs.generations == SyncDecision::kInSync && !vt.behind && !vs.behind;
        if (!settled) {
          Fail("not stable: deciding again after the resync is not in sync", source, target, pa, vs,
               vt);
          return;
        }
        // A source whose flush failed is repaired by a new session in which it is the
        // target; a serving primary never is (known limit: it is repaired once it hands the
        // module over or stops).
        if (!source.disk_failed) return;
        if (source.primary) {
          ++failed_primaries_kept;
          return;
        }
        std::tie(source, target) =
            vs.self_source ? AfterResync(source, target) : AfterResync(target, source);
      }
      Fail("not stable: a failed disk is never repaired", source, target, pa,
           DecideSession(source, target, pa),
           DecideSession(target, source, {pa.split_brain, !pa.self_default_primary}));
    }
    // A handover, once done, lets the survivor send.
    if (va.outcome == O::kHandOver) {
      CopyFacts server = a, survivor = b;
      server.primary = false;
      survivor.primary = true;
      SessionVerdict vs, vv;
      if (Mirror(server, survivor, pa, vs, vv) && !(vv.outcome == O::kAttach && vv.self_source)) {
        Fail("after the handover the survivor is not the source", server, survivor, pa, vs, vv);
      }
    }
  }
};

TEST(SessionDecisionTest, EveryPairOfCopiesGetsMirrorSafeAndStableVerdicts) {
  const std::set<GenPair> gens = ReachableGenerations();
  Checker checker;
  for (const GenPair& g : gens) {
    const bool split = Decide(g.a, g.b) == SyncDecision::kSplitBrain ||
                       Decide(g.a, g.b) == SyncDecision::kUnrelated;
    const std::vector<CopyFacts> as = AllFlags(g.a), bs = AllFlags(g.b);
    for (SplitBrainPolicy policy : {SplitBrainPolicy::kDiscardNonDefault, SplitBrainPolicy::kManual,
                                    SplitBrainPolicy::kDiscardLeastChanges}) {
      if (!split && policy != SplitBrainPolicy::kDiscardNonDefault) continue;
      for (bool default_here : {true, false}) {
        for (const CopyFacts& a : as) {
          for (const CopyFacts& b : bs) checker.Check(a, b, SessionPolicy{policy, default_here});
        }
      }
    }
  }
  std::cout << "session decision: " << gens.size() << " generation pairs, " << checker.pairs
            << " pairs of copy facts checked (both sides decided each), "
            << checker.rules_used.size() << " rules used; " << checker.failed_primaries_kept
            << " serving primaries with a failed disk left to repair after a handover\n";
  for (const auto& [property, count] : checker.violations) {
    std::cout << "  " << count << " x " << property << "\n";
  }
  for (const std::string& e : checker.examples) std::cout << "  e.g. " << e << "\n";
  EXPECT_TRUE(checker.violations.empty());
  EXPECT_GT(checker.pairs, 1'000'000u);
}

}  // namespace
}  // namespace duet
