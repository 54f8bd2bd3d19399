// duetd's end of the admin socket (admin_protocol.h). The socket file is created mode 0600 in
// a directory it creates mode 0755 if missing; a stale socket file from a dead daemon is
// replaced, but a live daemon's is not (a second duetd for the same node stops with the
// reason). A peer whose SO_PEERCRED uid is not 0 is refused even if the mode let it in.
// Requests are read on the event loop with a size cap and a time limit (a client that connects
// and sends nothing is closed); the handler answers each exactly once, possibly later (a verb
// waits for the engine's AdminReply). A client that hangs up before its answer (duetctl
// interrupted) leaves nothing behind: its connection is closed, on_gone(id) tells the handler
// to drop what it keeps for the request, and a later Respond for it does nothing. The end of
// the client's input counts as hanging up: a client must not shut its sending side down
// while it waits for the answer (duetctl never does).
#ifndef DUET_ADAPTERS_DAEMON_ADMIN_SERVER_H_
#define DUET_ADAPTERS_DAEMON_ADMIN_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "adapters/daemon/admin_protocol.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/local/stream_protocol.hpp"

namespace duet::daemon {

class AdminServer {
 public:
  // Sends the full reply text (FormatAdminReply) and closes the connection.
  using Respond = std::function<void(std::string reply)>;
  // `id` names the request, unique within this server, until it is answered or gone.
  using Handler = std::function<void(uint64_t id, const AdminRequest& request, Respond respond)>;
  using Gone = std::function<void(uint64_t id)>;

  AdminServer(boost::asio::io_context& io, Handler handler, Gone on_gone,
              absl::Duration request_timeout = absl::Seconds(10));
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  absl::Status Listen(const std::string& path);

 private:
  struct Connection;
  void Accept();
  void Serve(std::shared_ptr<Connection> connection);
  // Until its answer: the client hanging up makes the request gone.
  void WatchForHangUp(std::shared_ptr<Connection> connection);

  boost::asio::io_context& io_;
  Handler handler_;
  Gone on_gone_;
  absl::Duration request_timeout_;
  uint64_t next_id_ = 1;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::string path_;
};

}  // namespace duet::daemon

#endif  // DUET_ADAPTERS_DAEMON_ADMIN_SERVER_H_
