"""duet_fuse_try_mount stops cleanly on SIGTERM and SIGINT while applications use the mount:
exit status 0, the mount gone, and nothing on stderr (a sanitizer build reports a race, a
use after free or undefined behaviour there, and ThreadSanitizer exits 66).

Usage: try_mount_stop_test.py PATH_TO_duet_fuse_try_mount"""

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

TRY_MOUNT = None  # the binary: the first command-line argument


def mounted(path):
    with open("/proc/self/mounts") as mounts:
        return any(line.split()[1] == path for line in mounts)


class Load:
    """Threads that write with fsync, list and read the mount until stop() (or until the
    mount goes away under them: their errors then are expected and ignored)."""

    def __init__(self, mnt):
        self.mnt = mnt
        self.stopping = threading.Event()
        self.rounds = [0, 0, 0]
        self.threads = [threading.Thread(target=f, args=(i,), daemon=True)
                        for i, f in enumerate((self.write, self.list, self.list))]
        for t in self.threads:
            t.start()

    def write(self, i):
        try:
            while not self.stopping.is_set():
                name = os.path.join(self.mnt, "w%d" % (self.rounds[i] % 8))
                with open(name, "ab") as f:
                    f.write(b"x" * 4096)
                    f.flush()
                    os.fsync(f.fileno())
                self.rounds[i] += 1
        except OSError:
            pass

    def list(self, i):
        try:
            while not self.stopping.is_set():
                for name in os.listdir(self.mnt):
                    os.stat(os.path.join(self.mnt, name))
                self.rounds[i] += 1
        except OSError:
            pass

    def wait_for_rounds(self, count, timeout):
        deadline = time.monotonic() + timeout
        while min(self.rounds) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return min(self.rounds) >= count

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=30)


class TryMountStopTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="duet-try-mount-stop-")
        self.mnt = os.path.join(self.dir, "mnt")
        os.makedirs(os.path.join(self.dir, "module", "vol"))
        os.mkdir(self.mnt)

    def tearDown(self):
        if mounted(self.mnt):
            subprocess.run(["umount", "-l", self.mnt], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self):
        proc = subprocess.Popen([TRY_MOUNT, self.mnt, os.path.join(self.dir, "module")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        line = proc.stdout.readline() if ready else ""
        if line.strip() != "mounted":
            proc.kill()
            _, err = proc.communicate(timeout=60)
            self.fail("not mounted: %r, stderr: %s" % (line, err))
        return proc

    def stop_under_load(self, sig, rounds_first):
        proc = self.start()
        load = Load(self.mnt)
        # A file held open across the stop, as an application would.
        held = open(os.path.join(self.mnt, "held"), "w")
        try:
            held.write("held")
            held.flush()
            self.assertTrue(load.wait_for_rounds(rounds_first, 60), load.rounds)
            proc.send_signal(sig)
            try:
                _, err = proc.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
                self.fail("did not stop within 120 s; stderr: %s" % err)
        finally:
            load.stop()
            try:
                held.close()
            except OSError:
                pass  # its flush after the mount went away
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        if err:
            self.fail("stderr of a stop by signal %d:\n%s" % (sig, err[:30000]))
        self.assertEqual(proc.returncode, 0, err)
        self.assertFalse(mounted(self.mnt))

    def test_sigterm_while_files_are_written_listed_and_held_open(self):
        for rounds_first in (1, 20, 200):
            with self.subTest(rounds_first=rounds_first):
                self.stop_under_load(signal.SIGTERM, rounds_first)

    def test_sigint_while_files_are_written_listed_and_held_open(self):
        self.stop_under_load(signal.SIGINT, 20)


if __name__ == "__main__":
    TRY_MOUNT = sys.argv.pop(1)
    unittest.main()
