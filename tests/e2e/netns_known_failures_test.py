"""End-to-end, in network namespaces: what a user expects and duetd does NOT do yet. These
tests fail today; they are not registered in ctest (a registered test must pass) and each
names the defect it pins. Run by hand: python3 netns_known_failures_test.py BUILD_DIR

1. After a split brain heals, the side that keeps the module never announces its VIP again:
   the client still sends to the MAC of the side that yielded (it announced the VIP last) and
   reaches the service only once its ARP entry expires, about 45 s later.
2. Through a silent partition, a primary holds its application's writes for about 10 s,
   twice replication.timeout (5 s): the peer is dropped for "no acknowledgement" after 5 s,
   a new handshake is offered on the TCP connection that still looks up, and writes wait
   another 5 s for "no handshake answer" (or for the socket's 10 s dead-peer timeout),
   although every heartbeat link declared the peer lost after 1 s.
3. A partition inside the witness's start blackout (it grants no lease for one lease period)
   that also cuts a from the witness: b fences beta (no lease yet: right), but then hands
   beta over to a, which it cannot reach, and takes its own copy for outdated ("peer lost;
   data is outdated here"); beta stays down until the partition heals, although the witness
   would grant b the lease from the end of the blackout on.
4. A cold start of the pair (a started, then b about 0.3 s later) moves alpha for no reason,
   every time here: a, whose data handshake has not finished, hands alpha over to b
   ("alpha: handed over to b, term 1"), b starts alpha's service, and failback brings it
   back to a (README, known limits: "A cold start can move a module for no reason").
"""

import os
import sys
import time
import unittest

from netns_cluster import WITNESS_LEASE_S, NetnsCluster

BIN = None
REPLICATION_TIMEOUT_S = 5  # the default, which netns_cluster.py keeps


class KnownFailuresTest(unittest.TestCase):
    def start(self, witness, wait_out_witness_blackout=True):
        self.cluster = NetnsCluster(BIN, witness=witness)
        self.addCleanup(self.cluster.close)
        self.cluster.start_pair(wait_out_witness_blackout)
        return self.cluster

    def test_after_a_split_brain_heals_the_client_reaches_the_kept_side_at_once(self):
        c = self.start(witness=False)
        alpha = c.writer("alpha")
        alpha.wait_acks(20)
        c.topology.partition("a", "b")
        c.wait_state("b", "alpha", "ALONE")  # b announces the VIP; the client follows it
        alpha.wait_acks(20)
        alpha.stop()
        c.topology.heal("a", "b")
        c.wait_state("a", "alpha", "PRIM", timeout=60)
        c.wait_state("b", "alpha", "SECOND")
        normal = time.monotonic()

        def readable():
            try:
                return c.read_store("alpha") is not None
            except AssertionError:
                return False
        c.wait_for("the client to reach alpha through its VIP", readable, timeout=5)
        print(f"client reached alpha {time.monotonic() - normal:.1f} s after PRIM/SECOND")

    def test_the_owner_keeps_serving_through_a_partition_within_the_replication_timeout(self):
        c = self.start(witness=True)
        beta = c.writer("beta")
        beta.wait_acks(20)
        cut = time.monotonic()
        c.topology.partition("a", "b")
        c.wait_state("b", "beta", "ALONE")
        beta.wait_acks(20, timeout=30)
        outage = beta.outage_since(cut)
        print(f"beta (owner b, holding the witness lease) held writes {outage:.1f} s")
        self.assertLess(outage, REPLICATION_TIMEOUT_S + 1)

    def test_the_node_that_reaches_the_witness_serves_once_its_start_blackout_ends(self):
        c = self.start(witness=True, wait_out_witness_blackout=False)
        in_blackout = c.witness_started + WITNESS_LEASE_S - time.monotonic()
        self.assertGreater(in_blackout, 0.5, "the pair started too late to cut it in the blackout")
        c.topology.partition("a", "b")
        c.topology.partition("a", "w")
        c.wait_state("b", "beta", "ALONE", timeout=in_blackout + 2 * REPLICATION_TIMEOUT_S + 5)

    def test_a_cold_start_runs_each_module_on_its_default_primary_only(self):
        c = self.start(witness=False)
        for module, primary in c.primaries.items():
            other = c.other(primary)
            started_there = os.path.join(c.dir, "run", f"{other}-{module}.out")
            self.assertFalse(os.path.exists(started_there),
                             f"{module}'s service ran on {other} at the cold start")


if __name__ == "__main__":
    BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
