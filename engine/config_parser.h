// Parses and validates duet.toml (the layout is documented in adapters/duet.example.toml).
// Pure: the caller reads the file and hands its text in.
#ifndef DUET_ENGINE_CONFIG_PARSER_H_
#define DUET_ENGINE_CONFIG_PARSER_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "engine/config.h"

namespace duet {

// Parses the text of a duet.toml and checks every rule the rest of the engine relies on, so
// the returned Config is valid. `file_name` only appears in errors, which are
// absl::InvalidArgumentError("file:line: what is wrong"), naming the offending key. Never
// throws (an unexpected exception, such as running out of memory, becomes an InternalError).
absl::StatusOr<Config> ParseConfig(std::string_view toml_text, std::string_view file_name);

}  // namespace duet

#endif  // DUET_ENGINE_CONFIG_PARSER_H_
