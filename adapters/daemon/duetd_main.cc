// duetd --config FILE [--node NAME]: one node of a Duet pair (adapters/daemon/duetd.h).
#include <csignal>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "adapters/daemon/config_file.h"
#include "adapters/daemon/daemon_log.h"
#include "adapters/daemon/duetd.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/signal_set.hpp"

int main(int argc, char** argv) {
  std::string config_path = duet::daemon::kDefaultConfigPath, node_name;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << "usage: duetd [--config FILE] [--node NAME]\n"
                   "  --config FILE  the cluster configuration (default /etc/duet/duet.toml)\n"
                   "  --node NAME    which node of it this is (default: the host name)\n"
                   "Exit codes: 0 stopped by SIGTERM/SIGINT; 1 could not start (the reason is\n"
                   "logged); 2 bad command line; 3 stopped because metadata or kept copies\n"
                   "could not be written (fail-stop).\n";
      return 0;
    }
    if ((a == "--config" || a == "--node") && i + 1 < argc) {
      (a == "--config" ? config_path : node_name) = argv[++i];
    } else {
      std::cerr << "duetd: unexpected argument '" << a << "' (duetd --help)\n";
      return 2;
    }
  }
  absl::StatusOr<duet::Config> config = duet::daemon::LoadConfigFile(config_path);
  if (!config.ok()) {
    std::cerr << "duetd: " << config.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<duet::NodeIndex> self = duet::daemon::ResolveNode(*config, node_name);
  if (!self.ok()) {
    std::cerr << "duetd: " << self.status().message() << "\n";
    return 1;
  }
  std::signal(SIGPIPE, SIG_IGN);
  duet::daemon::DaemonLog log(config->nodes[*self].name, config->StateDirOf(*self) + "/log");
  boost::asio::io_context io;
  absl::StatusOr<std::unique_ptr<duet::daemon::Duetd>> daemon =
      duet::daemon::Duetd::Start(io, *config, *self, log);
  if (!daemon.ok()) {
    log.Node(absl::StrCat("cannot start: ", daemon.status().message()));
    return daemon.status().code() == absl::StatusCode::kAborted ? 3 : 1;
  }
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& error, int signal) {
    if (error) return;
    log.Node(absl::StrCat("stopping on signal ", signal));
    io.stop();
  });
  io.run();
  const bool failed = !(*daemon)->fatal().ok();
  (*daemon)->Stop();
  return failed ? 3 : 0;
}
