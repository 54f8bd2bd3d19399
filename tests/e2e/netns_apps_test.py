"""End-to-end, in network namespaces: real applications on a module's mount keep everything
they were told was committed when their node crashes mid-run. Each test prints what it
measured.

SQLite (sqlite_ledger.py): a ledger in WAL mode with synchronous=FULL commits multi-row
transactions on a's mount, reporting each transaction once its COMMIT returned, while its WAL
is checkpointed into the database file every ~20 transactions. a crashes (kill -9 of duetd,
its guard and the ledger). On b, through b's mount: integrity_check says ok, every reported
transaction is there with the exact bytes it wrote, the totals row agrees with the rows, and
nothing else is there but at most the one transaction in flight. The ledger then goes on on
b alone for a few checkpoints and closes the database. After a returns and the module fails
back, the two backing copies are identical file for file (the last close checkpointed the WAL
and removed the -wal and -shm files, so the database file is all there is: a -shm file, which
SQLite writes through mmap and rebuilds from the WAL, would not be comparable) and a reads
every transaction of both runs, exact, through its own mount.

fio (issue 14 test 7): fio writes 4 KiB blocks at random offsets of a 32 MiB file on a's
mount, each with a crc32c verify header and followed by fsync (ioengine psync, iodepth 1), and
prints its cumulative status every 200 ms; a crashes mid-run, right after a status shows 1,000
writes. What counts as acknowledged: the N writes the last status printed before the crash
had completed (io_bytes / 4 KiB: fio counts a write once its pwrite returned, which Duet
allows only once b applied it, ack = "applied", the default; the fsync that follows makes it
durable on both, which a kill -9 does not need). The writes completed after that status (tens
of milliseconds' worth) are not checked. fio then re-runs the same job on b with verify_only
and number_ios=N: the same seed replays the same offsets, and fio reads and checks exactly
those N blocks. A full verify of all 8,192 blocks must fail (the blocks never written hold the
layout's filler, no verify header): the check reads real data.
Why not verify_state_save/verify_state_load: fio saves that state only when a job exits or on
a trigger (--trigger-file), and on a trigger it also stops its jobs (fio's backend.c:
check_trigger_file saves the state, then terminates the threads), so the crash would find fio
stopping; with the status count the crash lands while fio writes. overwrite=1 lays the whole
file out (and fsyncs it) before the random writes, so the file has its full size on both
nodes and verify_only never re-lays it out (a shorter file would be truncated and laid out
again, destroying what it should check).

Run by ctest (as root, which CI is): python3 netns_apps_test.py BUILD_DIR
"""

import json
import os
import random
import shlex
import subprocess
import sys
import threading
import time
import unittest

from duet_cluster import tree_of
from netns_cluster import NetnsCluster

BIN = None
HERE = os.path.dirname(os.path.abspath(__file__))
LEDGER = os.path.join(HERE, "sqlite_ledger.py")
MIN_CHECKPOINTS, MIN_DB_BYTES = 3, 2 << 20
TRANSACTIONS_PER_CHECKPOINT = 20  # sqlite_ledger.py: 8 rows of 1,500 bytes; 256 KiB of WAL
ALONE_TRANSACTIONS = 3 * TRANSACTIONS_PER_CHECKPOINT
FIO_BLOCK, FIO_SIZE = 4096, 32 << 20
FIO_WRITES_BEFORE_CRASH = 1000


def differences(root_a, root_b):
    """The paths whose kind, mode, size or bytes differ between two copies of a module."""
    tree_a, tree_b = tree_of(root_a), tree_of(root_b)
    return sorted(p for p in tree_a.keys() | tree_b.keys() if tree_a.get(p) != tree_b.get(p))


def differing_blocks(path_a, path_b, block=4096):
    """How many `block`-sized pieces of two files differ (a piece only one has counts)."""
    with open(path_a, "rb") as fa, open(path_b, "rb") as fb:
        a, b = fa.read(), fb.read()
    return sum(a[i:i + block] != b[i:i + block] for i in range(0, max(len(a), len(b)), block))



def fail_back_with_equal_copies(test, c):
    """a returns, alpha fails back to it; the two copies are then identical. Returns the
    seconds from a's restart to alpha PRIM on a and SECOND on b."""
    returned = time.monotonic()
    c.restart_node("a")
    c.wait_state("a", "alpha", "PRIM", timeout=90)
    c.wait_state("b", "alpha", "SECOND")
    failed_back = time.monotonic() - returned
    test.assertEqual(differences(c.backing("a", "alpha"), c.backing("b", "alpha")), [])
    return failed_back


class NodeProcess:
    """A process in `node`'s network and mount namespaces (so the node's crash kills it too),
    its stdout read line by line into `lines` as it comes."""

    def __init__(self, cluster, node, argv, name):
        self.stderr_path = os.path.join(cluster.dir, f"{name}.err")
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                ["nsenter", "-t", str(cluster.procs[node].pid), "-m", "-n", "--", *argv],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def running(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.proc.args[5:]} exited ({self.proc.returncode}): "
                                 f"{self.stderr()}")
        return True

    def stderr(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()[-2000:]

    def wait_exit(self):
        """After its node crashed: waits for it and for the last line it wrote."""
        self.proc.wait(timeout=30)
        self.reader.join(timeout=30)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait_exit()
        self.proc.stdout.close()


class SqliteCrashTest(unittest.TestCase):
    def setUp(self):
        self.cluster = NetnsCluster(BIN, modules=(("alpha", "a"),), services=())
        self.addCleanup(self.cluster.close)
        self.cluster.start_pair()

    def check_ledger(self, node):
        """sqlite_ledger.py check, run on `node` through its mount."""
        db = os.path.join(self.cluster.mountpoint("alpha"), "ledger.db")
        r = self.cluster.sh(node, f"{shlex.quote(sys.executable)} {LEDGER} check {db}")
        return json.loads(r.stdout)

    def test_a_crash_mid_run_keeps_every_committed_sqlite_transaction_of_a_wal_database(self):
        c = self.cluster
        db = os.path.join(c.mountpoint("alpha"), "ledger.db")
        writer = NodeProcess(c, "a", [sys.executable, LEDGER, "write", db], "ledger")
        self.addCleanup(writer.stop)

        def commits():  # (txid, database bytes, WAL bytes) per COMMIT returned
            return [tuple(map(int, line.split())) for line in list(writer.lines)]

        def checkpoints(rows):  # in WAL mode only a checkpoint grows the database file
            return len({db_bytes for _, db_bytes, _ in rows}) - 1

        def enough():
            rows = commits()
            return (writer.running() and rows and checkpoints(rows) >= MIN_CHECKPOINTS
                    and rows[-1][1] >= MIN_DB_BYTES)
        started = time.monotonic()
        c.wait_for(f"{MIN_CHECKPOINTS} checkpoints and a {MIN_DB_BYTES >> 20} MiB database",
                   enough, timeout=90)
        # Each run crashes at another point of the WAL's checkpoint cycle (printed below).
        more = random.randrange(2 * TRANSACTIONS_PER_CHECKPOINT)
        target = commits()[-1][0] + more
        c.wait_for(f"transaction {target}", lambda: writer.running()
                   and commits()[-1][0] >= target, timeout=30)
        crash = time.monotonic()
        c.kill_node("a")
        writer.wait_exit()
        rows = commits()
        committed, db_bytes, wal_bytes = rows[-1]
        rate = committed / (crash - started)
        c.wait_state("b", "alpha", "ALONE")
        to_primary = time.monotonic() - crash
        left = {name: os.path.getsize(os.path.join(c.backing("b", "alpha"), name))
                for name in sorted(os.listdir(c.backing("b", "alpha")))}
        # a's own copy may hold the write in flight that b never acknowledged (its return
        # rolls that back); the -shm file is not compared: SQLite rebuilds it from the WAL.
        in_flight = {name: differing_blocks(os.path.join(c.backing("a", "alpha"), name),
                                            os.path.join(c.backing("b", "alpha"), name))
                     for name in ("ledger.db", "ledger.db-wal")}

        on_b = self.check_ledger("b")
        self.assertEqual(on_b["integrity"], ["ok"], f"integrity_check on b: {on_b}")
        self.assertEqual(on_b["problems"], [], f"the ledger on b: {on_b}")
        self.assertIn(on_b["last_txid"], (committed, committed + 1),
                      f"{committed} transactions committed on a; b has {on_b['last_txid']}")

        # The application goes on on b alone, then stops (closing the database) before a
        # returns: the resync carries b's transactions and checkpoints to a.
        alone = time.monotonic()
        c.sh("b", f"{shlex.quote(sys.executable)} {LEDGER} write {db} {ALONE_TRANSACTIONS}")
        alone = time.monotonic() - alone
        b_log_before = len(c.log_text("b"))

        failed_back = fail_back_with_equal_copies(self, c)
        after_failback = sorted(os.listdir(c.backing("a", "alpha")))
        sent = c.wait_resyncs_done("b", "alpha", since=b_log_before)
        on_a = self.check_ledger("a")
        self.assertEqual(on_a["integrity"], ["ok"], f"integrity_check on a: {on_a}")
        self.assertEqual(on_a["problems"], [], f"the ledger on a: {on_a}")
        self.assertEqual(on_a["last_txid"], on_b["last_txid"] + ALONE_TRANSACTIONS)
        c.wait_for("the copies to be identical after the check on a", lambda: differences(
            c.backing("a", "alpha"), c.backing("b", "alpha")) == [], timeout=10)
        print(f"sqlite WAL: {committed} transactions ({rate:.0f}/s, "
              f"{checkpoints(rows)} checkpoints, database {db_bytes >> 10} KiB + WAL "
              f"{wal_bytes >> 10} KiB) committed on a before its crash ({more} transactions "
              f"after the database reached {MIN_DB_BYTES >> 20} MiB); alpha ALONE on b "
              f"{to_primary:.2f} s after it (heartbeat timeout 1 s); b's copy at takeover "
              f"{left} (4 KiB blocks where a's own copy differed: {in_flight}); on b "
              f"integrity_check ok, {on_b['last_txid']} transactions exact; "
              f"{ALONE_TRANSACTIONS} more committed on b alone in {alone:.1f} s; failback to "
              f"a in {failed_back:.1f} s (resync: {sent[-1]}), copies identical "
              f"({after_failback}), on a integrity_check ok, {on_a['last_txid']} "
              f"transactions exact")


FIO_JOB = [f"--bs={FIO_BLOCK}", f"--size={FIO_SIZE}", "--name=crashwrite", "--rw=randwrite",
           "--ioengine=psync", "--iodepth=1", "--verify=crc32c", "--fallocate=none",
           "--overwrite=1", "--verify_state_save=0", "--output-format=json"]


def fio_statuses(text):
    """The JSON objects fio printed (its periodic status dumps, then its final report), each
    complete one; a dump cut short by a crash is left out."""
    decoder, objects, i = json.JSONDecoder(), [], text.find("{")
    while i >= 0:
        try:
            obj, end = decoder.raw_decode(text, i)
        except ValueError:
            break
        objects.append(obj)
        i = text.find("{", end)
    return objects


def completed_writes(status):
    return status["jobs"][0]["write"]["io_bytes"] // FIO_BLOCK


class FioVerifyCrashTest(unittest.TestCase):
    def setUp(self):
        self.cluster = NetnsCluster(BIN, modules=(("alpha", "a"),), services=())
        self.addCleanup(self.cluster.close)
        self.cluster.start_pair()
        self.file = os.path.join(self.cluster.mountpoint("alpha"), "fio.dat")

    def verify(self, node, number_ios=None):
        """fio verify_only of the job's first `number_ios` writes (all when None) on `node`,
        through its mount: (exit code, fio's report or None, fio's stderr)."""
        argv = ["fio", f"--filename={self.file}", *FIO_JOB, "--verify_only", "--do_verify=1"]
        if number_ios is not None:
            argv.append(f"--number_ios={number_ios}")
        r = self.cluster.sh(node, shlex.join(argv), check=False)
        reports = fio_statuses(r.stdout)
        return r.returncode, reports[-1] if reports else None, r.stderr.strip()

    def assert_verified(self, node, acknowledged):
        rc, report, err = self.verify(node, acknowledged)
        self.assertEqual(rc, 0, f"fio verify on {node}: {err}")
        job = report["jobs"][0]
        self.assertEqual(job["error"], 0, f"fio verify on {node}: {err}")
        self.assertEqual(job["read"]["io_bytes"] // FIO_BLOCK, acknowledged,
                         f"fio on {node} verified another number of blocks: {err}")

    def test_fio_verifies_every_write_completed_before_a_crash_on_the_node_that_took_over(self):
        c = self.cluster
        writer = NodeProcess(c, "a", ["fio", f"--filename={self.file}", *FIO_JOB, "--fsync=1",
                                      "--do_verify=0", "--status-interval=200ms"], "fio")
        self.addCleanup(writer.stop)

        def written():
            writer.running()
            statuses = fio_statuses("".join(writer.lines))
            return statuses and completed_writes(statuses[-1]) >= FIO_WRITES_BEFORE_CRASH
        started = time.monotonic()
        c.wait_for(f"fio to complete {FIO_WRITES_BEFORE_CRASH} writes", written, timeout=150)
        crash = time.monotonic()
        c.kill_node("a")
        writer.wait_exit()
        statuses = fio_statuses("".join(writer.lines))
        acknowledged = completed_writes(statuses[-1])  # every status it printed before dying
        c.wait_state("b", "alpha", "ALONE")
        to_primary = time.monotonic() - crash
        self.assertEqual(os.path.getsize(os.path.join(c.backing("b", "alpha"), "fio.dat")),
                         FIO_SIZE)

        verifying = time.monotonic()
        self.assert_verified("b", acknowledged)
        verified_in = time.monotonic() - verifying
        rc, report, err = self.verify("b")
        self.assertNotEqual(rc, 0, "a full verify passed: fio did not write what it verifies")
        self.assertIn("bad magic header", err)

        failed_back = fail_back_with_equal_copies(self, c)
        self.assert_verified("a", acknowledged)
        print(f"fio: {acknowledged} random 4 KiB writes + fsync completed on a by its last "
              f"status ({len(statuses)} statuses, run {crash - started:.1f} s including the "
              f"{FIO_SIZE >> 20} MiB layout) when a crashed; alpha ALONE on b "
              f"{to_primary:.2f} s later; fio verify_only on b: all {acknowledged} blocks "
              f"good ({verified_in:.1f} s), a full verify fails as it must "
              f"({err.splitlines()[0] if err else rc}); failback in {failed_back:.1f} s, "
              f"copies identical, the {acknowledged} blocks verify on a too")


if __name__ == "__main__":
    BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
