#include "adapters/daemon/op_timings.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace duet::daemon {

OpTimings::OpTimings(std::vector<std::string> modules, absl::Time now)
    : modules_(std::move(modules)), since_(now) {}

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
  max_us = std::max(max_us, micros);
  if (us.size() < kMaxSamples) us.push_back(micros);
}

const std::string& OpTimings::NameOf(ModuleIndex m) const {
  static const std::string unknown = "?";
  return m < modules_.size() ? modules_[m] : unknown;
}

void OpTimings::EndCovered(std::map<uint64_t, absl::Time>& pending, const ReplAck& ack,
                           absl::Time at, Samples& samples) {
  const auto end = [&](std::map<uint64_t, absl::Time>::iterator first,
                       std::map<uint64_t, absl::Time>::iterator last) {
    for (auto it = first; it != last; ++it) samples.Add(at - it->second);
    pending.erase(first, last);
  };
  end(pending.begin(), pending.upper_bound(ack.done_lsn));
  for (const LsnRange& range : ack.done_after) {
    end(pending.lower_bound(range.first), pending.upper_bound(range.last));
  }
}

void OpTimings::OnInput(const Input& input, absl::Time posted, absl::Time fed) {
  if (posted < fed) Of("", kLoopWait).Add(fed - posted);
  if (const auto* applied = std::get_if<MutationApplied>(&input)) {
    auto it = applies_.find(applied->apply_id);
    if (it == applies_.end()) return;
    samples_[it->second.first].Add(fed - it->second.second);
    applies_.erase(it);
    return;
  }
  const auto* received = std::get_if<ReplicationReceived>(&input);
  if (received == nullptr) {
    if (std::holds_alternative<ReplicationDisconnected>(input)) {
      sent_fsyncs_.clear();
      received_fsyncs_.clear();
    }
    return;
  }
  if (const auto* ack = std::get_if<ReplAck>(&received->message)) {
    auto it = sent_fsyncs_.find(ack->module);
    if (it != sent_fsyncs_.end()) EndCovered(it->second, *ack, fed, Of(ack->module, kPeerFsyncAck));
  } else if (const auto* write = std::get_if<ReplWrite>(&received->message)) {
    auto& pending = received_fsyncs_[write->module];
    if (write->mutation.is_durable() && pending.size() < kMaxPending) {
      pending[write->lsn] = fed;
    }
  }
}

void OpTimings::OnStepDone(absl::Time fed, absl::Time done) {
  Of("", kStep).Add(done - fed);
  busy_ += done - fed;
}

void OpTimings::OnActions(const Actions& actions, absl::Time fed) {
  for (const Action& action : actions) {
    if (const auto* apply = std::get_if<ApplyMutation>(&action)) {
      const Mutation& m = apply->mutation;
      if (!apply->durable && !m.is_durable()) continue;
      const bool flush = m.kind == MutationKind::kFsync && m.path.empty();
      if (applies_.size() >= kMaxPending) applies_.erase(applies_.begin());
      applies_[apply->apply_id] = {{NameOf(apply->module), flush ? kDiskFlush : kDiskFsync}, fed};
      continue;
    }
    const auto* send = std::get_if<SendReplication>(&action);
    if (send == nullptr) continue;
    if (const auto* write = std::get_if<ReplWrite>(&send->message)) {
      auto& pending = sent_fsyncs_[write->module];
      if (write->mutation.is_durable() && pending.size() < kMaxPending) {
        pending[write->lsn] = fed;
      }
    } else if (const auto* ack = std::get_if<ReplAck>(&send->message)) {
      auto it = received_fsyncs_.find(ack->module);
      if (it != received_fsyncs_.end())
        EndCovered(it->second, *ack, fed, Of(ack->module, kStreamFsync));
    }
  }
}

std::vector<std::string> OpTimings::Summary(absl::Time now) {
  std::vector<std::string> lines;
  for (auto& [key, samples] : samples_) {
    if (samples.count == 0) continue;
    std::vector<int64_t>& us = samples.us;
    std::sort(us.begin(), us.end());
    int64_t sum = 0;
    for (int64_t v : us) sum += v;
    const auto at = [&](double q) {
      return us[std::min(us.size() - 1, static_cast<size_t>(q * static_cast<double>(us.size())))];
    };
    lines.push_back(absl::StrCat("timings: ", key.first.empty() ? "" : absl::StrCat(key.first, " "),
                                 LegName(static_cast<Leg>(key.second)), ": ", samples.count,
                                 " ops, mean ", sum / static_cast<int64_t>(us.size()), " us, p50 ",
                                 at(0.5), " us, p99 ", at(0.99), " us, max ", samples.max_us,
                                 " us"));
  }
  const absl::Duration wall = now - since_;
  lines.push_back(absl::StrCat("timings: loop busy ", absl::ToInt64Milliseconds(busy_), " ms of ",
                               absl::ToInt64Milliseconds(wall), " ms"));
  samples_.clear();
  busy_ = absl::ZeroDuration();
  since_ = now;
  return lines;
}

}  // namespace duet::daemon
