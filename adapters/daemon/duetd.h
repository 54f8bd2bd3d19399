// duetd: one node of a Duet pair. Wires every adapter unit to the engine's Node and carries
// out its actions (adapter contract, engine/adapter_contract.h); it decides nothing itself.
//
//   inputs                                   actions
//   UDP heartbeat links (net/udp_link)  ->   SendPeer -> the same links
//   witness UDP channel                 ->   SendWitness
//   replication TCP (net/replication_link)   SendReplication
//   FUSE mounts (fuse/replicated_mount) ->   CompleteLocal, SetWritable
//   disk worker pool (store/module_io_queue) ApplyMutation, ReadZone, ListTree,
//                                            PreserveDivergent
//   script and checker runners (process/)    RunScript, SetCheckers
//                                            SetVip -> vip/vip_manager (rtnetlink + GARP/NA)
//   admin socket (admin_server)              AdminReply
//                                            PersistModule/Incarnation/Replica ->
//                                            metadata/metadata_store (durable before the
//                                            next action: C4; a failure stops the daemon)
//
// Layout under the node's state_dir: metadata/ (the store), log/ (module logs), boot_id,
// run/<module>.pgids (the process groups of the module's scripts, app_groups.h),
// modules/<module>/data/<i>/ (the backing directory of the module's i-th configured
// directory; mutation paths start with "<i>/"), modules/<module>/divergent/ (copies kept
// by a split-brain resync).
#ifndef DUET_ADAPTERS_DAEMON_DUETD_H_
#define DUET_ADAPTERS_DAEMON_DUETD_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "adapters/daemon/admin_server.h"
#include "adapters/daemon/app_groups.h"
#include "adapters/daemon/daemon_log.h"
#include "adapters/daemon/disk_op_issuer.h"
#include "adapters/daemon/failover_history.h"
#include "adapters/daemon/module_layout.h"
#include "adapters/daemon/node_loop.h"
#include "adapters/daemon/op_timings.h"
#include "adapters/fuse/replicated_mount.h"
#include "adapters/metadata/metadata_store.h"
#include "adapters/net/cluster_key.h"
#include "adapters/net/datagram_auth.h"
#include "adapters/net/replication_link.h"
#include "adapters/net/udp_link.h"
#include "adapters/process/checker_runner.h"
#include "adapters/process/script_runner.h"
#include "adapters/store/module_io_queue.h"
#include "adapters/vip/vip_manager.h"
#include "boost/asio/io_context.hpp"
#include "engine/config.h"

namespace duet::daemon {

// The backing directory of a module's i-th directory, and the prefix of its mutation paths.
std::string ModuleRootOf(const std::string& state_dir, const std::string& module);

class Duetd {
 public:
  // Builds and starts everything: any failure (key refused, state unreadable, a port or a
  // mountpoint unavailable, another duetd on the same state directory) is returned with its
  // reason and nothing is left running; Aborted when a first Persist failed (fail-stop).
  static absl::StatusOr<std::unique_ptr<Duetd>> Start(boost::asio::io_context& io, Config config,
                                                      NodeIndex self, DaemonLog& log);
  ~Duetd();
  Duetd(const Duetd&) = delete;
  Duetd& operator=(const Duetd&) = delete;

  // Stops at once: the process groups of every script this daemon started killed (so also the
  // applications they left running there), VIPs released, mounts detached, sockets closed.
  // The engine is not consulted: the peer sees this node vanish, as after a crash.
  void Stop();
  // Set when a Persist failed: the daemon must exit (fail-stop). A failed PreserveDivergent
  // stops only its module's resync (adapter contract C5).
  const absl::Status& fatal() const { return fatal_; }
  // Logs where durable operations spent their time since the last call (op_timings.h) and
  // starts the figures again. On the loop's thread (duetd_main calls it at SIGUSR1).
  void LogTimings();

 private:
  Duetd(boost::asio::io_context& io, Config config, NodeIndex self, DaemonLog& log);
  absl::Status Init();
  absl::Status OpenNetwork();
  absl::Status OpenModules();

  void Execute(Actions actions);
  void Carry(const Action& action);
  void Fail(absl::Status status);
  // Saves module `m`'s last failover if the engine has a new one (status shows it after a
  // restart).
  void KeepFailover(ModuleIndex m);
  // `id` (the admin server's) is the engine's AdminCommand request id too.
  void OnAdmin(uint64_t id, const AdminRequest& request, AdminServer::Respond respond);
  void OnPeerDatagram(int link, std::span<const uint8_t> payload);
  void OnWitnessDatagram(std::span<const uint8_t> payload);
  void OnReplicationFrame(std::span<const uint8_t> head, Payload tail);
  // Logs a mutation the store refused to carry out through a symlink or outside the module's
  // root: bad input the engine takes as a plain refusal, without a word. Any thread.
  void LogStoreRefusal(const Input& input);
  void SetModuleVips(ModuleIndex m, bool assigned);
  void RecordAppGroup(std::string_view module, pid_t group);
  void KillAppGroups(const std::string& why);

  struct Module {
    std::string root;
    std::vector<std::unique_ptr<ReplicatedMount>> mounts;  // one per configured directory
    std::unique_ptr<CheckerRunner> checkers;
    std::string problem;  // what could not be carried out (duetctl status), "" when nothing
  };

  boost::asio::io_context& io_;
  const Config config_;
  const NodeIndex self_;
  DaemonLog& log_;
  std::string state_dir_;
  std::optional<net::ClusterKey> key_;
  std::unique_ptr<metadata::MetadataStore> metadata_;
  std::unique_ptr<OpTimings> timings_;
  std::unique_ptr<NodeLoop> loop_;
  std::unique_ptr<net::DatagramAuth> datagram_auth_;
  std::vector<std::unique_ptr<net::UdpLink>> peer_links_;
  std::unique_ptr<net::UdpLink> witness_link_;
  std::unique_ptr<net::ReplicationLink> replication_;
  std::unique_ptr<store::ModuleIoQueue> io_queue_;
  // Disk operations (C7): a quick one (ModuleIoQueue::IsQuick) and every one after it in the
  // step are held until the step's other actions are carried out, then run on this thread
  // when their module is idle, else queued: the step's sends leave first, so the peer's
  // apply overlaps this node's. A refused peer mutation is answered in the same order.
  std::unique_ptr<DiskOpIssuer> disk_ops_;    // over io_queue_
  std::optional<FailoverHistory> failovers_;  // loaded in Init
  std::optional<AppGroups> app_groups_;
  std::unique_ptr<ScriptRunner> scripts_;
  std::unique_ptr<vip::VipManager> vips_;
  std::vector<Module> modules_;
  // Modules whose directories held data at this node's first start (existing_data.h).
  std::vector<ModuleIndex> took_in_existing_;
  std::unique_ptr<AdminServer> admin_;
  // Answers owed to connected admin clients, by request id; a client that hangs up is erased.
  std::map<uint64_t, AdminServer::Respond> pending_admin_;
  absl::Status fatal_;
  bool stopped_ = false;
  int lock_fd_ = -1;  // flock'ed <state_dir>/duetd.lock: one daemon per state directory
};

}  // namespace duet::daemon

#endif  // DUET_ADAPTERS_DAEMON_DUETD_H_
