#include "adapters/net/endpoint_resolve.h"

#include <boost/asio/io_context.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace duet::net {
namespace {

template <typename Protocol>
absl::StatusOr<typename Protocol::endpoint> Resolve(const Endpoint& endpoint) {
  boost::asio::io_context io;
  typename Protocol::resolver resolver(io);
  boost::system::error_code error;
  auto results = resolver.resolve(endpoint.host, std::to_string(endpoint.port),
                                  Protocol::resolver::numeric_service, error);
  if (error || results.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve ", EndpointText(endpoint), ": ",
                     error ? error.message() : std::string("no address")));
  }
  return results.begin()->endpoint();
}

}  // namespace

absl::StatusOr<boost::asio::ip::udp::endpoint> ResolveUdp(const Endpoint& endpoint) {
  return Resolve<boost::asio::ip::udp>(endpoint);
}

absl::StatusOr<boost::asio::ip::tcp::endpoint> ResolveTcp(const Endpoint& endpoint) {
  return Resolve<boost::asio::ip::tcp>(endpoint);
}

std::string EndpointText(const Endpoint& endpoint) {
  if (absl::StrContains(endpoint.host, ':')) {
    return absl::StrCat("[", endpoint.host, "]:", endpoint.port);
  }
  return absl::StrCat(endpoint.host, ":", endpoint.port);
}

}  // namespace duet::net
