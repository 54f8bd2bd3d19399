"""The harness side of the key-value client: runs kv_client.py in the client's namespace
against a module's VIP, collects every acknowledged write, reads the store back, and measures
the client-visible outage from the acknowledgement times."""

import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = os.path.join(HERE, "kv_client.py")


class Writer:
    """Writes PREFIX-1, PREFIX-2... to `url` from namespace `ns` until stop()."""

    def __init__(self, ns, url, prefix, interval=0.01):
        self.prefix = prefix
        self.acked = []  # (seq, monotonic time of the acknowledgement)
        self.retries = None
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, CLIENT, "write", url, prefix, "1",
             str(interval)], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            words = line.split()
            if words and words[0] == "ack":
                self.acked.append((int(words[1]), float(words[2])))
            elif words and words[0] == "stopped":
                self.retries = int(words[1])

    def count(self):
        return len(self.acked)

    def wait_acks(self, n, timeout=30):
        """Waits until n more writes than now are acknowledged."""
        target = len(self.acked) + n
        deadline = time.monotonic() + timeout
        while len(self.acked) < target:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"{self.prefix}: {len(self.acked)} writes acknowledged, "
                                     f"waited for {target} for {timeout}s")
            time.sleep(0.01)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=30)
        self.reader.join(timeout=10)
        self.proc.stdout.close()

    def expected(self):
        """The store's content every acknowledged write implies."""
        return {f"{self.prefix}-{seq}": f"v{seq}" for seq, _ in self.acked}

    def outage_since(self, t, until=float("inf")):
        """The longest time without an acknowledgement between the last one before `t` and
        `until` (seconds)."""
        times = [at for _, at in self.acked]
        before = [at for at in times if at <= t]
        after = [at for at in times if t < at <= until]
        if not before or not after:
            raise AssertionError(f"{self.prefix}: no acknowledgement before or after {t}")
        points = [before[-1]] + after
        return max(b - a for a, b in zip(points, points[1:]))


def read_store(ns, url):
    """The whole store behind `url`, read from namespace `ns`."""
    r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, CLIENT, "read", url],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"reading {url}: {r.stderr.strip()}")
    return json.loads(r.stdout)


def missing_writes(expected, store):
    """The acknowledged keys absent from `store` or holding another value."""
    return sorted(k for k, v in expected.items() if store.get(k) != v)
