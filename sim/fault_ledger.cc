#include "sim/fault_ledger.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace duet::sim {

uint64_t FaultLedger::Begin(absl::Time at, FaultKind kind, std::string what) {
  const uint64_t id = faults_.size() + 1;
  faults_.push_back(FaultRecord{id, kind, at, std::move(what)});
  return id;
}

size_t FaultLedger::Add(FaultEffect effect) {
  effects_.push_back(std::move(effect));
  return effects_.size() - 1;
}

void FaultLedger::End(size_t handle, absl::Time at) {
  FaultEffect& e = effects_[handle];
  if (e.end == absl::InfiniteFuture()) e.end = std::max(at, e.start);
}

void FaultLedger::EndAll(absl::Time at) {
  for (size_t i = 0; i < effects_.size(); ++i) End(i, at);
}

std::string FaultLedger::Label(uint64_t id,
                               const std::function<std::string(absl::Time)>& format) const {
  const FaultRecord& f = fault(id);
  return absl::StrCat(FaultKindName(f.kind), "#", id, " at ", format(f.at), " (", f.what, ")");
}

}  // namespace duet::sim
