"""End-to-end: the mount across node restarts, a full resync and a full disk (issue 15), on
the pair of mount_pair.py: a file unlinked while open and held across crashes, a sparse VM
disk resynced whole to a blank peer, a write that fills both disks.

Run by ctest (as root, which CI is): python3 mount_restart_test.py BUILD_DIR [unittest arguments]
"""

import os
import re
import subprocess
import sys
import time
import unittest

import mount_pair
from duet_cluster import Cluster
from mount_pair import (HIDDEN, MODULE, MTIME_SLACK_NS, SPARSE_SIZE, ZONE, Agent,
                        PairWithAgents, data_zones, figure)
from tree_compare import differences


class UnlinkedFileAcrossRestartTest(PairWithAgents):
    """Nodes die while an application holds a file it unlinked, leaving its entry in the
    hidden directory of both copies: whichever node is primary next empties its own as its
    mount becomes writable (no handle survives a crash), and the other copy follows by the
    stream or the resync; the copies end equal, hidden directory included."""
    AGENT_NODES = ("a",)

    def hidden_entries(self, node):
        try:
            return sorted(os.listdir(self.backing(node, HIDDEN)))
        except FileNotFoundError:
            return []

    def test_a_leftover_entry_is_emptied_when_the_restarted_pair_has_a_primary(self):
        """Both daemons die (a power cut) while the entry exists on both copies; after the
        restart, the primary's mount empties it and the secondary follows."""
        c = self.cluster
        self.a.call("make_dirs", self.mnt("cut"))
        r = self.a.call("unlinked_while_open", self.mnt("cut", "f"), True)
        self.assertEqual((r["unlink"], r["fsync_after_unlink"]), ("ok", "ok"))
        left = self.hidden_entries("a")
        self.assertEqual((len(left), self.hidden_entries("b")), (1, left))
        c.kill("a")
        c.kill("b")
        c.start("a")
        c.start("b")
        c.wait_state("a", MODULE, "PRIM", timeout=90)
        c.wait_state("b", MODULE, "SECOND", timeout=30)
        c.wait_for("the leftover entry removed from both copies",
                   lambda: not self.hidden_entries("a") and not self.hidden_entries("b"))
        self.assertEqual(differences(self.backing("a"), self.backing("b"),
                                     mtime_slack_ns=MTIME_SLACK_NS), [])
        self.replace_agent()

    def replace_agent(self):
        """A new agent on a, whose old one died with its node."""
        self.a.close()
        type(self).a = Agent(self.cluster, "a")

    def test_the_new_primary_empties_the_hidden_directory_and_the_old_one_follows(self):
        c = self.cluster
        self.a.call("make_dirs", self.mnt("held"))
        r = self.a.call("unlinked_while_open", self.mnt("held", "f"), True)
        self.assertEqual((r["unlink"], r["fsync_after_unlink"]), ("ok", "ok"))
        self.assertEqual(len(self.hidden_entries("a")), 1)
        self.assertEqual(self.hidden_entries("b"), self.hidden_entries("a"))
        left = self.hidden_entries("a")
        c.kill("a")  # kill -9, the application with it
        c.wait_state("b", MODULE, "ALONE", timeout=30)
        c.wait_for("b's hidden directory emptied as b became primary",
                   lambda: not self.hidden_entries("b"))
        self.assertEqual(self.hidden_entries("a"), left)  # a is down: its copy as it was
        c.start("a")
        c.wait_state("a", MODULE, "PRIM", timeout=90)
        c.wait_state("b", MODULE, "SECOND", timeout=30)
        c.wait_for("a's hidden directory emptied too", lambda: not self.hidden_entries("a"))
        self.assertEqual(differences(self.backing("a"), self.backing("b"),
                                     mtime_slack_ns=MTIME_SLACK_NS), [])
        self.replace_agent()


class SparseFullResyncTest(PairWithAgents):
    """A thin VM disk (2 GiB, a few MiB written) on a pair whose secondary comes back with
    a new, empty disk: the full resync sends the written zones and holes for the rest, and
    the new copy is as sparse as the primary's."""
    AGENT_NODES = ("a",)

    def test_a_sparse_file_stays_sparse_through_a_full_resync_to_a_blank_peer(self):
        c = self.cluster
        size, extents, extent = SPARSE_SIZE, 16, 256 << 10
        self.a.call("make_dirs", self.mnt("vm"))
        self.a.call("sparse_file", self.mnt("vm", "disk.img"), size, extents, extent)
        a_img = self.backing("a", "vm", "disk.img")
        written = extents * extent
        log_before = os.path.getsize(c.log_path("a"))
        # The machine is replaced: its whole state directory is gone (data, replication
        # metadata, the node's incarnation), and the pair finds itself again at once.
        started = time.monotonic()
        c.replace_machine("b")
        c.wait_for("b's copy up to date after the full resync",
                   lambda: (c.module_status("b", MODULE) or {}).get("data") == "up to date",
                   timeout=600)
        # A figure, not an assertion (speed belongs to bench/): the README's Known limits.
        figure("full resync of the 2 GiB sparse file to a blank peer, seconds (machine "
               "replaced until up to date)", f"{time.monotonic() - started:.1f}")
        b_img = self.backing("b", "vm", "disk.img")
        self.assertEqual(os.stat(b_img).st_size, size)
        self.assertEqual(data_zones(b_img), data_zones(a_img))
        a_blocks, b_blocks = os.stat(a_img).st_blocks * 512, os.stat(b_img).st_blocks * 512
        figure("sparse 2 GiB file, allocated on the primary / the resynced secondary, KiB",
               f"{a_blocks >> 10} / {b_blocks >> 10}")
        self.assertLessEqual(b_blocks, a_blocks + 2 * extents * ZONE)
        def resyncs_logged():
            # b reports up to date as soon as it has the source's ResyncDone; a logs its
            # line once b's answer closes its map, a moment later.
            with open(c.log_path("a"), "rb") as f:
                f.seek(log_before)
                log = f.read().decode(errors="replace")
            return re.findall(r"resync done: \d+ bytes sent \((\d+) bytes of data, (\d+) "
                              r"zones as holes\)", log)
        c.wait_for("a's log says its resync is done", resyncs_logged, timeout=60)
        sent = resyncs_logged()
        data_bytes, holes = map(int, sent[-1])
        figure("full resync of the 2 GiB sparse file: data bytes sent, zones sent as holes",
               f"{data_bytes}, {holes}")
        # Each written extent's zones go whole (zeros around the data in them included).
        self.assertLessEqual(data_bytes, written + 2 * extents * ZONE)
        self.assertGreater(holes, (size - written) // ZONE - 2 * extents)
        self.assertEqual(differences(self.backing("a", "vm"), self.backing("b", "vm"),
                                     mtime_slack_ns=MTIME_SLACK_NS), [])


WRITE_UNTIL_FULL = """
import errno, os, sys
path, chunk = sys.argv[1], b"d" * (64 << 10)
fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
written = 0
try:
    while written < (64 << 20):
        written += os.write(fd, chunk)
    print("no error", written)
except OSError as e:
    print(errno.errorcode[e.errno], written)
finally:
    os.close(fd)
"""


class FullDiskTest(unittest.TestCase):
    """Both nodes keep the module's data on a small file system of the same size (a tmpfs
    of FULL_DISK_BYTES over each backing root, made and removed here), so a file that
    grows fills both at the same write: the application gets ENOSPC for it, as on a local
    disk, and the pair stays in sync with no resync (the store reserves a write's space
    before writing it, so the refused write changed nothing on either copy)."""
    FULL_DISK_BYTES = 8 << 20

    @classmethod
    def setUpClass(cls):
        cls.cluster = c = Cluster(mount_pair.BIN, [(MODULE, "a")])
        cls.mounted = []
        try:
            for node in ("a", "b"):
                root = os.path.dirname(c.backing(node, MODULE))
                os.makedirs(root, mode=0o700)
                subprocess.run(["mount", "-t", "tmpfs", "-o",
                                f"size={cls.FULL_DISK_BYTES},mode=0700", "tmpfs", root],
                               check=True, capture_output=True, text=True)
                cls.mounted.append(root)
            c.start("a")
            c.start("b")
            c.wait_state("a", MODULE, "PRIM")
            c.wait_state("b", MODULE, "SECOND")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for node in list(cls.cluster.pids):
            try:
                cls.cluster.kill(node)
            except Exception:  # keep cleaning up
                pass
        for root in cls.mounted:
            subprocess.run(["umount", "-l", root], check=False)
        cls.cluster.close()

    def test_a_write_that_fills_both_disks_fails_with_enospc_and_the_pair_stays_in_sync(self):
        c = self.cluster
        log_before = {n: os.path.getsize(c.log_path(n)) for n in ("a", "b")}
        path = os.path.join(c.mountpoint(MODULE), "grows")
        r = c.sh("a", f"{sys.executable} -c '{WRITE_UNTIL_FULL}' {path}")
        err, written = r.stdout.split()
        self.assertEqual(err, "ENOSPC", r.stdout + r.stderr)
        self.assertGreater(int(written), 0)
        # The pair goes on: a write that fits (an overwrite) is acknowledged and replicated.
        c.sh("a", f"printf after | dd of={path} conv=notrunc status=none")
        self.assertEqual(c.module_status("a", MODULE)["state"], "PRIM")
        self.assertEqual(c.module_status("b", MODULE)["state"], "SECOND")
        self.assertEqual(differences(c.backing("a", MODULE), c.backing("b", MODULE),
                                     mtime_slack_ns=MTIME_SLACK_NS), [])
        for node in ("a", "b"):
            with open(c.log_path(node), "rb") as f:
                f.seek(log_before[node])
                log = f.read().decode(errors="replace")
            for sign in ("apply failed", "applying the stream failed", "PRIM -> ALONE",
                         "-> syncing", "resync"):
                self.assertNotIn(sign, log, node)


if __name__ == "__main__":
    mount_pair.take_build_dir_argument()
    unittest.main(verbosity=2)
