// Messages exchanged between the two nodes and with the witness, as plain values.
// engine/wire/codec.h turns them into FlatBuffers frames and back; nothing else does.
// Modules are named on the wire (not indexed) so that a config reordered on one node
// cannot make the peers talk about different modules.
#ifndef DUET_ENGINE_MESSAGES_H_
#define DUET_ENGINE_MESSAGES_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "engine/types.h"

namespace duet {

// One module as the sender sees it. `term` and `owner` form the ownership token: the owner
// at the highest term is the only node allowed to be primary for the module.
struct ModuleView {
  std::string module;
  ModuleState state = ModuleState::kWait;
  DataState data = DataState::kUnknown;
  uint8_t sync_percent = 0;
  uint64_t term = 0;
  NodeIndex owner = 0;
  // The sender's application is running in the secondary role and could take over.
  bool eligible = false;
  // An admin placed the module on its owner: automatic failback leaves it there.
  bool pinned = false;
  // The sender is primary and writes without its peer: the receiver's copy is outdated.
  bool writing_alone = false;
  // The sender's application failed there beyond its restart budget: a handover it makes is a
  // failover (the receiver records it), not a planned move.
  bool app_failed = false;
  friend bool operator==(const ModuleView&, const ModuleView&) = default;
};

// Sent on every heartbeat link each heartbeat.interval, and at once after a role change.
struct Heartbeat {
  NodeIndex from = 0;
  uint64_t incarnation = 0;  // grows with every daemon start of the sender
  uint64_t seq = 0;          // grows with every heartbeat within an incarnation
  int64_t sent_at_ns = 0;    // sender's monotonic clock
  // sent_at_ns of the newest heartbeat the sender has received from the receiver
  // (receiver's clock), or -1: lets the receiver bound how long the sender trusts it.
  int64_t echo_sent_at_ns = -1;
  std::vector<ModuleView> modules;
  friend bool operator==(const Heartbeat&, const Heartbeat&) = default;
};

// "Please hand this module to me" (admin swap/prim issued on the node that is not owner).
struct SwapRequest {
  NodeIndex from = 0;
  std::string module;
  uint64_t term = 0;  // the ownership term the requester knows
  friend bool operator==(const SwapRequest&, const SwapRequest&) = default;
};

using PeerMessage = std::variant<Heartbeat, SwapRequest>;

// Node -> witness: grant or renew the lease of a module to me.
struct LeaseRequest {
  NodeIndex from = 0;
  std::string module;
  uint64_t request_id = 0;
  // The sender writes the module without its peer: the peer's copy is outdated. The witness
  // records it (and refuses the peer a lease) before the sender's writes made alone complete.
  bool peer_outdated = false;
  // An admin forced this node primary: the witness forgets a record that its copy is
  // outdated (the admin chose to serve it anyway).
  bool forced = false;
  // The cluster (config [cluster] name): one witness may serve several pairs, whose modules
  // may share names; leases and outdate records are per cluster and module.
  std::string cluster;
  // Not a lease request: the sender does not want the lease and its peer lacks nothing it
  // acknowledged alone (or it lost those writes with its disk), so a record naming the peer
  // outdated is stale. The witness clears such a record and grants nothing.
  bool release = false;
  friend bool operator==(const LeaseRequest&, const LeaseRequest&) = default;
};

// Witness -> node.
struct LeaseReply {
  std::string module;
  uint64_t request_id = 0;
  bool granted = false;
  int64_t duration_ns = 0;  // lease length from the witness's grant, when granted
  NodeIndex holder = 0;     // current holder, when refused
  // Granted: the witness holds the record that the holder's peer is outdated. Refused with
  // this set: the requester is the outdated one (the peer wrote without it).
  bool outdate_recorded = false;
  std::string cluster;  // the request's: a node ignores a reply for another cluster
  // Which run of the witness answered (it changes at each witness start; 0 from an older
  // build), and how many grants of this module (new leases and renewals) that run has made
  // to the requester's peer. An owner fenced after a reply marked (R, k) that is then granted
  // with (R, k) knows its peer was granted nothing in between, so never took over.
  uint64_t witness_run = 0;
  uint64_t peer_grants = 0;
  friend bool operator==(const LeaseReply&, const LeaseReply&) = default;
};

using WitnessMessage = std::variant<LeaseRequest, LeaseReply>;

}  // namespace duet

#endif  // DUET_ENGINE_MESSAGES_H_
