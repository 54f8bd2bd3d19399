// Drop accounting for the network adapter: every received frame or datagram that fails
// authentication or a size/freshness check is dropped, counted under one reason, and named in
// the log (adapter contract C12). The sans-IO units (stream_auth.h, datagram_auth.h) return a
// Drop; the transports (udp_link.h, replication_link.h) count and log it through RecordDrop.
#ifndef DUET_ADAPTERS_NET_NET_COUNTERS_H_
#define DUET_ADAPTERS_NET_NET_COUNTERS_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/strings/string_view.h"

namespace duet::net {

// Receives one line per event; the daemon forwards it to its log.
using NetLog = std::function<void(std::string)>;

enum class DropReason {
  kBadTag,            // HMAC tag does not verify: forged, corrupted, or another key
  kReplayed,          // sequence number already seen (same connection or same sender epoch)
  kReordered,         // stream frame whose sequence number skips ahead of the expected one
  kStaleEpoch,        // datagram from an older epoch (restart) of its sender than already seen
  kUnsolicitedReply,  // reply that answers no outstanding request (or one already answered)
  kOversized,         // length above the cap, refused before the body is read
  kMalformed,         // too short, bad magic or version, bad field
  kWrongCluster,      // names another cluster
  kWrongSender,       // sender is not the expected peer (or is ourselves: a reflection)
  kMisdirected,       // datagram addressed to another receiver
  kChallenged,        // the witness asked this run to show it is live: nothing to act on
};

absl::string_view DropReasonName(DropReason reason);

// Why one frame or datagram was dropped: the reason counted and a sentence for the log.
struct Drop {
  DropReason reason = DropReason::kMalformed;
  std::string detail;
};

// Per-reason drop counts of one transport. Plain values: read them for status.
struct NetCounters {
  uint64_t bad_tag = 0;
  uint64_t replayed = 0;
  uint64_t reordered = 0;
  uint64_t stale_epoch = 0;
  uint64_t unsolicited_reply = 0;
  uint64_t oversized = 0;
  uint64_t malformed = 0;
  uint64_t wrong_cluster = 0;
  uint64_t wrong_sender = 0;
  uint64_t misdirected = 0;
  uint64_t challenged = 0;

  void Count(DropReason reason);
  uint64_t Of(DropReason reason) const;
  uint64_t TotalDrops() const;
};

// Counts `drop` and logs "<where>: dropped (<reason>): <detail>".
void RecordDrop(NetCounters& counters, const NetLog& log, absl::string_view where,
                const Drop& drop);

}  // namespace duet::net

#endif  // DUET_ADAPTERS_NET_NET_COUNTERS_H_
