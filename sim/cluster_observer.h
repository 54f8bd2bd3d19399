// What the simulated pair reports as it runs, for invariant checkers, counters and narrators.
// Every callback has the true (simulated) time at which the thing happened. Default
// implementations ignore the event, so an observer overrides only what it watches.
#ifndef DUET_SIM_CLUSTER_OBSERVER_H_
#define DUET_SIM_CLUSTER_OBSERVER_H_

#include <string>

#include "absl/time/time.h"
#include "engine/actions.h"
#include "engine/inputs.h"
#include "engine/messages.h"
#include "engine/types.h"

namespace duet::sim {

class ClusterObserver {
 public:
  virtual ~ClusterObserver() = default;

  // The module's replicated directories started or stopped accepting writes on node n.
  virtual void OnWritable(absl::Time /*now*/, NodeIndex /*n*/, ModuleIndex /*m*/,
                          bool /*writable*/) {}
  // The module's VIP was assigned to node n, or released there.
  virtual void OnVip(absl::Time /*now*/, NodeIndex /*n*/, ModuleIndex /*m*/, bool /*assigned*/) {}
  // A script of the module started on node n, or ended (exited or killed at its timeout).
  virtual void OnScriptStarted(absl::Time /*now*/, NodeIndex /*n*/, ModuleIndex /*m*/,
                               ScriptKind /*kind*/) {}
  virtual void OnScriptEnded(absl::Time /*now*/, NodeIndex /*n*/, ModuleIndex /*m*/) {}
  // Node n went down: its daemon's guard released the VIPs, writes and applications with it
  // (no OnWritable or OnScriptEnded follows for what it held).
  virtual void OnNodeDown(absl::Time /*now*/, NodeIndex /*n*/) {}
  // Node n (re)started: a new engine process, which has heard nothing from its peer yet.
  virtual void OnNodeStarted(absl::Time /*now*/, NodeIndex /*n*/) {}
  // A message from the peer reached node n (up) on heartbeat link `link`, just before n's
  // engine handles it.
  virtual void OnPeerMessageDelivered(absl::Time /*now*/, NodeIndex /*n*/, int /*link*/,
                                      const PeerMessage& /*message*/) {}
  // A message on the replication connection reached node n (up), just before n handles it.
  virtual void OnReplicationDelivered(absl::Time /*now*/, NodeIndex /*n*/) {}
  // The witness granted node n the lease of module m (a first grant or a renewal).
  virtual void OnLeaseGranted(absl::Time /*now*/, NodeIndex /*n*/, ModuleIndex /*m*/) {}
  // An admin command is about to reach node n (up), before its engine handles it (the
  // command's effects, a promotion included, may follow within the same step).
  virtual void OnAdminCommand(absl::Time /*now*/, NodeIndex /*n*/, ModuleIndex /*m*/,
                              AdminVerb /*verb*/, bool /*force*/) {}
  // Node n persisted module m's ownership record (engine/actions.h PersistModule): who owns
  // the module at which term, whether n wrote alone unconfirmed by its peer.
  virtual void OnTokenPersisted(absl::Time /*now*/, NodeIndex /*n*/, ModuleIndex /*m*/,
                                const PersistedModule& /*token*/) {}
  // The state node n shows for module m changed.
  virtual void OnModuleState(absl::Time /*now*/, NodeIndex /*n*/, ModuleIndex /*m*/,
                             ModuleState /*from*/, ModuleState /*to*/) {}
  // Node n logged `text` (the engine's log events and the simulator's notes about n).
  virtual void OnLog(absl::Time /*now*/, NodeIndex /*n*/, const std::string& /*text*/) {}
  // One line of the readable trace, as it is written (node lines and simulator notes).
  virtual void OnTraceLine(const std::string& /*line*/) {}
};

}  // namespace duet::sim

#endif  // DUET_SIM_CLUSTER_OBSERVER_H_
