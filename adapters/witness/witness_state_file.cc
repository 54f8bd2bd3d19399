#include "adapters/witness/witness_state_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "adapters/witness/durable_file.h"

namespace duet::witness {
namespace {

std::string FileOf(const std::string& state_dir) { return state_dir + "/outdated"; }

absl::Status Errno(const std::string& what) {
  return absl::FailedPreconditionError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<WitnessDurableState> LoadWitnessState(const std::string& state_dir) {
  WitnessDurableState state;
  std::ifstream in(FileOf(state_dir));
  if (!in) {
    if (errno == ENOENT) return state;
    return Errno(absl::StrCat("cannot read ", FileOf(state_dir)));
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::vector<std::string> fields = absl::StrSplit(line, '\t');
    uint32_t node = 0;
    if (fields.size() != 3 || fields[0].empty() || fields[1].empty() ||
        !absl::SimpleAtoi(fields[2], &node) || node > 1) {
      return absl::DataLossError(absl::StrCat(FileOf(state_dir), ":", number,
                                              ": not 'cluster<TAB>module<TAB>0|1': ", line));
    }
    state[WitnessKey{fields[0], fields[1]}] = static_cast<NodeIndex>(node);
  }
  return state;
}

absl::Status SaveWitnessState(const std::string& state_dir, const WitnessDurableState& state) {
  std::vector<std::string> lines;
  for (const auto& [key, node] : state) {
    lines.push_back(absl::StrCat(key.cluster, "\t", key.module, "\t", node, "\n"));
  }
  std::sort(lines.begin(), lines.end());
  std::string text;
  for (const std::string& l : lines) text += l;
  return ReplaceFileDurably(state_dir, "outdated", text);
}

}  // namespace duet::witness
