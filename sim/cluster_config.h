// A valid two-node Config built in code, for the simulator and the tests.
#ifndef DUET_SIM_CLUSTER_CONFIG_H_
#define DUET_SIM_CLUSTER_CONFIG_H_

#include "engine/config.h"

namespace duet::sim {

struct ClusterShape {
  int modules = 2;
  int heartbeat_links = 2;
  bool witness = false;
  // Module i has default primary i % 2 unless all_on_first is set.
  bool all_on_first = false;
  Failback failback = Failback::kAuto;
  bool failover = true;
  uint32_t restart_max = 2;
};

Config MakeClusterConfig(const ClusterShape& shape);

}  // namespace duet::sim

#endif  // DUET_SIM_CLUSTER_CONFIG_H_
