// A DataStateSource for tests of Node without replication: verdicts and rules set by the test
// (engine/data_state_source.h: a driver sets a verdict, then steps the node).
#ifndef DUET_TESTS_ENGINE_FAKE_DATA_STATES_H_
#define DUET_TESTS_ENGINE_FAKE_DATA_STATES_H_

#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/data_state_source.h"

namespace duet {

class FakeDataStates final : public DataStateSource {
 public:
  explicit FakeDataStates(size_t modules) : verdicts_(modules) {}
  void Set(ModuleIndex m, DataState state, uint8_t percent = 0) { verdicts_[m] = {state, percent}; }

  Rules rules() const override { return rules_; }
  DataVerdict Verdict(ModuleIndex m, const Replica& /*replica*/) const override {
    return verdicts_[m];
  }
  bool PeerFollows(ModuleIndex /*m*/, const Replica& /*replica*/) const override { return true; }
  absl::Status Discard(ModuleIndex m, Replica& /*replica*/, Actions& /*out*/) const override {
    return absl::UnimplementedError(absl::StrCat("fake discard of ", m));
  }

  Rules rules_;

 private:
  std::vector<DataVerdict> verdicts_;
};

}  // namespace duet

#endif  // DUET_TESTS_ENGINE_FAKE_DATA_STATES_H_
