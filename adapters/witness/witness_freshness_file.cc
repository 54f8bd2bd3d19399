#include "adapters/witness/witness_freshness_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "adapters/witness/durable_file.h"

namespace duet::witness {
namespace {

constexpr char kFileName[] = "freshness";

}  // namespace

absl::StatusOr<std::vector<net::DatagramAuth::Newest>> LoadWitnessFreshness(
    const std::string& state_dir) {
  const std::string path = absl::StrCat(state_dir, "/", kFileName);
  std::vector<net::DatagramAuth::Newest> saved;
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return saved;
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::vector<std::string> fields = absl::StrSplit(line, '\t');
    uint32_t sender = 0, channel = 0;
    uint64_t epoch = 0, seq = 0;
    if (fields.size() != 4 || !absl::SimpleAtoi(fields[0], &sender) || sender > 255 ||
        !absl::SimpleAtoi(fields[1], &channel) || channel > 255 ||
        !absl::SimpleAtoi(fields[2], &epoch) || !absl::SimpleAtoi(fields[3], &seq)) {
      return absl::DataLossError(
          absl::StrCat(path, ":", number, ": not 'sender<TAB>channel<TAB>epoch<TAB>seq': ", line));
    }
    saved.push_back({static_cast<uint8_t>(sender), static_cast<uint8_t>(channel), epoch, seq});
  }
  return saved;
}

absl::Status SaveWitnessFreshness(const std::string& state_dir,
                                  const std::vector<net::DatagramAuth::Newest>& newest) {
  std::vector<std::string> lines;
  lines.reserve(newest.size());
  for (const net::DatagramAuth::Newest& n : newest) {
    lines.push_back(absl::StrCat(n.sender, "\t", n.channel, "\t", n.epoch, "\t", n.seq, "\n"));
  }
  std::sort(lines.begin(), lines.end());
  std::string text;
  for (const std::string& l : lines) text += l;
  return ReplaceFileDurably(state_dir, kFileName, text);
}

}  // namespace duet::witness
