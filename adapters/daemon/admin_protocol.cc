#include "adapters/daemon/admin_protocol.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace duet::daemon {
namespace {

constexpr AdminVerb kVerbs[] = {AdminVerb::kStart,  AdminVerb::kStop,   AdminVerb::kSwap,
                                AdminVerb::kPrim,   AdminVerb::kSecond, AdminVerb::kRestart,
                                AdminVerb::kDiscard};

}  // namespace

absl::StatusOr<AdminVerb> AdminVerbFromWord(absl::string_view word) {
  for (AdminVerb verb : kVerbs) {
    if (word == AdminVerbName(verb)) return verb;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown verb '", word, "'"));
}

std::string FormatAdminRequest(const AdminRequest& request) {
  switch (request.kind) {
    case AdminRequestKind::kStatus:
      return "status\n";
    case AdminRequestKind::kStatusJson:
      return "status --json\n";
    case AdminRequestKind::kVerb:
      return absl::StrCat(AdminVerbName(request.verb), " ", request.module,
                          request.force ? " --force" : "", "\n");
  }
  return "\n";
}

absl::StatusOr<AdminRequest> ParseAdminRequest(absl::string_view line) {
  if (line.size() > kMaxAdminRequestBytes) {
    return absl::InvalidArgumentError("request longer than 4096 bytes");
  }
  absl::ConsumeSuffix(&line, "\n");
  std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
  AdminRequest request;
  if (words.empty()) return absl::InvalidArgumentError("empty request");
  if (words[0] == "status") {
    if (words.size() == 1) return request;
    if (words.size() == 2 && words[1] == "--json") {
      request.kind = AdminRequestKind::kStatusJson;
      return request;
    }
    return absl::InvalidArgumentError("status takes only --json");
  }
  absl::StatusOr<AdminVerb> verb = AdminVerbFromWord(words[0]);
  if (!verb.ok()) return verb.status();
  request.kind = AdminRequestKind::kVerb;
  request.verb = *verb;
  if (words.size() < 2)
    return absl::InvalidArgumentError(absl::StrCat(words[0], " needs a module"));
  request.module = std::string(words[1]);
  for (size_t i = 2; i < words.size(); ++i) {
    if (words[i] == "--force" && request.verb == AdminVerb::kPrim && !request.force) {
      request.force = true;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected '", words[i], "' after ", words[0], " ", words[1]));
    }
  }
  return request;
}

std::string FormatAdminReply(const absl::Status& status, absl::string_view body) {
  std::string first;
  if (status.ok()) {
    first = "ok";
  } else if (status.code() == absl::StatusCode::kInvalidArgument) {
    first = absl::StrCat("error ", status.message());
  } else {
    first = absl::StrCat("refused ", status.message());
  }
  // A reason never spans lines: the first line is the verdict.
  for (char& c : first) {
    if (c == '\n') c = ' ';
  }
  return absl::StrCat(first, "\n", body);
}

absl::StatusOr<AdminReplyText> ParseAdminReply(absl::string_view text) {
  size_t eol = text.find('\n');
  if (eol == absl::string_view::npos) {
    return absl::DataLossError("the daemon closed the connection before replying");
  }
  absl::string_view first = text.substr(0, eol);
  AdminReplyText reply;
  reply.body = std::string(text.substr(eol + 1));
  if (first == "ok") return reply;
  if (absl::ConsumePrefix(&first, "refused ")) {
    reply.status = absl::FailedPreconditionError(first);
  } else if (absl::ConsumePrefix(&first, "error ")) {
    reply.status = absl::InvalidArgumentError(first);
  } else {
    return absl::DataLossError(absl::StrCat("unreadable reply: ", first));
  }
  return reply;
}

}  // namespace duet::daemon
