// A module's directory that already holds data when Duet first starts on this node (an
// application made highly available after it ran alone): the data is moved, not copied,
// into the module's new backing directory, so that the mount shows it instead of hiding it
// and the engine replicates it (Replica::TakeInExistingData). Moving needs both on one file
// system: otherwise nothing is moved and the error says what to do.
#ifndef DUET_ADAPTERS_DAEMON_EXISTING_DATA_H_
#define DUET_ADAPTERS_DAEMON_EXISTING_DATA_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace duet {

// Moves every entry of `directory` into the empty `backing` directory and gives `backing`
// the mode and owner of `directory`. Returns how many entries moved (0 if `directory` is
// missing or empty). Durable when it returns: both directories are fsync'ed.
absl::StatusOr<size_t> TakeInExistingData(const std::string& directory, const std::string& backing);

}  // namespace duet

#endif  // DUET_ADAPTERS_DAEMON_EXISTING_DATA_H_
