#include "adapters/process/health_probes.h"

#include <dirent.h>
#include <net/if.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace duet {
namespace {

// The whole of a small file (procfs and sysfs files have no size to ask for), or nullopt
// when it cannot be opened.
std::optional<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool AllDigits(absl::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789") == absl::string_view::npos;
}

// Whether /proc/<pid> is a live process named `name`. A process that exits meanwhile is
// simply not it.
bool ProcessMatches(const std::string& dir, absl::string_view name) {
  std::optional<std::string> stat = ReadSmallFile(dir + "/stat");
  if (!stat) return false;
  // "pid (comm) S ...": comm may itself hold spaces and parentheses, so take the last ')'.
  const size_t open = stat->find('(');
  const size_t close = stat->rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open ||
      close + 2 >= stat->size()) {
    return false;
  }
  const char state = (*stat)[close + 2];
  if (state == 'Z' || state == 'X') return false;  // exited, not yet reaped
  if (absl::string_view(*stat).substr(open + 1, close - open - 1) == name) return true;
  // comm is cut to 15 characters; argv[0] carries the full name.
  std::optional<std::string> cmdline = ReadSmallFile(dir + "/cmdline");
  if (!cmdline || cmdline->empty()) return false;
  absl::string_view argv0(cmdline->c_str());
  const size_t slash = argv0.rfind('/');
  if (slash != absl::string_view::npos) argv0.remove_prefix(slash + 1);
  return argv0 == name;
}

}  // namespace

absl::Status CheckProcessRunning(absl::string_view name, const std::string& proc) {
  if (name.empty()) return absl::InvalidArgumentError("no process name to look for");
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(proc.c_str()), &::closedir);
  if (dir == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot list processes in ", proc, ": ", std::strerror(errno)));
  }
  while (const dirent* entry = ::readdir(dir.get())) {
    if (!AllDigits(entry->d_name)) continue;
    if (ProcessMatches(absl::StrCat(proc, "/", entry->d_name), name)) return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat("no process named '", name, "' is running"));
}

absl::Status CheckInterfaceUp(absl::string_view name, const std::string& sys_net) {
  // The name becomes a path: nothing may lead it out of sys_net.
  if (name.empty() || name.size() >= IFNAMSIZ || name == "." || name == ".." ||
      name.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("'", name, "' is not an interface name"));
  }
  const std::string dir = absl::StrCat(sys_net, "/", name);
  std::optional<std::string> flags_text = ReadSmallFile(dir + "/flags");
  if (!flags_text) {
    return absl::NotFoundError(absl::StrCat("interface ", name, " does not exist"));
  }
  unsigned int flags = 0;
  if (!absl::SimpleHexAtoi(absl::StripAsciiWhitespace(*flags_text), &flags)) {
    return absl::InternalError(
        absl::StrCat("interface ", name, ": unreadable flags '", *flags_text, "'"));
  }
  if ((flags & IFF_UP) == 0) {
    return absl::UnavailableError(absl::StrCat("interface ", name, " is down"));
  }
  std::string operstate(absl::StripAsciiWhitespace(ReadSmallFile(dir + "/operstate").value_or("")));
  if (operstate != "up" && operstate != "unknown") {
    return absl::UnavailableError(absl::StrCat("interface ", name, " is up but its link is not (",
                                               operstate.empty() ? "no operstate" : operstate,
                                               ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Endpoint> ParseHostPort(absl::string_view target) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("'", target, "' is not host:port: ", why));
  };
  absl::string_view host;
  absl::string_view port_text;
  if (!target.empty() && target.front() == '[') {
    const size_t close = target.find(']');
    if (close == absl::string_view::npos) return bad("no ']' after the IPv6 address");
    host = target.substr(1, close - 1);
    if (close + 1 >= target.size() || target[close + 1] != ':') return bad("no port");
    port_text = target.substr(close + 2);
  } else {
    const size_t colon = target.rfind(':');
    if (colon == absl::string_view::npos) return bad("no port");
    host = target.substr(0, colon);
    port_text = target.substr(colon + 1);
    if (host.find(':') != absl::string_view::npos) return bad("write an IPv6 address as [addr]");
  }
  if (host.empty()) return bad("no host");
  uint32_t port = 0;
  if (!AllDigits(port_text) || !absl::SimpleAtoi(port_text, &port) || port == 0 || port > 65535) {
    return bad("the port must be a number from 1 to 65535");
  }
  return Endpoint{std::string(host), static_cast<uint16_t>(port)};
}

}  // namespace duet
