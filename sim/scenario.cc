#include "sim/scenario.h"

#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sim/cluster.h"
#include "sim/cluster_config.h"

namespace duet::sim {
namespace {

// Prints the engine's log lines and the scenario's own, as "[mm:ss.mmm] who  what".
class Narrator : public ClusterObserver {
 public:
  Narrator(const SimCluster& cluster, std::ostream& out) : cluster_(cluster), out_(out) {}

  void OnLog(absl::Time now, NodeIndex n, const std::string& text) override {
    if (text == "CRASH" || text == "BOOT") return;  // the scenario says it in its own words
    Line(now, cluster_.config().nodes[n].name, text);
  }
  void Say(const std::string& text) { Line(cluster_.now(), "", text); }
  void Line(absl::Time at, const std::string& who, const std::string& text) {
    const int64_t ms = absl::ToInt64Milliseconds(at - cluster_.start_time());
    out_ << absl::StrFormat("[%02d:%02d.%03d] %-2s %s\n", ms / 60000, ms / 1000 % 60, ms % 1000,
                            who, text);
  }

 private:
  const SimCluster& cluster_;
  std::ostream& out_;
};

std::string Seconds(absl::Duration d) { return absl::StrFormat("%.3fs", absl::ToDoubleSeconds(d)); }

}  // namespace

const char* ScenarioNames() { return "active-active"; }

bool RunScenario(const std::string& name, std::ostream& out) {
  if (name == "active-active") return RunActiveActiveScenario(out);
  out << "unknown scenario \"" << name << "\"; known: " << ScenarioNames() << "\n";
  return false;
}

bool RunActiveActiveScenario(std::ostream& out) {
  constexpr NodeIndex kA = 0;
  constexpr NodeIndex kB = 1;
  SimCluster cluster(MakeClusterConfig({.modules = 2, .heartbeat_links = 2}), 2026);
  Narrator narrator(cluster, out);
  cluster.AddObserver(&narrator);
  const Config& config = cluster.config();

  out << "Scenario active-active: servers a and b, no shared disk, two modules running\n"
         "active-active: m0 is homed on a, m1 on b. Heartbeats on "
      << config.nodes[kA].heartbeat.size() << " networks every "
      << absl::FormatDuration(config.heartbeat.interval) << "; a peer silent on all of them for "
      << absl::FormatDuration(config.heartbeat.timeout)
      << " is lost.\nThe real engine runs on simulated time (deterministic, no witness; the "
         "data state\ncomes from the simulator's data oracle until replication lands).\n\n";

  auto run_until = [&](const std::function<bool()>& done, absl::Duration limit) {
    const absl::Time start = cluster.now();
    while (!done() && cluster.now() - start < limit) cluster.RunFor(absl::Milliseconds(1));
    return done();
  };
  auto home_state = [&](ModuleIndex m, NodeIndex primary) {
    return cluster.Status(primary, m).state == ModuleState::kPrim &&
           cluster.Status(Peer(primary), m).state == ModuleState::kSecond &&
           cluster.Writable(primary, m) && !cluster.Writable(Peer(primary), m);
  };
  bool ok = true;
  auto check = [&](bool condition, const std::string& what) {
    narrator.Say(absl::StrCat(condition ? "check: " : "CHECK FAILED: ", what));
    ok = ok && condition;
  };

  narrator.Say("both servers start");
  cluster.Start();
  ok = run_until([&] { return home_state(0, kA) && home_state(1, kB); }, absl::Seconds(5));
  check(ok, "m0 PRIM on a, m1 PRIM on b, each with an up-to-date SECOND on the other");
  cluster.RunFor(absl::Seconds(5) - cluster.elapsed());

  narrator.Say("a crashes (power loss: VIPs, applications and daemon gone at once)");
  cluster.CrashNode(kA);
  const absl::Time crashed = cluster.now();
  const bool failed_over = run_until(
      [&] { return cluster.Writable(kB, 0) && cluster.VipAssigned(kB, 0); }, absl::Seconds(10));
  const absl::Duration failover = cluster.now() - crashed;
  check(failed_over, absl::StrCat("m0 fails over to b: VIP and writes on b ", Seconds(failover),
                                  " after the crash"));
  ok = ok && failed_over;
  run_until([&] { return cluster.Status(kB, 0).state == ModuleState::kAlone; }, absl::Seconds(5));
  check(cluster.Status(kB, 0).state == ModuleState::kAlone &&
            cluster.Status(kB, 1).state == ModuleState::kAlone,
        "b serves m0 and m1 ALONE (no replica while a is down)");
  cluster.RunFor(absl::Seconds(15) - cluster.elapsed());

  narrator.Say("a is back: its daemon restarts from its persisted state");
  cluster.RestartNode(kA);
  const absl::Time returned = cluster.now();
  const bool failed_back =
      run_until([&] { return home_state(0, kA) && home_state(1, kB); }, absl::Seconds(30));
  check(failed_back, absl::StrCat("m0 fails back to a once resynced, ",
                                  Seconds(cluster.now() - returned), " after a returned"));
  ok = ok && failed_back;
  cluster.RunFor(absl::Seconds(3));
  check(home_state(0, kA) && home_state(1, kB), "m0 PRIM on a, m1 PRIM on b (stable 3s later)");
  ok = ok && home_state(0, kA) && home_state(1, kB);
  for (const std::string& v : cluster.violations()) {
    narrator.Say("INVARIANT VIOLATED: " + v);
    ok = false;
  }
  out << "\n"
      << (ok ? absl::StrCat("PASS: m0 failed over to b in ", Seconds(failover),
                            " and failed back to a; m1 stayed on b.")
             : std::string("FAIL: the scenario did not end as it must (see CHECK FAILED above)."))
      << "\n";
  return ok;
}

}  // namespace duet::sim
