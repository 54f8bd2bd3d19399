#include "sim/cluster_config.h"

#include "absl/strings/str_cat.h"

namespace duet::sim {

Config MakeClusterConfig(const ClusterShape& shape) {
  Config config;
  config.cluster_name = "sim";
  config.key_file = "/dev/null";
  for (int n = 0; n < 2; ++n) {
    NodeConfig node;
    // (Not `n == 0 ? "a" : "b"`: GCC 12 -O3 warns falsely about that assignment, PR105329.)
    node.name = std::string(1, static_cast<char>('a' + n));
    for (int l = 0; l < shape.heartbeat_links; ++l) {
      node.heartbeat.push_back(Endpoint{absl::StrCat("10.", l, ".0.", n + 1), 7200});
    }
    node.replication = Endpoint{absl::StrCat("10.0.0.", n + 1), 7100};
    config.nodes.push_back(node);
  }
  if (shape.witness) {
    WitnessConfig witness;
    witness.address = Endpoint{"10.0.0.3", 7300};
    config.witness = witness;
  }
  for (int i = 0; i < shape.modules; ++i) {
    ModuleConfig module;
    module.name = absl::StrCat("m", i);
    module.default_primary = static_cast<NodeIndex>(shape.all_on_first ? 0 : i % 2);
    module.vips.push_back(
        VipConfig{absl::StrCat("10.9.", i / 250, ".", i % 250 + 1, "/24"), "eth0"});
    module.directories.push_back(absl::StrCat("/srv/m", i));
    module.scripts_dir = absl::StrCat("/etc/duet/m", i);
    module.checkers.push_back(CheckerConfig{"app", CheckerType::kCustom, "true", absl::Seconds(1),
                                            absl::Seconds(1), OnFailure::kRestart});
    module.restart_max = shape.restart_max;
    module.restart_window = absl::Minutes(1);
    module.failover = shape.failover;
    module.failback = shape.failback;
    config.modules.push_back(module);
  }
  return config;
}

}  // namespace duet::sim
