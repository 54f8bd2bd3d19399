#include "adapters/daemon/admin_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "boost/asio/read_until.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/streambuf.hpp"
#include "boost/asio/write.hpp"

namespace duet::daemon {
namespace {

using boost::asio::local::stream_protocol;

// Whether a daemon answers on `path` (then it is not stale).
bool SomeoneListens(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return live;
}

}  // namespace

struct AdminServer::Connection {
  Connection(boost::asio::io_context& io, uint64_t request_id)
      : socket(io), deadline(io), buffer(kMaxAdminRequestBytes + 1), id(request_id) {}
  stream_protocol::socket socket;
  boost::asio::steady_timer deadline;  // for the request line
  boost::asio::streambuf buffer;
  char hang_up_probe = 0;
  const uint64_t id;
  bool answered = false;  // or gone: nothing more is written
};

AdminServer::AdminServer(boost::asio::io_context& io, Handler handler, Gone on_gone,
                         absl::Duration request_timeout)
    : io_(io),
      handler_(std::move(handler)),
      on_gone_(std::move(on_gone)),
      request_timeout_(request_timeout),
      acceptor_(io) {}

AdminServer::~AdminServer() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  if (!path_.empty()) ::unlink(path_.c_str());
}

absl::Status AdminServer::Listen(const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("admin socket path too long: ", path));
  }
  std::string dir = path.substr(0, path.rfind('/'));
  if (!dir.empty() && ::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", dir, " for the admin socket: ", std::strerror(errno)));
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " exists and is not a socket; remove it or set admin_socket"));
    }
    if (SomeoneListens(path)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "another duetd answers on ", path, " (is this node's daemon already running?)"));
    }
    ::unlink(path.c_str());
  }
  boost::system::error_code error;
  acceptor_.open(stream_protocol(), error);
  if (!error) acceptor_.bind(stream_protocol::endpoint(path), error);
  if (!error) acceptor_.listen(16, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot listen on the admin socket ", path, ": ", error.message()));
  }
  path_ = path;
  if (::chmod(path.c_str(), 0600) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot make ", path, " root-only: ", std::strerror(errno)));
  }
  Accept();
  return absl::OkStatus();
}

void AdminServer::Accept() {
  auto connection = std::make_shared<Connection>(io_, next_id_++);
  acceptor_.async_accept(connection->socket,
                         [this, connection](const boost::system::error_code& error) {
                           if (error == boost::asio::error::operation_aborted) return;
                           if (!error) Serve(connection);
                           Accept();
                         });
}

void AdminServer::Serve(std::shared_ptr<Connection> connection) {
  auto respond = [connection](std::string reply) {
    if (connection->answered) return;
    connection->answered = true;
    connection->deadline.cancel();
    auto text = std::make_shared<std::string>(std::move(reply));
    boost::asio::async_write(connection->socket, boost::asio::buffer(*text),
                             [connection, text](const boost::system::error_code&, size_t) {
                               boost::system::error_code ignored;
                               connection->socket.shutdown(stream_protocol::socket::shutdown_both,
                                                           ignored);
                               connection->socket.close(ignored);
                             });
  };
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(connection->socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
      cred.uid != 0) {
    respond(FormatAdminReply(absl::PermissionDeniedError("duetctl must run as root"), ""));
    return;
  }
  connection->deadline.expires_after(absl::ToChronoNanoseconds(request_timeout_));
  connection->deadline.async_wait([connection, respond](const boost::system::error_code& error) {
    if (error) return;  // cancelled: the request arrived
    respond(FormatAdminReply(absl::DeadlineExceededError("no request line received in time"), ""));
  });
  boost::asio::async_read_until(
      connection->socket, connection->buffer, '\n',
      [this, connection, respond](const boost::system::error_code& error, size_t n) {
        if (connection->answered) return;  // timed out
        connection->deadline.cancel();
        if (error) {
          respond(
              FormatAdminReply(absl::InvalidArgumentError(error == boost::asio::error::not_found
                                                              ? "request longer than 4096 bytes"
                                                              : "request not ended by a newline"),
                               ""));
          return;
        }
        const auto data = connection->buffer.data();
        std::string line(boost::asio::buffers_begin(data),
                         boost::asio::buffers_begin(data) + static_cast<long>(n));
        absl::StatusOr<AdminRequest> request = ParseAdminRequest(line);
        if (!request.ok()) {
          respond(FormatAdminReply(request.status(), ""));
          return;
        }
        handler_(connection->id, *request, respond);
        if (!connection->answered) WatchForHangUp(connection);
      });
}

void AdminServer::WatchForHangUp(std::shared_ptr<Connection> connection) {
  connection->socket.async_read_some(
      boost::asio::buffer(&connection->hang_up_probe, 1),
      [this, connection](const boost::system::error_code& error, size_t) {
        if (connection->answered) return;
        if (!error) {
          WatchForHangUp(connection);  // more than one request line: ignored
          return;
        }
        connection->answered = true;
        boost::system::error_code ignored;
        connection->socket.close(ignored);
        if (on_gone_) on_gone_(connection->id);
      });
}

}  // namespace duet::daemon
