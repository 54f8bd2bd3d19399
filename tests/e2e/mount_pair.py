"""The pair the mount's end-to-end tests share (mount_semantics_test.py, mount_restart_test.py):
nodes a and b in their own mount namespaces (duet_cluster.py), module MODULE primary on a,
an application agent (mount_agent.py) per node running mount_ops.py functions in that
node's mount namespace, and the comparison of the two backing copies (tree_compare.py)."""

import json
import os
import select
import subprocess
import sys
import unittest

from duet_cluster import Cluster
from tree_compare import differences

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = None  # the build directory: take_build_dir_argument()
MODULE = "web"
HIDDEN = ".duet-unlinked"  # open-unlinked files, at the root of each directory's mount (C15)
# The mtime a write, truncate, fallocate or create sets is the primary's, carried with the
# mutation (engine/replication/file_attributes.h): the copies' files agree to the
# nanosecond. Directories' times stay each node's own and are not compared.
MTIME_SLACK_NS = 0


class Agent:
    """mount_agent.py in `node`'s mount namespace; call() runs one mount_ops function."""

    def __init__(self, cluster, node):
        self.node = node
        self.proc = subprocess.Popen(
            ["nsenter", "-t", str(cluster.pids[node].pid), "-m", "--", sys.executable,
             os.path.join(HERE, "mount_agent.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def call(self, op, *args, timeout=180):
        self.proc.stdin.write(json.dumps({"op": op, "args": list(args)}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise AssertionError(f"{op} on {self.node}: no answer within {timeout}s")
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"{op} on {self.node}: the agent exited")
        answer = json.loads(line)
        if "error" in answer:
            raise AssertionError(f"{op} on {self.node} failed:\n{answer['error']}")
        return answer["ok"]

    def close(self):
        self.proc.kill()
        self.proc.wait(timeout=30)
        self.proc.stdin.close()
        self.proc.stdout.close()


def figure(name, value):
    print(f"  [figure] {name}: {value}", flush=True)


ZONE = 64 << 10  # the module's zone size (duet.toml default): holes are kept per zone
SPARSE_SIZE = int(os.environ.get("DUET_SPARSE_SIZE", 2 << 30))


def data_zones(path, zone=ZONE):
    """The zones of `path` that SEEK_DATA finds data in (what `du` counts, per zone)."""
    zones = set()
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        at = 0
        while at < size:
            try:
                data = os.lseek(fd, at, os.SEEK_DATA)
            except OSError:  # ENXIO: no data past `at`
                break
            end = os.lseek(fd, data, os.SEEK_HOLE)
            zones.update(range(data // zone, (end - 1) // zone + 1))
            at = end
    finally:
        os.close(fd)
    return zones


class PairWithAgents(unittest.TestCase):
    """One pair (module MODULE, primary a) for the whole class, and a mount agent on each of
    AGENT_NODES."""
    AGENT_NODES = ("a", "b")

    @classmethod
    def setUpClass(cls):
        cls.cluster = c = Cluster(BIN, [(MODULE, "a")])
        try:
            c.start("a")
            c.start("b")
            c.wait_state("a", MODULE, "PRIM")
            c.wait_state("b", MODULE, "SECOND")
            for node in cls.AGENT_NODES:
                setattr(cls, node, Agent(c, node))
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for node in cls.AGENT_NODES:
            agent = getattr(cls, node, None)
            if agent is not None:
                agent.close()
        cls.cluster.close()

    def mnt(self, *parts):
        return os.path.join(self.cluster.mountpoint(MODULE), *parts)

    def backing(self, node, *parts):
        return os.path.join(self.cluster.backing(node, MODULE), *parts)


class CheckedPair(PairWithAgents):
    """A pair whose tests end by comparing the copies (assertCopiesEqual)."""

    def setUp(self):
        self.log_offsets = {n: os.path.getsize(self.cluster.log_path(n)) for n in ("a", "b")}

    def new_log(self, node):
        with open(self.cluster.log_path(node), "rb") as f:
            f.seek(self.log_offsets[node])
            return f.read().decode(errors="replace")

    def assertCopiesEqual(self, subdir):
        """The secondary's backing copy of `subdir` equals the primary's; mtimes within
        MTIME_SLACK_NS (see there)."""
        diff = differences(self.backing("a", subdir), self.backing("b", subdir),
                           mtime_slack_ns=MTIME_SLACK_NS, label_a="primary",
                           label_b="secondary")
        self.assertEqual(diff, [], f"the copies of {subdir} differ")
        # And the pair never degraded on the way (a refused apply does that, then resyncs).
        self.assertEqual(self.cluster.module_status("a", MODULE)["state"], "PRIM")
        for node in ("a", "b"):
            for sign in ("apply failed", "applying the stream failed", "PRIM -> ALONE",
                         "-> syncing"):
                self.assertNotIn(sign, self.new_log(node), node)


def take_build_dir_argument():
    """The build directory, the first command-line argument, taken out of sys.argv."""
    global BIN
    BIN = sys.argv.pop(1)
    return BIN
