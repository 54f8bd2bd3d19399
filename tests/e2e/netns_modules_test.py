"""End-to-end, in network namespaces: what a module's own health and numbers do to the pair.
A failing checker restarts the application in place up to its budget, then fails the module
over; a hundred modules move with a node crash and all come back; the secondary's full disk
leaves the primary serving and is resynced once space returns. Each test prints what it
measured.

Run by ctest (as root, which CI is): python3 netns_modules_test.py BUILD_DIR
"""

import os
import signal
import sys
import time
import unittest

from kv_workload import missing_writes
from netns_cluster import NetnsCluster

BIN = None
RESTART_MAX = 2
# The service's port is 8001 for the first module (netns_cluster.py); the checker runs in the
# node's network namespace, where the service listens on every address.
TCP_CHECKER = f"""
restart = {{ max = {RESTART_MAX}, window = "1m" }}
[[module.checker]]
name = "kv-port"
type = "tcp"
target = "127.0.0.1:8001"
interval = "200ms"
timeout = "1s"
on_failure = "restart"
"""


def service_pid(cluster, node, module):
    """The pid the module's start_prim recorded on `node`, or None."""
    try:
        with open(os.path.join(cluster.dir, "run", f"{node}-{module}.pid")) as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class CheckerTest(unittest.TestCase):
    def setUp(self):
        self.cluster = NetnsCluster(BIN, modules=(("alpha", "a"),),
                                    module_config={"alpha": TCP_CHECKER})
        self.addCleanup(self.cluster.close)
        self.cluster.start_pair()

    def kill_service(self, node):
        """kill -9 of alpha's service on `node` (by the pid its start script recorded)."""
        pid = service_pid(self.cluster, node, "alpha")
        self.assertIsNotNone(pid, f"no pid file for alpha on {node}")
        os.kill(pid, signal.SIGKILL)
        return pid, time.monotonic()

    def test_a_failing_checker_restarts_in_place_up_to_its_budget_then_fails_over(self):
        c = self.cluster
        alpha = c.writer("alpha")
        alpha.wait_acks(20)
        restarts = []  # (killed pid, new pid, client-visible outage in s)
        for i in range(1, RESTART_MAX + 1):
            killed, at = self.kill_service("a")

            def restarted_in_place():
                pid = service_pid(c, "a", "alpha")
                return pid is not None and pid != killed and alive(pid) and pid
            new = c.wait_for(f"alpha's service restarted on a ({i})", restarted_in_place)
            c.wait_for(f"a to log local restart {i}",
                       lambda: f"local restart {i} of {RESTART_MAX}" in c.log_text("a"))
            alpha.wait_acks(20)
            self.assertEqual(c.module_status("a", "alpha")["owner"], "a")
            self.assertFalse(c.service_running("b", "alpha"))
            restarts.append((killed, new, alpha.outage_since(at)))

        killed, at = self.kill_service("a")

        def moved_to_b():
            m = c.module_status("b", "alpha")
            return (m["owner"] == "b" and m["state"] in ("PRIM", "ALONE")
                    and c.has_vip("b", "alpha") and c.service_running("b", "alpha"))
        c.wait_for("alpha to fail over to b", moved_to_b)
        alpha.wait_acks(20)
        alpha.stop()
        self.assertFalse(c.has_vip("a", "alpha"))
        self.assertFalse(c.service_running("a", "alpha"))
        self.assertEqual(service_pid(c, "a", "alpha"), None)
        self.assertIn("restart budget exhausted; failing over", c.log_text("a"))
        self.assertEqual(c.log_text("a").count("; local restart "), RESTART_MAX)
        missing = missing_writes(alpha.expected(), c.read_store("alpha"))
        self.assertEqual(missing, [], f"{len(missing)} acknowledged writes of alpha lost")
        on_a, on_b = c.module_status("a", "alpha"), c.module_status("b", "alpha")
        print(f"checker: {RESTART_MAX} local restarts on a ("
              + ", ".join(f"pid {k} -> {n}, outage {o * 1000:.0f} ms" for k, n, o in restarts)
              + f"); the next failure failed alpha over to b (b {on_b['state']}, "
              f"a {on_a['state']}: {on_a['reason']!r}) after a client-visible outage of "
              f"{alpha.outage_since(at) * 1000:.0f} ms; {alpha.count()} acknowledged writes "
              f"read back through the VIP")


if __name__ == "__main__":
    BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
