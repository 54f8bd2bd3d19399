"""End-to-end: a peer that holds the cluster key cannot make a real duetd write outside its
backing directory (issue 13: "a path with `..` or through a symlink from the peer never leaves
the backing dir").

Node b is a real duetd (in its own mount namespace, as duet_cluster.py starts it). Node a is
duet-forged-peer (tests/e2e/forged_peer/): a compromised or buggy peer speaking the real wire
with the real key. It makes b its secondary, then streams writes whose paths escape: `..`,
absolute paths, paths through symlinks it replicated into b's backing directory (one to a
directory outside, one to a canary file outside), a rename and a link whose second path
escapes, and paths beside the module's directories. Plain writes before and after must land.

Run by ctest (as root, which CI is): python3 forged_peer_test.py BUILD_DIR
"""

import os
import re
import signal
import subprocess
import sys
import time
import unittest

from duet_cluster import Cluster, ClusterError

BIN = None
MODULE = "web"

# What b must do with each step of the forged peer (its "STEP name lsn n: outcome" lines).
# Applied: plain writes, the symlinks themselves, and mutations whose last component is a
# symlink that the store carries out on the symlink alone (an unlink beneath a symlink finds no
# such name in the tree; a chmod of a symlink changes only its times; a remove-tree of one
# removes the symlink, not what it points at).
APPLIED = [
    "plain-write", "symlink-to-outside-dir", "symlink-to-canary", "unlink-through-symlink-dir",
    "chmod-symlink-to-canary", "remove-tree-symlink-to-outside-dir", "plain-write-after",
]
# Refused by b's store (a symlink on the way, or a symlink as the last component), by the
# daemon (a name beside the module's directories) or by the kernel (a user xattr on a
# symlink): the apply changed nothing.
REFUSED = [
    "write-through-symlink-dir", "create-through-symlink-dir", "mkdir-through-symlink-dir",
    "write-to-symlink-to-canary", "truncate-symlink-to-canary", "rename-into-symlink-dir",
    "link-into-symlink-dir", "write-beside-the-directories", "write-to-unknown-directory",
    "chmod-through-symlink-dir", "setxattr-through-symlink-dir", "setxattr-symlink-to-canary",
]
# What b's log says of each store refusal of an escape (after "the store refused a mutation,
# not applied: ").
STORE_REFUSALS = [
    "refused: write '0/esc_dir/pwned': a directory on the way is a symlink",
    "refused: create '0/esc_dir/created': a directory on the way is a symlink",
    "refused: mkdir '0/esc_dir/newdir': a directory on the way is a symlink",
    "ELOOP: write '0/esc_file': is a symlink, which the store never follows",
    "ELOOP: truncate '0/esc_file': is a symlink, which the store never follows",
    "refused: rename '0/inside.txt' -> '0/esc_dir/stolen': a directory on the way is a symlink",
    "refused: link '0/inside.txt' -> '0/esc_dir/hardlink': a directory on the way is a symlink",
    "refused: setattr '0/esc_dir/canary': a directory on the way is a symlink",
    "refused: setxattr '0/esc_dir/canary': a directory on the way is a symlink",
]
# Refused by b's wire decoder: the frame never reaches the engine, the connection is reset.
UNDECODABLE = [
    "dotdot-path", "absolute-path", "absolute-path-outside-dir", "dotdot-inside-path",
    "rename-to-dotdot", "link-to-absolute",
]

CANARY_BYTES = b"the canary outside b's backing directory\n"
VICTIM_BYTES = b"a file outside that the forged peer tries to unlink\n"
OLD_MTIME_NS = 1_000_000_000 * 1_600_000_000  # 2020: any write would move it


def snapshot(path):
    """What a user compares of a file: bytes, mode, size, mtime, inode, link count, xattrs."""
    st = os.lstat(path)
    with open(path, "rb") as f:
        data = f.read()
    return (data, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino, st.st_nlink,
            sorted(os.listxattr(path)))


class ForgedPeerTest(unittest.TestCase):
    def setUp(self):
        if os.path.exists("/etc/duet-forged"):
            raise ClusterError("/etc/duet-forged exists before the test: remove it first")
        self.cluster = Cluster(BIN, [(MODULE, "a")])
        self.addCleanup(self.cluster.close)
        self.forged = None
        self.addCleanup(self.stop_forged_peer)
        self.outside = os.path.join(self.cluster.dir, "outside")
        os.mkdir(self.outside)
        self.canary = os.path.join(self.outside, "canary")
        self.victim = os.path.join(self.outside, "victim")
        for path, data in ((self.canary, CANARY_BYTES), (self.victim, VICTIM_BYTES)):
            with open(path, "wb") as f:
                f.write(data)
            os.chmod(path, 0o640)
            os.utime(path, ns=(OLD_MTIME_NS, OLD_MTIME_NS))
        self.forged_out = os.path.join(self.cluster.dir, "forged.out")

    def start_forged_peer(self):
        out = open(self.forged_out, "wb")
        self.forged = subprocess.Popen(
            [os.path.join(BIN, "tests/e2e/duet-forged-peer"), "--config", self.cluster.config,
             "--module", MODULE, "--outside-dir", self.outside, "--canary", self.canary],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
        out.close()

    def stop_forged_peer(self):
        if self.forged is None or self.forged.poll() is not None:
            return
        self.forged.send_signal(signal.SIGTERM)
        try:
            self.forged.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.forged.kill()
            self.forged.wait(timeout=10)

    def forged_output(self):
        with open(self.forged_out, errors="replace") as f:
            return f.read()

    def wait_for_forged_peer(self, timeout=180):
        """Waits for the forged peer's DONE; its step outcomes by name."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.forged_output()
            if "\nDONE\n" in "\n" + text:
                return dict(re.findall(r"^STEP (\S+) lsn \d+: (.+)$", text, re.M))
            if self.forged.poll() is not None:
                break
            time.sleep(0.05)
        self.fail(f"the forged peer did not finish (rc {self.forged.poll()}):\n"
                  f"{self.forged_output()}\n--- b's log:\n{self.cluster.log_tail('b', 80)}")

    def b_log(self):
        with open(self.cluster.log_path("b"), errors="replace") as f:
            return f.read()

    def test_forged_peer_paths_never_leave_the_backing_directory(self):
        c = self.cluster
        data_root = os.path.dirname(c.backing("b", MODULE))  # <state>/modules/web/data
        module_dir = os.path.dirname(data_root)
        before = {name: snapshot(os.path.join(self.outside, name))
                  for name in sorted(os.listdir(self.outside))}
        c.start("b", guard=False)
        b = c.pids["b"]
        self.start_forged_peer()
        steps = self.wait_for_forged_peer()
        context = f"\n--- forged peer:\n{self.forged_output()}\n--- b's log:\n{self.b_log()}"

        # The forged session reached b's store: plain writes and the symlinks landed.
        for name in APPLIED:
            self.assertEqual(steps.get(name), "applied", f"step {name}{context}")
        backing = c.backing("b", MODULE)
        with open(os.path.join(backing, "inside.txt"), "rb") as f:
            self.assertEqual(f.read(), b"forged but inside")
        with open(os.path.join(backing, "after.txt"), "rb") as f:
            self.assertEqual(f.read(), b"still replicating")
        self.assertEqual(os.readlink(os.path.join(backing, "esc_file")), self.canary)
        # The remove-tree of the symlink to the outside directory removed the symlink alone.
        self.assertFalse(os.path.lexists(os.path.join(backing, "esc_dir")))

        # Every escape was refused, by the store, the daemon or the decoder.
        for name in REFUSED:
            self.assertEqual(steps.get(name), "refused", f"step {name}{context}")
        for name in UNDECODABLE:
            self.assertEqual(steps.get(name), "connection reset", f"step {name}{context}")

        # Nothing outside b's backing directory was created or changed.
        after = {name: snapshot(os.path.join(self.outside, name))
                 for name in sorted(os.listdir(self.outside))}
        self.assertEqual(after, before, context)
        with open(self.canary, "rb") as f:
            self.assertEqual(f.read(), CANARY_BYTES)
        self.assertEqual(os.stat(self.canary).st_mtime_ns, OLD_MTIME_NS)
        self.assertFalse(os.path.lexists("/etc/duet-forged"))
        for escaped in (os.path.join(module_dir, "outside"),      # "../outside"
                        os.path.join(data_root, "x"),             # "0/a/../../x"
                        os.path.join(module_dir, "renamed"),      # "../renamed"
                        os.path.join(data_root, "forged-beside"),
                        os.path.join(data_root, "7")):
            self.assertFalse(os.path.lexists(escaped), escaped)
        self.assertEqual(sorted(os.listdir(data_root)), ["0"])
        # The refused rename and link left the file where it was, with one name.
        self.assertEqual(os.stat(os.path.join(backing, "inside.txt")).st_nlink, 1)

        # b is still running, serving status, and still b's secondary of the forged owner.
        self.assertIsNone(b.poll(), f"b's duetd exited{context}")
        m = c.module_status("b", MODULE)
        self.assertIsNotNone(m, f"no status from b{context}")
        self.assertEqual(m["state"], "SECOND", f"{m}{context}")

        # b's log names every refusal with the path it refused.
        log = self.b_log()
        for path, what in (("../outside", "has a '..' component"),
                           ("/etc/duet-forged", "is absolute"),
                           (self.outside + "/absolute", "is absolute"),
                           ("0/a/../../x", "has a '..' component"),
                           ("../renamed", "has a '..' component"),
                           (self.outside + "/linked", "is absolute")):
            self.assertRegex(log, r"a replication frame does not decode: .*"
                             + re.escape(path) + r".*" + re.escape(what), context)
        for path in ("forged-beside", "7/forged"):
            self.assertRegex(log, r"refused a mutation outside the module's directories, not "
                             r"applied: .*" + re.escape(path), context)
        for refusal in STORE_REFUSALS:
            self.assertIn("the store refused a mutation, not applied: " + refusal, log, context)

if __name__ == "__main__":
    BIN = sys.argv.pop(1) if len(sys.argv) > 1 else "build-test"
    unittest.main(verbosity=2)
