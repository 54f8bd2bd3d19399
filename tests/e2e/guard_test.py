"""End-to-end: the guard leaves nothing serving on a node whose daemon is gone.

A real pair (duet_cluster.py) with one module whose start_prim starts two long-running
applications: one left in the script's process group, one that moves to its own session
(setsid), both working in the module's mount; and a VIP on one end of a veth pair this test
creates in the host's network namespace (the pair shares it: both nodes run on 127.0.0.x there;
this kernel has no dummy interfaces) and removes at the end. Run by ctest (as root): python3 guard_test.py BUILD_DIR
"""

import os
import signal
import subprocess
import sys
import unittest

from duet_cluster import Cluster, process_alive

BIN = None
VIP = "198.18.77.10"


def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout


START_PRIM = """#!/bin/sh
# The application, twice: one in this script's process group, one in a session of its own.
cd "{mnt}"
sh -c 'echo $$ > "{runs}/group-$DUET_NODE.pid"; exec sleep 1000' </dev/null >/dev/null 2>&1 &
setsid sh -c 'echo $$ > "{runs}/session-$DUET_NODE.pid";
  while :; do date > "{mnt}/heartbeat-$DUET_NODE" 2>/dev/null; sleep 0.2; done' \\
  </dev/null >/dev/null 2>&1 &
exit 0
"""

STOP_PRIM = """#!/bin/sh
for f in "{runs}"/group-$DUET_NODE.pid "{runs}"/session-$DUET_NODE.pid; do
  [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; rm -f "$f"
done
exit 0
"""


class GuardTest(unittest.TestCase):
    def setUp(self):
        self.interface = f"duetg{os.getpid() % 100000}"
        peer = self.interface + "p"
        run("ip", "link", "add", self.interface, "type", "veth", "peer", "name", peer)
        self.addCleanup(subprocess.run, ["ip", "link", "del", self.interface],
                        capture_output=True)
        run("ip", "link", "set", peer, "up")
        run("ip", "link", "set", self.interface, "up")
        self.cluster = Cluster(BIN, [("web", "a")], module_lines={"web": [
            f'vips = [{{ address = "{VIP}/24", interface = "{self.interface}" }}]',
            'scripts = "SCRIPTS"']})
        self.addCleanup(self.cluster.close)
        c = self.cluster
        self.runs = os.path.join(c.dir, "runs")
        scripts = os.path.join(c.dir, "scripts")
        os.makedirs(self.runs)
        os.makedirs(scripts)
        for name, text in (("start_prim", START_PRIM), ("stop_prim", STOP_PRIM)):
            path = os.path.join(scripts, name)
            with open(path, "w") as f:
                f.write(text.format(mnt=c.mountpoint("web"), runs=self.runs))
            os.chmod(path, 0o755)
        with open(c.config) as f:
            config = f.read()
        with open(c.config, "w") as f:
            f.write(config.replace('"SCRIPTS"', f'"{scripts}"'))

    # What a user checks.
    def vip_present(self):
        return VIP in run("ip", "-o", "addr", "show", "dev", self.interface)

    def applications(self, node):
        """The PIDs of the node's two applications once both run."""
        pids = []
        for kind in ("group", "session"):
            try:
                with open(os.path.join(self.runs, f"{kind}-{node}.pid")) as f:
                    pid = int(f.read())
            except (OSError, ValueError):
                return None
            if not process_alive(pid):
                return None
            pids.append(pid)
        return pids

    def duet_mounted(self, pid):
        """Whether a Duet mount is at the module's directory in pid's mount namespace."""
        mnt = self.cluster.mountpoint("web")
        with open(f"/proc/{pid}/mountinfo") as f:
            return any(line.split()[4] == mnt and " - fuse.duet " in line for line in f)

    def guard_log(self, node):
        with open(self.cluster.log_path(node), errors="replace") as f:
            return f.read()

    def start_pair(self, vip=True):
        c = self.cluster
        c.start("a")
        c.start("b")
        c.wait_state("a", "web", "PRIM")
        c.wait_state("b", "web", "SECOND")
        if vip:
            c.wait_for("the VIP on a", self.vip_present, 30)
        return c.wait_for("a's applications", lambda: self.applications("a"), 30)

    def assert_nothing_left_serving(self, guard, apps):
        c = self.cluster
        c.wait_for("a's applications to be killed",
                   lambda: not any(process_alive(p) for p in apps), 15)
        c.wait_for("a's mount to be detached", lambda: not self.duet_mounted(guard), 15)

    def test_a_killed_daemon_leaves_no_vip_application_or_mount_and_is_restarted(self):
        c = self.cluster
        apps = self.start_pair()
        # b keeps out of it, so nothing but a itself can put the VIP back.
        c.duetctl("b", "stop", "web")
        c.wait_for("b to stop web", lambda: c.module_status("b", "web")["state"] == "STOP", 30)
        guard = c.pids["a"].pid
        daemon = c.daemon_pid("a")
        os.kill(daemon, signal.SIGKILL)
        c.wait_for("the VIP to leave a", lambda: not self.vip_present(), 15)
        self.assert_nothing_left_serving(guard, apps)
        c.wait_for("the guard to log why", lambda: "guard: duetd (pid %d) was killed by signal "
                   "9 (SIGKILL)" % daemon in self.guard_log("a"), 15)
        log = self.guard_log("a")
        self.assertIn(f"guard: released VIP {VIP}/24 from {self.interface}", log)
        self.assertIn("guard: detached the mount at " + c.mountpoint("web"), log)
        self.assertRegex(log, r"guard: killed process group \d+: ")
        self.assertRegex(log, r"guard: killed what duetd's processes left running: .*\(sh\)")
        # The guard starts a new daemon, which runs web again on a: mount, VIP, applications.
        restarted = c.daemon_pid("a", not_pid=daemon)
        self.assertEqual(c.pids["a"].poll(), None)
        c.wait_for("web back on a", lambda: (c.module_status("a", "web") or {}).get("role")
                   == "primary", 60)
        c.wait_for("the VIP back on a", self.vip_present, 30)
        new_apps = c.wait_for("a's applications again", lambda: self.applications("a"), 30)
        self.assertTrue(self.duet_mounted(guard))
        self.assertEqual(c.daemon_pid("a"), restarted)
        self.assertFalse(set(new_apps) & set(apps))
        c.duetctl("b", "start", "web")
        c.wait_state("b", "web", "SECOND", timeout=60)
        c.wait_state("a", "web", "PRIM", timeout=30)

    def test_a_killed_primary_daemon_is_taken_over_and_fails_back(self):
        c = self.cluster
        apps = self.start_pair()
        guard = c.pids["a"].pid
        daemon = c.daemon_pid("a")
        c.sh("a", f"echo before > {c.mountpoint('web')}/before")
        os.kill(daemon, signal.SIGKILL)
        self.assert_nothing_left_serving(guard, apps)
        # b sees the replication connection close and takes web over at once (a's guard waits
        # 1s before restarting a's daemon); then web fails back to a, b secondary again.
        c.wait_for("b to take web over", lambda: "web/start_prim: started" in c.log_tail("b", 400),
                   30)
        c.daemon_pid("a", not_pid=daemon)
        c.wait_state("a", "web", "PRIM", timeout=90)
        c.wait_state("b", "web", "SECOND", timeout=30)
        c.wait_for("the VIP", self.vip_present, 30)
        c.wait_for("a's applications again", lambda: self.applications("a"), 30)
        self.assertEqual(c.sh("a", f"cat {c.mountpoint('web')}/before").stdout, "before\n")
        self.assertIn("guard: restarting duetd in 1s", self.guard_log("a"))

    def test_sigterm_to_the_guard_leaves_no_application_and_no_mount(self):
        c = self.cluster
        apps = self.start_pair()
        ns = c.namespaces["a"]
        guard = c.pids["a"]
        guard.send_signal(signal.SIGTERM)
        self.assertEqual(guard.wait(timeout=60), 0, c.log_tail("a"))
        self.assertFalse([p for p in apps if process_alive(p)])
        # Nothing is left in a's mount namespace, so neither is its mount.
        self.assertEqual(c._pids_in_namespace(ns), [])
        log = self.guard_log("a")
        self.assertIn("guard: stopping on signal 15 (SIGTERM)", log)
        self.assertIn("duetd (pid", log)
        self.assertNotIn("restarting", log)

    def test_a_vip_that_cannot_be_assigned_is_the_modules_problem_in_status(self):
        c = self.cluster
        with open(c.config) as f:
            config = f.read()
        with open(c.config, "w") as f:
            f.write(config.replace(f'interface = "{self.interface}"', 'interface = "nosuchif0"'))
        self.start_pair(vip=False)  # the module serves, but without its VIP
        problem = c.module_status("a", "web")["problem"]
        self.assertEqual(problem, f"cannot assign VIP {VIP}/24 on nosuchif0: no such interface")
        self.assertEqual(c.module_status("b", "web")["problem"], "")
        self.assertIn("problem: cannot assign VIP", c.duetctl("a", "status").stdout)
        self.assertIn(problem, c.log_tail("a"))

    def test_sigterm_to_a_lone_daemon_kills_what_its_scripts_left_in_their_groups(self):
        c = self.cluster
        c.start("a", guard=False)
        c.start("b")
        c.wait_state("a", "web", "PRIM")
        group_app, session_app = c.wait_for("a's applications", lambda: self.applications("a"))
        daemon = c.pids["a"]
        daemon.send_signal(signal.SIGTERM)
        self.assertEqual(daemon.wait(timeout=60), 0, c.log_tail("a"))
        self.assertFalse(process_alive(group_app))
        self.assertRegex(self.guard_log("a"), r"killed process group \d+ \(duetd stopping\)")
        # Without its guard nobody finds what left its group: --no-guard is for debugging.
        self.assertTrue(process_alive(session_app))
        os.kill(session_app, signal.SIGKILL)


if __name__ == "__main__":
    BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
