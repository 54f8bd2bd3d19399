// duet-witness --config FILE [--state-dir DIR]: the witness of a Duet pair (DESIGN.md §6),
// on the [witness] address of the cluster's duet.toml, authenticated with its cluster key.
// It answers lease requests with the engine's Witness; an outdate record is made durable
// (witness_state_file.h) before the reply that depends on it is sent, and a record that
// cannot be written gets no reply at all (the node then behaves as if the witness were down,
// which is safe). The anti-replay state is kept the same way (witness_freshness_file.h): a
// request is acted on only once its freshness is durable, so one recorded before a restart
// and replayed after it is dropped as replayed. Requests that arrive together (one burst of
// the socket) share one such save.
#include <sys/stat.h>

#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/daemon/config_file.h"
#include "adapters/daemon/daemon_log.h"
#include "adapters/daemon/node_loop.h"
#include "adapters/net/cluster_key.h"
#include "adapters/net/datagram_auth.h"
#include "adapters/net/udp_link.h"
#include "adapters/witness/witness_freshness_file.h"
#include "adapters/witness/witness_state_file.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/signal_set.hpp"
#include "engine/wire/codec.h"
#include "engine/witness.h"

namespace duet::witness {
namespace {

int Run(int argc, char** argv) {
  std::string config_path = daemon::kDefaultConfigPath, state_dir = "/var/lib/duet-witness";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << "usage: duet-witness [--config FILE] [--state-dir DIR]\n"
                   "  --config FILE    the cluster's duet.toml (its [witness] table and key)\n"
                   "  --state-dir DIR  where the outdate records live (default "
                   "/var/lib/duet-witness)\n"
                   "Exit codes: 0 stopped by SIGTERM/SIGINT; 1 could not start; 2 bad command "
                   "line.\n";
      return 0;
    }
    if ((a == "--config" || a == "--state-dir") && i + 1 < argc) {
      (a == "--config" ? config_path : state_dir) = argv[++i];
    } else {
      std::cerr << "duet-witness: unexpected argument '" << a << "' (duet-witness --help)\n";
      return 2;
    }
  }
  daemon::DaemonLog log("witness", "");
  absl::StatusOr<Config> config = daemon::LoadConfigFile(config_path);
  if (!config.ok()) {
    log.Node(absl::StrCat("cannot start: ", config.status().message()));
    return 1;
  }
  if (!config->witness) {
    log.Node(absl::StrCat("cannot start: ", config_path, " has no [witness] table"));
    return 1;
  }
  absl::StatusOr<net::ClusterKey> key = net::LoadClusterKey(config->key_file);
  if (!key.ok()) {
    log.Node(absl::StrCat("cannot start: ", key.status().message()));
    return 1;
  }
  ::mkdir(state_dir.c_str(), 0700);
  absl::StatusOr<WitnessDurableState> durable = LoadWitnessState(state_dir);
  if (!durable.ok()) {
    log.Node(absl::StrCat("cannot start: ", durable.status().message()));
    return 1;
  }
  absl::StatusOr<std::vector<net::DatagramAuth::Newest>> freshness =
      LoadWitnessFreshness(state_dir);
  if (!freshness.ok()) {
    log.Node(absl::StrCat("cannot start: ", freshness.status().message()));
    return 1;
  }
  WitnessDurableState state = *durable;
  Witness witness(config->witness->lease, daemon::MonotonicNow(), *std::move(durable));

  boost::asio::io_context io;
  net::DatagramAuth auth(*key, config->cluster_name, net::kWitnessId, /*epoch=*/1);
  auth.RestoreNewest(*freshness);
  net::UdpLinkOptions options;
  options.local = config->witness->address;
  options.channel = net::kWitnessChannel;
  // The requests of one burst (udp_link.h): their anti-replay state is made durable once,
  // with one file replacement, before any of them is acted on. One replacement per request
  // (two fsyncs) capped the witness at a few hundred requests a second on a fast disk and
  // under a hundred on a slow one, short of 100 modules renewing every second from each pair.
  struct PendingRequest {
    net::OpenedDatagram
        opened;  // its payload span is not kept (it points into the socket's buffer)
    LeaseRequest request;
    boost::asio::ip::udp::endpoint from;
  };
  std::vector<PendingRequest> burst;
  std::unique_ptr<net::UdpLink>* link_ptr = nullptr;
  auto answer_burst = [&] {
    if (burst.empty()) return;
    std::vector<PendingRequest> requests;
    requests.swap(burst);
    if (absl::Status s = SaveWitnessFreshness(state_dir, auth.NewestAccepted()); !s.ok()) {
      log.Node(absl::StrCat("not answering ", requests.size(),
                            " request(s): the anti-replay state cannot be kept: ", s.message()));
      return;
    }
    for (const PendingRequest& pending : requests) {
      WitnessAnswer answer = witness.Handle(daemon::MonotonicNow(), pending.request);
      if (answer.persist) {
        WitnessDurableState next = state;
        ApplyOutdateRecord(next, *answer.persist);
        if (absl::Status s = SaveWitnessState(state_dir, next); !s.ok()) {
          log.Node(absl::StrCat("not answering: the outdate record cannot be kept: ", s.message()));
          continue;
        }
        state = std::move(next);
      }
      (*link_ptr)->Reply(pending.opened, pending.from, wire::EncodeWitness(answer.reply));
    }
  };
  absl::StatusOr<std::unique_ptr<net::UdpLink>> link = net::UdpLink::Open(
      io, auth, options,
      [&](int, const net::OpenedDatagram& request, const boost::asio::ip::udp::endpoint& from) {
        absl::StatusOr<WitnessMessage> message = wire::DecodeWitness(request.payload);
        if (!message.ok() || !std::holds_alternative<LeaseRequest>(*message)) {
          log.Node(absl::StrCat("dropped a datagram from ", from.address().to_string(), ": ",
                                message.ok() ? "not a lease request" : message.status().message()));
          return;
        }
        PendingRequest pending{request, std::get<LeaseRequest>(*std::move(message)), from};
        pending.opened.payload = {};
        burst.push_back(std::move(pending));
      },
      [&](std::string line) { log.Node(line); });
  if (!link.ok()) {
    log.Node(absl::StrCat("cannot start: ", link.status().message()));
    return 1;
  }
  link_ptr = &*link;
  (*link)->SetAfterBurst(answer_burst);
  log.Node(absl::StrCat("serving cluster ", config->cluster_name, " on ",
                        config->witness->address.host, ":", config->witness->address.port));
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& error, int signal) {
    if (!error) log.Node(absl::StrCat("stopping on signal ", signal));
    io.stop();
  });
  io.run();
  return 0;
}

}  // namespace
}  // namespace duet::witness

int main(int argc, char** argv) { return duet::witness::Run(argc, argv); }
