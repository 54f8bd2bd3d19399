#include "adapters/daemon/status_format.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/module_runner.h"

namespace duet::daemon {
namespace {

std::string Bytes(uint64_t n) {
  if (n >= (uint64_t{1} << 30))
    return absl::StrFormat("%.1fGiB", static_cast<double>(n) / (1 << 30));
  if (n >= (uint64_t{1} << 20))
    return absl::StrFormat("%.1fMiB", static_cast<double>(n) / (1 << 20));
  if (n >= (uint64_t{1} << 10))
    return absl::StrFormat("%.1fKiB", static_cast<double>(n) / (1 << 10));
  return absl::StrCat(n, "B");
}

const char* Bool(bool b) { return b ? "true" : "false"; }

struct LinkShown {
  std::string name, peer_address;
  bool heard = false;
};

// The heartbeat links in configuration order, then the replication connection.
std::vector<LinkShown> LinksOf(const NodeStatusView& view) {
  const NodeConfig& peer = view.config->nodes[Peer(view.self)];
  std::vector<LinkShown> links;
  for (size_t i = 0; i < view.links_heard.size(); ++i) {
    const bool heartbeat = i < peer.heartbeat.size();
    const Endpoint& at = heartbeat ? peer.heartbeat[i] : peer.replication;
    links.push_back({heartbeat ? absl::StrCat("heartbeat ", i + 1) : std::string("replication"),
                     absl::StrCat(at.host, ":", at.port), view.links_heard[i]});
  }
  return links;
}

std::string ProblemOf(const NodeStatusView& view, size_t m) {
  return m < view.problems.size() ? view.problems[m] : std::string();
}

struct FailoverShown {
  std::string from, cause, at;
  double ago_seconds = 0;
  double duration_seconds = 0;
};

FailoverShown ShowFailover(const NodeStatusView& view, const FailoverRecord& record) {
  const absl::Duration ago = std::max(absl::ZeroDuration(), view.now - record.began);
  return {view.config->nodes[record.from].name, std::string(FailoverCauseName(record.cause)),
          absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", view.wall_now - ago, absl::UTCTimeZone()),
          absl::ToDoubleSeconds(ago), absl::ToDoubleSeconds(record.duration())};
}

std::string FailoverJson(const NodeStatusView& view, const std::optional<FailoverRecord>& record) {
  if (!record) return "null";
  const FailoverShown shown = ShowFailover(view, *record);
  return absl::StrCat("{\"from\":", JsonString(shown.from), ",\"cause\":", JsonString(shown.cause),
                      ",\"at\":", JsonString(shown.at),
                      ",\"ago_seconds\":", absl::StrFormat("%.3f", shown.ago_seconds),
                      ",\"duration_seconds\":", absl::StrFormat("%.3f", shown.duration_seconds),
                      "}");
}

}  // namespace

NodeStatusView StatusOf(const Config& config, const Node& node, absl::Time now,
                        absl::Time wall_now) {
  NodeStatusView view;
  view.config = &config;
  view.now = now;
  view.wall_now = wall_now;
  view.self = node.self();
  view.peer_alive = node.PeerAlive(now);
  view.links_heard = node.PeerLinksHeard(now);
  for (ModuleIndex m = 0; m < config.modules.size(); ++m) view.modules.push_back(node.Status(m));
  return view;
}

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string FormatStatusTable(const NodeStatusView& view) {
  const Config& config = *view.config;
  std::string out = absl::StrFormat(
      "node %s (cluster %s), peer %s: %s\n", config.nodes[view.self].name, config.cluster_name,
      config.nodes[Peer(view.self)].name, view.peer_alive ? "alive" : "not seen");
  if (view.peer_alive) {
    // A silent link while the peer is alive: the pair is degraded (say which, and where).
    for (const LinkShown& link : LinksOf(view)) {
      if (!link.heard) {
        out += absl::StrFormat("  link %s to %s: silent\n", link.name, link.peer_address);
      }
    }
  }
  out += absl::StrFormat("%-16s %-7s %-11s %-9s %-6s %-10s %s\n", "MODULE", "STATE", "DATA", "ROLE",
                         "OWNER", "LAG", "RESYNC / REASON");
  for (size_t m = 0; m < view.modules.size(); ++m) {
    const ModuleStatus& s = view.modules[m];
    std::string detail;
    if (s.resync.active) {
      uint64_t pct =
          s.resync.bytes_total == 0 ? 100 : s.resync.bytes_done * 100 / s.resync.bytes_total;
      detail = absl::StrFormat("resync %s %s of %s (%d%%), eta %s",
                               s.resync.source ? "to peer" : "from peer",
                               Bytes(s.resync.bytes_done), Bytes(s.resync.bytes_total), pct,
                               absl::FormatDuration(absl::Trunc(s.resync.eta, absl::Seconds(1))));
    }
    if (!s.reason.empty()) detail += (detail.empty() ? "" : "; ") + s.reason;
    if (!s.replication_refused.empty()) {
      detail += (detail.empty() ? "" : "; ") + std::string("replication refused: ") +
                s.replication_refused;
    }
    if (const std::string problem = ProblemOf(view, m); !problem.empty()) {
      detail += (detail.empty() ? "" : "; ") + std::string("problem: ") + problem;
    }
    out += absl::StrFormat("%-16s %-7s %-11s %-9s %-6s %-10s %s\n", config.modules[m].name,
                           ModuleStateName(s.state), DataStateName(s.data), AppRoleName(s.app_role),
                           config.nodes[s.owner].name, Bytes(s.replication_lag_bytes), detail);
    if (s.last_failover) {
      const FailoverShown shown = ShowFailover(view, *s.last_failover);
      out += absl::StrFormat("%-16s last failover from %s at %s (%s), took %.3fs\n", "", shown.from,
                             shown.at, shown.cause, shown.duration_seconds);
    }
  }
  return out;
}

std::string FormatStatusJson(const NodeStatusView& view) {
  const Config& config = *view.config;
  std::string out = absl::StrCat("{\"cluster\":", JsonString(config.cluster_name),
                                 ",\"node\":", JsonString(config.nodes[view.self].name),
                                 ",\"peer\":", JsonString(config.nodes[Peer(view.self)].name),
                                 ",\"peer_alive\":", Bool(view.peer_alive), ",\"links\":[");
  const std::vector<LinkShown> links = LinksOf(view);
  for (size_t i = 0; i < links.size(); ++i) {
    absl::StrAppend(&out, i > 0 ? "," : "", "{\"name\":", JsonString(links[i].name),
                    ",\"peer_address\":", JsonString(links[i].peer_address),
                    ",\"heard\":", Bool(links[i].heard), "}");
  }
  out += "],\"modules\":[";
  for (size_t m = 0; m < view.modules.size(); ++m) {
    const ModuleStatus& s = view.modules[m];
    if (m > 0) out += ",";
    absl::StrAppend(
        &out, "{\"name\":", JsonString(config.modules[m].name),
        ",\"state\":", JsonString(ModuleStateName(s.state)), ",\"reason\":", JsonString(s.reason),
        ",\"data\":", JsonString(DataStateName(s.data)), ",\"sync_percent\":", s.sync_percent,
        ",\"term\":", s.term, ",\"owner\":", JsonString(config.nodes[s.owner].name),
        ",\"role\":", JsonString(AppRoleName(s.app_role)), ",\"script\":",
        s.running_script ? JsonString(ScriptKindName(*s.running_script)) : std::string("null"),
        ",\"writable\":", Bool(s.writable), ",\"vip_assigned\":", Bool(s.vip_assigned),
        ",\"replication_lag_bytes\":", s.replication_lag_bytes,
        ",\"activity_log_zones\":", s.activity_log_zones,
        ",\"replication_refused\":", JsonString(s.replication_refused), ",\"resync\":{",
        "\"active\":", Bool(s.resync.active), ",\"source\":", Bool(s.resync.source),
        ",\"bytes_total\":", s.resync.bytes_total, ",\"bytes_done\":", s.resync.bytes_done,
        ",\"eta_seconds\":", absl::StrFormat("%.1f", absl::ToDoubleSeconds(s.resync.eta)), "}",
        ",\"problem\":", JsonString(ProblemOf(view, m)),
        ",\"last_failover\":", FailoverJson(view, s.last_failover), "}");
  }
  return out + "]}\n";
}

}  // namespace duet::daemon
