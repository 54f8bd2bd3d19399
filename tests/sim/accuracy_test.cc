// The accuracy checker against small fault schedules and event sequences built by hand: it
// accepts what a fault explains (naming the fault) and rejects what none does.
#include "sim/accuracy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim/cluster_config.h"
#include "sim/fault_ledger.h"
#include "sim/run_options.h"
#include "sim/simulation.h"

namespace duet::sim {
namespace {

constexpr NodeIndex kA = 0;
constexpr NodeIndex kB = 1;
const absl::Time kT0 = absl::UnixEpoch() + absl::Hours(1);

absl::Time At(double seconds) { return kT0 + absl::Seconds(seconds); }

// A pair (one module, m0 homed on a; two heartbeat links) watched by an AccuracyChecker fed
// by hand.
class AccuracyTest : public ::testing::Test {
 protected:
  explicit AccuracyTest(bool witness = false, int64_t drift_bound_ppm = 0)
      : config_(MakeClusterConfig({.modules = 1, .heartbeat_links = 2, .witness = witness})),
        checker_(config_, ledger_, drift_bound_ppm) {
    checker_.set_sink([this](const Violation& v) { violations_.push_back(v.detail); });
    checker_.OnNodeStarted(kT0, kA);
    checker_.OnNodeStarted(kT0, kB);
  }

  // Node `to` hears heartbeat `seq` of its peer (incarnation 1) at `t`.
  void Heartbeat(double t, NodeIndex to, uint64_t seq) {
    duet::Heartbeat hb;
    hb.from = Peer(to);
    hb.incarnation = 1;
    hb.seq = seq;
    checker_.OnPeerMessageDelivered(At(t), to, 0, hb);
  }

  // Every heartbeat link cut both ways from `from` to `to` seconds.
  uint64_t Partition(double from, double to) {
    const uint64_t id = ledger_.Begin(At(from), FaultKind::kPartition, "partition");
    for (int l = 0; l < 2; ++l) {
      for (NodeIndex n = 0; n < 2; ++n) {
        FaultEffect e;
        e.fault = id;
        e.kind = EffectKind::kLinkDown;
        e.start = At(from);
        e.end = At(to);
        e.node = n;
        e.link = l;
        ledger_.Add(e);
      }
    }
    return id;
  }

  uint64_t Instant(double t, FaultKind kind, EffectKind effect_kind, NodeIndex n) {
    const uint64_t id = ledger_.Begin(At(t), kind, FaultKindName(kind));
    FaultEffect e;
    e.fault = id;
    e.kind = effect_kind;
    e.start = e.end = At(t);
    e.node = n;
    ledger_.Add(e);
    return id;
  }

  void Log(double t, NodeIndex n, const std::string& text) { checker_.OnLog(At(t), n, text); }

  bool Rejected(const std::string& part) const {
    for (const std::string& v : violations_) {
      if (v.find(part) != std::string::npos) return true;
    }
    return false;
  }

  Config config_;
  FaultLedger ledger_;
  AccuracyChecker checker_;
  std::vector<std::string> violations_;
};

TEST_F(AccuracyTest, TakeoverAfterAPartitionIsAcceptedAndNamesThePartition) {
  for (int i = 1; i <= 5; ++i) Heartbeat(0.2 * i, kB, i);
  const uint64_t partition = Partition(1.05, 10);
  Log(3.0, kB, "peer a lost: every heartbeat link silent for 2s");
  Log(3.0, kB, "m0: taking over (peer lost), term 1");
  EXPECT_TRUE(violations_.empty()) << violations_.front();
  ASSERT_EQ(checker_.events().size(), 1u);
  const AccountedEvent& e = checker_.events()[0];
  EXPECT_EQ(e.kind, AccountedEvent::Kind::kFailover);
  EXPECT_EQ(e.causes, std::vector<uint64_t>{partition});
  EXPECT_NE(checker_.Describe(e).find("b takes m0 over (peer lost at"), std::string::npos)
      << checker_.Describe(e);
  EXPECT_NE(checker_.Describe(e).find("caused by partition#1"), std::string::npos)
      << checker_.Describe(e);
}

TEST_F(AccuracyTest, PeerLostWithNoFaultOnTheLinksIsRejected) {
  for (int i = 1; i <= 5; ++i) Heartbeat(0.2 * i, kB, i);
  Log(3.0, kB, "peer a lost: every heartbeat link silent for 2s");
  EXPECT_TRUE(Rejected("nothing explains the silence"));
}

TEST_F(AccuracyTest, PeerLostWhenOnlyOneOfTwoLinksFailedIsRejected) {
  for (int i = 1; i <= 5; ++i) Heartbeat(0.2 * i, kB, i);
  const uint64_t id = ledger_.Begin(At(1.05), FaultKind::kLinkDown, "link 0 down");
  for (NodeIndex n = 0; n < 2; ++n) {
    FaultEffect e;
    e.fault = id;
    e.kind = EffectKind::kLinkDown;
    e.start = At(1.05);
    e.node = n;
    e.link = 0;
    ledger_.Add(e);
  }
  Log(3.0, kB, "peer a lost: every heartbeat link silent for 2s");
  EXPECT_TRUE(Rejected("no fault dropped messages on heartbeat link 1 (a->b)"));
}

TEST_F(AccuracyTest, PeerLostBeforeTheTimeoutIsRejectedEvenDuringAPartition) {
  for (int i = 1; i <= 5; ++i) Heartbeat(0.2 * i, kB, i);
  Partition(1.05, 10);
  Log(2.5, kB, "peer a lost: every heartbeat link silent for 2s");
  EXPECT_TRUE(Rejected("less than the heartbeat timeout")) << ::testing::PrintToString(violations_);
}

TEST_F(AccuracyTest, StaleHeartbeatOvertakenOnTheWayDoesNotCountAsHeard) {
  Heartbeat(0.8, kB, 5);
  Heartbeat(1.0, kB, 4);  // older, delayed: the engine ignores it, so does the checker
  Partition(0.85, 10);
  Log(2.81, kB, "peer a lost: every heartbeat link silent for 2s");
  EXPECT_TRUE(violations_.empty()) << violations_.front();
}

TEST_F(AccuracyTest, CrashOfThePeerExplainsThePeerLost) {
  Heartbeat(1.0, kB, 5);
  const uint64_t crash = Instant(1.1, FaultKind::kCrash, EffectKind::kNodeDown, kA);
  Log(3.1, kB, "peer a lost: every heartbeat link silent for 2s");
  Log(3.1, kB, "m0: taking over (peer lost), term 1");
  EXPECT_TRUE(violations_.empty()) << violations_.front();
  ASSERT_EQ(checker_.events().size(), 1u);
  EXPECT_EQ(checker_.events()[0].causes, std::vector<uint64_t>{crash});
}

TEST_F(AccuracyTest, TakeoverWhileThePeerIsHeardIsRejected) {
  Heartbeat(1.0, kB, 5);
  Log(1.5, kB, "m0: taking over (peer lost), term 1");
  EXPECT_TRUE(Rejected("while its peer was not lost"));
}

TEST_F(AccuracyTest, TakeoverAfterThePeerCameBackIsRejected) {
  Heartbeat(1.0, kB, 5);
  Partition(1.05, 3.5);
  Log(3.1, kB, "peer a lost: every heartbeat link silent for 2s");
  Heartbeat(3.6, kB, 6);
  Log(3.6, kB, "peer a is back");
  Log(3.7, kB, "m0: taking over (peer lost), term 1");
  EXPECT_TRUE(Rejected("while its peer was not lost"));
}

TEST_F(AccuracyTest, ApplicationFailoverOnAnInjectedCheckerFailureIsAccepted) {
  const uint64_t id = Instant(5, FaultKind::kChecker, EffectKind::kChecker, kA);
  Log(5, kA, "m0: checker app failed: injected; restart budget exhausted; failing over");
  EXPECT_TRUE(violations_.empty()) << violations_.front();
  ASSERT_EQ(checker_.events().size(), 1u);
  EXPECT_EQ(checker_.events()[0].kind, AccountedEvent::Kind::kApplicationFailover);
  EXPECT_EQ(checker_.events()[0].causes, std::vector<uint64_t>{id});
}

TEST_F(AccuracyTest, ApplicationFailoverWithNoFailureInjectedIsRejected) {
  Instant(5, FaultKind::kChecker, EffectKind::kChecker, kB);  // on the other node
  Log(5, kA, "m0: checker app failed: injected; restart budget exhausted; failing over");
  EXPECT_TRUE(Rejected("without a checker failure injected"));
}

TEST_F(AccuracyTest, StartScriptFailingOutsideAScriptFailWindowIsRejected) {
  Log(5, kA, "m0: start_prim failed (exit 1); restart budget exhausted; failing over");
  EXPECT_TRUE(Rejected("without a script-fail fault"));
}

TEST_F(AccuracyTest, SplitBrainIsExplainedByTheClaimThatOpenedIt) {
  checker_.OnWritable(At(0.5), kA, 0, true);
  Heartbeat(1.0, kA, 5);
  Heartbeat(1.0, kB, 5);
  const uint64_t partition = Partition(1.05, 10);
  Log(3.1, kB, "peer a lost: every heartbeat link silent for 2s");
  Log(3.1, kB, "m0: taking over (peer lost), term 1");
  Log(3.2, kA, "peer b lost: every heartbeat link silent for 2s");
  Log(3.2, kA, "m0: continuing alone, term 1");
  checker_.OnWritable(At(3.3), kB, 0, true);  // a still writes: split brain
  Log(10.5, kA, "m0: split brain: both nodes claimed term 1; default primary a keeps the module");
  EXPECT_TRUE(violations_.empty()) << violations_.front();
  ASSERT_EQ(checker_.split_brains(), 1) << "one episode, seen twice";
  EXPECT_EQ(checker_.events().back().causes, std::vector<uint64_t>{partition});
}

TEST_F(AccuracyTest, SplitBrainAtATermOneNodeNeverClaimedIsRejected) {
  Heartbeat(1.0, kB, 5);
  Partition(1.05, 10);
  Log(3.1, kB, "peer a lost: every heartbeat link silent for 2s");
  Log(3.1, kB, "m0: taking over (peer lost), term 1");
  Log(10.5, kA, "m0: split brain: both nodes claimed term 1; default primary a keeps the module");
  EXPECT_TRUE(Rejected("a never claimed term 1"));
}

TEST_F(AccuracyTest, SplitBrainWithNoClaimAndNoFaultIsRejected) {
  checker_.OnWritable(At(0.5), kA, 0, true);
  checker_.OnWritable(At(1.0), kB, 0, true);
  EXPECT_TRUE(Rejected("no fault explains it"));
}

TEST_F(AccuracyTest, FenceForASplitBrainNeedsThePeersClaim) {
  checker_.OnWritable(At(0.5), kA, 0, true);
  Log(1.0, kA,
      "m0: fencing: split brain: the peer took over at term 1 while this node was "
      "still primary");
  EXPECT_TRUE(Rejected("b never claimed it at term 1"));
}

TEST_F(AccuracyTest, HandoverForAFailbackIsPlannedNotAFailover) {
  Log(5, kB, "m0: failback: the default primary is an up-to-date secondary again");
  Log(5.5, kB, "m0: handed over to a, term 2");
  EXPECT_TRUE(violations_.empty()) << violations_.front();
  EXPECT_EQ(checker_.failovers(), 0);
}

TEST_F(AccuracyTest, HandoverAfterADaemonRestartIsAFailoverCausedByIt) {
  const uint64_t restart = Instant(5, FaultKind::kDaemonRestart, EffectKind::kNodeDown, kA);
  checker_.OnNodeDown(At(5), kA);
  checker_.OnNodeStarted(At(5.1), kA);
  Log(5.2, kA, "m0: handed over to b, term 1");
  EXPECT_TRUE(violations_.empty()) << violations_.front();
  ASSERT_EQ(checker_.failovers(), 1);
  EXPECT_EQ(checker_.events()[0].causes, std::vector<uint64_t>{restart});
}

TEST_F(AccuracyTest, HandoverWithNoReasonAndNoFaultIsRejected) {
  Log(40, kA, "m0: handed over to b, term 1");
  EXPECT_TRUE(Rejected("no failback, admin command or failure asking for it"));
}

TEST_F(AccuracyTest, HandoverAfterPrestartFailedInAScriptFailWindowIsAnApplicationFailover) {
  const uint64_t window = ledger_.Begin(At(4), FaultKind::kScriptFail, "scripts fail");
  FaultEffect e;
  e.fault = window;
  e.kind = EffectKind::kScriptsFail;
  e.start = At(4);
  e.end = At(6);
  ledger_.Add(e);
  Log(5, kA, "m0: prestart failed (exit 1)");
  Log(5.1, kA, "m0: handed over to b, term 1");
  EXPECT_TRUE(violations_.empty()) << violations_.front();
  ASSERT_EQ(checker_.failovers(), 1);
  EXPECT_EQ(checker_.events()[0].kind, AccountedEvent::Kind::kApplicationFailover);
  EXPECT_EQ(checker_.events()[0].causes, std::vector<uint64_t>{window});
}

TEST_F(AccuracyTest, PrestartFailingOutsideAScriptFailWindowIsRejected) {
  Log(5, kA, "m0: prestart failed (exit 1)");
  EXPECT_TRUE(Rejected("outside any script-fail or script-timeout fault"));
}

class AccuracyWithWitnessTest : public AccuracyTest {
 protected:
  AccuracyWithWitnessTest() : AccuracyTest(/*witness=*/true) {}
};

TEST_F(AccuracyWithWitnessTest, FenceCutOffFromPeerAndWitnessIsAccepted) {
  Partition(1, 10);
  const uint64_t id = Instant(1, FaultKind::kWitnessLink, EffectKind::kWitnessPath, kA);
  ledger_.mutable_effect(ledger_.effects().size() - 1).end = At(10);
  (void)id;
  Log(4, kA, "m0: fencing: neither the peer's acknowledgement nor the witness lease is current");
  EXPECT_TRUE(violations_.empty()) << violations_.front();
  EXPECT_EQ(checker_.fences_checked(), 1);
}

TEST_F(AccuracyWithWitnessTest, FenceWithTheWitnessReachableAndNoPeerLeaseIsRejected) {
  Partition(1, 10);
  Log(4, kA, "m0: fencing: neither the peer's acknowledgement nor the witness lease is current");
  EXPECT_TRUE(Rejected("from the witness and no lease held by its peer"));
}

TEST_F(AccuracyWithWitnessTest, FenceWhileThePeerStillHoldsTheLeaseAfterAHandoverIsAccepted) {
  checker_.OnLeaseGranted(At(0.5), kB, 0);  // b's lease runs on after it handed m0 to a
  Partition(1, 10);
  Log(4, kA, "m0: fencing: neither the peer's acknowledgement nor the witness lease is current");
  EXPECT_TRUE(violations_.empty()) << violations_.front();
}

TEST_F(AccuracyWithWitnessTest, FenceWithThePeerReachableIsRejected) {
  Instant(1, FaultKind::kWitnessCrash, EffectKind::kWitnessDown, kA);
  Log(4, kA, "m0: fencing: neither the peer's acknowledgement nor the witness lease is current");
  EXPECT_TRUE(Rejected("from its peer"));
}

class AccuracyWithDriftTest : public AccuracyTest {
 protected:
  AccuracyWithDriftTest() : AccuracyTest(/*witness=*/false, /*drift_bound_ppm=*/40'000) {}
};

TEST_F(AccuracyWithDriftTest, PeerLostSoonerOnAFastClockIsAcceptedWithinTheBound) {
  // 2 s on a clock 4% fast is 1.923 s of true time.
  EXPECT_EQ(absl::Trunc(checker_.MinimumSilence(), absl::Milliseconds(1)),
            absl::Milliseconds(1923));
  Heartbeat(1.0, kB, 5);
  Partition(1.05, 10);
  Log(2.93, kB, "peer a lost: every heartbeat link silent for 2s");
  EXPECT_TRUE(violations_.empty()) << violations_.front();
}

TEST_F(AccuracyWithDriftTest, PeerLostSoonerThanTheDriftBoundAllowsIsRejected) {
  Heartbeat(1.0, kB, 5);
  Partition(1.05, 10);
  Log(2.9, kB, "peer a lost: every heartbeat link silent for 2s");
  EXPECT_TRUE(Rejected("less than the heartbeat timeout"));
}

TEST(AccuracySimulationTest, CrashFailoversAreReportedWithTheCrashThatCausedThem) {
  int failovers = 0;
  for (uint64_t seed = 1; seed <= 10 && failovers == 0; ++seed) {
    RunOptions options =
        DeriveOptions(seed, Overrides{.duration = absl::Seconds(30),
                                      .faults = std::vector<FaultKind>{FaultKind::kCrash},
                                      .witness = false});
    const RunResult result = Simulation(options).Run();
    ASSERT_TRUE(result.passed) << result.report;
    failovers += result.accounted_failovers;
    for (const std::string& line : result.accounted) {
      EXPECT_NE(line.find("caused by crash#"), std::string::npos) << line;
    }
    if (result.accounted_failovers > 0) {
      EXPECT_NE(FormatSummary(options, result).find("failovers and"), std::string::npos);
    }
  }
  EXPECT_GT(failovers, 0);
}

}  // namespace
}  // namespace duet::sim
