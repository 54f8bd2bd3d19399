// The witness's arbitration engine (DESIGN.md §6): per-module leases for the two nodes of a
// pair. A lease goes to the node that asks when nobody else holds an unexpired one, and is
// renewed for its holder. A witness that (re)starts grants nothing for one lease period,
// because it may have granted leases before it restarted that it no longer remembers.
// The holder that writes without its peer says so; the witness then records the peer's copy
// as outdated and refuses it the lease (it would serve without those writes) until the
// holder says the peer is in sync again. That record is persisted (the answer carries it, to
// be made durable before the reply is sent) and given back at a restart: otherwise a witness
// restart followed by the writer's crash inside the blackout would let the outdated copy
// take the lease once the blackout ends. A node that no longer wants the lease and whose peer
// lacks nothing it acknowledged alone says so (LeaseRequest::release): the record is cleared
// even when that node stopped being the owner before its next renewal would have cleared it.
// Every reply names the witness's run (its start time) and how many grants of the module that
// run has made to the requester's peer: an owner that fenced, then is granted the lease with
// the peer granted nothing since, knows the peer never took over (LeaseReply::peer_grants).
#ifndef DUET_ENGINE_WITNESS_H_
#define DUET_ENGINE_WITNESS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "engine/messages.h"

namespace duet {

// A module of one cluster: one witness may serve several pairs (LeaseRequest::cluster).
struct WitnessKey {
  std::string cluster;
  std::string module;
  friend bool operator==(const WitnessKey&, const WitnessKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const WitnessKey& key) {
    return H::combine(std::move(h), key.cluster, key.module);
  }
};

// What the witness keeps on disk: per cluster and module, the node whose copy is outdated.
using WitnessDurableState = absl::flat_hash_map<WitnessKey, NodeIndex>;

// A change of that state: `outdated` empty means the module's record is cleared.
struct OutdateRecord {
  WitnessKey key;
  std::optional<NodeIndex> outdated;
  friend bool operator==(const OutdateRecord&, const OutdateRecord&) = default;
};
void ApplyOutdateRecord(WitnessDurableState& state, const OutdateRecord& record);

struct WitnessAnswer {
  LeaseReply reply;                      // goes back to request.from...
  std::optional<OutdateRecord> persist;  // ...once this is durable
};

class Witness {
 public:
  Witness(absl::Duration lease, absl::Time started_at, WitnessDurableState outdated = {});

  // Answers one request.
  WitnessAnswer Handle(absl::Time now, const LeaseRequest& request);

  // The module's current holder, if its lease is unexpired at `now`.
  std::optional<NodeIndex> HolderAt(absl::Time now, const WitnessKey& key) const;

 private:
  struct Lease {
    NodeIndex holder = 0;
    absl::Time expires;
    std::array<uint64_t, 2> grants_to{};  // grants this run made, per node (renewals too)
  };

  absl::Duration lease_;
  absl::Time grants_from_;
  uint64_t run_;  // LeaseReply::witness_run
  absl::flat_hash_map<WitnessKey, Lease> leases_;
  WitnessDurableState outdated_;
};

}  // namespace duet

#endif  // DUET_ENGINE_WITNESS_H_
