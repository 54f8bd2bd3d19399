"""End-to-end, in network namespaces: defects the network-namespace tests found, fixed, and
pinned here so they stay fixed.

- After a split brain heals, the side that keeps the module announces its VIPs again when the
  peer is back and when it sees the peer's claim (before, the client kept sending to the
  yielding side's link address until its ARP entry expired, about 45 s). Engine unit test:
  NodeTest.AfterASplitBrainTheSideThatKeepsTheModuleAnnouncesItsVipsAgain.
- A cold start of the pair (a started, b about 0.3 s later) runs each module on its default
  primary only (before, every cold start moved alpha to b and back). Engine unit test:
  RoleDecisionTest.AnOwnerWhoseHandshakeIsUnderWayWaitsForItsVerdictInsteadOfHandingOver.
- Through a silent partition the owner holding the witness lease goes on writing after the
  heartbeat timeout (before, 10 s: the peer was dropped only for "no acknowledgement" after
  replication.timeout, then a Hello offered on the connection that still looked up held the
  writes again). Engine unit test:
  ReplicaPrimaryStreamTest.WritesGoOnAloneThroughASilentPartitionWithoutWaitingForAHello.
- A partition inside the witness's start blackout (it grants no lease for one lease period)
  that also cuts a from the witness: b fences beta (no acknowledgement, no lease yet: right),
  and once the blackout ends the witness grants b the lease and b serves beta again, and
  alpha too (before, b took its fenced copy for outdated, handed beta to the unreachable a,
  and beta stayed down until the partition healed). Engine unit tests:
  NodeTest.PartitionInTheWitnessBlackoutServesFromTheSideThatReachesTheWitness and
  NodeTest.FencedOwnerGrantedByAnotherRunOfTheWitnessKeepsItsCopyOutdated.
"""

import os
import sys
import time
import unittest

from netns_cluster import WITNESS_LEASE_S, NetnsCluster

BIN = None
REPLICATION_TIMEOUT_S = 5  # the default, which netns_cluster.py keeps


class FixedDefectsTest(unittest.TestCase):
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

    def test_a_cold_start_runs_each_module_on_its_default_primary_only(self):
        c = self.start(witness=False)
        for module, primary in c.primaries.items():
            other = c.other(primary)
            started_there = os.path.join(c.dir, "run", f"{other}-{module}.out")
            self.assertFalse(os.path.exists(started_there),
                             f"{module}'s service ran on {other} at the cold start")

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
        # Waiting for replication.timeout (or a Hello's answer) would hold them longer than it.
        self.assertLess(outage, REPLICATION_TIMEOUT_S)

    def test_the_node_that_reaches_the_witness_serves_once_its_start_blackout_ends(self):
        c = self.start(witness=True, wait_out_witness_blackout=False)
        beta = c.writer("beta")
        in_blackout = c.witness_started + WITNESS_LEASE_S - time.monotonic()
        self.assertGreater(in_blackout, 0.5, "the pair started too late to cut it in the blackout")
        c.topology.partition("a", "b")
        c.topology.partition("a", "w")
        limit = in_blackout + 2 * REPLICATION_TIMEOUT_S + 5
        c.wait_state("b", "beta", "ALONE", timeout=limit)
        c.wait_state("b", "alpha", "ALONE", timeout=limit)
        beta.wait_acks(20, timeout=30)  # the client writes to beta on b again
        beta.stop()
        log = c.log_text("b")
        self.assertIn("this copy, fenced, is up to date after all", log)
        self.assertNotIn("handed over to a", log)


if __name__ == "__main__":
    BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
