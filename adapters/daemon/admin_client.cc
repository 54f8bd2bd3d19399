#include "adapters/daemon/admin_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace duet::daemon {

absl::StatusOr<AdminReplyText> SendAdminRequest(const std::string& socket_path,
                                                const AdminRequest& request,
                                                absl::Duration timeout) {
  sockaddr_un addr{};
  if (socket_path.size() >= sizeof addr.sun_path) {
    return absl::InvalidArgumentError(absl::StrCat("socket path too long: ", socket_path));
  }
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("no duetd answers on ", socket_path, " (",
                                               std::strerror(err),
                                               "): is duetd running on this node?"));
  }
  const std::string text = FormatAdminRequest(request);
  size_t sent = 0;
  while (sent < text.size()) {
    ssize_t n = ::send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      return absl::UnavailableError(absl::StrCat("sending to duetd: ", std::strerror(err)));
    }
    sent += static_cast<size_t>(n);
  }
  std::string reply;
  const absl::Time deadline = absl::Now() + timeout;
  char buf[65536];
  while (true) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      ::close(fd);
      return absl::DeadlineExceededError(
          absl::StrCat("duetd did not answer within ", absl::FormatDuration(timeout)));
    }
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return ParseAdminReply(reply);
}

}  // namespace duet::daemon
