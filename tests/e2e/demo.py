"""Duet's demo: a real pair of servers on this machine, a node crash, failover and failback.

Hosts are network namespaces (netns_topology.py): nodes a and b, a client c, two networks
(two heartbeat links). duetd runs on a and b. Two modules run active-active, each a small
HTTP key-value service on SQLite whose database lives in the module's replicated directory,
behind its own VIP: alpha (default primary a) and beta (default primary b). The client writes
to both through the VIPs without pause and records every acknowledged write.

Then node a dies abruptly, alpha restarts on b, a returns and gets back what changed while it
was away (incremental resync), and alpha fails back to a. For beta, whose SECOND a was, the
resync sends only that. For alpha, whose PRIM a was when it died, it also compares every
zone a's activity log names: the zones a wrote in its last seconds (the service's database),
which a may hold without b ever having had them; the earlier data cooled out of the log
before the crash. Each is compared by digest (SHA-256 on both nodes) and sent only where the
copies differ.

The demo prints a timeline, the client-visible outages, both nodes' `duetctl status`, and
checks that every acknowledged write is served and that both copies of each module are
identical; it exits non-zero otherwise. Everything is torn down at the end, also on Ctrl-C.

Usage (as root): python3 demo.py BUILD_DIR
"""

import hashlib
import os
import re
import sys
import time

from kv_workload import missing_writes
from netns_cluster import ClusterError, NetnsCluster
from netns_topology import TopologyError

EARLIER_DATA_MIB = 32  # each module's data from before the demo: a resync need not resend it
# A zone leaves the activity log once both nodes hold its last write durably and it had no
# write for 5 s (Replica's activity_log_cooling), at a pass at most every 5 s: the demo waits
# until status shows the earlier data out of it (`activity_log_zones`), so a crash does not
# make the pair compare it.
ACTIVITY_LOG_TIMEOUT_S = 60
T0 = time.monotonic()


def say(text, *details, at=None):
    """One timeline entry: seconds since the start (or since `at`, a time.monotonic() of when
    it happened), what happened, then indented details."""
    print(f"{(at or time.monotonic()) - T0:7.2f} s  {text}", flush=True)
    for line in details:
        print(f"{'':14}{line}", flush=True)


def mib(n):
    return f"{n / (1 << 20):.1f} MiB"


def data_size(root):
    """What `du -sb` says of a module's backing directory: the bytes of its files."""
    return sum(os.lstat(os.path.join(d, f)).st_size for d, _, files in os.walk(root)
               for f in files)


def digests(root):
    """Each file under `root` with the sha256 of its bytes."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            with open(os.path.join(d, f), "rb") as data:
                out[os.path.relpath(os.path.join(d, f), root)] = \
                    hashlib.sha256(data.read()).hexdigest()
    return out


def where(c, module):
    """"alpha: PRIM on a, SECOND on b", as each node's `duetctl status --json` says."""
    states = {n: c.module_status(n, module) for n in ("a", "b")}
    return f"{module}: " + ", ".join(f"{s['state']} on {n}" if s else f"{n} down"
                                     for n, s in states.items())


def back_to_normal(c):
    """Every module PRIM on its default primary and SECOND on the other node."""
    for module, primary in c.primaries.items():
        states = [c.module_status(n, module) for n in (primary, c.other(primary))]
        if None in states or [s["state"] for s in states] != ["PRIM", "SECOND"]:
            return False
    return True


def resyncs_done(c, node, since_line):
    """{module: (bytes sent, bytes found the same by digest and not sent)} of each resync
    `node` finished as the source, as its log says from line `since_line` on."""
    text = "\n".join(c.log_text(node).splitlines()[since_line:])
    return {m: (int(n), int(same or 0)) for m, n, same in re.findall(
        r"(\w+): resync done: (\d+) bytes sent[^;\n]*(?:; (\d+) bytes the same)?", text)}


def follow_resync(c, source, target, log_start, timeout=60):
    """Shows each module's resync while it runs (the source's `duetctl status --json`) and
    once done (the source's log), until every module is back to normal: a module fails back
    on its own once the copy on its default primary is up to date. Returns {module: (bytes
    sent, bytes compared by digest and found the same)}."""
    deadline, last_shown, done = time.monotonic() + timeout, 0.0, {}
    while not (len(done) == len(c.modules) and back_to_normal(c)):
        active = [m for m in (c.status(source) or {}).get("modules", [])
                  if m["resync"]["active"] and m["resync"]["source"]]
        if active and time.monotonic() - last_shown > 0.25:
            say(f"   resync {source} -> {target} running: " + ", ".join(
                f"{m['name']} {mib(m['resync']['bytes_done'])} of "
                f"{mib(m['resync']['bytes_total'])}" for m in active))
            last_shown = time.monotonic()
        for module, sent in resyncs_done(c, source, log_start).items():
            if module not in done:
                done[module] = sent
                say(f"   resync of {module} done: {mib(sent[0])} sent, {mib(sent[1])} "
                    f"compared by digest and the same on both; the module holds "
                    f"{mib(data_size(c.backing(source, module)))}")
        if time.monotonic() > deadline:
            raise ClusterError(f"not back to normal {timeout} s after {target} returned: "
                               f"{where(c, 'alpha')}; {where(c, 'beta')}")
        time.sleep(0.05)
    return done


def run(c):
    say("starting: namespaces a, b (nodes) and c (client) on two networks; duetd on a and b")
    c.start_pair()
    c.wait_for("the VIPs and services", lambda: all(
        c.has_vip(p, m) and c.service_running(p, m) for m, p in c.primaries.items()))
    for module, primary in c.primaries.items():
        c.sh(primary, f"head -c {EARLIER_DATA_MIB}M /dev/urandom "
                      f"> {c.mountpoint(module)}/earlier-data")
    written = time.monotonic()
    c.wait_for("the earlier data to cool out of the activity logs", lambda: all(
        (c.module_status(n, m) or {}).get("activity_log_zones") == 0 for n in ("a", "b")
        for m in c.primaries), timeout=ACTIVITY_LOG_TIMEOUT_S)
    say(f"   each module's {EARLIER_DATA_MIB} MiB of earlier data written; out of the activity "
        f"logs {time.monotonic() - written:.1f} s later (status: activity_log_zones 0)")
    alpha, beta = c.writer("alpha"), c.writer("beta")
    alpha.wait_acks(50)
    beta.wait_acks(50)
    say("1. both modules running, active-active", where(c, "alpha"), where(c, "beta"),
        f"alpha's service behind VIP {c.url('alpha')} (on a), "
        f"beta's behind {c.url('beta')} (on b)",
        f"each module also holds a {EARLIER_DATA_MIB} MiB file written through its mount",
        f"client on c writing to both: {alpha.count()} + {beta.count()} writes acknowledged")

    crash = time.monotonic()
    c.kill_node("a")
    say("2. node a dies: every process on it killed (kill -9), then its links cut")

    c.wait_state("b", "alpha", "ALONE")
    c.wait_for("alpha's service on b", lambda: c.service_running("b", "alpha"))
    restarted = time.monotonic()
    alpha.wait_acks(20)
    failover_ms = alpha.outage_since(crash) * 1000
    expected = alpha.expected()
    missing = missing_writes(expected, c.read_store("alpha"))
    say(f"3. alpha restarted on b: client-visible outage {failover_ms:.0f} ms "
        f"(heartbeat timeout 1 s)", where(c, "alpha") + f"; VIP on b: {c.has_vip('b', 'alpha')}",
        f"acknowledged writes read back through alpha's VIP: "
        f"{len(expected) - len(missing)} of {len(expected)}", at=restarted)
    alpha.wait_acks(300)  # what b writes alone, which a must get back
    beta.wait_acks(100)

    returned = time.monotonic()
    log_start = len(c.log_text("b").splitlines())
    c.restart_node("a")
    say("4. node a returns (duetd restarts, links back); b resyncs to a what changed")
    sent = follow_resync(c, "b", "a", log_start)
    failed_back = time.monotonic()
    alpha.wait_acks(50)
    failback_ms = alpha.outage_since(returned) * 1000
    say(f"5. alpha failed back to a: client-visible outage {failback_ms:.0f} ms",
        where(c, "alpha") + f"; VIP on a: {c.has_vip('a', 'alpha')}, "
        f"on b: {c.has_vip('b', 'alpha')}", at=failed_back)

    alpha.stop()
    beta.stop()
    lost, differ, lines, sizes = 0, [], [], {}
    for module, writer in (("alpha", alpha), ("beta", beta)):
        c.wait_for(f"{module}'s replication to catch up", lambda: all(
            c.module_status(n, module)["replication_lag_bytes"] == 0 for n in ("a", "b")))
        missing = missing_writes(writer.expected(), c.read_store(module))
        lost += len(missing)
        on_a, on_b = digests(c.backing("a", module)), digests(c.backing("b", module))
        if on_a != on_b:
            differ.append(module)
        sizes[module] = data_size(c.backing("a", module))
        lines.append(f"{module}: {writer.count() - len(missing)} of {writer.count()} "
                     f"acknowledged writes served through its VIP; copies on a and b: "
                     f"{len(on_a)} files, {'identical' if on_a == on_b else 'DIFFERENT'} "
                     f"(sha256)")
    say("6. final check (writes stopped, both modules PRIM/SECOND)", *lines)

    say("7. duetctl status on both nodes")
    for node in ("a", "b"):
        print(f"\n$ duetctl --node {node} status")
        print(c.duetctl(node, "status").stdout, end="")
    print()

    acked = alpha.count() + beta.count()
    say("8. summary",
        f"failover outage (a dies, alpha restarts on b):  {failover_ms:6.0f} ms",
        f"failback outage (alpha moves back to a):        {failback_ms:6.0f} ms",
        f"resync of beta:  {mib(sent['beta'][0]):>9} sent for {mib(sizes['beta'])} of data "
        f"(a was its SECOND: only what changed)",
        f"resync of alpha: {mib(sent['alpha'][0]):>9} sent for {mib(sizes['alpha'])} of data "
        f"(a died as its PRIM: the zones it wrote last compared by digest, "
        f"{mib(sent['alpha'][1])} the same on both and not sent)",
        f"writes: {acked} acknowledged, {acked - lost} verified, {lost} lost; "
        f"copies differing: {', '.join(differ) or 'none'}")
    return lost == 0 and not differ


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for program in ("adapters/daemon/duetd", "adapters/ctl/duetctl"):
        if not os.access(os.path.join(sys.argv[1], program), os.X_OK):
            sys.exit(f"demo.py: no {program} in {sys.argv[1]}: build it first "
                     f"(bash scripts/demo.sh does)")
    try:
        c = NetnsCluster(sys.argv[1])
    except (ClusterError, TopologyError) as e:
        sys.exit(f"demo.py: {e}")
    ok = False
    try:
        ok = run(c)
    except (ClusterError, AssertionError) as e:
        say(f"FAILED: {e}")
    except KeyboardInterrupt:
        say("interrupted")
    finally:
        c.close()
        say("cleaned up: processes, mounts, namespaces and files")
    say("demo passed" if ok else "demo FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
