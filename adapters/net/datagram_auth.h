// Authentication of UDP datagrams (heartbeats on every link, witness requests and replies),
// sans-IO: udp_link.h carries the bytes.
//
// Datagram = header (kDatagramHeaderBytes) | payload | tag (32):
//   "DUDG" | version 2 | kind | sender | receiver | channel | 7 zero bytes | cluster id (8) |
//   epoch u64 LE | seq u64 LE | run nonce u64 LE | echo nonce u64 LE | echo seq u64 LE,
// tag = HMAC-SHA256(datagram key, header || payload), datagram key = HMAC(cluster key,
// "duet datagram v1" || cluster name). Node ids: 0 and 1 are the nodes, kWitnessId the witness.
// The channel is the heartbeat link index, or kWitnessChannel: a datagram recorded on one link
// cannot be replayed on another, nor one addressed to the witness to the peer.
//
// Runs. Each DatagramAuth is one run of its party: it draws a random nonce (64 bits from the
// OS, never 0) at construction and stamps it on every datagram. A fresh datagram also echoes
// the newest (nonce, seq) its sender accepted from the receiver, (0, 0) before any.
//
// Freshness, for kind "fresh" (heartbeats, witness requests): the sender numbers its datagrams
// (epoch, seq): epoch is given by the caller and grows across restarts that keep the sender's
// state (the daemon persists it; its incarnation fits), seq grows from 1 within the run. The
// receiver keeps, per (sender, channel), the run it follows (nonce, newest seq accepted) and
// drops a datagram of that run not newer (kReplayed: duplicated, reordered or replayed). A
// datagram of another run is a restart of the sender and is followed from then on when it
// proves it is not a recording of a run already left:
//   (a) it echoes this receiver's nonce and a seq this receiver sent after it began to follow
//       its current run for that sender: it was made after that, so no run left before can
//       have made it (a party whose state directory was wiped gets its epoch back to the
//       start, and is followed again one exchange after it heard this receiver); or
//   (b) its epoch is above every epoch accepted from that sender on that channel in this run
//       of the receiver (a plain restart is followed at its first datagram, as before).
// Any other is kStaleEpoch, so an attacker replaying a left run's datagrams can neither be
// heard nor switch the receiver back to it (which would make it deaf to the live run): such
// datagrams echo only seqs sent before the switch, and their epochs are not above the newest.
// A freshly started receiver follows the first run it hears (nothing to compare with); if
// that was a recording, the live run proves itself by (a) one exchange later.
// The witness sends no fresh datagrams for a node to echo, so it challenges instead: a
// fresh datagram it drops as from another run not shown newer (or, after its own restart,
// from a run not newer than the saved state) leaves a challenge to send back (TakeChallenge),
// of kind "challenge": numbered with the witness's own seq, echoing the dropped request's
// (epoch, seq) and nonce. Only the run that sent the request, while it is outstanding,
// accepts it (kChallenged: nothing for the caller), and echoes the challenge in its next
// datagrams to the witness, which then passes (a). So a node whose state was wiped gets its
// leases one exchange later; a recording's challenge goes to a run that is gone, and a left
// run echoes only challenges numbered before the witness followed the live one.
//
// Witness replies are of kind "reply": they carry the (epoch, seq) and, as echo, the nonce of
// the request they answer, and are accepted only by the request's sender, only in the run
// that sent it, only while that request is outstanding (sent with SealRequest, among the last
// `max_outstanding` requests) and only once: a replayed or delayed duplicate reply is
// kUnsolicitedReply. So a reply is never accepted twice, nor after the requester restarted
// (even with its state wiped and its epoch and seqs starting over).
#ifndef DUET_ADAPTERS_NET_DATAGRAM_AUTH_H_
#define DUET_ADAPTERS_NET_DATAGRAM_AUTH_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adapters/net/cluster_key.h"
#include "adapters/net/hmac.h"
#include "adapters/net/net_counters.h"

namespace duet::net {

inline constexpr uint8_t kWitnessId = 2;
inline constexpr uint8_t kWitnessChannel = 255;
inline constexpr size_t kDatagramHeaderBytes = 64;
inline constexpr size_t kDatagramOverheadBytes = kDatagramHeaderBytes + kTagBytes;
// The largest UDP payload over IPv4.
inline constexpr size_t kMaxUdpDatagramBytes = 65507;

// Who sent an accepted datagram, and its numbering (what a reply must echo).
struct DatagramOrigin {
  uint8_t sender = 0;
  uint8_t channel = 0;
  uint64_t epoch = 0;
  uint64_t seq = 0;
  uint64_t nonce = 0;  // the sender's run (for a reply: the run of the request it answers)
  friend bool operator==(const DatagramOrigin&, const DatagramOrigin&) = default;
};

struct OpenedDatagram {
  ClusterId cluster{};
  DatagramOrigin origin;  // for a reply: the sender and the echoed request's numbering
  bool is_reply = false;
  std::span<const uint8_t> payload;  // points into the datagram given to Open
};

// The cluster a datagram claims to belong to, before any check: lets a witness serving several
// clusters pick the DatagramAuth that opens it. Nullopt when too short to hold a header.
std::optional<ClusterId> ClaimedClusterId(std::span<const uint8_t> datagram);

// One party's datagram keys and freshness state. Not thread-safe: one event loop owns it.
class DatagramAuth {
 public:
  // `self`: 0, 1 or kWitnessId. `epoch`: see above. Datagrams longer than
  // `max_datagram_bytes` (header and tag included) are neither sealed nor accepted. Draws
  // this run's nonce from the OS (getrandom; aborts if the OS has no randomness to give).
  DatagramAuth(const ClusterKey& key, absl::string_view cluster, uint8_t self, uint64_t epoch,
               size_t max_datagram_bytes = kMaxUdpDatagramBytes, size_t max_outstanding = 16384);

  // A fresh datagram to `receiver` on `channel`. InvalidArgument if it would exceed the cap.
  absl::StatusOr<std::vector<uint8_t>> Seal(uint8_t receiver, uint8_t channel,
                                            std::span<const uint8_t> payload);
  // The same, and remembers it as an outstanding request whose reply Open will accept once.
  absl::StatusOr<std::vector<uint8_t>> SealRequest(uint8_t receiver, uint8_t channel,
                                                   std::span<const uint8_t> payload);
  // The challenge left by the last Open (cleared by this call): for a party that sends no
  // fresh datagrams (the witness), to send back to where the dropped datagram came from.
  std::optional<std::vector<uint8_t>> TakeChallenge();
  // A reply to the accepted request `request`, sent back to its sender.
  absl::StatusOr<std::vector<uint8_t>> SealReply(const DatagramOrigin& request,
                                                 std::span<const uint8_t> payload);

  // Checks a datagram received on `channel` (the link's index, or kWitnessChannel): size,
  // header, cluster, receiver, channel, tag, then freshness. The freshness state changes only
  // for a datagram whose tag verified.
  std::variant<OpenedDatagram, Drop> Open(std::span<const uint8_t> datagram, uint8_t channel);

  // The freshness state, for a receiver that must keep it across its own restarts: a witness
  // that forgot it would accept once more every request recorded before it restarted. Save it
  // with the durable record (at least whenever a sender's epoch changes) and restore it at
  // start; only datagrams newer than the saved state are accepted then (the saved state names
  // no run: the first run heard that is newer by (epoch, seq) is followed).
  struct Newest {
    uint8_t sender = 0;
    uint8_t channel = 0;
    uint64_t epoch = 0;
    uint64_t seq = 0;
    friend bool operator==(const Newest&, const Newest&) = default;
  };
  std::vector<Newest> NewestAccepted() const;
  // Raises the state to `saved` where it is older (never lowers it).
  void RestoreNewest(const std::vector<Newest>& saved);

  const ClusterId& cluster_id() const { return cluster_id_; }
  uint8_t self() const { return self_; }
  uint64_t epoch() const { return epoch_; }
  uint64_t nonce() const { return nonce_; }

 private:
  // What a receiver knows of one sender's datagrams on one channel.
  struct Followed {
    uint64_t nonce = 0;  // the run followed; 0: restored from saved state, run not known
    uint64_t epoch = 0;
    uint64_t seq = 0;            // newest accepted of that run
    uint64_t highest_epoch = 0;  // over every run accepted
    uint64_t switched_at = 0;    // this party's next seq when it began to follow that run
  };
  // The newest fresh datagram accepted from a party (any channel): what we echo to it.
  struct Heard {
    uint64_t nonce = 0;
    uint64_t seq = 0;
  };
  struct Echo {
    uint64_t nonce = 0;
    uint64_t seq = 0;
  };
  absl::StatusOr<std::vector<uint8_t>> SealWith(uint8_t kind, uint8_t receiver, uint8_t channel,
                                                uint64_t epoch, uint64_t seq, Echo echo,
                                                std::span<const uint8_t> payload);
  // Whether a fresh datagram of `origin`, echoing `echo`, is news for `followed`; the drop if
  // not (`unproven_run` set when it is of a run that may be live, yet unproven). Updates
  // nothing.
  std::optional<Drop> CheckFresh(const Followed& followed, const DatagramOrigin& origin, Echo echo,
                                 bool& unproven_run) const;
  std::variant<OpenedDatagram, Drop> OpenChallenge(const DatagramOrigin& origin, Echo echo);
  static uint64_t RequestKey(uint8_t receiver, uint64_t seq);

  HmacSha256 key_;
  ClusterId cluster_id_;
  std::string cluster_;
  uint8_t self_;
  uint64_t epoch_;
  uint64_t nonce_;
  size_t max_datagram_bytes_;
  size_t max_outstanding_;
  uint64_t next_seq_ = 1;
  // Per (sender << 8 | channel).
  absl::flat_hash_map<uint16_t, Followed> followed_;
  // Per sender.
  absl::flat_hash_map<uint8_t, Heard> heard_;
  // Set by Open for a fresh datagram of an unproven run when this party is the witness.
  std::optional<std::vector<uint8_t>> challenge_;
  // Outstanding requests (receiver, seq), oldest first in the deque.
  absl::flat_hash_set<uint64_t> outstanding_;
  std::deque<uint64_t> outstanding_order_;
};

}  // namespace duet::net

#endif  // DUET_ADAPTERS_NET_DATAGRAM_AUTH_H_
