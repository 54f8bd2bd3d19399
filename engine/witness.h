// The witness's arbitration engine (DESIGN.md §6): per-module leases for the two nodes of a
// pair. A lease goes to the node that asks when nobody else holds an unexpired one, and is
// renewed for its holder. A witness that (re)starts grants nothing for one lease period,
// because it may have granted leases before it restarted that it no longer remembers.
// The holder that writes without its peer says so; the witness then records the peer's copy
// as outdated and refuses it the lease (it would serve without those writes) until the
// holder says the peer is in sync again. The record lives in memory: after a restart the
// holder's next renewal, within the blackout period, restores it.
#ifndef DUET_ENGINE_WITNESS_H_
#define DUET_ENGINE_WITNESS_H_

#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "engine/messages.h"

namespace duet {

class Witness {
 public:
  Witness(absl::Duration lease, absl::Time started_at)
      : lease_(lease), grants_from_(started_at + lease) {}

  // Answers one request; the reply goes back to request.from.
  LeaseReply Handle(absl::Time now, const LeaseRequest& request);

  // The module's current holder, if its lease is unexpired at `now`.
  std::optional<NodeIndex> HolderAt(absl::Time now, const std::string& module) const;

 private:
  struct Lease {
    NodeIndex holder = 0;
    absl::Time expires;
  };

  absl::Duration lease_;
  absl::Time grants_from_;
  absl::flat_hash_map<std::string, Lease> leases_;
  absl::flat_hash_map<std::string, NodeIndex> outdated_;  // module -> node whose copy is old
};

}  // namespace duet

#endif  // DUET_ENGINE_WITNESS_H_
