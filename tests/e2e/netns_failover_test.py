"""End-to-end, in network namespaces: a node crash fails its module over behind its VIP with
every acknowledged write, and the module fails back after a resync while its client keeps
writing. Each test prints what it measured.

Run by ctest (as root, which CI is): python3 netns_failover_test.py BUILD_DIR
"""

import datetime
import sys
import time
import unittest

from duet_cluster import tree_of
from kv_workload import missing_writes
from netns_cluster import NetnsCluster

BIN = None
BULK_BYTES = 64 << 20


class NetnsFailoverTest(unittest.TestCase):
    def setUp(self):
        self.cluster = NetnsCluster(BIN)
        self.addCleanup(self.cluster.close)
        self.cluster.start_pair()

    def assert_every_acknowledged_write_is_served(self, writer, module):
        store = self.cluster.read_store(module)
        missing = missing_writes(writer.expected(), store)
        self.assertEqual(missing, [], f"{len(missing)} acknowledged writes of {module} lost")

    def assert_status_shows_the_failover(self, module, crash_wall, outage):
        """b's `status --json` reports the failover from a: begun after the crash, lasting
        no longer than the client saw the module gone (it runs from the peer declared lost to
        start_prim done, inside the outage), with a small margin for the clocks."""
        failover = self.cluster.module_status("b", module)["last_failover"]
        self.assertIsNotNone(failover, f"no failover in b's status of {module}")
        self.assertEqual(failover["from"], "a")
        self.assertEqual(failover["cause"], "peer lost")
        self.assertGreater(failover["duration_seconds"], 0)
        self.assertLess(failover["duration_seconds"], outage + 0.2, failover)
        began = datetime.datetime.strptime(failover["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        self.assertGreater(began, crash_wall - 0.2, failover)
        self.assertLess(began, crash_wall + outage + 0.2, failover)
        return failover

    def test_a_node_crash_moves_its_module_and_its_vip_with_every_acknowledged_write(self):
        c = self.cluster
        alpha, beta = c.writer("alpha"), c.writer("beta")
        alpha.wait_acks(50)
        beta.wait_acks(50)
        crash = time.monotonic()
        crash_wall = time.time()
        c.kill_node("a")
        c.wait_state("b", "alpha", "ALONE")
        self.assertTrue(c.has_vip("b", "alpha"))
        c.wait_for("alpha's service on b", lambda: c.service_running("b", "alpha"))
        alpha.wait_acks(50)
        beta.wait_acks(50)
        alpha.stop()
        beta.stop()
        self.assert_every_acknowledged_write_is_served(alpha, "alpha")
        self.assert_every_acknowledged_write_is_served(beta, "beta")
        failover = self.assert_status_shows_the_failover("alpha", crash_wall,
                                                         alpha.outage_since(crash))
        self.assertIsNone(c.module_status("b", "beta")["last_failover"])
        print(f"node crash: alpha (moved a -> b) client-visible outage "
              f"{alpha.outage_since(crash) * 1000:.0f} ms, beta (stayed on b) "
              f"{beta.outage_since(crash) * 1000:.0f} ms (heartbeat timeout 1 s); "
              f"{alpha.count()} + {beta.count()} acknowledged writes read back through the VIPs; "
              f"status on b: failover from a took {failover['duration_seconds'] * 1000:.0f} ms")

    def test_a_returning_node_resyncs_and_takes_its_module_back_while_the_client_writes(self):
        c = self.cluster
        alpha = c.writer("alpha")
        alpha.wait_acks(20)
        c.kill_node("a")
        c.wait_state("b", "alpha", "ALONE")
        # What b writes alone is what a must get back: the client's records and a bulk file.
        c.sh("b", f"head -c {BULK_BYTES} /dev/urandom > {c.mountpoint('alpha')}/bulk")
        alpha.wait_acks(50)
        returned = time.monotonic()
        c.restart_node("a")
        c.wait_state("a", "alpha", "PRIM", timeout=60)
        failed_back = time.monotonic()
        c.wait_state("b", "alpha", "SECOND")
        self.assertTrue(c.has_vip("a", "alpha"))
        self.assertFalse(c.has_vip("b", "alpha"))
        self.assertFalse(c.service_running("b", "alpha"))
        alpha.wait_acks(50)
        alpha.stop()
        self.assert_every_acknowledged_write_is_served(alpha, "alpha")
        self.assertEqual(tree_of(c.backing("a", "alpha")), tree_of(c.backing("b", "alpha")))
        sent = c.wait_resyncs_done("b", "alpha")
        during = len([t for _, t in alpha.acked if returned < t <= failed_back])
        self.assertGreater(during, 0, "no write acknowledged between the return and failback")
        print(f"failback: alpha back on a {failed_back - returned:.2f} s after a returned "
              f"(resync: {sent[-1]}, bulk file {BULK_BYTES >> 20} MiB written alone); "
              f"{during} writes acknowledged meanwhile; longest client-visible outage "
              f"{alpha.outage_since(returned) * 1000:.0f} ms; "
              f"{alpha.count()} acknowledged writes read back, copies identical")


if __name__ == "__main__":
    BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
