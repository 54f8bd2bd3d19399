#include "adapters/net/replication_link.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <deque>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "adapters/net/byte_order.h"
#include "adapters/net/endpoint_resolve.h"
#include "adapters/net/stream_auth.h"

namespace duet::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

// Accepted connections still in their handshake; more are refused (oldest closed first) so
// unauthenticated connections cannot pile up.
constexpr size_t kMaxPendingHandshakes = 4;
// After a failed accept, the listener tries again this much later.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
// One socket write gathers at most this many frames.
constexpr size_t kMaxFramesPerWrite = 64;

struct OutFrame {
  std::vector<uint8_t> head;
  Payload tail;  // may be null
  SealedFrame sealed;
  size_t bytes() const { return head.size() + (tail ? tail->size() : 0) + sealed.overhead_bytes(); }
};

// Bytes of the little-endian head length that starts a payload the receiver cuts.
constexpr size_t kHeadLengthBytes = 4;

struct Connection {
  explicit Connection(asio::io_context& io) : socket(io), timer(io) {}
  tcp::socket socket;
  asio::steady_timer timer;  // connect + handshake deadline
  std::string peer_text = "?";
  std::optional<StreamHandshake> handshake;
  std::array<uint8_t, kStreamHelloBytes> peer_hello{};
  std::optional<FrameSealer> sealer;
  std::optional<FrameOpener> opener;
  FrameHeader header{};
  uint32_t payload_bytes = 0;                           // of the frame being read
  std::array<uint8_t, kHeadLengthBytes> head_length{};  // a large payload's first bytes
  std::vector<uint8_t> head;                            // the payload, or its head
  std::shared_ptr<std::string> tail;                    // its tail, or null
  Tag tag{};
  std::deque<OutFrame> queue;  // references stay valid while frames are added at the back
  size_t queued_bytes = 0;
  size_t frames_in_flight = 0;
  bool writing = false;
  bool established = false;
  bool closed = false;
  std::chrono::steady_clock::time_point established_at;
};

using ConnectionPtr = std::shared_ptr<Connection>;

// Asio's own conditions move at most 64 KiB per system call; a 1 MiB frame then costs 16
// calls and 16 trips through the loop each way. This one lets one call move up to 8 MiB
// (reads and gathered writes alike).
std::size_t AllInLargeSteps(const error_code& error, std::size_t) {
  return error ? 0 : std::size_t{8} << 20;
}

std::string Describe(const error_code& error) {
  if (error == asio::error::eof) return "closed by the peer";
  return error.message();
}

void SetSocketOptions(tcp::socket& socket, std::chrono::milliseconds dead_peer_timeout) {
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  socket.set_option(asio::socket_base::keep_alive(true), ignored);
  int fd = socket.native_handle();
  int idle = std::max<int>(1, static_cast<int>(dead_peer_timeout.count() / 2000));
  int interval = 1;
  int count = idle;
  auto user_timeout = static_cast<unsigned>(dead_peer_timeout.count());
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
}

}  // namespace

// Shared with every pending handler: a handler completing after Stop finds `stopped_` set.
class ReplicationLink::Impl : public std::enable_shared_from_this<ReplicationLink::Impl> {
 public:
  Impl(asio::io_context& io, const ClusterKey& key, ReplicationLinkOptions options,
       ReplicationCallbacks callbacks)
      : io_(io),
        key_(key),
        options_(std::move(options)),
        callbacks_(std::move(callbacks)),
        acceptor_(io),
        dial_timer_(io),
        next_backoff_(options_.backoff_initial) {}

  absl::Status Init() {
    if (options_.self > 1) return absl::InvalidArgumentError("node index must be 0 or 1");
    if (options_.max_frame_bytes == 0 || options_.max_frame_bytes > UINT32_MAX) {
      return absl::InvalidArgumentError("max_frame_bytes must be between 1 and 2^32-1");
    }
    if (options_.backoff_initial.count() <= 0 || options_.backoff_max < options_.backoff_initial) {
      return absl::InvalidArgumentError("backoff must be positive, and max >= initial");
    }
    if (options_.self == 0) {
      where_ = absl::StrCat("replication link to ", EndpointText(options_.peer));
      absl::StatusOr<tcp::endpoint> peer = ResolveTcp(options_.peer);
      if (!peer.ok()) return peer.status();
      peer_endpoint_ = *peer;
      Dial();
      return absl::OkStatus();
    }
    where_ = absl::StrCat("replication listener ", EndpointText(options_.listen));
    absl::StatusOr<tcp::endpoint> local = ResolveTcp(options_.listen);
    if (!local.ok()) return local.status();
    error_code error;
    acceptor_.open(local->protocol(), error);
    if (!error) acceptor_.set_option(tcp::acceptor::reuse_address(true), error);
    if (!error) acceptor_.bind(*local, error);
    if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
    if (error) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", EndpointText(options_.listen), ": ", error.message()));
    }
    Accept();
    return absl::OkStatus();
  }

  bool Send(std::vector<uint8_t> head, Payload tail) {
    if (stopped_ || current_ == nullptr) return false;
    Connection& conn = *current_;
    OutFrame& out = conn.queue.emplace_back();
    out.head = std::move(head);
    if (tail != nullptr && !tail->empty()) out.tail = std::move(tail);
    out.sealed = conn.sealer->Seal(out.head, TailBytes(out.tail));
    conn.queued_bytes += out.bytes();
    Flush(current_);
    return true;
  }

  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    error_code ignored;
    acceptor_.close(ignored);
    dial_timer_.cancel();
    for (const ConnectionPtr& conn : pending_) Shut(*conn);
    if (current_ != nullptr) Shut(*current_);
    pending_.clear();
    current_.reset();
  }

  void Reset(const std::string& reason) {
    if (stopped_ || current_ == nullptr) return;
    // Closed from the loop, after the handler that asked (it may be delivering a frame of
    // this very connection) has returned.
    asio::post(io_, [self = shared_from_this(), conn = current_, reason] {
      if (!self->stopped_) self->Close(conn, reason);
    });
  }

  const ConnectionPtr& current() const { return current_; }
  const NetCounters& counters() const { return counters_; }
  uint64_t connections() const { return connections_; }
  tcp::endpoint listen_endpoint() const {
    error_code ignored;
    return acceptor_.local_endpoint(ignored);
  }

 private:
  // The queue is left alone: a write in flight still refers to it until its handler runs (and
  // returns at once); it goes with the Connection when the last handler lets go of it.
  static void Shut(Connection& conn) {
    conn.closed = true;
    error_code ignored;
    conn.socket.close(ignored);
    conn.timer.cancel();
  }

  void Log(const std::string& line) const {
    if (callbacks_.log) callbacks_.log(absl::StrCat(where_, ": ", line));
  }

  // Connect (node 0) or handshake (both) must finish by the deadline.
  void StartDeadline(const ConnectionPtr& conn) {
    conn->timer.expires_after(options_.handshake_timeout);
    conn->timer.async_wait([self = shared_from_this(), conn](const error_code& error) {
      if (error || self->stopped_ || conn->closed || conn->established) return;
      self->Close(conn, "connect or handshake timed out");
    });
  }

  void Dial() {
    if (stopped_) return;
    auto conn = std::make_shared<Connection>(io_);
    conn->peer_text = EndpointText(options_.peer);
    pending_.push_back(conn);
    StartDeadline(conn);
    conn->socket.async_connect(
        *peer_endpoint_, [self = shared_from_this(), conn](const error_code& error) {
          if (self->stopped_ || conn->closed) return;
          if (error) {
            self->Close(conn, absl::StrCat("connect failed: ", error.message()));
            return;
          }
          self->BeginHandshake(conn);
        });
  }

  void ScheduleDial() {
    std::chrono::milliseconds delay = next_backoff_;
    next_backoff_ = std::min(next_backoff_ * 2, options_.backoff_max);
    dial_timer_.expires_after(delay);
    dial_timer_.async_wait([self = shared_from_this()](const error_code& error) {
      if (!error && !self->stopped_) self->Dial();
    });
  }

  void Accept() {
    auto conn = std::make_shared<Connection>(io_);
    acceptor_.async_accept(
        conn->socket, [self = shared_from_this(), conn](const error_code& error) {
          if (self->stopped_) return;
          if (error) {
            // Out of descriptors, for one: wait a little rather than spin on the error.
            self->Log(absl::StrCat("accept failed: ", error.message()));
            Shut(*conn);
            self->dial_timer_.expires_after(kAcceptRetryDelay);
            self->dial_timer_.async_wait([self](const error_code& timer_error) {
              if (!timer_error && !self->stopped_) self->Accept();
            });
            return;
          }
          error_code ignored;
          tcp::endpoint remote = conn->socket.remote_endpoint(ignored);
          conn->peer_text = absl::StrCat(remote.address().to_string(), ":", remote.port());
          if (self->pending_.size() >= kMaxPendingHandshakes) {
            self->Close(self->pending_.front(), "too many connections in handshake");
          }
          self->pending_.push_back(conn);
          self->StartDeadline(conn);
          self->BeginHandshake(conn);
          self->Accept();
        });
  }

  void BeginHandshake(const ConnectionPtr& conn) {
    SetSocketOptions(conn->socket, options_.dead_peer_timeout);
    absl::StatusOr<StreamHandshake> handshake =
        StreamHandshake::Begin(key_, options_.cluster, options_.self);
    if (!handshake.ok()) {
      Close(conn, std::string(handshake.status().message()));
      return;
    }
    conn->handshake.emplace(*std::move(handshake));
    conn->writing = true;
    asio::async_write(conn->socket, asio::buffer(conn->handshake->hello()),
                      [self = shared_from_this(), conn](const error_code& error, size_t) {
                        if (self->stopped_ || conn->closed) return;
                        conn->writing = false;
                        if (error) {
                          self->Close(conn, absl::StrCat("hello not sent: ", Describe(error)));
                          return;
                        }
                        self->Flush(conn);
                      });
    asio::async_read(conn->socket, asio::buffer(conn->peer_hello),
                     [self = shared_from_this(), conn](const error_code& error, size_t) {
                       if (self->stopped_ || conn->closed) return;
                       if (error) {
                         self->Close(conn, absl::StrCat("no hello: ", Describe(error)));
                         return;
                       }
                       self->PeerHelloRead(conn);
                     });
  }

  void PeerHelloRead(const ConnectionPtr& conn) {
    std::variant<StreamSession, Drop> session =
        conn->handshake->Complete(conn->peer_hello, Peer(options_.self), options_.max_frame_bytes);
    if (const Drop* drop = std::get_if<Drop>(&session)) {
      DropAndClose(conn, *drop);
      return;
    }
    StreamSession& s = std::get<StreamSession>(session);
    conn->sealer.emplace(std::move(s.sealer));
    conn->opener.emplace(std::move(s.opener));
    OutFrame& confirmation = conn->queue.emplace_back();
    confirmation.sealed = s.confirmation;
    conn->queued_bytes += confirmation.bytes();
    Flush(conn);
    ReadHeader(conn);
  }

  void ReadHeader(const ConnectionPtr& conn) {
    asio::async_read(conn->socket, asio::buffer(conn->header),
                     [self = shared_from_this(), conn](const error_code& error, size_t) {
                       if (self->stopped_ || conn->closed) return;
                       if (error) {
                         self->Close(conn, absl::StrCat("read failed: ", Describe(error)));
                         return;
                       }
                       self->HeaderRead(conn);
                     });
  }

  static std::span<const uint8_t> TailBytes(const auto& tail) {
    if (tail == nullptr) return {};
    return {reinterpret_cast<const uint8_t*>(tail->data()), tail->size()};
  }

  void HeaderRead(const ConnectionPtr& conn) {
    std::variant<uint32_t, Drop> length = conn->opener->OpenHeader(conn->header);
    if (const Drop* drop = std::get_if<Drop>(&length)) {
      DropAndClose(conn, *drop);
      return;
    }
    conn->payload_bytes = std::get<uint32_t>(length);
    conn->tail.reset();
    if (conn->payload_bytes < kMinTailCutBytes || conn->opener->expects_confirmation()) {
      conn->head.resize(conn->payload_bytes);
      ReadBody(conn, 0);
      return;
    }
    // Where the head ends, then the rest: one more read for a large payload.
    asio::async_read(conn->socket, asio::buffer(conn->head_length),
                     [self = shared_from_this(), conn](const error_code& error, size_t) {
                       if (self->stopped_ || conn->closed) return;
                       if (error) {
                         self->Close(conn, absl::StrCat("read failed: ", Describe(error)));
                         return;
                       }
                       self->HeadLengthRead(conn);
                     });
  }

  void HeadLengthRead(const ConnectionPtr& conn) {
    const uint64_t head_bytes =
        kHeadLengthBytes + uint64_t{GetLittleEndian<uint32_t>(conn->head_length.data())};
    if (head_bytes < conn->payload_bytes) {
      conn->head.resize(head_bytes);
      // Zero-filled by the string (C++20 has no way around it): cheaper than the copy it saves.
      conn->tail = std::make_shared<std::string>(conn->payload_bytes - head_bytes, '\0');
    } else {
      conn->head.resize(conn->payload_bytes);
    }
    std::memcpy(conn->head.data(), conn->head_length.data(), kHeadLengthBytes);
    ReadBody(conn, kHeadLengthBytes);
  }

  // The payload from byte `done` of the head on, then the tag, in one gathered read.
  void ReadBody(const ConnectionPtr& conn, size_t done) {
    std::array<asio::mutable_buffer, 3> buffers = {
        asio::buffer(conn->head.data() + done, conn->head.size() - done),
        conn->tail ? asio::buffer(conn->tail->data(), conn->tail->size()) : asio::mutable_buffer(),
        asio::buffer(conn->tag.data(), conn->opener->tag_bytes())};
    asio::async_read(conn->socket, buffers, AllInLargeSteps,
                     [self = shared_from_this(), conn](const error_code& error, size_t) {
                       if (self->stopped_ || conn->closed) return;
                       if (error) {
                         self->Close(conn, absl::StrCat("read failed: ", Describe(error)));
                         return;
                       }
                       self->BodyRead(conn);
                     });
  }

  void BodyRead(const ConnectionPtr& conn) {
    std::variant<FrameKind, Drop> kind = conn->opener->OpenBody(
        conn->head, TailBytes(conn->tail),
        std::span<const uint8_t>(conn->tag).first(conn->opener->tag_bytes()));
    if (const Drop* drop = std::get_if<Drop>(&kind)) {
      DropAndClose(conn, *drop);
      return;
    }
    if (std::get<FrameKind>(kind) == FrameKind::kConfirmation) {
      Established(conn);
    } else if (current_ == conn && callbacks_.on_frame) {
      callbacks_.on_frame(conn->head, std::move(conn->tail));
    }
    conn->tail.reset();
    if (!stopped_ && !conn->closed) ReadHeader(conn);
  }

  void Established(const ConnectionPtr& conn) {
    conn->established = true;
    conn->timer.cancel();
    std::erase(pending_, conn);
    if (current_ != nullptr) Close(current_, "replaced by a newer connection from the peer");
    current_ = conn;
    ++connections_;
    conn->established_at = std::chrono::steady_clock::now();
    Log(absl::StrCat("connected with ", conn->peer_text, " (frames authenticated with ",
                     StreamMacName(conn->opener->mac()), ")"));
    if (callbacks_.on_connected) callbacks_.on_connected();
  }

  void Flush(const ConnectionPtr& conn) {
    if (conn->writing || conn->closed || conn->queue.empty()) return;
    std::vector<asio::const_buffer> buffers;
    size_t frames = std::min(conn->queue.size(), kMaxFramesPerWrite);
    buffers.reserve(4 * frames);
    for (size_t i = 0; i < frames; ++i) {
      const OutFrame& out = conn->queue[i];
      buffers.push_back(asio::buffer(out.sealed.header));
      if (!out.head.empty()) buffers.push_back(asio::buffer(out.head));
      if (out.tail != nullptr) buffers.push_back(asio::buffer(*out.tail));
      buffers.push_back(asio::buffer(out.sealed.tag.data(), out.sealed.tag_bytes));
    }
    conn->writing = true;
    conn->frames_in_flight = frames;
    asio::async_write(conn->socket, buffers, AllInLargeSteps,
                      [self = shared_from_this(), conn](const error_code& error, size_t) {
                        if (self->stopped_ || conn->closed) return;
                        conn->writing = false;
                        if (error) {
                          self->Close(conn, absl::StrCat("write failed: ", Describe(error)));
                          return;
                        }
                        for (size_t i = 0; i < conn->frames_in_flight; ++i) {
                          conn->queued_bytes -= conn->queue.front().bytes();
                          conn->queue.pop_front();
                        }
                        conn->frames_in_flight = 0;
                        self->Flush(conn);
                      });
  }

  void DropAndClose(const ConnectionPtr& conn, const Drop& drop) {
    RecordDrop(counters_, callbacks_.log, absl::StrCat(where_, " (", conn->peer_text, ")"), drop);
    Close(conn, absl::StrCat("frame dropped (", DropReasonName(drop.reason), "): ", drop.detail));
  }

  // Ends `conn`; on_disconnected if it was the current connection; node 0 dials again.
  // `conn` by value: callers pass current_ or a pending_ entry, which this clears.
  void Close(ConnectionPtr conn, const std::string& reason) {
    if (conn->closed) return;
    Shut(*conn);
    bool was_current = current_ == conn;
    if (was_current) current_.reset();
    // The backoff starts over only after a connection that lasted: one reset at once (a
    // peer whose frames do not decode, such as one of another wire version) is a failure,
    // or the pair would reconnect and log it ten times a second.
    if (was_current &&
        std::chrono::steady_clock::now() - conn->established_at >= options_.backoff_max) {
      next_backoff_ = options_.backoff_initial;
    }
    std::erase(pending_, conn);
    Log(absl::StrCat(was_current ? "connection with " : "connection attempt with ", conn->peer_text,
                     " ended: ", reason));
    if (options_.self == 0 && !stopped_) ScheduleDial();
    if (was_current && callbacks_.on_disconnected) callbacks_.on_disconnected(reason);
  }

  asio::io_context& io_;
  ClusterKey key_;
  ReplicationLinkOptions options_;
  ReplicationCallbacks callbacks_;
  std::string where_;
  tcp::acceptor acceptor_;
  asio::steady_timer dial_timer_;  // node 0: next dial; node 1: accept retry
  std::optional<tcp::endpoint> peer_endpoint_;
  ConnectionPtr current_;
  std::vector<ConnectionPtr> pending_;
  std::chrono::milliseconds next_backoff_;
  NetCounters counters_;
  uint64_t connections_ = 0;
  bool stopped_ = false;
};

absl::StatusOr<std::unique_ptr<ReplicationLink>> ReplicationLink::Start(
    asio::io_context& io, const ClusterKey& key, ReplicationLinkOptions options,
    ReplicationCallbacks callbacks) {
  auto impl = std::make_shared<Impl>(io, key, std::move(options), std::move(callbacks));
  absl::Status started = impl->Init();
  if (!started.ok()) {
    impl->Stop();
    return started;
  }
  return std::unique_ptr<ReplicationLink>(new ReplicationLink(std::move(impl)));
}

ReplicationLink::~ReplicationLink() { impl_->Stop(); }

bool ReplicationLink::Send(std::vector<uint8_t> head, Payload tail) {
  return impl_->Send(std::move(head), std::move(tail));
}

bool ReplicationLink::connected() const { return impl_->current() != nullptr; }

size_t ReplicationLink::queued_bytes() const {
  const std::shared_ptr<Connection>& conn = impl_->current();
  return conn == nullptr ? 0 : conn->queued_bytes;
}

const NetCounters& ReplicationLink::counters() const { return impl_->counters(); }

uint64_t ReplicationLink::connections() const { return impl_->connections(); }

tcp::endpoint ReplicationLink::listen_endpoint() const { return impl_->listen_endpoint(); }

void ReplicationLink::Stop() { impl_->Stop(); }

void ReplicationLink::Reset(const std::string& reason) { impl_->Reset(reason); }

}  // namespace duet::net
