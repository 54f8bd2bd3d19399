#include "adapters/daemon/failover_history.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "adapters/witness/durable_file.h"

namespace duet::daemon {
namespace {

constexpr char kFileName[] = "last_failovers";

}  // namespace

absl::StatusOr<FailoverHistory> FailoverHistory::Load(const std::string& state_dir) {
  FailoverHistory history(state_dir);
  const std::string path = absl::StrCat(state_dir, "/", kFileName);
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return history;
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::vector<std::string> fields = absl::StrSplit(line, '\t');
    Saved saved;
    uint32_t from = 0, cause = 0;
    if (fields.size() != 5 || fields[0].empty() || !absl::SimpleAtoi(fields[1], &from) ||
        from > 1 || !absl::SimpleAtoi(fields[2], &cause) ||
        cause > static_cast<uint32_t>(FailoverCause::kAppFailed) ||
        !absl::SimpleAtoi(fields[3], &saved.began_unix_ns) ||
        !absl::SimpleAtoi(fields[4], &saved.duration_ns) || saved.duration_ns < 0) {
      return absl::DataLossError(absl::StrCat(
          path, ":", number,
          ": not 'module<TAB>from (0|1)<TAB>cause (0|1|2)<TAB>began ns<TAB>duration ns': ", line));
    }
    saved.from = static_cast<NodeIndex>(from);
    saved.cause = static_cast<FailoverCause>(cause);
    history.saved_[fields[0]] = saved;
  }
  return history;
}

absl::Status FailoverHistory::Keep(const std::string& module, const FailoverRecord& record,
                                   absl::Time now, absl::Time wall_now) {
  auto kept = kept_.find(module);
  if (kept != kept_.end() && kept->second == record) return absl::OkStatus();
  kept_[module] = record;
  saved_[module] =
      Saved{record.from, record.cause, absl::ToUnixNanos(wall_now - (now - record.began)),
            absl::ToInt64Nanoseconds(record.duration())};
  return Save();
}

std::optional<FailoverRecord> FailoverHistory::Of(const std::string& module, absl::Time now,
                                                  absl::Time wall_now) const {
  auto found = saved_.find(module);
  if (found == saved_.end()) return std::nullopt;
  const Saved& s = found->second;
  FailoverRecord record;
  record.from = s.from;
  record.cause = s.cause;
  record.began = now - (wall_now - absl::FromUnixNanos(s.began_unix_ns));
  record.completed = record.began + absl::Nanoseconds(s.duration_ns);
  return record;
}

absl::Status FailoverHistory::Save() const {
  std::string text;
  for (const auto& [module, s] : saved_) {
    absl::StrAppend(&text, module, "\t", s.from, "\t", static_cast<int>(s.cause), "\t",
                    s.began_unix_ns, "\t", s.duration_ns, "\n");
  }
  return witness::ReplaceFileDurably(state_dir_, kFileName, text);
}

}  // namespace duet::daemon
