#include "adapters/net/datagram_auth.h"

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "gtest/gtest.h"
#include "net_test_util.h"

namespace duet::net {
namespace {

std::vector<uint8_t> Bytes(const std::string& text) { return {text.begin(), text.end()}; }

std::vector<uint8_t> Sealed(absl::StatusOr<std::vector<uint8_t>> sealed) {
  EXPECT_TRUE(sealed.ok()) << sealed.status();
  return sealed.ok() ? *std::move(sealed) : std::vector<uint8_t>{};
}

DropReason ReasonOf(const std::variant<OpenedDatagram, Drop>& result) {
  EXPECT_TRUE(std::holds_alternative<Drop>(result));
  return std::holds_alternative<Drop>(result) ? std::get<Drop>(result).reason
                                              : DropReason::kMalformed;
}

bool Accepted(const std::variant<OpenedDatagram, Drop>& result) {
  return std::holds_alternative<OpenedDatagram>(result);
}

TEST(DatagramAuth, HeartbeatArrivesWithItsSenderAndPayload) {
  DatagramAuth node0(TestKey(), "prod", 0, /*epoch=*/5);
  DatagramAuth node1(TestKey(), "prod", 1, /*epoch=*/9);
  std::vector<uint8_t> wire = Sealed(node0.Seal(1, 0, Bytes("heartbeat")));
  auto opened = node1.Open(wire, 0);
  ASSERT_TRUE(Accepted(opened));
  const OpenedDatagram& d = std::get<OpenedDatagram>(opened);
  EXPECT_EQ(d.origin, (DatagramOrigin{0, 0, 5, 1, node0.nonce()}));
  EXPECT_FALSE(d.is_reply);
  EXPECT_EQ(std::vector<uint8_t>(d.payload.begin(), d.payload.end()), Bytes("heartbeat"));
}

TEST(DatagramAuth, ForgedDatagramFailsTheTag) {
  DatagramAuth node0(TestKey(), "prod", 0, 1);
  DatagramAuth node1(TestKey(), "prod", 1, 1);
  std::vector<uint8_t> wire = Sealed(node0.Seal(1, 0, Bytes("primary here")));
  wire[kDatagramHeaderBytes] ^= 0x20;
  EXPECT_EQ(ReasonOf(node1.Open(wire, 0)), DropReason::kBadTag);
  DatagramAuth stranger(TestKey(42), "prod", 0, 1);
  EXPECT_EQ(ReasonOf(node1.Open(Sealed(stranger.Seal(1, 0, Bytes("x"))), 0)), DropReason::kBadTag);
}

TEST(DatagramAuth, ReplayedAndOlderDatagramsAreDropped) {
  DatagramAuth node0(TestKey(), "prod", 0, 1);
  DatagramAuth node1(TestKey(), "prod", 1, 1);
  std::vector<uint8_t> first = Sealed(node0.Seal(1, 0, Bytes("1")));
  std::vector<uint8_t> second = Sealed(node0.Seal(1, 0, Bytes("2")));
  EXPECT_TRUE(Accepted(node1.Open(second, 0)));
  EXPECT_EQ(ReasonOf(node1.Open(second, 0)), DropReason::kReplayed);
  EXPECT_EQ(ReasonOf(node1.Open(first, 0)), DropReason::kReplayed);
}

TEST(DatagramAuth, DatagramOfAnEarlierEpochIsDroppedAfterTheSenderRestarted) {
  DatagramAuth before_restart(TestKey(), "prod", 0, /*epoch=*/3);
  DatagramAuth node1(TestKey(), "prod", 1, 1);
  std::vector<uint8_t> old_one = Sealed(before_restart.Seal(1, 0, Bytes("old")));
  for (int i = 0; i < 10; ++i) Sealed(before_restart.Seal(1, 0, Bytes("more")));
  std::vector<uint8_t> late = Sealed(before_restart.Seal(1, 0, Bytes("late")));
  EXPECT_TRUE(Accepted(node1.Open(old_one, 0)));
  DatagramAuth after_restart(TestKey(), "prod", 0, /*epoch=*/4);  // seq starts over
  EXPECT_TRUE(Accepted(node1.Open(Sealed(after_restart.Seal(1, 0, Bytes("new"))), 0)));
  EXPECT_EQ(ReasonOf(node1.Open(late, 0)), DropReason::kStaleEpoch);
}

// A replaced machine: the sender's state directory was wiped, so its epoch and its seqs start
// over below what the receiver accepted from its earlier run.
TEST(DatagramAuth, ASenderWhoseStateWasWipedIsHeardAsSoonAsItHeardTheReceiver) {
  auto wiped_run = std::make_unique<DatagramAuth>(TestKey(), "prod", 0, /*epoch=*/1);
  DatagramAuth node1(TestKey(), "prod", 1, /*epoch=*/1);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(Accepted(node1.Open(Sealed(wiped_run->Seal(1, 0, Bytes("hb"))), 0)));
    ASSERT_TRUE(Accepted(wiped_run->Open(Sealed(node1.Seal(0, 0, Bytes("hb"))), 0)));
  }
  wiped_run.reset();
  DatagramAuth new_run(TestKey(), "prod", 0, /*epoch=*/1);
  EXPECT_NE(new_run.nonce(), node1.nonce());
  // Not heard anything yet: it might be a recording, and is not followed.
  EXPECT_EQ(ReasonOf(node1.Open(Sealed(new_run.Seal(1, 0, Bytes("hb 1"))), 0)),
            DropReason::kStaleEpoch);
  // One heartbeat of node 1 reaches it; its next one (seq 2, far below 50) is heard at once.
  ASSERT_TRUE(Accepted(new_run.Open(Sealed(node1.Seal(0, 0, Bytes("hb"))), 0)));
  auto opened = node1.Open(Sealed(new_run.Seal(1, 0, Bytes("hb 2"))), 0);
  ASSERT_TRUE(Accepted(opened));
  EXPECT_EQ(std::get<OpenedDatagram>(opened).origin, (DatagramOrigin{0, 0, 1, 2, new_run.nonce()}));
  EXPECT_TRUE(Accepted(node1.Open(Sealed(new_run.Seal(1, 0, Bytes("hb 3"))), 0)));
}

TEST(DatagramAuth, RecordingsOfAWipedSendersEarlierRunNeitherPassNorWinTheReceiverBack) {
  auto old_run = std::make_unique<DatagramAuth>(TestKey(), "prod", 0, /*epoch=*/9);
  DatagramAuth node1(TestKey(), "prod", 1, 1);
  std::vector<std::vector<uint8_t>> delivered, never_delivered;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(Accepted(old_run->Open(Sealed(node1.Seal(0, 0, Bytes("hb"))), 0)));
    delivered.push_back(Sealed(old_run->Seal(1, 0, Bytes("hb"))));
    ASSERT_TRUE(Accepted(node1.Open(delivered.back(), 0)));
  }
  // Recorded on the way, lost to node 1: newer than anything it accepted, echoing its run.
  for (int i = 0; i < 5; ++i) never_delivered.push_back(Sealed(old_run->Seal(1, 0, Bytes("x"))));
  old_run.reset();
  DatagramAuth new_run(TestKey(), "prod", 0, /*epoch=*/1);
  ASSERT_TRUE(Accepted(new_run.Open(Sealed(node1.Seal(0, 0, Bytes("hb"))), 0)));
  ASSERT_TRUE(Accepted(node1.Open(Sealed(new_run.Seal(1, 0, Bytes("hb"))), 0)));

  for (const auto& recorded : delivered) {
    EXPECT_EQ(ReasonOf(node1.Open(recorded, 0)), DropReason::kStaleEpoch);
  }
  for (const auto& recorded : never_delivered) {
    EXPECT_EQ(ReasonOf(node1.Open(recorded, 0)), DropReason::kStaleEpoch);
  }
  // Still following the new run, whose seqs are far below the old run's.
  EXPECT_TRUE(Accepted(node1.Open(Sealed(new_run.Seal(1, 0, Bytes("hb"))), 0)));
}

TEST(DatagramAuth, AFreshReceiverFedARecordingFirstIsWonBackByTheLiveRun) {
  DatagramAuth old_run(TestKey(), "prod", 0, /*epoch=*/9);
  std::vector<uint8_t> recorded_1 = Sealed(old_run.Seal(1, 0, Bytes("old")));
  std::vector<uint8_t> recorded_2 = Sealed(old_run.Seal(1, 0, Bytes("old")));
  DatagramAuth live_run(TestKey(), "prod", 0, /*epoch=*/1);  // wiped since
  DatagramAuth node1(TestKey(), "prod", 1, 1);               // just restarted: knows nothing
  ASSERT_TRUE(Accepted(node1.Open(recorded_1, 0)));
  EXPECT_EQ(ReasonOf(node1.Open(Sealed(live_run.Seal(1, 0, Bytes("hb"))), 0)),
            DropReason::kStaleEpoch);
  ASSERT_TRUE(Accepted(live_run.Open(Sealed(node1.Seal(0, 0, Bytes("hb"))), 0)));
  EXPECT_TRUE(Accepted(node1.Open(Sealed(live_run.Seal(1, 0, Bytes("hb"))), 0)));
  EXPECT_EQ(ReasonOf(node1.Open(recorded_2, 0)), DropReason::kStaleEpoch);
}

TEST(DatagramAuth, EachLinkKeepsItsOwnNumberingAndRefusesAnotherLinksDatagrams) {
  DatagramAuth node0(TestKey(), "prod", 0, 1);
  DatagramAuth node1(TestKey(), "prod", 1, 1);
  std::vector<uint8_t> on_link1 = Sealed(node0.Seal(1, 1, Bytes("a")));  // seq 1
  std::vector<uint8_t> on_link0 = Sealed(node0.Seal(1, 0, Bytes("a")));  // seq 2
  EXPECT_TRUE(Accepted(node1.Open(on_link0, 0)));
  // Link 1 is slower: its older seq is still news for link 1.
  EXPECT_TRUE(Accepted(node1.Open(on_link1, 1)));
  EXPECT_EQ(ReasonOf(node1.Open(Sealed(node0.Seal(1, 0, Bytes("b"))), 1)),
            DropReason::kMisdirected);
}

TEST(DatagramAuth, DatagramForAnotherReceiverOrClusterIsRefused) {
  DatagramAuth node0(TestKey(), "prod", 0, 1);
  DatagramAuth node1(TestKey(), "prod", 1, 1);
  DatagramAuth witness(TestKey(), "prod", kWitnessId, 1);
  std::vector<uint8_t> to_witness = Sealed(node0.Seal(kWitnessId, kWitnessChannel, Bytes("r")));
  EXPECT_EQ(ReasonOf(node1.Open(to_witness, kWitnessChannel)), DropReason::kMisdirected);
  DatagramAuth other_cluster(TestKey(), "staging", 0, 1);
  EXPECT_EQ(ReasonOf(node1.Open(Sealed(other_cluster.Seal(1, 0, Bytes("x"))), 0)),
            DropReason::kWrongCluster);
  EXPECT_EQ(ReasonOf(node0.Open(Sealed(node0.Seal(0, 0, Bytes("me"))), 0)),
            DropReason::kWrongSender);
}

TEST(DatagramAuth, WitnessReplyIsAcceptedOnceAndOnlyForAnOutstandingRequest) {
  DatagramAuth node0(TestKey(), "prod", 0, 7);
  DatagramAuth witness(TestKey(), "prod", kWitnessId, 0);
  std::vector<uint8_t> request =
      Sealed(node0.SealRequest(kWitnessId, kWitnessChannel, Bytes("lease?")));
  auto at_witness = witness.Open(request, kWitnessChannel);
  ASSERT_TRUE(Accepted(at_witness));
  std::vector<uint8_t> reply =
      Sealed(witness.SealReply(std::get<OpenedDatagram>(at_witness).origin, Bytes("granted")));
  auto opened = node0.Open(reply, kWitnessChannel);
  ASSERT_TRUE(Accepted(opened));
  EXPECT_TRUE(std::get<OpenedDatagram>(opened).is_reply);
  EXPECT_EQ(ReasonOf(node0.Open(reply, kWitnessChannel)), DropReason::kUnsolicitedReply);
  // The witness's request replayed to it is stale, so it is never answered twice.
  EXPECT_EQ(ReasonOf(witness.Open(request, kWitnessChannel)), DropReason::kReplayed);
}

TEST(DatagramAuth, WitnessReplyToARequestOfAnEarlierRunIsRefused) {
  DatagramAuth before_restart(TestKey(), "prod", 0, 7);
  DatagramAuth witness(TestKey(), "prod", kWitnessId, 0);
  auto at_witness =
      witness.Open(Sealed(before_restart.SealRequest(kWitnessId, kWitnessChannel, Bytes("lease?"))),
                   kWitnessChannel);
  ASSERT_TRUE(Accepted(at_witness));
  std::vector<uint8_t> reply =
      Sealed(witness.SealReply(std::get<OpenedDatagram>(at_witness).origin, Bytes("granted")));
  DatagramAuth after_restart(TestKey(), "prod", 0, 8);
  Sealed(after_restart.SealRequest(kWitnessId, kWitnessChannel, Bytes("lease?")));  // seq 1 again
  EXPECT_EQ(ReasonOf(after_restart.Open(reply, kWitnessChannel)), DropReason::kUnsolicitedReply);
}

TEST(DatagramAuth, WitnessReplyRecordedBeforeTheRequesterWasWipedIsRefused) {
  DatagramAuth witness(TestKey(), "prod", kWitnessId, 0);
  auto wiped_run = std::make_unique<DatagramAuth>(TestKey(), "prod", 0, /*epoch=*/1);
  auto at_witness =
      witness.Open(Sealed(wiped_run->SealRequest(kWitnessId, kWitnessChannel, Bytes("lease?"))),
                   kWitnessChannel);
  ASSERT_TRUE(Accepted(at_witness));
  std::vector<uint8_t> old_reply =
      Sealed(witness.SealReply(std::get<OpenedDatagram>(at_witness).origin, Bytes("granted")));
  wiped_run.reset();
  // Same epoch, same seq 1 outstanding: only the run tells the replies apart.
  DatagramAuth new_run(TestKey(), "prod", 0, /*epoch=*/1);
  std::vector<uint8_t> request =
      Sealed(new_run.SealRequest(kWitnessId, kWitnessChannel, Bytes("lease?")));
  EXPECT_EQ(ReasonOf(new_run.Open(old_reply, kWitnessChannel)), DropReason::kUnsolicitedReply);
  DatagramAuth witness_of_new_run(TestKey(), "prod", kWitnessId, 0);
  auto opened = witness_of_new_run.Open(request, kWitnessChannel);
  ASSERT_TRUE(Accepted(opened));
  EXPECT_TRUE(Accepted(new_run.Open(
      Sealed(witness_of_new_run.SealReply(std::get<OpenedDatagram>(opened).origin, Bytes("ok"))),
      kWitnessChannel)));
}

TEST(DatagramAuth, WitnessChallengesANodeWhoseStateWasWipedAndFollowsItOnceItEchoes) {
  DatagramAuth witness(TestKey(), "prod", kWitnessId, 0);
  auto wiped_run = std::make_unique<DatagramAuth>(TestKey(), "prod", 0, /*epoch=*/5);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Accepted(
        witness.Open(Sealed(wiped_run->SealRequest(kWitnessId, kWitnessChannel, Bytes("lease?"))),
                     kWitnessChannel)));
    EXPECT_FALSE(witness.TakeChallenge().has_value());
  }
  std::vector<uint8_t> recorded =
      Sealed(wiped_run->SealRequest(kWitnessId, kWitnessChannel, Bytes("lease?")));
  wiped_run.reset();

  DatagramAuth new_run(TestKey(), "prod", 0, /*epoch=*/1);
  EXPECT_EQ(ReasonOf(witness.Open(
                Sealed(new_run.SealRequest(kWitnessId, kWitnessChannel, Bytes("lease?"))),
                kWitnessChannel)),
            DropReason::kStaleEpoch);
  std::optional<std::vector<uint8_t>> challenge = witness.TakeChallenge();
  ASSERT_TRUE(challenge.has_value());
  EXPECT_FALSE(witness.TakeChallenge().has_value());  // one per dropped datagram
  EXPECT_EQ(ReasonOf(new_run.Open(*challenge, kWitnessChannel)), DropReason::kChallenged);
  // The next request echoes the challenge: followed, and answered.
  auto at_witness = witness.Open(
      Sealed(new_run.SealRequest(kWitnessId, kWitnessChannel, Bytes("lease?"))), kWitnessChannel);
  ASSERT_TRUE(Accepted(at_witness));
  EXPECT_TRUE(Accepted(new_run.Open(
      Sealed(witness.SealReply(std::get<OpenedDatagram>(at_witness).origin, Bytes("granted"))),
      kWitnessChannel)));
  // The earlier run's recording is dropped, and its challenge is for a run that is gone.
  EXPECT_EQ(ReasonOf(witness.Open(recorded, kWitnessChannel)), DropReason::kStaleEpoch);
  std::optional<std::vector<uint8_t>> for_the_recording = witness.TakeChallenge();
  ASSERT_TRUE(for_the_recording.has_value());
  EXPECT_EQ(ReasonOf(new_run.Open(*for_the_recording, kWitnessChannel)),
            DropReason::kUnsolicitedReply);
  EXPECT_TRUE(Accepted(witness.Open(
      Sealed(new_run.SealRequest(kWitnessId, kWitnessChannel, Bytes("renew"))), kWitnessChannel)));
}

TEST(DatagramAuth, RestartedWitnessChallengesANodeWhoseEpochStartedOverBelowItsSavedState) {
  auto wiped_run = std::make_unique<DatagramAuth>(TestKey(), "prod", 0, /*epoch=*/5);
  DatagramAuth before(TestKey(), "prod", kWitnessId, 0);
  std::vector<uint8_t> recorded =
      Sealed(wiped_run->SealRequest(kWitnessId, kWitnessChannel, Bytes("lease?")));
  ASSERT_TRUE(Accepted(before.Open(recorded, kWitnessChannel)));
  wiped_run.reset();
  DatagramAuth witness(TestKey(), "prod", kWitnessId, 0);
  witness.RestoreNewest(before.NewestAccepted());

  DatagramAuth new_run(TestKey(), "prod", 0, /*epoch=*/1);
  EXPECT_EQ(ReasonOf(witness.Open(
                Sealed(new_run.SealRequest(kWitnessId, kWitnessChannel, Bytes("lease?"))),
                kWitnessChannel)),
            DropReason::kStaleEpoch);
  std::optional<std::vector<uint8_t>> challenge = witness.TakeChallenge();
  ASSERT_TRUE(challenge.has_value());
  EXPECT_EQ(ReasonOf(new_run.Open(*challenge, kWitnessChannel)), DropReason::kChallenged);
  EXPECT_TRUE(Accepted(witness.Open(
      Sealed(new_run.SealRequest(kWitnessId, kWitnessChannel, Bytes("lease?"))), kWitnessChannel)));
  EXPECT_EQ(ReasonOf(witness.Open(recorded, kWitnessChannel)), DropReason::kStaleEpoch);
}

TEST(DatagramAuth, NodesNeitherChallengeNorAcceptAChallengeFromThePeer) {
  auto wiped_run = std::make_unique<DatagramAuth>(TestKey(), "prod", 0, 1);
  DatagramAuth node1(TestKey(), "prod", 1, 1);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(Accepted(node1.Open(Sealed(wiped_run->Seal(1, 0, Bytes("hb"))), 0)));
  }
  wiped_run.reset();
  DatagramAuth new_run(TestKey(), "prod", 0, 1);
  EXPECT_EQ(ReasonOf(node1.Open(Sealed(new_run.Seal(1, 0, Bytes("hb"))), 0)),
            DropReason::kStaleEpoch);
  EXPECT_FALSE(node1.TakeChallenge().has_value());  // its own heartbeats are the challenge
}

TEST(DatagramAuth, WitnessThatRestoredItsStateRefusesRequestsRecordedBeforeItRestarted) {
  DatagramAuth node0(TestKey(), "prod", 0, 7);
  DatagramAuth witness(TestKey(), "prod", kWitnessId, 0);
  std::vector<uint8_t> recorded =
      Sealed(node0.SealRequest(kWitnessId, kWitnessChannel, Bytes("lease, peer outdated")));
  ASSERT_TRUE(Accepted(witness.Open(recorded, kWitnessChannel)));
  std::vector<DatagramAuth::Newest> saved = witness.NewestAccepted();
  EXPECT_EQ(saved, (std::vector<DatagramAuth::Newest>{{0, kWitnessChannel, 7, 1}}));

  DatagramAuth forgetful(TestKey(), "prod", kWitnessId, 0);
  EXPECT_TRUE(Accepted(forgetful.Open(recorded, kWitnessChannel)));  // what saving prevents
  DatagramAuth restarted(TestKey(), "prod", kWitnessId, 0);
  restarted.RestoreNewest(saved);
  EXPECT_EQ(ReasonOf(restarted.Open(recorded, kWitnessChannel)), DropReason::kReplayed);
  EXPECT_TRUE(Accepted(restarted.Open(
      Sealed(node0.SealRequest(kWitnessId, kWitnessChannel, Bytes("renew"))), kWitnessChannel)));
}

TEST(DatagramAuth, OversizedDatagramIsNeitherSealedNorAccepted) {
  DatagramAuth node0(TestKey(), "prod", 0, 1, /*max_datagram_bytes=*/200);
  DatagramAuth node1(TestKey(), "prod", 1, 1, /*max_datagram_bytes=*/200);
  std::vector<uint8_t> big(200 - kDatagramOverheadBytes + 1, 'x');
  EXPECT_EQ(node0.Seal(1, 0, big).status().code(), absl::StatusCode::kInvalidArgument);
  DatagramAuth roomy(TestKey(), "prod", 0, 1);
  EXPECT_EQ(ReasonOf(node1.Open(Sealed(roomy.Seal(1, 0, big)), 0)), DropReason::kOversized);
  std::vector<uint8_t> fits(200 - kDatagramOverheadBytes, 'x');
  EXPECT_TRUE(Accepted(node1.Open(Sealed(node0.Seal(1, 0, fits)), 0)));
}

TEST(DatagramAuth, TruncatedDatagramIsMalformed) {
  DatagramAuth node1(TestKey(), "prod", 1, 1);
  std::vector<uint8_t> stub(kDatagramOverheadBytes - 1, 0);
  EXPECT_EQ(ReasonOf(node1.Open(stub, 0)), DropReason::kMalformed);
}

}  // namespace
}  // namespace duet::net
