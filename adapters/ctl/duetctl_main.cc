// duetctl: the operator's command (DESIGN.md §7). Talks to the node's duetd over its admin
// socket; `config check` and `log` work without a daemon.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/daemon/admin_client.h"
#include "adapters/daemon/config_file.h"
#include "adapters/net/cluster_key.h"
#include "engine/config_parser.h"

namespace duet::daemon {
namespace {

// Exit codes (also in --help).
constexpr int kOk = 0;
constexpr int kRefused = 1;      // the daemon or the engine said no (the reason is printed)
constexpr int kUsage = 2;        // bad command line or request
constexpr int kUnreachable = 3;  // no daemon answers
constexpr int kBadConfig = 4;    // the configuration cannot be read or is invalid

constexpr char kHelp[] = R"(usage: duetctl [--config FILE] [--node NAME | --socket PATH] VERB [ARGS]

Verbs:
  status [--json]        every module's state and reason on this node, role, replication
                         lag, resync progress and ETA (JSON schema: see the README)
  start MODULE           start a stopped module
  stop MODULE            stop the module here (application stopped, replica kept)
  swap MODULE            move the module's primary role to the other node
  prim MODULE [--force]  make this node primary; --force even if its data is not known to
                         be up to date (acknowledged writes the peer has may be lost)
  second MODULE          make this node secondary
  restart MODULE         restart the module's application here
  discard MODULE         after a split brain: this node's divergent changes are discarded
                         (kept aside in a dated copy) and it resyncs from the peer
  log [-f] [MODULE]      the module's log on this node (all modules without MODULE)
  config check FILE      check a configuration; errors as FILE:LINE: what is wrong
  keygen FILE            write a new random cluster key, mode 0600

Options:
  --config FILE   the cluster configuration (default /etc/duet/duet.toml)
  --node NAME     which node's daemon to talk to (default: the node named like this host)
  --socket PATH   the admin socket to talk to (overrides --node)

Exit codes: 0 done; 1 refused (the reason says what to do); 2 bad command line;
3 no daemon answers on the admin socket; 4 the configuration is unreadable or invalid.
)";

int Usage(const std::string& what) {
  std::cerr << "duetctl: " << what << "\n(duetctl --help for usage)\n";
  return kUsage;
}

int ConfigCheck(const std::string& path) {
  absl::StatusOr<Config> config = LoadConfigFile(path);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return kBadConfig;
  }
  std::cout << path << ": ok (cluster " << config->cluster_name << ", " << config->modules.size()
            << " modules)\n";
  return kOk;
}

int ShowLog(const Config& config, NodeIndex node, const std::string& module, bool follow) {
  std::vector<std::string> modules;
  if (!module.empty()) {
    if (!config.FindModule(module)) return Usage(absl::StrCat("no module named '", module, "'"));
    modules.push_back(module);
  } else {
    for (const ModuleConfig& m : config.modules) modules.push_back(m.name);
  }
  if (follow && modules.size() != 1) return Usage("log -f needs a MODULE");
  for (const std::string& name : modules) {
    std::string path = absl::StrCat(config.StateDirOf(node), "/log/", name, ".log");
    std::ifstream in(path);
    if (!in) {
      std::cerr << "duetctl: no log for " << name << " yet (" << path << ")\n";
      continue;
    }
    std::string line;
    while (std::getline(in, line))
      std::cout << (modules.size() > 1 ? name + ": " : "") << line << "\n";
    if (follow) {
      // Follows the file; a rotation (the daemon renames it to .1) reopens the new one.
      std::streampos at = in.tellg();
      while (true) {
        std::cout.flush();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && st.st_size < at) at = 0;
        std::ifstream again(path);
        again.seekg(at);
        while (std::getline(again, line)) {
          std::cout << line << "\n";
          at = again.tellg();
        }
      }
    }
  }
  return kOk;
}

int Run(int argc, char** argv) {
  std::string config_path = kDefaultConfigPath, node_name, socket_path;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kHelp;
      return kOk;
    }
    if ((a == "--config" || a == "--node" || a == "--socket") && i + 1 < argc) {
      (a == "--config" ? config_path : a == "--node" ? node_name : socket_path) = argv[++i];
    } else if (a == "--config" || a == "--node" || a == "--socket") {
      return Usage(a + " needs a value");
    } else {
      args.push_back(a);
    }
  }
  if (args.empty()) return Usage("no verb");
  const std::string verb = args[0];
  if (verb == "config") {
    if (args.size() != 3 || args[1] != "check") return Usage("config check FILE");
    return ConfigCheck(args[2]);
  }
  if (verb == "keygen") {
    if (args.size() != 2) return Usage("keygen FILE");
    absl::StatusOr<net::ClusterKey> key = net::WriteNewClusterKey(args[1]);
    if (!key.ok()) {
      std::cerr << "duetctl: " << key.status().message() << "\n";
      return kRefused;
    }
    std::cout << args[1] << ": new cluster key written (mode 0600); copy it to both nodes\n";
    return kOk;
  }

  absl::StatusOr<Config> config = LoadConfigFile(config_path);
  if (!config.ok() && socket_path.empty()) {
    std::cerr << config.status().message() << "\n";
    return kBadConfig;
  }
  NodeIndex node = 0;
  if (config.ok()) {
    absl::StatusOr<NodeIndex> found = ResolveNode(*config, node_name);
    if (!found.ok() && socket_path.empty()) {
      std::cerr << found.status().message() << "\n";
      return kBadConfig;
    }
    if (found.ok()) node = *found;
    if (socket_path.empty()) socket_path = config->nodes[node].admin_socket;
  }

  if (verb == "log") {
    if (!config.ok()) return Usage("log needs the configuration");
    bool follow = false;
    std::string module;
    for (size_t i = 1; i < args.size(); ++i) {
      if (args[i] == "-f") {
        follow = true;
      } else if (module.empty()) {
        module = args[i];
      } else {
        return Usage("log [-f] [MODULE]");
      }
    }
    return ShowLog(*config, node, module, follow);
  }

  std::string line;
  for (const std::string& a : args) line += (line.empty() ? "" : " ") + a;
  absl::StatusOr<AdminRequest> request = ParseAdminRequest(line + "\n");
  if (!request.ok()) return Usage(std::string(request.status().message()));
  if (config.ok() && request->kind == AdminRequestKind::kVerb &&
      !config->FindModule(request->module)) {
    return Usage(absl::StrCat("no module named '", request->module, "' in ", config_path));
  }
  absl::StatusOr<AdminReplyText> reply = SendAdminRequest(socket_path, *request);
  if (!reply.ok()) {
    std::cerr << "duetctl: " << reply.status().message() << "\n";
    return kUnreachable;
  }
  std::cout << reply->body;
  if (!reply->status.ok()) {
    std::cerr << "duetctl: " << verb << " refused: " << reply->status.message() << "\n";
    return reply->status.code() == absl::StatusCode::kInvalidArgument ? kUsage : kRefused;
  }
  if (request->kind == AdminRequestKind::kVerb)
    std::cout << verb << " " << request->module << ": done\n";
  return kOk;
}

}  // namespace
}  // namespace duet::daemon

int main(int argc, char** argv) { return duet::daemon::Run(argc, argv); }
