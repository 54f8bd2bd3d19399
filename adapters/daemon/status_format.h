// `duetctl status` as a table for people and as JSON for programs. The JSON schema (stable;
// fields are only ever added):
//   {"cluster": str, "node": str, "peer": str, "peer_alive": bool,
//    "links": [{"name": str, "peer_address": str, "heard": bool}],
//    "modules": [{"name": str, "state": "STOP|WAIT|ALONE|PRIM|SECOND", "reason": str,
//                 "data": "unknown|outdated|syncing|up to date", "sync_percent": int,
//                 "term": int, "owner": str, "role": "none|secondary|primary",
//                 "script": str|null, "writable": bool, "vip_assigned": bool,
//                 "replication_lag_bytes": int, "activity_log_zones": int,
//                 "replication_refused": str,
//                 "resync": {"active": bool, "source": bool, "bytes_total": int,
//                            "bytes_done": int, "eta_seconds": number},
//                 "problem": str,
//                 "last_failover": null | {"from": str, "cause": "peer lost|admin prim|app failed",
//                                  "at": str, "ago_seconds": number,
//                                  "duration_seconds": number}}]}
// "links": the heartbeat links in configuration order, then "replication"; "heard": traffic
// from the peer within heartbeat.timeout (one silent link is a degraded pair, not a lost peer).
// "activity_log_zones": the zones a crash of this node would have the pair compare by digest
// (the activity log's hot zones: written in the last 5 to 10 s, or not yet durable on both).
// "problem" is what the daemon could not carry out for the module ("" when nothing), e.g. a
// VIP it could not assign, with the system's reason.
// "last_failover": the module's last unplanned takeover by this node, kept across duetd
// restarts (failover_history.h); swaps and failbacks are planned, not failovers. The node it
// came from, what began it, when it began ("at": UTC, RFC 3339, from the monotonic clock
// mapped onto the wall clock at the time of the query, or as saved by an earlier run) and its
// duration, from the peer declared lost (or the admin's `prim`) to start_prim having
// succeeded here. null when there was none.
#ifndef DUET_ADAPTERS_DAEMON_STATUS_FORMAT_H_
#define DUET_ADAPTERS_DAEMON_STATUS_FORMAT_H_

#include <string>
#include <vector>

#include "engine/config.h"
#include "engine/node.h"

namespace duet::daemon {

struct NodeStatusView {
  const Config* config = nullptr;
  NodeIndex self = 0;
  bool peer_alive = false;
  std::vector<bool> links_heard;      // Node::PeerLinksHeard
  std::vector<ModuleStatus> modules;  // in config order
  std::vector<std::string> problems;  // per module, may be shorter: "" or missing is none
  absl::Time now;       // the engine's clock (the driver's monotonic clock) at the query
  absl::Time wall_now;  // the wall clock at the same moment, to show engine times as dates
};

// `now` is the engine's clock, `wall_now` the wall clock at the same moment.
NodeStatusView StatusOf(const Config& config, const Node& node, absl::Time now,
                        absl::Time wall_now);

std::string FormatStatusTable(const NodeStatusView& view);
std::string FormatStatusJson(const NodeStatusView& view);

// `text` as a JSON string literal, quotes included.
std::string JsonString(absl::string_view text);

}  // namespace duet::daemon

#endif  // DUET_ADAPTERS_DAEMON_STATUS_FORMAT_H_
