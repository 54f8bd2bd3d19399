// duetd [--config FILE] [--node NAME] [--no-guard]: one node of a Duet pair
// (adapters/daemon/duetd.h), run under its guard (adapters/daemon/guard.h) unless --no-guard.
#include <malloc.h>
#include <sys/resource.h>

#include <csignal>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "adapters/daemon/config_file.h"
#include "adapters/daemon/daemon_log.h"
#include "adapters/daemon/duetd.h"
#include "adapters/daemon/guard.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/signal_set.hpp"

namespace {

constexpr char kUsage[] =
    "usage: duetd [--config FILE] [--node NAME] [--no-guard]\n"
    "  --config FILE  the cluster configuration (default /etc/duet/duet.toml)\n"
    "  --node NAME    which node of it this is (default: the host name)\n"
    "  --no-guard     run the daemon alone, without its guard (for debugging only: if it dies,\n"
    "                 its VIPs, mounts and applications stay behind)\n"
    "duetd runs as two processes: a small guard and, as its child, the daemon. When the daemon\n"
    "dies for any reason, the guard at once releases this node's VIPs, kills what the modules'\n"
    "scripts started, lazily detaches the modules' mounts, logs it, and starts the daemon again\n"
    "(after 1s, doubling up to 30s after crashes less than a minute after a start; no more\n"
    "after 5 such crashes within 10 minutes).\n"
    "SIGTERM/SIGINT to the guard stop the daemon, then the guard cleans up and exits.\n"
    "Exit codes: 0 stopped by SIGTERM/SIGINT; 1 could not start (the reason is logged);\n"
    "2 bad command line; 3 (--no-guard) stopped because metadata or kept copies could not be\n"
    "written (fail-stop; the guard restarts the daemon instead); 4 the guard stopped restarting\n"
    "a daemon that kept crashing.\n";

// A mount holds one descriptor per file the kernel knows through it (adapters/fuse/
// inode_table.h), and the kernel forgets files only under memory pressure: a module with
// 20,000 files ran the daemon out of descriptors at a common limit (EMFILE on every create,
// then on the resync). So the daemon takes what the kernel allows a process (fs.nr_open)
// where it may (root), else its hard limit.
void RaiseOpenFileLimit(duet::daemon::DaemonLog& log) {
  rlimit was;
  if (getrlimit(RLIMIT_NOFILE, &was) != 0) return;
  unsigned long long nr_open = 0;
  std::ifstream("/proc/sys/fs/nr_open") >> nr_open;
  rlimit raised{static_cast<rlim_t>(nr_open), static_cast<rlim_t>(nr_open)};
  if (nr_open == 0 || setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    raised = rlimit{was.rlim_max, was.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &raised) != 0) raised = was;
  }
  if (raised.rlim_cur != was.rlim_cur) {
    log.Node(absl::StrCat("open-file limit raised from ", was.rlim_cur, " to ", raised.rlim_cur,
                          " (the mounts hold a descriptor per file the kernel knows)"));
  }
}

// The daemon itself; returns its exit status.
// The replication stream allocates and frees a block the size of each write several times
// over (the encoded frame and its copy on the primary, the decoded payload on the
// secondary). glibc's defaults give a freed block of 1 MiB back to the system (munmap, or
// trimming the heap) and fault the next one in page by page: 13% of the primary's CPU at
// 1 MiB writes went to page faults. Blocks up to 64 MiB now come from the heap and stay
// there; what stays is what the replication window (64 MiB by default) had in flight at
// its peak.
void KeepFreedMemory() {
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

int RunDaemon(const duet::Config& config, duet::NodeIndex self) {
  std::signal(SIGPIPE, SIG_IGN);
  KeepFreedMemory();
  duet::daemon::DaemonLog log(config.nodes[self].name, config.StateDirOf(self) + "/log");
  RaiseOpenFileLimit(log);
  boost::asio::io_context io;
  absl::StatusOr<std::unique_ptr<duet::daemon::Duetd>> daemon =
      duet::daemon::Duetd::Start(io, config, self, log);
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
  // SIGUSR1: where durable operations spent their time since the last one (op_timings.h).
  boost::asio::signal_set usr1(io, SIGUSR1);
  std::function<void(const boost::system::error_code&, int)> on_usr1 =
      [&](const boost::system::error_code& error, int) {
        if (error) return;
        (*daemon)->LogTimings();
        usr1.async_wait(on_usr1);
      };
  usr1.async_wait(on_usr1);
  io.run();
  const bool failed = !(*daemon)->fatal().ok();
  (*daemon)->Stop();
  return failed ? 3 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path = duet::daemon::kDefaultConfigPath, node_name;
  bool guarded = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if ((a == "--config" || a == "--node") && i + 1 < argc) {
      (a == "--config" ? config_path : node_name) = argv[++i];
    } else if (a == "--no-guard") {
      guarded = false;
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
  if (!guarded) return RunDaemon(*config, *self);
  // The guard forks the daemon before anything here has started a thread.
  duet::daemon::DaemonLog guard_log(config->nodes[*self].name, config->StateDirOf(*self) + "/log");
  duet::daemon::GuardOptions options;
  options.footprint = duet::daemon::FootprintOf(*config, *self);
  return duet::daemon::RunGuarded(options, guard_log, [&] { return RunDaemon(*config, *self); });
}
