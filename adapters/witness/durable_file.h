// Replacing a small file so that a crash leaves the old content or the new one, never a mix:
// written to `<name>.new`, fsync'ed, renamed over `<name>`, the directory fsync'ed. Used by
// the witness's state files, each a few bytes per module or sender.
#ifndef DUET_ADAPTERS_WITNESS_DURABLE_FILE_H_
#define DUET_ADAPTERS_WITNESS_DURABLE_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace duet::witness {

// Durable when OK; FailedPrecondition naming the step and the system's reason otherwise.
absl::Status ReplaceFileDurably(const std::string& dir, const std::string& name,
                                absl::string_view text);

}  // namespace duet::witness

#endif  // DUET_ADAPTERS_WITNESS_DURABLE_FILE_H_
