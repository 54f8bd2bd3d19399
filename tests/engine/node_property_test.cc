// Stateful properties of the failover engine: two Node engines and a Witness joined by a
// simulated network, driven by a random command sequence (crashes, partitions, lossy and
// flapping links, witness crashes, admin commands, checker and script failures) that
// RapidCheck shrinks to the shortest failing sequence.
//  - With a witness there are never two writers for a module at any simulated instant.
//  - A module's scripts never run concurrently on a node.
//  - Once faults heal (and without admin moves), every module ends PRIM on its default
//    primary with the other node SECOND.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "sim/cluster.h"
#include "sim/cluster_config.h"
#include "tests/engine/printers.h"

namespace duet {
namespace {

enum class Op : int {
  kCrashNode,
  kRestartNode,
  kPartition,
  kHeal,
  kLinkDown,
  kOneWayLinkDown,
  kLossyLinks,
  kWitnessLinkDown,
  kCrashWitness,
  kRestartWitness,
  kCheckerFails,
  kScriptsFail,
  kAdmin,
  kCount,
};

struct Command {
  Op op;
  NodeIndex node;
  ModuleIndex module;
  int arg;
  int run_ms;  // simulated time to run after the command
};

std::string Describe(const Command& c) {
  return absl::StrCat("op=", static_cast<int>(c.op), " node=", c.node, " module=", c.module,
                      " arg=", c.arg, " run=", c.run_ms, "ms");
}

constexpr int kModules = 3;

rc::Gen<Command> GenCommand(bool admin_moves) {
  return rc::gen::map(
      rc::gen::tuple(rc::gen::inRange(0, static_cast<int>(Op::kCount)), rc::gen::inRange(0, 2),
                     rc::gen::inRange(0, kModules), rc::gen::inRange(0, 6),
                     rc::gen::inRange(1, 4000)),
      [admin_moves](const std::tuple<int, int, int, int, int>& t) {
        Command c{static_cast<Op>(std::get<0>(t)), static_cast<NodeIndex>(std::get<1>(t)),
                  static_cast<ModuleIndex>(std::get<2>(t)), std::get<3>(t), std::get<4>(t)};
        // Without admin moves, admin commands are limited to stop/start/restart.
        if (c.op == Op::kAdmin && !admin_moves && c.arg >= 3) c.arg %= 3;
        return c;
      });
}

AdminVerb VerbOf(int arg) {
  switch (arg) {
    case 0:
      return AdminVerb::kStop;
    case 1:
      return AdminVerb::kStart;
    case 2:
      return AdminVerb::kRestart;
    case 3:
      return AdminVerb::kSwap;
    case 4:
      return AdminVerb::kPrim;
    default:
      return AdminVerb::kSecond;
  }
}

void Apply(sim::SimCluster& cluster, const Command& c) {
  switch (c.op) {
    case Op::kCrashNode:
      cluster.CrashNode(c.node);
      break;
    case Op::kRestartNode:
      cluster.RestartNode(c.node);
      break;
    case Op::kPartition:
      cluster.SetPartitioned(true);
      break;
    case Op::kHeal:
      cluster.HealNetwork();
      break;
    case Op::kLinkDown:
      cluster.link(c.arg % 2, 0).up = false;
      cluster.link(c.arg % 2, 1).up = false;
      break;
    case Op::kOneWayLinkDown:
      cluster.link(c.arg % 2, c.node).up = false;
      break;
    case Op::kLossyLinks:
      for (int l = 0; l < 2; ++l) {
        for (NodeIndex n = 0; n < 2; ++n) {
          sim::LinkFaults& f = cluster.link(l, n);
          f.loss = 0.1 * c.arg;
          f.duplicate = 0.1;
          f.latency_max = absl::Milliseconds(50 * c.arg + 1);
        }
      }
      break;
    case Op::kWitnessLinkDown:
      cluster.witness_link(c.node).up = false;
      break;
    case Op::kCrashWitness:
      cluster.CrashWitness();
      break;
    case Op::kRestartWitness:
      cluster.RestartWitness();
      break;
    case Op::kCheckerFails:
      cluster.FailChecker(c.node, c.module);
      break;
    case Op::kScriptsFail:
      cluster.scripts().failure = 0.1 * (c.arg % 3);
      break;
    case Op::kAdmin:
      cluster.Admin(c.node, VerbOf(c.arg), c.module, /*force=*/c.arg == 5);
      break;
    case Op::kCount:
      break;
  }
}

// Heals everything, starts every module everywhere and gives the pair time to converge.
void HealAndSettle(sim::SimCluster& cluster) {
  cluster.HealNetwork();
  cluster.scripts().failure = 0;
  cluster.RestartWitness();
  for (NodeIndex n = 0; n < 2; ++n) cluster.RestartNode(n);
  cluster.RunFor(absl::Seconds(1));
  for (NodeIndex n = 0; n < 2; ++n) {
    for (ModuleIndex m = 0; m < kModules; ++m) cluster.Admin(n, AdminVerb::kStart, m);
  }
  cluster.RunFor(absl::Seconds(60));
}

std::string Report(const sim::SimCluster& cluster, const std::vector<Command>& commands) {
  std::string text = "commands:\n";
  for (const Command& c : commands) text += "  " + Describe(c) + "\n";
  text += "violations:\n";
  for (const std::string& v : cluster.violations()) text += "  " + v + "\n";
  const auto& log = cluster.log();
  text += "last log lines:\n";
  for (size_t i = log.size() > 60 ? log.size() - 60 : 0; i < log.size(); ++i) {
    text += "  " + log[i] + "\n";
  }
  return text;
}

RC_GTEST_PROP(NodePropertyTest, WithWitnessNeverTwoWritersAndScriptsNeverOverlap, ()) {
  const uint64_t seed = *rc::gen::arbitrary<uint64_t>();
  const auto commands = *rc::gen::container<std::vector<Command>>(GenCommand(true));
  sim::SimCluster cluster(sim::MakeClusterConfig({.modules = kModules, .witness = true}), seed);
  cluster.Start();
  cluster.RunFor(absl::Seconds(3));
  for (const Command& c : commands) {
    Apply(cluster, c);
    cluster.RunFor(absl::Milliseconds(c.run_ms));
    if (!cluster.violations().empty()) break;
  }
  if (!cluster.violations().empty()) RC_FAIL(Report(cluster, commands));
}

RC_GTEST_PROP(NodePropertyTest, AfterFaultsHealEveryModuleEndsOnItsDefaultPrimary, ()) {
  const uint64_t seed = *rc::gen::arbitrary<uint64_t>();
  const bool witness = *rc::gen::arbitrary<bool>();
  const auto commands = *rc::gen::container<std::vector<Command>>(GenCommand(false));
  sim::SimCluster cluster(sim::MakeClusterConfig({.modules = kModules, .witness = witness}), seed);
  cluster.Start();
  cluster.RunFor(absl::Seconds(3));
  for (const Command& c : commands) {
    Apply(cluster, c);
    cluster.RunFor(absl::Milliseconds(c.run_ms));
  }
  HealAndSettle(cluster);
  bool converged = cluster.violations().empty();
  for (ModuleIndex m = 0; m < kModules; ++m) {
    const NodeIndex home = cluster.config().modules[m].default_primary;
    converged = converged && cluster.Status(home, m).state == ModuleState::kPrim &&
                cluster.Status(Peer(home), m).state == ModuleState::kSecond &&
                cluster.Writable(home, m) && !cluster.Writable(Peer(home), m);
  }
  if (!converged) RC_FAIL(Report(cluster, commands));
}

}  // namespace
}  // namespace duet
