// OpTimings: the legs a durable operation's time is split into (adapters/daemon/op_timings.h).
#include "adapters/daemon/op_timings.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace duet::daemon {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1000);

absl::Time At(int us) { return kStart + absl::Microseconds(us); }

Mutation Fsync(std::string path) { return MakeMutation(MutationKind::kFsync, std::move(path)); }

Mutation Write(std::string path) {
  Mutation m = MakeMutation(MutationKind::kWrite, std::move(path));
  m.data = MakePayload("x");
  return m;
}

// The summary line of `leg` ("m disk fsync: ..."), or "" if there is none.
std::string LineOf(const std::vector<std::string>& lines, const std::string& leg) {
  for (const std::string& line : lines) {
    if (line.rfind("timings: " + leg + ":", 0) == 0) return line;
  }
  return "";
}

TEST(OpTimingsTest, AnFsyncsDiskLegRunsFromItsStepToItsAnswer) {
  OpTimings timings({"m"}, kStart);
  timings.OnActions({ApplyMutation{0, 7, Fsync("f"), true}, ApplyMutation{0, 8, Write("f"), false}},
                    At(100));
  timings.OnInput(MutationApplied{0, 8, absl::OkStatus()}, At(150), At(150));
  timings.OnInput(MutationApplied{0, 7, absl::OkStatus()}, At(1100), At(1100));
  const std::vector<std::string> lines = timings.Summary(At(2000));
  EXPECT_EQ(LineOf(lines, "m disk fsync"),
            "timings: m disk fsync: 1 ops, mean 1000 us, p50 1000 us, p99 1000 us, max 1000 us");
  EXPECT_EQ(LineOf(lines, "m disk flush"), "");  // the write is not durable: not timed
}

TEST(OpTimingsTest, AWholeTreeFlushIsTimedApartFromFileFsyncs) {
  OpTimings timings({"m"}, kStart);
  timings.OnActions({ApplyMutation{0, 1, Fsync(""), true}}, At(0));
  timings.OnInput(MutationApplied{0, 1, absl::OkStatus()}, At(5000), At(5000));
  const std::vector<std::string> lines = timings.Summary(At(6000));
  EXPECT_NE(LineOf(lines, "m disk flush"), "");
  EXPECT_EQ(LineOf(lines, "m disk fsync"), "");
}

TEST(OpTimingsTest, APeerAckEndsTheSentFsyncsItCoversOnly) {
  OpTimings timings({"m"}, kStart);
  timings.OnActions({SendReplication{ReplWrite{"m", 1, Fsync("a")}},
                     SendReplication{ReplWrite{"m", 2, Write("b")}},
                     SendReplication{ReplWrite{"m", 3, Fsync("b")}},
                     SendReplication{ReplWrite{"m", 4, Fsync("c")}}},
                    At(0));
  // The watermark covers 1 and 2; the range covers 4; 3 stays pending.
  timings.OnInput(ReplicationReceived{ReplAck{"m", 2, 0, {LsnRange{4, 4}}}}, At(800), At(800));
  std::vector<std::string> lines = timings.Summary(At(1000));
  EXPECT_EQ(LineOf(lines, "m peer fsync ack"),
            "timings: m peer fsync ack: 2 ops, mean 800 us, p50 800 us, p99 800 us, max 800 us");
  timings.OnInput(ReplicationReceived{ReplAck{"m", 4, 0, {}}}, At(3000), At(3000));
  lines = timings.Summary(At(4000));
  EXPECT_EQ(
      LineOf(lines, "m peer fsync ack"),
      "timings: m peer fsync ack: 1 ops, mean 3000 us, p50 3000 us, p99 3000 us, max 3000 us");
}

TEST(OpTimingsTest, TheSecondaryTimesAStreamFsyncFromReceiptToItsAck) {
  OpTimings timings({"m"}, kStart);
  timings.OnInput(ReplicationReceived{ReplWrite{"m", 5, Fsync("a")}}, At(0), At(0));
  timings.OnActions({}, At(0));
  timings.OnActions({SendReplication{ReplAck{"m", 5, 0, {}}}}, At(1500));
  const std::vector<std::string> lines = timings.Summary(At(2000));
  EXPECT_EQ(LineOf(lines, "m stream fsync"),
            "timings: m stream fsync: 1 ops, mean 1500 us, p50 1500 us, p99 1500 us, max 1500 us");
}

TEST(OpTimingsTest, TheLoopsWaitAndBusyShareComeFromPostedInputsAndSteps) {
  OpTimings timings({"m"}, kStart);
  timings.OnInput(Tick{}, At(100), At(400));
  timings.OnStepDone(At(400), At(1400));
  const std::vector<std::string> lines = timings.Summary(At(10000));
  EXPECT_EQ(LineOf(lines, "loop wait"),
            "timings: loop wait: 1 ops, mean 300 us, p50 300 us, p99 300 us, max 300 us");
  EXPECT_EQ(lines.back(), "timings: loop busy 1 ms of 10 ms");
  // The figures start again; what was counted is gone.
  EXPECT_EQ(timings.Summary(At(20000)),
            std::vector<std::string>{"timings: loop busy 0 ms of 10 ms"});
}

TEST(OpTimingsTest, ALegPastItsBufferCountsEveryOpAndTakesItsPercentilesFromTheLatest) {
  OpTimings timings({"m"}, kStart);
  // duetd times always: a leg keeps a bounded buffer, the newest samples in it.
  for (int i = 0; i < 10000; ++i) {
    timings.OnInput(Tick{}, At(0), At(i < 5000 ? 100 : 900));
  }
  const std::vector<std::string> lines = timings.Summary(At(10000));
  EXPECT_EQ(LineOf(lines, "loop wait"),
            "timings: loop wait: 10000 ops, mean 500 us, p50 900 us, p99 900 us, max 900 us");
}

TEST(OpTimingsTest, AnAckForAModuleNotConfiguredIsIgnored) {
  OpTimings timings({"m"}, kStart);
  timings.OnActions({SendReplication{ReplWrite{"m", 1, Fsync("a")}}}, At(0));
  timings.OnInput(ReplicationReceived{ReplAck{"other", 1, 0, {}}}, At(100), At(100));
  timings.OnInput(ReplicationReceived{ReplAck{"m", 1, 0, {}}}, At(700), At(700));
  const std::vector<std::string> lines = timings.Summary(At(1000));
  EXPECT_EQ(LineOf(lines, "m peer fsync ack"),
            "timings: m peer fsync ack: 1 ops, mean 700 us, p50 700 us, p99 700 us, max 700 us");
}

}  // namespace
}  // namespace duet::daemon
