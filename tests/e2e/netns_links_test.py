"""End-to-end, in network namespaces: one heartbeat network down moves nothing, and a node
with the wrong cluster key is refused by its peer and gets nothing replicated until it has
the right one. Each test prints what it measured.

Run by ctest (as root, which CI is): python3 netns_links_test.py BUILD_DIR
"""

import os
import sys
import time
import unittest

from duet_cluster import tree_of
from kv_workload import missing_writes
from netns_cluster import NetnsCluster, new_key

BIN = None
HEARTBEAT_TIMEOUT_S = 1  # what netns_cluster.py configures


class NetnsLinksTest(unittest.TestCase):
    def setUp(self):
        self.cluster = NetnsCluster(BIN)
        self.addCleanup(self.cluster.close)
        self.cluster.start_pair()

    def pair_as_configured(self):
        """Every module PRIM on its default primary and SECOND on the other node, each node
        seeing its peer."""
        c = self.cluster
        for node in ("a", "b"):
            status = c.status(node)
            if not status["peer_alive"]:
                return False
            for m in status["modules"]:
                if m["state"] != ("PRIM" if c.primaries[m["name"]] == node else "SECOND"):
                    return False
        return True

    def test_one_heartbeat_network_down_moves_nothing_and_the_clients_keep_writing(self):
        c = self.cluster
        alpha, beta = c.writer("alpha"), c.writer("beta")
        alpha.wait_acks(20)
        cut = time.monotonic()
        c.topology.cut_link("a", "net2")
        # Several heartbeat timeouts with one link silent: nothing may move.
        deadline = cut + 3 * HEARTBEAT_TIMEOUT_S
        while time.monotonic() < deadline:
            self.assertTrue(self.pair_as_configured(), f"a: {c.status('a')}\nb: {c.status('b')}")
            time.sleep(0.1)
        alpha.wait_acks(20)
        beta.wait_acks(20)
        status_while_cut = c.status("a")
        restored = time.monotonic()
        c.topology.restore_link("a", "net2")
        alpha.wait_acks(20)
        alpha.stop()
        beta.stop()
        self.assertTrue(self.pair_as_configured())
        for module, writer in (("alpha", alpha), ("beta", beta)):
            self.assertEqual(missing_writes(writer.expected(), c.read_store(module)), [])
        # The degraded link shows in a's status: heartbeat 2 (net2) silent, the others heard.
        heard = {link["name"]: link["heard"] for link in status_while_cut["links"]}
        self.assertEqual(heard, {"heartbeat 1": True, "heartbeat 2": False, "replication": True},
                         status_while_cut)
        print(f"one heartbeat network down (a's net2 cable) for "
              f"{restored - cut:.1f} s: no failover; longest client-visible gap alpha "
              f"{alpha.outage_since(cut, restored) * 1000:.0f} ms, beta "
              f"{beta.outage_since(cut, restored) * 1000:.0f} ms; a's status while cut: "
              f"peer_alive={status_while_cut['peer_alive']}, links heard {heard}")

    def test_a_node_with_the_wrong_cluster_key_is_refused_and_gets_nothing(self):
        c = self.cluster
        alpha = c.writer("alpha")
        alpha.wait_acks(20)
        c.kill_node("b")
        c.wait_state("a", "beta", "ALONE")
        wrong = os.path.join(c.dir, "wrong.key")
        new_key(wrong)
        c.set_key("b", wrong)
        before = tree_of(c.backing("b", "alpha"))
        log_offset = {n: len(c.log_text(n)) for n in ("a", "b")}
        acked_before = alpha.count()
        c.restart_node("b")
        alpha.wait_acks(50)
        def refusals(node):
            return [line for line in c.log_text(node)[log_offset[node]:].splitlines()
                    if "fails its HMAC" in line]

        def both_refuse_heartbeats_and_replication():
            return all(any("udp link" in line for line in refusals(n)) and
                       any("the hello fails its HMAC (the peer has another cluster key?)" in line
                           for line in refusals(n)) for n in ("a", "b"))
        c.wait_for("both nodes to log the refused heartbeats and replication hellos",
                   both_refuse_heartbeats_and_replication)
        self.assertFalse(c.status("a")["peer_alive"])
        self.assertFalse(c.status("b")["peer_alive"])
        self.assertEqual(c.module_status("a", "alpha")["state"], "ALONE")
        self.assertNotEqual(c.module_status("b", "alpha")["state"], "SECOND")
        self.assertEqual(tree_of(c.backing("b", "alpha")), before, "b got alpha's writes")
        acked_meanwhile = alpha.count() - acked_before

        # With the right key again, b resyncs what it missed and takes beta back.
        c.kill_node("b")
        c.set_key("b", c.key)
        c.restart_node("b")
        c.wait_for("the pair as configured", self.pair_as_configured, timeout=60)
        alpha.stop()
        self.assertEqual(missing_writes(alpha.expected(), c.read_store("alpha")), [])
        self.assertEqual(tree_of(c.backing("a", "alpha")), tree_of(c.backing("b", "alpha")))
        print(f"wrong cluster key on b: heartbeats and replication refused on both sides "
              f"({len(refusals('a'))} + {len(refusals('b'))} log lines, e.g. "
              f"{refusals('a')[-1].strip()!r}); b's copy of alpha unchanged while a acknowledged "
              f"{acked_meanwhile} writes; with the right key b resynced and the pair is back")


if __name__ == "__main__":
    BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
