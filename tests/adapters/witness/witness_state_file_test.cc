#include "adapters/witness/witness_state_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace duet::witness {
namespace {

class WitnessStateFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/duet-witness-XXXXXX";
    dir_ = ::mkdtemp(pattern);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(WitnessStateFileTest, AFirstStartHasNoOutdatedCopies) {
  absl::StatusOr<WitnessDurableState> state = LoadWitnessState(dir_);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_TRUE(state->empty());
}

TEST_F(WitnessStateFileTest, OutdatedCopiesSurviveARestartAndAClearedOneStaysCleared) {
  WitnessDurableState state;
  state[WitnessKey{"shop", "web"}] = 1;
  state[WitnessKey{"shop", "db"}] = 0;
  state[WitnessKey{"bank", "web"}] = 0;
  ASSERT_TRUE(SaveWitnessState(dir_, state).ok());
  ApplyOutdateRecord(state, OutdateRecord{WitnessKey{"shop", "db"}, std::nullopt});
  ASSERT_TRUE(SaveWitnessState(dir_, state).ok());

  absl::StatusOr<WitnessDurableState> back = LoadWitnessState(dir_);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, state);
  EXPECT_EQ(back->size(), 2u);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/outdated.new"));
}

TEST_F(WitnessStateFileTest, ACorruptFileIsRefusedNamingTheLine) {
  std::ofstream(dir_ + "/outdated") << "shop\tweb\t1\nshop\tdb\t7\n";
  absl::StatusOr<WitnessDurableState> state = LoadWitnessState(dir_);
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(state.status().message().find("outdated:2:"), std::string::npos) << state.status();
}

}  // namespace
}  // namespace duet::witness
