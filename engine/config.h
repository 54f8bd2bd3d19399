// The validated cluster configuration (one duet.toml). Built by ParseConfig (config_parser.h);
// every other part of the engine takes it as already valid.
#ifndef DUET_ENGINE_CONFIG_H_
#define DUET_ENGINE_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "engine/types.h"

namespace duet {

// Limits of a valid config; ParseConfig refuses more. Every heartbeat carries a view of every
// module in one UDP datagram: engine/wire/codec.h checks at compile time that the largest one
// fits (256 modules of 64-byte names encode to at most 33,792 bytes).
inline constexpr size_t kMaxModulesPerPair = 256;
// Node, module, checker and cluster names: they appear in logs, status, file names and
// heartbeats.
inline constexpr size_t kMaxNameBytes = 64;

// "host:port" as written in the config; resolved by the adapters.
struct Endpoint {
  std::string host;
  uint16_t port = 0;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

struct NodeConfig {
  std::string name;
  // One address per heartbeat network; link i of one node pairs with link i of the other.
  std::vector<Endpoint> heartbeat;
  Endpoint replication;
  std::string admin_socket = "/run/duet/duetd.sock";
  // This node's own state directory; empty means the cluster's `state_dir`. Two nodes sharing
  // one host (tests, demos) each need their own.
  std::string state_dir;
};

struct HeartbeatConfig {
  absl::Duration interval = absl::Milliseconds(200);
  absl::Duration timeout = absl::Seconds(2);
};

struct ReplicationConfig {
  absl::Duration timeout = absl::Seconds(5);
  uint64_t window_bytes = 64ull << 20;
  uint32_t window_count = 4096;
  // Resync bandwidth cap in bytes per second; 0 means no cap.
  uint64_t resync_bandwidth = 0;
};

struct WitnessConfig {
  Endpoint address;
  absl::Duration lease = absl::Seconds(6);
  absl::Duration renew_interval = absl::Seconds(1);
  // A holder stops trusting a lease (or a peer's acknowledgement) this long before it could
  // expire on the granter's clock: it covers clock-rate drift between the machines.
  absl::Duration drift_margin = absl::Milliseconds(500);
};

struct VipConfig {
  std::string address;  // "10.0.0.100/24"
  std::string interface;
  friend bool operator==(const VipConfig&, const VipConfig&) = default;
};

enum class CheckerType : uint8_t { kProcess, kTcp, kInterface, kCustom };
enum class OnFailure : uint8_t { kRestart, kFailover };

struct CheckerConfig {
  std::string name;
  CheckerType type = CheckerType::kCustom;
  // Process name, "host:port", interface name, or command line, by type.
  std::string target;
  absl::Duration interval = absl::Seconds(5);
  absl::Duration timeout = absl::Seconds(2);
  OnFailure on_failure = OnFailure::kRestart;
};

enum class Failback : uint8_t { kAuto, kManual };
enum class AckMode : uint8_t { kReceived, kApplied, kDurable };
enum class SplitBrainPolicy : uint8_t {
  kDiscardNonDefault,    // the side that is not the default primary discards (kept in a copy)
  kDiscardLeastChanges,  // waits for the admin, showing which side changed least
  kManual,               // waits for the admin
};

struct ModuleConfig {
  std::string name;
  NodeIndex default_primary = 0;
  std::vector<VipConfig> vips;
  std::vector<std::string> directories;  // absolute, normalized, non-overlapping
  std::string scripts_dir;
  absl::Duration script_timeout = absl::Seconds(60);
  std::vector<CheckerConfig> checkers;
  uint32_t restart_max = 3;
  absl::Duration restart_window = absl::Minutes(10);
  bool failover = true;
  Failback failback = Failback::kAuto;
  AckMode ack = AckMode::kApplied;
  uint32_t zone_size = 64 * 1024;  // power of two, >= 4 KiB
  SplitBrainPolicy split_brain = SplitBrainPolicy::kDiscardNonDefault;
};

struct Config {
  std::string cluster_name;
  std::string key_file;
  std::string state_dir = "/var/lib/duet";
  std::vector<NodeConfig> nodes;  // exactly two
  HeartbeatConfig heartbeat;
  ReplicationConfig replication;
  std::optional<WitnessConfig> witness;
  std::vector<ModuleConfig> modules;

  // Index of the node or module with that name, if any.
  std::optional<NodeIndex> FindNode(std::string_view name) const;
  std::optional<ModuleIndex> FindModule(std::string_view name) const;
  // Where node `node` keeps its state: its own state_dir, or the cluster's.
  const std::string& StateDirOf(NodeIndex node) const;
};

}  // namespace duet

#endif  // DUET_ENGINE_CONFIG_H_
