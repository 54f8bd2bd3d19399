// duetd's end of the admin socket (admin_protocol.h). The socket file is created mode 0600 in
// a directory it creates mode 0755 if missing; a stale socket file from a dead daemon is
// replaced, but a live daemon's is not (a second duetd for the same node stops with the
// reason). A peer whose SO_PEERCRED uid is not 0 is refused even if the mode let it in.
// Requests are read on the event loop with a size cap; the handler answers each exactly once,
// possibly later (a verb waits for the engine's AdminReply).
#ifndef DUET_ADAPTERS_DAEMON_ADMIN_SERVER_H_
#define DUET_ADAPTERS_DAEMON_ADMIN_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "adapters/daemon/admin_protocol.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/local/stream_protocol.hpp"

namespace duet::daemon {

class AdminServer {
 public:
  // Sends the full reply text (FormatAdminReply) and closes the connection.
  using Respond = std::function<void(std::string reply)>;
  using Handler = std::function<void(const AdminRequest& request, Respond respond)>;

  AdminServer(boost::asio::io_context& io, Handler handler);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  absl::Status Listen(const std::string& path);

 private:
  void Accept();
  void Serve(std::shared_ptr<boost::asio::local::stream_protocol::socket> socket);

  boost::asio::io_context& io_;
  Handler handler_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::string path_;
};

}  // namespace duet::daemon

#endif  // DUET_ADAPTERS_DAEMON_ADMIN_SERVER_H_
