"""The systemd units of adapters/systemd: `systemd-analyze verify` finds nothing to say about
them, and each unit's ExecStart command line, with the build's binary and a test
configuration in place of the installed ones, starts the program and stops it cleanly on
SIGTERM, the signal systemd sends (KillMode=mixed: to the main process only).

Run by ctest (as root, which CI is): python3 systemd_units_test.py BUILD_DIR
systemd-analyze comes from Debian's `systemd` package (scripts/install_deps.sh).
"""

import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BIN = None
UNITS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "adapters",
                     "systemd")
INSTALLED = {
    "/usr/local/sbin/duetd": "adapters/daemon/duetd",
    "/usr/local/sbin/duet-witness": "adapters/witness/duet-witness",
}


def unit_settings(name):
    """[Service] and other settings of a unit: {key: [values]}."""
    settings = {}
    with open(os.path.join(UNITS, name)) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", "[")):
                continue
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def read_text(path):
    with open(path) as f:
        return f.read()


def wait_for(what, predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class SystemdUnitsTest(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.fail("the systemd unit test needs root (duetd mounts FUSE)")
        self.dir = tempfile.mkdtemp(prefix="duet-systemd-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.procs = []
        self.addCleanup(self.kill_leftovers)
        key = os.path.join(self.dir, "cluster.key")
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, (secrets.token_hex(32) + "\n").encode())
        os.close(fd)
        base = 23000 + (os.getpid() * 11) % 20000
        # The unit names no node: duetd takes the host name.
        self.node = socket.gethostname()
        os.makedirs(os.path.join(self.dir, "srv", "web"))
        self.config = os.path.join(self.dir, "duet.toml")
        with open(self.config, "w") as f:
            f.write("\n".join([
                "[cluster]", 'name = "units"', f'key_file = "{key}"',
                f'state_dir = "{self.dir}/state"',
                "[[node]]", f'name = "{self.node}"', f'heartbeat = ["127.0.0.2:{base}"]',
                f'replication = "127.0.0.2:{base + 1}"',
                f'admin_socket = "{self.dir}/duetd.sock"',
                "[[node]]", 'name = "peer-of-this-host"', f'heartbeat = ["127.0.0.3:{base}"]',
                f'replication = "127.0.0.3:{base + 1}"',
                "[witness]", f'address = "127.0.0.4:{base + 2}"', 'lease = "3s"',
                'renew_interval = "500ms"', 'drift_margin = "300ms"',
                "[[module]]", 'name = "web"', f'default_primary = "{self.node}"',
                f'directories = ["{self.dir}/srv/web"]', ""]))

    def kill_leftovers(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    def exec_start(self, unit, replacements):
        """The unit's ExecStart argv with the installed paths replaced."""
        (line,) = unit_settings(unit)["ExecStart"]
        argv = shlex.split(line)
        argv[0] = os.path.join(BIN, INSTALLED[argv[0]])
        return [replacements.get(a, a) for a in argv]

    def start(self, argv, log):
        out = open(log, "ab")
        self.addCleanup(out.close)
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        self.procs.append(p)
        return p

    def stop_as_systemd_does(self, p, unit):
        """SIGTERM to the main process, then up to TimeoutStopSec (default 90 s)."""
        (timeout,) = unit_settings(unit).get("TimeoutStopSec", ["90s"])
        self.assertTrue(timeout.endswith("s"), timeout)
        p.send_signal(signal.SIGTERM)
        return p.wait(timeout=float(timeout[:-1]))

    def test_systemd_analyze_verify_finds_nothing_to_say(self):
        analyze = shutil.which("systemd-analyze")
        self.assertIsNotNone(analyze, "systemd-analyze is missing: scripts/install_deps.sh "
                                      "installs Debian's systemd package")
        # verify checks that ExecStart's program exists: the build's stands in.
        staged = os.path.join(self.dir, "units")
        os.makedirs(staged)
        paths = []
        for unit in sorted(os.listdir(UNITS)):
            with open(os.path.join(UNITS, unit)) as f:
                text = f.read()
            for installed, built in INSTALLED.items():
                text = text.replace(installed, os.path.join(os.path.abspath(BIN), built))
            paths.append(os.path.join(staged, unit))
            with open(paths[-1], "w") as f:
                f.write(text)
        self.assertEqual(sorted(os.listdir(UNITS)), ["duet-witness.service", "duetd.service"])
        r = subprocess.run([analyze, "verify", "--man=no", *paths], capture_output=True,
                           text=True, timeout=120)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))

    def test_duetd_unit_leaves_restarts_to_the_guard_and_stops_through_it(self):
        s = unit_settings("duetd.service")
        self.assertEqual(s["KillMode"], ["mixed"])
        self.assertEqual(s["Restart"], ["on-abnormal"])
        # Longer than the guard's 30 s wait for the daemon, plus its cleanup.
        self.assertGreater(float(s["TimeoutStopSec"][0].rstrip("s")), 30)
        self.assertFalse({"PrivateTmp", "ProtectSystem", "ProtectHome", "PrivateDevices",
                          "ReadOnlyPaths", "PrivateMounts"} & set(s),
                         "duetd's mounts must be the applications'")

    def test_duetd_exec_start_starts_the_node_and_sigterm_stops_it_cleanly(self):
        argv = self.exec_start("duetd.service", {"/etc/duet/duet.toml": self.config})
        self.assertEqual(argv[1:], ["--config", self.config])
        # A mount namespace of its own, so that nothing it mounts can outlive the test.
        log = os.path.join(self.dir, "duetd.log")
        guard = self.start(["unshare", "-m", "--propagation", "private", *argv], log)
        ctl = [os.path.join(BIN, "adapters/ctl/duetctl"), "--config", self.config, "status"]

        def answers():
            self.assertIsNone(guard.poll(), read_text(log))
            return subprocess.run(ctl, capture_output=True, timeout=30).returncode == 0

        wait_for("duetd's admin socket", answers)
        with open(f"/proc/{guard.pid}/task/{guard.pid}/children") as f:
            daemons = [int(pid) for pid in f.read().split()]
        self.assertEqual(len(daemons), 1, "the guard runs one daemon child")

        self.assertEqual(self.stop_as_systemd_does(guard, "duetd.service"), 0,
                         read_text(log))
        self.assertFalse(os.path.exists(f"/proc/{daemons[0]}"), "the daemon outlived its guard")
        self.assertNotEqual(subprocess.run(ctl, capture_output=True, timeout=30).returncode, 0)

    def test_witness_exec_start_serves_and_sigterm_stops_it_cleanly(self):
        state = os.path.join(self.dir, "witness-state")
        argv = self.exec_start("duet-witness.service", {"/etc/duet/duet.toml": self.config,
                                                        "/var/lib/duet-witness": state})
        self.assertEqual(argv[1:], ["--config", self.config, "--state-dir", state])
        s = unit_settings("duet-witness.service")
        self.assertEqual(s["StateDirectory"], ["duet-witness"])  # /var/lib/duet-witness
        log = os.path.join(self.dir, "witness.log")
        witness = self.start(argv, log)
        wait_for("the witness serving", lambda: "serving cluster units" in read_text(log))
        self.assertEqual(self.stop_as_systemd_does(witness, "duet-witness.service"), 0,
                         read_text(log))
        self.assertTrue(os.path.isdir(state))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: systemd_units_test.py BUILD_DIR")
    BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
