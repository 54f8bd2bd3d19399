// Node's second half of a step (engine/node_reconcile.cc): each module marked dirty is
// re-decided and the decision carried out in the same step, a token move is persisted before
// anything acts on it, what status shows follows, and news goes to the peer at once.
// One node (b) driven alone, its scripts answered at once, its data verdict set by the test
// (tests/engine/fake_data_states.h); the peer, a, is silent or speaks through heartbeats the
// test writes.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "engine/node.h"
#include "sim/cluster_config.h"
#include "tests/engine/fake_data_states.h"
#include "tests/engine/printers.h"

namespace duet {
namespace {

constexpr NodeIndex kA = 0;
constexpr NodeIndex kB = 1;
constexpr ModuleIndex kAsModule = 0;  // default primary: a
constexpr ModuleIndex kBsModule = 1;  // default primary: b
const absl::Time kT = absl::UnixEpoch() + absl::Hours(1);

// One step's actions, with the time it ran at and the module states it left.
struct StepRecord {
  absl::Time at;
  Actions actions;
  std::vector<ModuleState> shown;
};

class NodeReconcileTest : public ::testing::Test {
 protected:
  NodeReconcileTest() : config_(sim::MakeClusterConfig({})), source_(config_.modules.size()) {}

  void Boot() {
    node_.emplace(config_, kB, 7, PersistedNode{}, kT, source_);
    now_ = kT;
    Record(node_->Start(kT));
  }
  // Steps `input` at the current time, then answers the scripts it started (exit 0).
  void Step(const Input& input) {
    Record(node_->Step(now_, input));
    while (!scripts_.empty()) {
      const RunScript run = scripts_.front();
      scripts_.erase(scripts_.begin());
      now_ += absl::Milliseconds(1);
      Record(node_->Step(now_, ScriptExited{.module = run.module, .run_id = run.run_id}));
    }
  }
  // Runs the node's deadlines (and the peer's heartbeats, if it speaks) for `d`.
  void RunFor(absl::Duration d) {
    const absl::Time end = now_ + d;
    while (true) {
      absl::Time next = std::min(node_->NextDeadline(), end);
      if (peer_speaks_) next = std::min(next, next_peer_beat_);
      if (next <= now_) next = now_ + absl::Milliseconds(1);
      if (next > end) break;
      now_ = next;
      if (peer_speaks_ && now_ >= next_peer_beat_) {
        next_peer_beat_ = now_ + config_.heartbeat.interval;
        Step(PeerReceived{.link = 0, .message = PeerBeat()});
      } else {
        Step(Tick{});
      }
    }
    now_ = end;
  }
  // A heartbeat from a: a serves its module, b's module is its secondary's, both up to date.
  Heartbeat PeerBeat() {
    Heartbeat hb;
    hb.from = kA;
    hb.incarnation = 1;
    hb.seq = ++peer_seq_;
    hb.sent_at_ns = absl::ToUnixNanos(now_);
    for (ModuleIndex m = 0; m < config_.modules.size(); ++m) {
      ModuleView v = peer_views_[m];
      v.module = config_.modules[m].name;
      hb.modules.push_back(v);
    }
    return hb;
  }
  void Record(Actions actions) {
    StepRecord r{.at = now_, .actions = std::move(actions), .shown = {}};
    for (ModuleIndex m = 0; m < node_->module_count(); ++m) r.shown.push_back(Shown(m));
    for (const Action& a : r.actions) {
      if (const auto* run = std::get_if<RunScript>(&a)) scripts_.push_back(*run);
    }
    steps_.push_back(std::move(r));
  }
  ModuleState Shown(ModuleIndex m) const { return node_->Status(m).state; }
  std::string Log() const {
    std::string all;
    for (const StepRecord& s : steps_) {
      for (const Action& a : s.actions) {
        if (const auto* e = std::get_if<LogEvent>(&a)) all += e->text + "\n";
      }
    }
    return all;
  }
  // b's views of module m in every heartbeat it sent, oldest first.
  std::vector<ModuleView> SentViews(ModuleIndex m) const {
    std::vector<ModuleView> views;
    for (const StepRecord& s : steps_) {
      for (const Action& a : s.actions) {
        const auto* send = std::get_if<SendPeer>(&a);
        if (send == nullptr) continue;
        if (const auto* hb = std::get_if<Heartbeat>(&send->message))
          views.push_back(hb->modules[m]);
      }
    }
    return views;
  }

  Config config_;
  FakeDataStates source_;
  std::optional<Node> node_;
  absl::Time now_;
  std::vector<RunScript> scripts_;
  std::vector<StepRecord> steps_;
  bool peer_speaks_ = false;
  absl::Time next_peer_beat_ = kT;
  uint64_t peer_seq_ = 0;
  std::vector<ModuleView> peer_views_ = {
      {.module = "m0", .state = ModuleState::kPrim, .data = DataState::kUpToDate, .owner = kA},
      {.module = "m1", .state = ModuleState::kSecond, .data = DataState::kUpToDate, .owner = kB}};
};

// The token move reaches the disk before the VIP, the writable mount or a script act on it:
// a crash in between leaves a node that knows it claimed the module.
TEST_F(NodeReconcileTest, ATakeoverIsPersistedBeforeAnythingActsOnIt) {
  source_.Set(kAsModule, DataState::kUpToDate);
  Boot();
  RunFor(absl::Seconds(5));  // a never speaks: lost after heartbeat.timeout
  ASSERT_EQ(Shown(kAsModule), ModuleState::kAlone) << Log();
  EXPECT_NE(Log().find("m0: taking over (peer lost), term 1"), std::string::npos) << Log();
  bool claimed = false;
  for (const StepRecord& s : steps_) {
    for (const Action& a : s.actions) {
      if (const auto* p = std::get_if<PersistModule>(&a)) {
        if (p->module == kAsModule && p->record.owner == kB) claimed = true;
      }
      const auto* vip = std::get_if<SetVip>(&a);
      const auto* writable = std::get_if<SetWritable>(&a);
      const auto* run = std::get_if<RunScript>(&a);
      const bool acts = (vip && vip->module == kAsModule && vip->assigned) ||
                        (writable && writable->module == kAsModule && writable->writable) ||
                        (run && run->module == kAsModule && run->kind == ScriptKind::kStartPrim);
      if (acts) {
        EXPECT_TRUE(claimed) << "acted on m0 before its claim was persisted\n" << Log();
      }
    }
  }
  EXPECT_TRUE(claimed);
}

// A claim marks nothing for later: the step that declares the peer lost also starts the
// new role's plan (b leaves the secondary role at once).
TEST_F(NodeReconcileTest, AClaimIsCarriedOutInTheStepThatMadeIt) {
  source_.Set(kAsModule, DataState::kUpToDate);
  Boot();
  RunFor(absl::Seconds(5));
  for (const StepRecord& s : steps_) {
    bool claim = false, stops_secondary = false;
    for (const Action& a : s.actions) {
      if (const auto* p = std::get_if<PersistModule>(&a)) {
        claim |= p->module == kAsModule && p->record.owner == kB && p->record.term == 1;
      }
      if (const auto* run = std::get_if<RunScript>(&a)) {
        stops_secondary |= run->module == kAsModule && run->kind == ScriptKind::kStopSecond;
      }
    }
    if (claim) {
      EXPECT_TRUE(stops_secondary) << Log();
      return;
    }
  }
  ADD_FAILURE() << "no claim\n" << Log();
}

// Without a copy known up to date, a non-owner never takes a lost peer's module (DESIGN.md
// §3) and says why.
TEST_F(NodeReconcileTest, ANonOwnerWithoutUpToDateDataWaitsAndSaysWhy) {
  source_.Set(kAsModule, DataState::kOutdated);
  Boot();
  RunFor(absl::Seconds(10));
  EXPECT_EQ(Shown(kAsModule), ModuleState::kWait) << Log();
  EXPECT_EQ(node_->Status(kAsModule).reason, "peer lost; data is outdated here");
  EXPECT_EQ(node_->Status(kAsModule).owner, kA);
  EXPECT_EQ(Log().find("taking over"), std::string::npos) << Log();
}

// An owner writable while its peer is lost remembers it across a daemon restart, so that a
// later takeover by the peer is reported as a split brain.
TEST_F(NodeReconcileTest, AnOwnerWritingWithoutItsPeerPersistsThatItWroteAlone) {
  source_.Set(kAsModule, DataState::kUpToDate);
  source_.Set(kBsModule, DataState::kUpToDate);
  Boot();
  RunFor(absl::Seconds(5));
  ASSERT_EQ(Shown(kBsModule), ModuleState::kAlone) << Log();
  std::optional<PersistedModule> last;
  for (const StepRecord& s : steps_) {
    for (const Action& a : s.actions) {
      const auto* p = std::get_if<PersistModule>(&a);
      if (p != nullptr && p->module == kBsModule) last = p->record;
    }
  }
  ASSERT_TRUE(last.has_value()) << Log();
  EXPECT_TRUE(last->wrote_alone);
  EXPECT_EQ(last->owner, kB);
}

// The peer hears of every change of what status shows in the step that made it, not at the
// next beat; and the change is logged as "FROM -> TO".
TEST_F(NodeReconcileTest, EveryShownChangeIsLoggedAndSentToThePeerInTheSameStep) {
  source_.Set(kAsModule, DataState::kUpToDate);
  source_.Set(kBsModule, DataState::kUpToDate);
  Boot();
  RunFor(absl::Seconds(5));
  int changes = 0;
  std::vector<ModuleState> before(config_.modules.size(), ModuleState::kWait);
  for (const StepRecord& s : steps_) {
    for (ModuleIndex m = 0; m < s.shown.size(); ++m) {
      if (s.shown[m] == before[m]) continue;
      ++changes;
      const std::string change =
          absl::StrCat(config_.modules[m].name, ": ", ModuleStateName(before[m]), " -> ",
                       ModuleStateName(s.shown[m]));
      bool logged = false, sent = false;
      for (const Action& a : s.actions) {
        if (const auto* e = std::get_if<LogEvent>(&a)) logged |= e->text.find(change) == 0;
        const auto* send = std::get_if<SendPeer>(&a);
        if (send == nullptr) continue;
        if (const auto* hb = std::get_if<Heartbeat>(&send->message)) {
          sent |= hb->modules[m].state == s.shown[m];
        }
      }
      EXPECT_TRUE(logged) << change << "\n" << Log();
      EXPECT_TRUE(sent) << change << " not sent in its step";
      before[m] = s.shown[m];
    }
  }
  // m0: WAIT -> SECOND -> ALONE (the scripts answer at once); m1: WAIT -> ALONE.
  EXPECT_EQ(changes, 3) << Log();
}

// What b tells a about each module: only the non-owner offers to take over, and only while
// its application runs as a secondary on a copy known up to date.
TEST_F(NodeReconcileTest, OnlyANonOwnerReadyAsSecondaryOffersToTakeOver) {
  source_.Set(kAsModule, DataState::kUpToDate);
  source_.Set(kBsModule, DataState::kUpToDate);
  peer_speaks_ = true;
  Boot();
  RunFor(absl::Seconds(3));
  ASSERT_EQ(Shown(kAsModule), ModuleState::kSecond) << Log();
  ASSERT_EQ(Shown(kBsModule), ModuleState::kPrim) << Log();
  ModuleView view = SentViews(kAsModule).back();
  EXPECT_TRUE(view.eligible);
  EXPECT_EQ(view.owner, kA);
  EXPECT_FALSE(view.writing_alone);
  view = SentViews(kBsModule).back();
  EXPECT_FALSE(view.eligible) << "the owner offers nothing";
  EXPECT_EQ(view.owner, kB);
  EXPECT_EQ(view.state, ModuleState::kPrim);

  source_.Set(kAsModule, DataState::kOutdated);
  RunFor(absl::Seconds(1));
  view = SentViews(kAsModule).back();
  EXPECT_FALSE(view.eligible) << "an outdated copy cannot take over";
  EXPECT_EQ(view.data, DataState::kOutdated);
}

// A planned handover never makes two writers: the token goes to the peer only once this node
// has stopped its application and frozen writes, and an admin's move is pinned (no failback).
TEST_F(NodeReconcileTest, AHandoverPassesTheTokenOnlyOnceWritesAreFrozenHere) {
  source_.Set(kAsModule, DataState::kUpToDate);
  source_.Set(kBsModule, DataState::kUpToDate);
  peer_views_[kBsModule].eligible = true;
  peer_speaks_ = true;
  Boot();
  RunFor(absl::Seconds(3));
  ASSERT_EQ(Shown(kBsModule), ModuleState::kPrim) << Log();
  const size_t from = steps_.size();
  Step(AdminCommand{.request_id = 9, .verb = AdminVerb::kSwap, .module = kBsModule});
  RunFor(absl::Seconds(1));
  bool replied = false, frozen = false, passed = false;
  for (size_t i = from; i < steps_.size(); ++i) {
    for (const Action& a : steps_[i].actions) {
      if (const auto* r = std::get_if<AdminReply>(&a); r != nullptr && r->request_id == 9) {
        EXPECT_TRUE(r->status.ok()) << r->status;
        replied = true;
      }
      const auto* w = std::get_if<SetWritable>(&a);
      if (w != nullptr && w->module == kBsModule && !w->writable) frozen = true;
      const auto* p = std::get_if<PersistModule>(&a);
      if (p != nullptr && p->module == kBsModule && p->record.owner == kA) {
        EXPECT_TRUE(frozen) << "token passed while writable here\n" << Log();
        EXPECT_TRUE(p->record.pinned);
        EXPECT_EQ(p->record.term, 1u);
        passed = true;
      }
    }
  }
  EXPECT_TRUE(replied);
  EXPECT_TRUE(passed) << Log();
  EXPECT_NE(Log().find("m1: handed over to a, term 1"), std::string::npos) << Log();
  EXPECT_EQ(node_->Status(kBsModule).owner, kA);
  EXPECT_EQ(Shown(kBsModule), ModuleState::kSecond) << Log();
}

// A quiet pair sends heartbeats at the interval only: nothing re-decided, nothing sent between.
TEST_F(NodeReconcileTest, ASettledNodeSendsOnlyItsRegularHeartbeats) {
  source_.Set(kAsModule, DataState::kUpToDate);
  source_.Set(kBsModule, DataState::kUpToDate);
  peer_speaks_ = true;
  Boot();
  RunFor(absl::Seconds(3));
  const size_t sent_before = SentViews(kAsModule).size();
  const size_t steps_before = steps_.size();
  RunFor(absl::Seconds(2));
  const size_t sent = SentViews(kAsModule).size() - sent_before;
  // One per interval (200 ms less up to 10% jitter), give or take the window's edges.
  EXPECT_GE(sent, 9u);
  EXPECT_LE(sent, 12u);
  for (size_t i = steps_before; i < steps_.size(); ++i) {
    for (const Action& a : steps_[i].actions) {
      EXPECT_FALSE(std::holds_alternative<PersistModule>(a)) << Log();
      EXPECT_FALSE(std::holds_alternative<RunScript>(a)) << Log();
    }
  }
}

}  // namespace
}  // namespace duet
