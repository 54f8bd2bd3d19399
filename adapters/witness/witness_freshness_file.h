// The witness's anti-replay state (net::DatagramAuth::NewestAccepted: per sender and channel,
// the newest (epoch, seq) accepted) in `<state_dir>/freshness`, so that a lease request
// recorded before a witness restart and replayed after it is dropped as replayed, never acted
// on. duet-witness saves it durably (durable_file.h) after accepting a request and before
// acting on it: one small file replacement (two fsyncs) per burst of requests that arrived
// together (duet_witness_main.cc), not per request. A line is
// "sender<TAB>channel<TAB>epoch<TAB>seq"; a file that does not parse is refused at start with
// the line (a witness that guessed would accept replays again).
#ifndef DUET_ADAPTERS_WITNESS_WITNESS_FRESHNESS_FILE_H_
#define DUET_ADAPTERS_WITNESS_WITNESS_FRESHNESS_FILE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "adapters/net/datagram_auth.h"

namespace duet::witness {

// The saved state; empty when the file does not exist yet (a first start).
absl::StatusOr<std::vector<net::DatagramAuth::Newest>> LoadWitnessFreshness(
    const std::string& state_dir);
// Durable when OK.
absl::Status SaveWitnessFreshness(const std::string& state_dir,
                                  const std::vector<net::DatagramAuth::Newest>& newest);

}  // namespace duet::witness

#endif  // DUET_ADAPTERS_WITNESS_WITNESS_FRESHNESS_FILE_H_
