#include "adapters/net/net_counters.h"

#include "absl/strings/str_cat.h"

namespace duet::net {
namespace {

// Works for const and non-const counters alike.
template <typename Counters>
auto* Slot(Counters& c, DropReason reason) {
  switch (reason) {
    case DropReason::kBadTag:
      return &c.bad_tag;
    case DropReason::kReplayed:
      return &c.replayed;
    case DropReason::kReordered:
      return &c.reordered;
    case DropReason::kStaleEpoch:
      return &c.stale_epoch;
    case DropReason::kUnsolicitedReply:
      return &c.unsolicited_reply;
    case DropReason::kOversized:
      return &c.oversized;
    case DropReason::kMalformed:
      return &c.malformed;
    case DropReason::kWrongCluster:
      return &c.wrong_cluster;
    case DropReason::kWrongSender:
      return &c.wrong_sender;
    case DropReason::kMisdirected:
      return &c.misdirected;
    case DropReason::kChallenged:
      return &c.challenged;
  }
  return &c.malformed;
}

}  // namespace

absl::string_view DropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::kBadTag:
      return "bad tag";
    case DropReason::kReplayed:
      return "replayed";
    case DropReason::kReordered:
      return "reordered";
    case DropReason::kStaleEpoch:
      return "stale epoch";
    case DropReason::kUnsolicitedReply:
      return "unsolicited reply";
    case DropReason::kOversized:
      return "oversized";
    case DropReason::kMalformed:
      return "malformed";
    case DropReason::kWrongCluster:
      return "wrong cluster";
    case DropReason::kWrongSender:
      return "wrong sender";
    case DropReason::kMisdirected:
      return "misdirected";
    case DropReason::kChallenged:
      return "challenged";
  }
  return "unknown";
}

void NetCounters::Count(DropReason reason) { ++*Slot(*this, reason); }

uint64_t NetCounters::Of(DropReason reason) const { return *Slot(*this, reason); }

uint64_t NetCounters::TotalDrops() const {
  return bad_tag + replayed + reordered + stale_epoch + unsolicited_reply + oversized + malformed +
         wrong_cluster + wrong_sender + misdirected + challenged;
}

void RecordDrop(NetCounters& counters, const NetLog& log, absl::string_view where,
                const Drop& drop) {
  counters.Count(drop.reason);
  if (log) log(absl::StrCat(where, ": dropped (", DropReasonName(drop.reason), "): ", drop.detail));
}

}  // namespace duet::net
