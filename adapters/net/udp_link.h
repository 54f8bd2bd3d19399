// One UDP socket carrying authenticated datagrams (datagram_auth.h): a heartbeat link to the
// peer, a node's channel to the witness, or the witness's listening socket.
//
// The link binds `local`, sends to `remote` (when given), and hands every datagram that passes
// DatagramAuth::Open on its channel to `on_datagram` with the link's index; every other one
// is dropped, counted in counters() and logged (a challenge DatagramAuth leaves is sent back
// to the dropped datagram's source). Sends are fire-and-forget: a send error is
// logged and counted (send_errors), the engine copes with loss. All calls and callbacks run on
// the io_context's thread. The DatagramAuth is shared by the process's links (one numbering
// per sender) and must outlive them. A witness serving several clusters opens its socket with
// OpenForClusters: each datagram is opened by the DatagramAuth of the cluster it names
// (kWrongCluster when none), and answered with the same one. Destroying the link closes the socket;
// no callback runs after that.
#ifndef DUET_ADAPTERS_NET_UDP_LINK_H_
#define DUET_ADAPTERS_NET_UDP_LINK_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>

#include "absl/status/statusor.h"
#include "adapters/net/datagram_auth.h"
#include "adapters/net/net_counters.h"
#include "engine/config.h"

namespace duet::net {

struct UdpLinkOptions {
  int link_index = 0;              // given back with each datagram (the engine's heartbeat link)
  Endpoint local;                  // bound; port 0 picks a free port (see local_endpoint)
  std::optional<Endpoint> remote;  // where Send and SendRequest go; none on the witness
  uint8_t remote_id = 1;           // the receiver named in sent datagrams (node or kWitnessId)
  uint8_t channel = 0;             // link index, or kWitnessChannel
};

// The most datagrams read in one burst before the loop runs other work.
inline constexpr int kMaxBurstDatagrams = 256;

// An accepted datagram: payload is valid only during the callback.
using OnDatagram = std::function<void(int link_index, const OpenedDatagram& datagram,
                                      const boost::asio::ip::udp::endpoint& from)>;

// The DatagramAuth of a cluster, or nullptr for a cluster not served.
using DatagramAuthFor = std::function<DatagramAuth*(const ClusterId& cluster)>;

class UdpLink {
 public:
  // Resolves and binds; InvalidArgument / Unavailable (with the endpoint) when that fails.
  static absl::StatusOr<std::unique_ptr<UdpLink>> Open(boost::asio::io_context& io,
                                                       DatagramAuth& auth, UdpLinkOptions options,
                                                       OnDatagram on_datagram, NetLog log);
  // A receive-and-reply socket for several clusters (Send and SendRequest are refused).
  static absl::StatusOr<std::unique_ptr<UdpLink>> OpenForClusters(boost::asio::io_context& io,
                                                                  DatagramAuthFor auth_for,
                                                                  UdpLinkOptions options,
                                                                  OnDatagram on_datagram,
                                                                  NetLog log);
  ~UdpLink();
  UdpLink(const UdpLink&) = delete;
  UdpLink& operator=(const UdpLink&) = delete;

  // `after_burst` runs after each burst: once the datagrams already waiting on the socket
  // (up to kMaxBurstDatagrams) have all been handed to on_datagram. Lets the witness make a
  // burst's anti-replay state durable at once, with one save, before acting on any of it.
  void SetAfterBurst(std::function<void()> after_burst);

  // A fresh datagram to the remote (heartbeats).
  void Send(std::span<const uint8_t> payload);
  // A request whose reply (from the remote) is accepted once (witness lease requests).
  void SendRequest(std::span<const uint8_t> payload);
  // Answers an accepted request, to the address it came from (the witness's replies).
  void Reply(const OpenedDatagram& request, const boost::asio::ip::udp::endpoint& to,
             std::span<const uint8_t> payload);

  boost::asio::ip::udp::endpoint local_endpoint() const;
  const NetCounters& counters() const;
  uint64_t send_errors() const;

  class Impl;

 private:
  explicit UdpLink(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace duet::net

#endif  // DUET_ADAPTERS_NET_UDP_LINK_H_
