"""Duet's demo: a real pair of duetd processes on this machine, nodes a and b in their own
mount namespaces on loopback addresses, two modules active-active (alpha on a, beta on b),
a client appending acknowledged (fsync'ed) records to each through the primary's mount.
Node a is killed (kill -9 of its daemon and everything in its namespace); alpha restarts on
b; a returns, resyncs only what changed, and alpha fails back. Prints a timeline with times,
the client-visible outages, and verifies that every acknowledged record is on both copies.
Exits non-zero if one is missing. Usage: demo.py BUILD_DIR"""

import os
import subprocess
import sys
import time

from duet_cluster import Cluster

HERE = os.path.dirname(os.path.abspath(__file__))
T0 = time.monotonic()


def say(text):
    print(f"[{time.monotonic() - T0:7.2f}s] {text}", flush=True)


class Writer:
    """The client of one module, running inside one node's mount namespace."""

    def __init__(self, cluster, node, module, first_seq):
        self.node = node
        pid = cluster.pids[node].pid
        self.proc = subprocess.Popen(
            ["nsenter", "-t", str(pid), "-m", "--", sys.executable,
             os.path.join(HERE, "writer.py"),
             os.path.join(cluster.mountpoint(module), "records"), str(first_seq), "0.02"],
            stdout=subprocess.PIPE, text=True)
        self.acked = []  # (seq, time)
        self.stopped = None

    def drain_until_stopped(self, timeout=60):
        deadline = time.monotonic() + timeout
        for line in self.proc.stdout:
            words = line.split()
            if words[0] == "ack":
                self.acked.append((int(words[1]), float(words[2])))
            else:
                self.stopped = (words[1], float(words[2]))
                break
            if time.monotonic() > deadline:
                break
        self.proc.wait(timeout=30)

    def stop(self):
        self.proc.terminate()
        self.drain_until_stopped()


def records_in(path):
    with open(path) as f:
        return {int(line.split()[1]) for line in f if line.startswith("record ")}


def main():
    bin_dir = sys.argv[1]
    c = Cluster(bin_dir, [("alpha", "a"), ("beta", "b")])
    ok = False
    try:
        say("starting duetd on a (127.0.0.2) and b (127.0.0.3), each in its own mount namespace")
        c.start("a")
        c.start("b")
        c.wait_state("a", "alpha", "PRIM")
        c.wait_state("b", "beta", "PRIM")
        c.wait_state("b", "alpha", "SECOND")
        c.wait_state("a", "beta", "SECOND")
        say("both modules running: alpha PRIM on a, beta PRIM on b (active-active)")
        alpha = Writer(c, "a", "alpha", 1)
        beta = Writer(c, "b", "beta", 1)
        c.wait_for("the first acknowledged records",
                   lambda: os.path.exists(os.path.join(c.backing("b", "alpha"), "records")), 30)
        time.sleep(2)  # the clients write for a while (this is load, not a wait for a state)
        say("node a dies abruptly (kill -9 of duetd and of everything in its namespace)")
        killed_at = time.monotonic()
        c.kill("a")
        alpha.drain_until_stopped()
        c.wait_state("b", "alpha", "ALONE", timeout=30)
        say(f"alpha restarted on b (ALONE) {time.monotonic() - killed_at:.2f}s after the crash")
        alpha_b = Writer(c, "b", "alpha", alpha.acked[-1][0] + 1 if alpha.acked else 1)
        c.wait_for("alpha's client to write on b", lambda: alpha_b.proc.poll() is None, 10)
        time.sleep(2)  # writes made alone, which a must get back by resync
        say("node a returns")
        c.start("a")
        c.wait_state("a", "alpha", "PRIM", timeout=120)
        sent = [line.split("resync done: ")[1] for line in c.log_tail("b", 400).splitlines()
                if "alpha: resync done:" in line and "bytes sent" in line]
        size = os.path.getsize(os.path.join(c.backing("b", "alpha"), "records"))
        say(f"alpha failed back to a after an incremental resync ({sent[-1] if sent else '?'}"
            f"; the module holds {size} bytes)")
        alpha_b.drain_until_stopped()
        alpha_a = Writer(c, "a", "alpha", alpha_b.acked[-1][0] + 1 if alpha_b.acked else 1)
        time.sleep(1)
        alpha_a.stop()
        beta.stop()
        c.wait_state("b", "alpha", "SECOND", timeout=30)

        failover_outage = alpha_b.acked[0][1] - alpha.acked[-1][1]
        failback_outage = alpha_a.acked[0][1] - alpha_b.acked[-1][1]
        acked_alpha = {s for w in (alpha, alpha_b, alpha_a) for s, _ in w.acked}
        acked_beta = {s for s, _ in beta.acked}
        lost = 0
        for node in ("a", "b"):
            have_alpha = records_in(os.path.join(c.backing(node, "alpha"), "records"))
            have_beta = records_in(os.path.join(c.backing(node, "beta"), "records"))
            missing = (acked_alpha - have_alpha) | {("beta", s) for s in acked_beta - have_beta}
            lost += len(missing)
            say(f"node {node}: alpha has {len(acked_alpha & have_alpha)}/{len(acked_alpha)} "
                f"acknowledged records, beta {len(acked_beta & have_beta)}/{len(acked_beta)}")
        for node in ("a", "b"):
            print(f"\n$ duetctl --node {node} status")
            print(c.duetctl(node, "status").stdout, end="")
        print()
        say(f"client-visible outage of alpha: failover {failover_outage:.2f}s "
            f"(includes heartbeat.timeout = 1s), failback {failback_outage:.2f}s")
        if lost:
            say(f"FAILED: {lost} acknowledged records missing")
        else:
            say("every acknowledged record is on both nodes")
            ok = True
    finally:
        c.close()
        say("cleaned up: processes, mounts and namespaces")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
