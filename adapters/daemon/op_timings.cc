#include "adapters/daemon/op_timings.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace duet::daemon {

OpTimings::OpTimings(std::vector<std::string> modules, absl::Time now)
    : modules_(std::move(modules)), per_module_(modules_.size() + 1), since_(now) {
  for (ModuleIndex m = 0; m < modules_.size(); ++m) index_.emplace(modules_[m], m);
}

const char* OpTimings::LegName(Leg leg) {
  switch (leg) {
    case kDiskFsync:
      return "disk fsync";
    case kDiskFlush:
      return "disk flush";
    case kPeerFsyncAck:
      return "peer fsync ack";
    case kStreamFsync:
      return "stream fsync";
    case kLoopWait:
      return "loop wait";
    case kStep:
      return "step";
    case kLegs:
      break;
  }
  return "?";
}

void OpTimings::Samples::Add(absl::Duration d) {
  const int64_t micros = absl::ToInt64Microseconds(d);
  ++count;
  sum_us += micros;
  max_us = std::max(max_us, micros);
  if (us.size() < kMaxSamples) {
    us.push_back(micros);
  } else {
    us[next] = micros;
    next = (next + 1) % kMaxSamples;
  }
}

OpTimings::ModuleTimings& OpTimings::Named(absl::string_view module) {
  auto it = index_.find(module);
  return it == index_.end() ? Node() : per_module_[it->second];
}

void OpTimings::EndCovered(Pending& pending, const ReplAck& ack, absl::Time at, Samples& samples) {
  const auto end = [&](Pending::iterator first, Pending::iterator last) {
    for (auto it = first; it != last; ++it) samples.Add(at - it->second);
    pending.erase(first, last);
  };
  end(pending.begin(), pending.upper_bound(ack.done_lsn));
  for (const LsnRange& range : ack.done_after) {
    end(pending.lower_bound(range.first), pending.upper_bound(range.last));
  }
}

void OpTimings::OnInput(const Input& input, absl::Time posted, absl::Time fed) {
  if (posted < fed) Node().legs[kLoopWait].Add(fed - posted);
  if (const auto* applied = std::get_if<MutationApplied>(&input)) {
    auto it = applies_.find(applied->apply_id);
    if (it == applies_.end()) return;
    Of(it->second.module).legs[it->second.leg].Add(fed - it->second.issued);
    applies_.erase(it);
    return;
  }
  const auto* received = std::get_if<ReplicationReceived>(&input);
  if (received == nullptr) {
    if (std::holds_alternative<ReplicationDisconnected>(input)) {
      for (ModuleTimings& module : per_module_) {
        module.sent_fsyncs.clear();
        module.received_fsyncs.clear();
      }
    }
    return;
  }
  if (const auto* ack = std::get_if<ReplAck>(&received->message)) {
    ModuleTimings& module = Named(ack->module);
    if (!module.sent_fsyncs.empty()) {
      EndCovered(module.sent_fsyncs, *ack, fed, module.legs[kPeerFsyncAck]);
    }
  } else if (const auto* write = std::get_if<ReplWrite>(&received->message)) {
    if (!write->mutation.is_durable()) return;
    Pending& pending = Named(write->module).received_fsyncs;
    if (pending.size() < kMaxPending) pending[write->lsn] = fed;
  }
}

void OpTimings::OnStepDone(absl::Time fed, absl::Time done) {
  Node().legs[kStep].Add(done - fed);
  busy_ += done - fed;
}

void OpTimings::OnActions(const Actions& actions, absl::Time fed) {
  for (const Action& action : actions) {
    if (const auto* apply = std::get_if<ApplyMutation>(&action)) {
      const Mutation& m = apply->mutation;
      if (!apply->durable && !m.is_durable()) continue;
      const bool flush = m.kind == MutationKind::kFsync && m.path.empty();
      if (applies_.size() >= kMaxPending) applies_.erase(applies_.begin());
      applies_[apply->apply_id] = Apply{apply->module, flush ? kDiskFlush : kDiskFsync, fed};
      continue;
    }
    const auto* send = std::get_if<SendReplication>(&action);
    if (send == nullptr) continue;
    if (const auto* write = std::get_if<ReplWrite>(&send->message)) {
      if (!write->mutation.is_durable()) continue;
      Pending& pending = Named(write->module).sent_fsyncs;
      if (pending.size() < kMaxPending) pending[write->lsn] = fed;
    } else if (const auto* ack = std::get_if<ReplAck>(&send->message)) {
      ModuleTimings& module = Named(ack->module);
      if (!module.received_fsyncs.empty()) {
        EndCovered(module.received_fsyncs, *ack, fed, module.legs[kStreamFsync]);
      }
    }
  }
}

std::vector<std::string> OpTimings::Summary(absl::Time now) {
  std::vector<std::string> lines;
  const auto summarize = [&lines](const std::string& prefix, Leg leg, Samples& samples) {
    if (samples.count == 0) return;
    std::vector<int64_t>& us = samples.us;
    std::sort(us.begin(), us.end());
    const auto at = [&](double q) {
      return us[std::min(us.size() - 1, static_cast<size_t>(q * static_cast<double>(us.size())))];
    };
    lines.push_back(
        absl::StrCat("timings: ", prefix, LegName(leg), ": ", samples.count, " ops, mean ",
                     samples.sum_us / static_cast<int64_t>(samples.count), " us, p50 ", at(0.5),
                     " us, p99 ", at(0.99), " us, max ", samples.max_us, " us"));
    samples = Samples{};
  };
  for (int leg = 0; leg < kLegs; ++leg) {
    summarize("", static_cast<Leg>(leg), Node().legs[leg]);
  }
  for (ModuleIndex m = 0; m < modules_.size(); ++m) {
    for (int leg = 0; leg < kLegs; ++leg) {
      summarize(modules_[m] + " ", static_cast<Leg>(leg), per_module_[m].legs[leg]);
    }
  }
  const absl::Duration wall = now - since_;
  lines.push_back(absl::StrCat("timings: loop busy ", absl::ToInt64Milliseconds(busy_), " ms of ",
                               absl::ToInt64Milliseconds(wall), " ms"));
  busy_ = absl::ZeroDuration();
  since_ = now;
  return lines;
}

}  // namespace duet::daemon
