// The witness's durable record (engine/witness.h WitnessDurableState: per cluster and module,
// the node whose copy is outdated) in one small file, `<state_dir>/outdated`. Each change
// rewrites the whole file (a few bytes per module): written to a temporary file, fsync'ed,
// renamed over, directory fsync'ed, so a crash leaves the old record or the new one. A line is
// "cluster<TAB>module<TAB>node index"; a file that does not parse is refused at start with
// the line, never half-read (the witness would otherwise forget an outdated copy).
#ifndef DUET_ADAPTERS_WITNESS_WITNESS_STATE_FILE_H_
#define DUET_ADAPTERS_WITNESS_WITNESS_STATE_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/witness.h"

namespace duet::witness {

// The recorded state; empty when the file does not exist yet (a first start).
absl::StatusOr<WitnessDurableState> LoadWitnessState(const std::string& state_dir);
// Durable when OK.
absl::Status SaveWitnessState(const std::string& state_dir, const WitnessDurableState& state);

}  // namespace duet::witness

#endif  // DUET_ADAPTERS_WITNESS_WITNESS_STATE_FILE_H_
