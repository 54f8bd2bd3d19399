// Turns a configured "host:port" (engine/config.h Endpoint; an IPv6 host is stored without its
// brackets) into an Asio endpoint, IPv4 or IPv6, numeric or by name (getaddrinfo, blocking:
// called at start and before each dial, never on the data path).
#ifndef DUET_ADAPTERS_NET_ENDPOINT_RESOLVE_H_
#define DUET_ADAPTERS_NET_ENDPOINT_RESOLVE_H_

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "engine/config.h"

namespace duet::net {

// The first address the resolver gives; InvalidArgument naming the endpoint if none.
absl::StatusOr<boost::asio::ip::udp::endpoint> ResolveUdp(const Endpoint& endpoint);
absl::StatusOr<boost::asio::ip::tcp::endpoint> ResolveTcp(const Endpoint& endpoint);

// "host:port", with brackets around an IPv6 host, as the config writes it.
std::string EndpointText(const Endpoint& endpoint);

}  // namespace duet::net

#endif  // DUET_ADAPTERS_NET_ENDPOINT_RESOLVE_H_
