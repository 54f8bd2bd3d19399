"""End-to-end: two real duetd processes replicate a module through real FUSE mounts.

Run by ctest (as root, which CI is): python3 two_nodes_test.py BUILD_DIR
"""

import datetime
import os
import subprocess
import sys
import time
import unittest

from duet_cluster import HEARTBEAT_TIMEOUT_S, Cluster, ClusterError, tree_of
from tree_compare import differences

BIN = None


def wall_seconds(at):
    """Status's "at" (UTC, RFC 3339 with milliseconds) as Unix seconds."""
    return datetime.datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


class TwoNodesTest(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(BIN, [("web", "a")])
        self.addCleanup(self.cluster.close)

    def start_pair(self):
        c = self.cluster
        c.start("a")
        c.start("b")
        c.wait_state("a", "web", "PRIM")
        c.wait_state("b", "web", "SECOND")

    def test_writes_through_the_primary_mount_are_on_the_secondary_when_they_return(self):
        c = self.cluster
        self.start_pair()
        mnt = c.mountpoint("web")
        c.sh("a", f"printf 'hello duet' > {mnt}/greeting")
        with open(os.path.join(c.backing("b", "web"), "greeting"), "rb") as f:
            self.assertEqual(f.read(), b"hello duet")
        # A larger file, directories, a rename over an existing name, a symlink, a mode, an
        # unlink, and names with spaces and UTF-8.
        c.sh("a", f"head -c 3000000 /dev/urandom > '{mnt}/big file'")
        c.sh("a", f"mkdir -p '{mnt}/dir/sub' && echo one > '{mnt}/dir/sub/ünï cödé.txt'")
        c.sh("a", f"echo old > {mnt}/target && echo new > {mnt}/source && "
                  f"mv {mnt}/source {mnt}/target")
        c.sh("a", f"ln -s 'big file' {mnt}/link && chmod 0600 {mnt}/greeting")
        c.sh("a", f"echo gone > {mnt}/tmp && rm {mnt}/tmp")
        c.sh("a", f"truncate -s 1000 '{mnt}/big file'")
        self.assertEqual(tree_of(c.backing("a", "web")), tree_of(c.backing("b", "web")))
        self.assertEqual(tree_of(c.backing("b", "web"))["target"][2], b"new\n")
        # What the application sees through its mount is the same tree.
        r = c.sh("a", f"cat {mnt}/target {mnt}/dir/sub/*")
        self.assertEqual(r.stdout, "new\none\n")

    def test_owners_times_and_xattrs_set_through_the_primary_arrive_identical(self):
        c = self.cluster
        self.start_pair()
        mnt = c.mountpoint("web")
        c.sh("a", f"echo data > {mnt}/owned && chown 1234:5678 {mnt}/owned")
        c.sh("a", f"touch -d '2001-02-03 04:05:06.789' {mnt}/owned")
        # setfattr is not installed everywhere: python's os.setxattr is the same system call.
        c.sh("a", f"python3 -c \"import os; os.setxattr('{mnt}/owned', 'user.tag', b'v1')\"")
        c.sh("a", f"mkfifo -m 0640 {mnt}/pipe")
        for name in ("owned", "pipe"):
            a = os.lstat(os.path.join(c.backing("a", "web"), name))
            b = os.lstat(os.path.join(c.backing("b", "web"), name))
            self.assertEqual((a.st_mode, a.st_uid, a.st_gid), (b.st_mode, b.st_uid, b.st_gid),
                             name)
        a = os.lstat(os.path.join(c.backing("a", "web"), "owned"))
        b = os.lstat(os.path.join(c.backing("b", "web"), "owned"))
        self.assertEqual((b.st_uid, b.st_gid), (1234, 5678))
        self.assertEqual(a.st_mtime_ns, b.st_mtime_ns)
        self.assertEqual(a.st_atime_ns, b.st_atime_ns)
        self.assertEqual(os.getxattr(os.path.join(c.backing("b", "web"), "owned"), "user.tag"),
                         b"v1")

    def test_the_secondary_mount_is_read_only_and_shows_what_the_primary_wrote(self):
        c = self.cluster
        self.start_pair()
        mnt = c.mountpoint("web")
        c.sh("a", f"echo first > {mnt}/f")
        r = c.sh("b", f"echo mine > {mnt}/g", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Read-only file system", r.stderr)
        self.assertEqual(c.sh("b", f"cat {mnt}/f").stdout, "first\n")
        c.sh("a", f"echo second > {mnt}/f")
        self.assertEqual(c.sh("b", f"cat {mnt}/f").stdout, "second\n")

    def test_a_primary_crash_fails_over_and_its_return_resyncs_and_fails_back(self):
        c = self.cluster
        self.start_pair()
        mnt = c.mountpoint("web")
        c.sh("a", f"echo before > {mnt}/before")
        c.kill("a")  # kill -9: no goodbye to the peer
        c.wait_state("b", "web", "ALONE", timeout=30)
        c.sh("b", f"echo during > {mnt}/during && echo changed > {mnt}/before")
        self.assertEqual(c.sh("b", f"cat {mnt}/before {mnt}/during").stdout,
                         "changed\nduring\n")
        c.start("a")
        # Back on its default primary once resynced (failback = auto), b secondary again.
        c.wait_state("a", "web", "PRIM", timeout=60)
        c.wait_state("b", "web", "SECOND", timeout=30)
        self.assertEqual(tree_of(c.backing("a", "web")), tree_of(c.backing("b", "web")))
        self.assertEqual(c.sh("a", f"cat {mnt}/before {mnt}/during").stdout,
                         "changed\nduring\n")
        c.sh("a", f"echo after > {mnt}/after")
        with open(os.path.join(c.backing("b", "web"), "after"), "rb") as f:
            self.assertEqual(f.read(), b"after\n")
        # b's status still shows the failover after b's duetd restarts (issue 13).
        failover = c.module_status("b", "web")["last_failover"]
        self.assertIsNotNone(failover)
        self.assertEqual((failover["from"], failover["cause"]), ("a", "peer lost"))
        c.kill("b")
        c.start("b")
        c.wait_state("b", "web", "SECOND", timeout=30)
        after_restart = c.module_status("b", "web")["last_failover"]
        self.assertIsNotNone(after_restart, "the failover was forgotten at b's restart")
        for field in ("from", "cause", "duration_seconds"):
            self.assertEqual(after_restart[field], failover[field], field)
        self.assertAlmostEqual(wall_seconds(after_restart["at"]), wall_seconds(failover["at"]),
                               delta=0.05)

    def test_a_replaced_secondary_disk_is_resynced_whole_with_its_hard_links_kept(self):
        """b comes back with an empty disk (no data, no metadata): a full resync. A file with
        several names arrives as one file with those names (it arrived as separate copies, so
        a later write through one name reached only that name on b)."""
        c = self.cluster
        self.start_pair()
        mnt = c.mountpoint("web")
        c.sh("a", f"mkdir -p {mnt}/mail/cur {mnt}/mail/new {mnt}/backup && "
                  f"head -c 300000 /dev/urandom > {mnt}/mail/new/msg && "
                  f"ln {mnt}/mail/new/msg {mnt}/mail/cur/msg && "
                  f"ln {mnt}/mail/new/msg {mnt}/backup/msg && "
                  f"echo alone > {mnt}/single")
        # The machine replaced had served a while: its datagrams were numbered far past what
        # a new run sends within the heartbeat timeout (a scenario's length, not a wait for
        # a state).
        time.sleep(3 * HEARTBEAT_TIMEOUT_S)
        c.replace_machine("b")
        c.wait_for("b's copy up to date after the full resync",
                   lambda: (c.module_status("b", "web") or {}).get("data") == "up to date",
                   timeout=60)
        with open(c.log_path("b"), errors="replace") as log:
            self.assertIn("full resync", log.read())
        self.assertEqual(differences(c.backing("a", "web"), c.backing("b", "web"),
                                     mtime_slack_ns=5 * 10**9), [])
        names = [os.path.join(c.backing("b", "web"), p)
                 for p in ("mail/new/msg", "mail/cur/msg", "backup/msg")]
        inodes = {os.stat(n).st_ino for n in names}
        print(f"b after the full resync: {len(inodes)} inode(s) for 3 names, "
              f"link count {os.stat(names[0]).st_nlink}")
        self.assertEqual(len(inodes), 1)
        self.assertEqual(os.stat(names[0]).st_nlink, 3)
        # A write through one name is seen through the others on b.
        c.sh("a", f"printf changed | dd of={mnt}/backup/msg conv=notrunc status=none")
        for name in names:
            with open(name, "rb") as f:
                self.assertEqual(f.read(7), b"changed", name)

    def test_data_the_directory_held_before_the_first_start_becomes_the_modules(self):
        """An application that ran alone is made highly available: its directory already
        holds data when duetd first starts. The mount used to hide it (the application saw
        an empty directory); now a takes it in and b, blank, receives it whole."""
        c = self.cluster
        mnt = c.mountpoint("web")
        os.makedirs(os.path.join(mnt, "db"))
        with open(os.path.join(mnt, "db", "table"), "wb") as f:
            f.write(os.urandom(200000))
        os.link(os.path.join(mnt, "db", "table"), os.path.join(mnt, "db", "same"))
        with open(os.path.join(mnt, "config"), "w") as f:
            f.write("held before duet\n")
        before = tree_of(mnt)
        c.start("a")
        c.wait_for("a's module to start", lambda: c.module_status("a", "web") is not None)
        c.start("b")
        c.wait_state("a", "web", "PRIM")
        c.wait_state("b", "web", "SECOND")
        c.wait_for("b's copy up to date",
                   lambda: (c.module_status("b", "web") or {}).get("data") == "up to date")
        with open(c.log_path("a"), errors="replace") as log:
            self.assertIn("took in 2 entries", log.read())
        self.assertEqual(tree_of(c.backing("a", "web")), before)
        self.assertEqual(differences(c.backing("a", "web"), c.backing("b", "web"),
                                     mtime_slack_ns=5 * 10**9), [])
        self.assertEqual(c.sh("a", f"cat {mnt}/config").stdout, "held before duet\n")
        self.assertEqual(os.listdir(mnt), [])  # under the mounts: nothing left behind

    def test_a_second_duetd_for_the_same_node_is_refused_and_the_first_keeps_serving(self):
        c = self.cluster
        self.start_pair()
        second = subprocess.run(
            ["unshare", "-m", "--propagation", "private",
             os.path.join(BIN, "adapters/daemon/duetd"), "--config", c.config, "--node", "a"],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(second.returncode, 1, second.stderr)
        self.assertIn("another duetd runs with the state directory", second.stderr)
        mnt = c.mountpoint("web")
        c.sh("a", f"echo still > {mnt}/still")
        with open(os.path.join(c.backing("b", "web"), "still"), "rb") as f:
            self.assertEqual(f.read(), b"still\n")
        self.assertEqual(c.module_status("a", "web")["state"], "PRIM")

    def test_a_key_others_can_read_stops_duetd_at_start_with_the_reason(self):
        c = self.cluster
        os.chmod(os.path.join(c.dir, "cluster.key"), 0o644)
        with self.assertRaises(ClusterError) as caught:
            c.start("a")
            c.pids["a"].wait(timeout=30)
            c.wait_for("duetd a to exit", lambda: c.pids["a"].poll() is not None, 30)
            raise ClusterError(c.log_tail("a"))
        self.assertIn("644", str(caught.exception))


if __name__ == "__main__":
    BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
