#include "adapters/net/udp_link.h"

#include <array>
#include <boost/asio/buffer.hpp>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/net/endpoint_resolve.h"

namespace duet::net {

namespace asio = boost::asio;
using asio::ip::udp;

// Shared with the pending handlers, so a handler that completes after the link was destroyed
// finds `closed_` set instead of a dangling pointer.
class UdpLink::Impl : public std::enable_shared_from_this<UdpLink::Impl> {
 public:
  // `own`: the single cluster's auth (Send allowed), or nullptr with `auth_for` only.
  Impl(asio::io_context& io, DatagramAuth* own, DatagramAuthFor auth_for, UdpLinkOptions options,
       OnDatagram on_datagram, NetLog log)
      : socket_(io),
        own_(own),
        auth_for_(std::move(auth_for)),
        options_(std::move(options)),
        on_datagram_(std::move(on_datagram)),
        log_(std::move(log)),
        where_(absl::StrCat("udp link ", options_.link_index)) {}

  absl::Status Bind() {
    absl::StatusOr<udp::endpoint> local = ResolveUdp(options_.local);
    if (!local.ok()) return local.status();
    if (options_.remote.has_value()) {
      absl::StatusOr<udp::endpoint> remote = ResolveUdp(*options_.remote);
      if (!remote.ok()) return remote.status();
      remote_ = *remote;
    }
    boost::system::error_code error;
    socket_.open(local->protocol(), error);
    if (!error) socket_.bind(*local, error);
    if (error) {
      return absl::UnavailableError(
          absl::StrCat("cannot bind UDP ", EndpointText(options_.local), ": ", error.message()));
    }
    where_ =
        absl::StrCat("udp link ", options_.link_index, " (", EndpointText(options_.local), ")");
    return absl::OkStatus();
  }

  void Receive() {
    socket_.async_receive_from(
        asio::buffer(buffer_), from_,
        [self = shared_from_this()](const boost::system::error_code& error, size_t size) {
          self->Received(error, size);
        });
  }

  void Close() {
    closed_ = true;
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  void SendSealed(absl::StatusOr<std::vector<uint8_t>> sealed, const udp::endpoint& to) {
    if (!sealed.ok()) {
      ++send_errors_;
      if (log_) log_(absl::StrCat(where_, ": not sent: ", sealed.status().message()));
      return;
    }
    auto bytes = std::make_shared<std::vector<uint8_t>>(*std::move(sealed));
    socket_.async_send_to(
        asio::buffer(*bytes), to,
        [self = shared_from_this(), bytes](const boost::system::error_code& error, size_t) {
          if (error && !self->closed_) {
            ++self->send_errors_;
            if (self->log_) {
              self->log_(absl::StrCat(self->where_, ": send failed: ", error.message()));
            }
          }
        });
  }

  void SendToRemote(bool request, std::span<const uint8_t> payload) {
    if (closed_) return;
    if (own_ == nullptr || !remote_.has_value()) {
      ++send_errors_;
      if (log_) log_(absl::StrCat(where_, ": not sent: the link has no remote endpoint"));
      return;
    }
    SendSealed(request ? own_->SealRequest(options_.remote_id, options_.channel, payload)
                       : own_->Seal(options_.remote_id, options_.channel, payload),
               *remote_);
  }

  void Reply(const OpenedDatagram& request, const udp::endpoint& to,
             std::span<const uint8_t> payload) {
    if (closed_) return;
    DatagramAuth* auth = auth_for_(request.cluster);
    if (auth == nullptr) return;  // only a datagram this link opened is answered
    SendSealed(auth->SealReply(request.origin, payload), to);
  }

  udp::socket socket_;
  DatagramAuth* own_;
  DatagramAuthFor auth_for_;
  UdpLinkOptions options_;
  OnDatagram on_datagram_;
  std::function<void()> after_burst_;
  NetLog log_;
  std::string where_;
  std::optional<udp::endpoint> remote_;
  NetCounters counters_;
  uint64_t send_errors_ = 0;
  bool closed_ = false;

 private:
  void Received(const boost::system::error_code& error, size_t size) {
    if (closed_) return;
    if (error) {
      // ICMP port unreachable from an earlier send shows up here on Linux: not fatal.
      if (error == asio::error::operation_aborted) return;
      if (log_ && error != asio::error::connection_refused) {
        log_(absl::StrCat(where_, ": receive error: ", error.message()));
      }
      Receive();
      return;
    }
    Handle(size);
    // The rest of the burst: what is already waiting, read without waiting.
    for (int n = 1; n < kMaxBurstDatagrams && !closed_; ++n) {
      boost::system::error_code ec;
      if (socket_.available(ec) == 0 || ec) {
        // available() is 0 for an empty datagram too; such a one is read by the next Receive.
        break;
      }
      const size_t more = socket_.receive_from(asio::buffer(buffer_), from_, 0, ec);
      if (ec) break;
      Handle(more);
    }
    if (!closed_ && after_burst_) after_burst_();
    if (!closed_) Receive();
  }

  // Opens one received datagram (in buffer_, from from_) and hands it on or drops it.
  void Handle(size_t size) {
    std::span<const uint8_t> datagram(buffer_.data(), size);
    std::variant<OpenedDatagram, Drop> opened = Drop{
        DropReason::kMalformed, absl::StrCat("datagram of ", size, " bytes has no full header")};
    if (std::optional<ClusterId> cluster = ClaimedClusterId(datagram)) {
      // A single-cluster link lets its own auth refuse another cluster, naming its own.
      DatagramAuth* auth = auth_for_(*cluster);
      if (auth == nullptr) auth = own_;
      if (auth != nullptr) {
        opened = auth->Open(datagram, options_.channel);
        // The witness asks a run it cannot follow yet to show it is live (datagram_auth.h).
        if (std::optional<std::vector<uint8_t>> challenge = auth->TakeChallenge()) {
          SendSealed(*std::move(challenge), from_);
        }
      } else {
        opened = Drop{DropReason::kWrongCluster, "datagram for a cluster this link does not serve"};
      }
    }
    if (const Drop* drop = std::get_if<Drop>(&opened)) {
      RecordDrop(counters_, log_, absl::StrCat(where_, " from ", from_.address().to_string()),
                 *drop);
    } else if (on_datagram_) {
      on_datagram_(options_.link_index, std::get<OpenedDatagram>(opened), from_);
    }
  }

  // Larger than any UDP payload, so an oversized datagram arrives whole and is measured.
  std::array<uint8_t, 65536> buffer_{};
  udp::endpoint from_;
};

absl::StatusOr<std::unique_ptr<UdpLink>> UdpLink::Open(asio::io_context& io, DatagramAuth& auth,
                                                       UdpLinkOptions options,
                                                       OnDatagram on_datagram, NetLog log) {
  DatagramAuth* own = &auth;
  auto impl = std::make_shared<Impl>(
      io, own,
      [own](const ClusterId& cluster) { return cluster == own->cluster_id() ? own : nullptr; },
      std::move(options), std::move(on_datagram), std::move(log));
  absl::Status bound = impl->Bind();
  if (!bound.ok()) return bound;
  impl->Receive();
  return std::unique_ptr<UdpLink>(new UdpLink(std::move(impl)));
}

absl::StatusOr<std::unique_ptr<UdpLink>> UdpLink::OpenForClusters(asio::io_context& io,
                                                                  DatagramAuthFor auth_for,
                                                                  UdpLinkOptions options,
                                                                  OnDatagram on_datagram,
                                                                  NetLog log) {
  auto impl = std::make_shared<Impl>(io, nullptr, std::move(auth_for), std::move(options),
                                     std::move(on_datagram), std::move(log));
  absl::Status bound = impl->Bind();
  if (!bound.ok()) return bound;
  impl->Receive();
  return std::unique_ptr<UdpLink>(new UdpLink(std::move(impl)));
}

UdpLink::~UdpLink() { impl_->Close(); }

void UdpLink::Send(std::span<const uint8_t> payload) { impl_->SendToRemote(false, payload); }

void UdpLink::SendRequest(std::span<const uint8_t> payload) { impl_->SendToRemote(true, payload); }

void UdpLink::Reply(const OpenedDatagram& request, const udp::endpoint& to,
                    std::span<const uint8_t> payload) {
  impl_->Reply(request, to, payload);
}

void UdpLink::SetAfterBurst(std::function<void()> after_burst) {
  impl_->after_burst_ = std::move(after_burst);
}

udp::endpoint UdpLink::local_endpoint() const {
  boost::system::error_code ignored;
  return impl_->socket_.local_endpoint(ignored);
}

const NetCounters& UdpLink::counters() const { return impl_->counters_; }

uint64_t UdpLink::send_errors() const { return impl_->send_errors_; }

}  // namespace duet::net
