#!/usr/bin/env python3
"""fio through a Duet primary's mount against plain directories (issue 15, DESIGN.md §9).

    bash scripts/bench_mount.sh [OPTIONS]                  installs fio, builds, runs this
    python3 bench/mount_fio_bench.py BUILD_DIR [OPTIONS]   runs it on binaries already built

A real pair runs on this machine (tests/e2e/netns_cluster.py: duetd on nodes a and b, each in
network and mount namespaces of its own, replicating over a veth) with one module, `bench`,
primary on a, no service, ack = --ack (applied, the default). Each job runs on three
targets, alternating (plain, two-plain, duet, plain, ...), --runs times each, and the median
is quoted:
  plain      one plain directory;
  two-plain  the same job on two plain directories at once (one fio, one job group per
             directory): the one-machine limit for writing two replicas; its figure is the
             mean of the two directories' figures;
  duet       the module's mount on the primary (its secondary on the same disk).
The plain directories and both nodes' backing directories are in one temporary directory on
one file system (--dir, /var/tmp by default; a tmpfs is refused), which is printed.

Jobs (fio --output-format=json, ioengine=psync, fallocate=none; files are written once before
they are measured, and read once before a read is measured):
  seq-write   1 MiB sequential writes of --seq-size, end_fsync=1 (fio counts the fsync)
  rand-fsync  4 KiB random writes to a --rand-size file, each followed by fsync, --runtime s;
              p99 of the write and of the fsync separately (fio times them apart)
  rand-fsync4 the same with 4 jobs, a file each
  rand-read   4 KiB random reads of a cached --rand-size file (invalidate=0), --runtime s
  seq-read    1 MiB sequential reads of a cached --seq-size file, --runtime s
  metadata    a Python loop, not fio: --meta-files files created (open O_CREAT, write 4 KiB,
              close), then each renamed, then each unlinked; operations per second per phase
Targets (issue 15): seq-write >= 0.8x two-plain; rand-fsync IOPS >= 0.5x two-plain and p99
<= 2x two-plain's; reads >= 0.9x plain; metadata against plain, no target.

--profile JOB[,JOB...] prints, instead of the table, where the time goes in each JOB on the
mount: fio's latencies, then per operation the application issued (a fio write, read or fsync;
a metadata create, rename or unlink): context switches, CPU time, system calls and bytes read
and written (/proc/PID/io) of duetd on each node; each duetd's timings of that run (SIGUSR1,
adapters/daemon/op_timings.h: its disk fsyncs and flushes, the peer's fsync acknowledgements,
the loop's queue wait and steps); then, in a second run (strace slows the daemons down),
each daemon's system calls (`strace -c -f`) per operation.

Not a test: nothing asserts a figure. Needs root (namespaces, FUSE) and fio. Everything it
starts is stopped and every directory it made is removed, also on Ctrl-C.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
from netns_cluster import ClusterError, NetnsCluster  # noqa: E402
from netns_topology import TopologyError  # noqa: E402

MODULE = "bench"
TARGETS = ("plain", "two-plain", "duet")
JOBS = ("seq-write", "rand-fsync", "rand-fsync4", "rand-read", "seq-read", "metadata")

META_SCRIPT = r"""
import json, os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
block = b"x" * 4096
names = [os.path.join(d, f"f{i}") for i in range(n)]
t0 = time.monotonic()
for p in names:
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, block)
    os.close(fd)
t1 = time.monotonic()
for p in names:
    os.rename(p, p + "r")
t2 = time.monotonic()
for p in names:
    os.unlink(p + "r")
t3 = time.monotonic()
print(json.dumps({"creates/s": n / (t1 - t0), "renames/s": n / (t2 - t1),
                  "unlinks/s": n / (t3 - t2)}))
"""

# (job, metric, baseline, kind, target): kind ">=" means at least target x baseline,
# "<=" at most; None: no target.
ROWS = [
    ("seq-write", "MiB/s", "two-plain", ">=", 0.8),
    ("rand-fsync", "IOPS", "two-plain", ">=", 0.5),
    ("rand-fsync", "p99 write us", "two-plain", "<=", 2.0),
    ("rand-fsync", "p99 fsync us", "two-plain", "<=", 2.0),
    ("rand-fsync4", "IOPS", "two-plain", ">=", 0.5),
    ("rand-fsync4", "p99 write us", "two-plain", "<=", 2.0),
    ("rand-fsync4", "p99 fsync us", "two-plain", "<=", 2.0),
    ("rand-read", "IOPS", "plain", ">=", 0.9),
    ("seq-read", "MiB/s", "plain", ">=", 0.9),
    ("metadata", "creates/s", "plain", None, None),
    ("metadata", "renames/s", "plain", None, None),
    ("metadata", "unlinks/s", "plain", None, None),
]


class BenchError(RuntimeError):
    pass


def fs_of(path):
    r = subprocess.run(["df", "--output=source,fstype,target", path], capture_output=True,
                       text=True, check=True)
    source, fstype, mount = r.stdout.splitlines()[1].split()
    return source, fstype, mount


def percentile_us(lat, p="99.000000"):
    pct = lat.get("percentile") or {}
    return pct.get(p, 0) / 1e3


class Bench:
    def __init__(self, args):
        self.args = args
        self.cluster = None
        root = os.path.abspath(args.dir)
        source, fstype, mount = fs_of(root)
        if fstype == "tmpfs":
            raise BenchError(f"{root} is on tmpfs: give --dir a directory on a disk")
        self.fs = f"{fstype} on {source} (mounted at {mount}; directories under {root})"
        for program in ("adapters/daemon/duetd", "adapters/ctl/duetctl"):
            if not os.access(os.path.join(args.build_dir, program), os.X_OK):
                raise BenchError(f"{args.build_dir} has no {program}: build the Release binaries "
                                 "first (scripts/bench_mount.sh does)")
        for tool in ("fio", "nsenter") + (("strace",) if args.profile else ()):
            if shutil.which(tool) is None:
                raise BenchError(f"{tool} is not installed (scripts/bench_mount.sh installs fio)")
        self.base = tempfile.mkdtemp(prefix="duet-fio-", dir=root)
        try:
            self.plain = [os.path.join(self.base, f"plain-{i}") for i in (0, 1)]
            for d in self.plain:
                os.makedirs(d)
            self.meta_script = os.path.join(self.base, "metadata.py")
            with open(self.meta_script, "w") as f:
                f.write(META_SCRIPT)
            tempfile.tempdir = self.base  # the cluster's directory (backing dirs) goes here too
            self.cluster = NetnsCluster(args.build_dir, modules=((MODULE, "a"),), services=[],
                                        module_config={MODULE: f'ack = "{args.ack}"'})
        except BaseException:
            shutil.rmtree(self.base, ignore_errors=True)
            raise

    def close(self):
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None
        shutil.rmtree(self.base, ignore_errors=True)

    # Where things run: every command in node a's namespaces, plain or not, so that the
    # targets differ only in the directory.
    def in_a(self, argv, timeout=900):
        pid = self.cluster.procs["a"].pid
        r = subprocess.run(["nsenter", "-t", str(pid), "-m", "-n", "--", *argv],
                           capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise BenchError(f"{' '.join(argv)}: rc {r.returncode}: {r.stderr}{r.stdout}")
        return r.stdout

    def dirs(self, target):
        return {"plain": self.plain[:1], "two-plain": self.plain,
                "duet": [self.cluster.mountpoint(MODULE)]}[target]

    def job_options(self, job, phase):
        """fio options of `job`; phase: 'layout' (write the files), 'warm' (read them once)
        or 'run'."""
        a = self.args
        size = a.seq_size if job in ("seq-write", "seq-read") else a.rand_size
        numjobs = 4 if job == "rand-fsync4" else 1
        common = [f"size={size}", f"numjobs={numjobs}"]
        if phase == "layout":
            return common + ["rw=write", "bs=1M", "end_fsync=1"]
        if phase == "warm":
            return common + ["rw=read", "bs=1M", "invalidate=0"]
        timed = ["time_based=1", f"runtime={a.runtime}"]
        return common + {
            "seq-write": ["rw=write", "bs=1M", "end_fsync=1"],
            "rand-fsync": ["rw=randwrite", "bs=4k", "fsync=1", *timed],
            "rand-fsync4": ["rw=randwrite", "bs=4k", "fsync=1", *timed],
            "rand-read": ["rw=randread", "bs=4k", "invalidate=0", *timed],
            "seq-read": ["rw=read", "bs=1M", "invalidate=0", *timed],
        }[job]

    def fio(self, job, target, phase="run"):
        """Runs `job` on every directory of `target` at once; one fio result per directory."""
        lines = ["[global]", "ioengine=psync", "fallocate=none", "group_reporting=1",
                 *self.job_options(job, phase)]
        for i, d in enumerate(self.dirs(target)):
            lines += [f"[{job}-{i}]", f"directory={d}"] + (["new_group"] if i else [])
        jobfile = os.path.join(self.base, f"{job}-{target}.fio")
        out = os.path.join(self.base, f"{job}-{target}.json")
        with open(jobfile, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.in_a(["fio", "--output-format=json", f"--output={out}", jobfile])
        with open(out) as f:
            results = json.load(f)["jobs"]
        return sorted(results, key=lambda j: j["groupid"])

    def metadata(self, target):
        dirs = self.dirs(target)
        pid = self.cluster.procs["a"].pid
        procs = []
        for d in dirs:
            work = os.path.join(d, "meta")
            self.in_a(["mkdir", "-p", work])
            procs.append(subprocess.Popen(
                ["nsenter", "-t", str(pid), "-m", "-n", "--", "python3", self.meta_script, work,
                 str(self.args.meta_files)], stdout=subprocess.PIPE, text=True))
        results = []
        for p in procs:
            out, _ = p.communicate(timeout=900)
            if p.returncode != 0:
                raise BenchError(f"metadata workload failed: rc {p.returncode}")
            results.append(json.loads(out))
        return results

    @staticmethod
    def figures(job, result):
        """The figures of one directory's fio result (or metadata result)."""
        if job == "metadata":
            return result
        if job in ("seq-write", "seq-read"):
            side = result["write" if job == "seq-write" else "read"]
            return {"MiB/s": side["bw"] / 1024}
        if job == "rand-read":
            return {"IOPS": result["read"]["iops"]}
        return {"IOPS": result["write"]["iops"],
                "p99 write us": percentile_us(result["write"]["clat_ns"]),
                "p99 fsync us": percentile_us(result["sync"]["lat_ns"])}

    def measure(self, job, target):
        results = self.metadata(target) if job == "metadata" else self.fio(job, target)
        per_dir = [self.figures(job, r) for r in results]
        return {k: statistics.mean(f[k] for f in per_dir) for k in per_dir[0]}

    def prepare(self, job):
        if job == "metadata":
            return
        for target in TARGETS:
            self.fio(job, target, "layout")
            if job in ("rand-read", "seq-read"):
                self.fio(job, target, "warm")

    def run(self):
        figures = {}  # job -> target -> [figures of each run]
        for job in self.args.jobs:
            self.prepare(job)
            figures[job] = {t: [] for t in TARGETS}
            for n in range(self.args.runs):
                for target in TARGETS:
                    f = self.measure(job, target)
                    figures[job][target].append(f)
                    print(f"  {job:11} run {n + 1} {target:9} " + ", ".join(
                        f"{k} {v:.1f}" for k, v in f.items()), flush=True)
        return figures

    # Profiling: one more run of `job` on the mount, watching both duetd daemons.
    def daemon_pid(self, node):
        guard = self.cluster.procs[node].pid
        with open(f"/proc/{guard}/task/{guard}/children") as f:
            children = [int(c) for c in f.read().split()]
        for c in children:
            if "duetd" in NetnsCluster._cmdline(c):
                return c
        raise BenchError(f"no duetd daemon under guard {guard} on {node}")

    def timings(self, pids):
        """Asks each duetd for its timing summary (SIGUSR1, which also restarts the figures)
        and returns its lines per node."""
        marks = {node: len(self.cluster.log_text(node)) for node in pids}
        for pid in pids.values():
            os.kill(pid, signal.SIGUSR1)
        lines = {}
        deadline = time.monotonic() + 10
        for node in pids:
            while True:
                text = self.cluster.log_text(node)[marks[node]:]
                if "timings: loop busy" in text:
                    break
                if time.monotonic() > deadline:
                    raise BenchError(f"duetd on {node} logged no timings after SIGUSR1")
                time.sleep(0.05)
            lines[node] = [line.split("timings: ", 1)[1] for line in text.splitlines()
                           if "timings: " in line]
        return lines

    @staticmethod
    def counters(pid):
        c = {"voluntary switches": 0, "involuntary switches": 0}
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches"):
                        c["voluntary switches"] += int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches"):
                        c["involuntary switches"] += int(line.split()[1])
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        c["CPU ms"] = (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                k, v = line.split(":")
                if k in ("rchar", "wchar", "syscr", "syscw"):
                    c[k] = int(v)
        return c

    def operations(self, job, results):
        """What `job` issued: (operations, bytes written or read)."""
        if job == "metadata":  # a create (with its 4 KiB write), a rename, an unlink per file
            return 3 * self.args.meta_files, 4096 * self.args.meta_files
        ops = nbytes = 0
        for r in results:
            for side in ("read", "write"):
                ops += r[side]["total_ios"]
                nbytes += r[side]["io_bytes"]
            if "sync" in r:
                ops += r["sync"]["total_ios"]
        return ops, nbytes

    def run_once(self, job):
        """One run of `job` on the mount, untimed: the results operations() reads."""
        return self.metadata("duet") if job == "metadata" else self.fio(job, "duet")

    @staticmethod
    def latency_summary(results):
        lines = []
        for r in results:
            for side, lat in (("read", "clat_ns"), ("write", "clat_ns"), ("sync", "lat_ns")):
                part = r.get(side, {})
                n = part.get("total_ios", 0)
                if n:
                    pct = part[lat].get("percentile", {})
                    lines.append(f"{side} {n} ops, mean {part[lat]['mean'] / 1e3:.0f} us, "
                                 f"p50 {pct.get('50.000000', 0) / 1e3:.0f} us, "
                                 f"p99 {pct.get('99.000000', 0) / 1e3:.0f} us")
        return "; ".join(lines)

    def profile(self, job):
        self.prepare(job)
        pids = {node: self.daemon_pid(node) for node in ("a", "b")}
        self.timings(pids)  # restarts duetd's figures (op_timings.h)
        before = {n: self.counters(p) for n, p in pids.items()}
        results = self.run_once(job)
        after = {n: self.counters(p) for n, p in pids.items()}
        timings = self.timings(pids)
        ops, nbytes = self.operations(job, results)
        what = ("creates, renames and unlinks" if job == "metadata"
                else "reads, writes and fsyncs")
        print(f"\nprofile of {job} on the mount: {ops} operations ({what}), "
              f"{nbytes / 2**20:.0f} MiB")
        if job != "metadata":
            print(f"  fio's latencies: {self.latency_summary(results)}")
        for node, pid in pids.items():
            role = "primary" if node == "a" else "secondary"
            print(f"  duetd on {node} ({role}, pid {pid}), per operation: " + ", ".join(
                f"{k} {(after[node][k] - before[node][k]) / max(ops, 1):.2f}"
                for k in before[node]))
            print(f"    bytes written by write-like calls per byte the workload moved: "
                  f"{(after[node]['wchar'] - before[node]['wchar']) / max(nbytes, 1):.2f}, "
                  f"read: {(after[node]['rchar'] - before[node]['rchar']) / max(nbytes, 1):.2f}")
        for node, lines in timings.items():
            role = "primary" if node == "a" else "secondary"
            print(f"  duetd on {node} ({role}): where durable operations spent their time "
                  "(op_timings.h; kill -USR1):")
            for line in lines:
                print("    " + line)
        stracers = {}
        for node, pid in pids.items():
            out = os.path.join(self.base, f"strace-{node}.txt")
            stracers[node] = (subprocess.Popen(
                ["strace", "-c", "-f", "-o", out, "-p", str(pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out)
        try:
            time.sleep(1)  # strace attaches to every thread
            results = self.run_once(job)
        finally:
            for proc, _ in stracers.values():
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=30)
        ops, _ = self.operations(job, results)
        for node, (_, out) in stracers.items():
            print(f"\n  strace -c -f of duetd on {node} during a second run ({ops} "
                  f"operations; calls per operation in the last column):")
            with open(out) as f:
                for line in f:
                    fields = line.split()
                    if len(fields) >= 5 and fields[3].isdigit():
                        line = line.rstrip() + f"   {int(fields[3]) / max(ops, 1):8.2f}\n"
                    print("    " + line, end="")


def median_figures(runs):
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def print_table(figures, args):
    header = ("job", "metric", "plain", "two-plain", "duet", "ratio", "target", "")
    rows = []
    for job, metric, baseline, kind, target in ROWS:
        if job not in figures:
            continue
        med = {t: median_figures(figures[job][t]) for t in TARGETS}
        ratio = med["duet"][metric] / med[baseline][metric] if med[baseline][metric] else 0.0
        if kind is None:
            goal, verdict = f"(vs {baseline})", ""
        else:
            goal = f"{kind} {target}x {baseline}"
            verdict = "met" if (ratio >= target if kind == ">=" else ratio <= target) else "SHORT"
        rows.append((job, metric, *(f"{med[t][metric]:.1f}" for t in TARGETS), f"{ratio:.2f}",
                     goal, verdict))
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\nmedian of {args.runs} runs each, runs alternating plain, two-plain, duet")
    for r in [header, *rows]:
        print("  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths))).rstrip())


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("build_dir", help="a Release build with duetd, duetctl, duet-witness")
    parser.add_argument("--dir", default="/var/tmp",
                        help="where plain and backing directories go (default /var/tmp)")
    parser.add_argument("--jobs", default=",".join(JOBS),
                        help=f"comma-separated, of {','.join(JOBS)} (default all)")
    parser.add_argument("--runs", type=int, default=3, help="runs per target (default 3)")
    parser.add_argument("--seq-size", default="512M", help="sequential file size (512M)")
    parser.add_argument("--rand-size", default="64M", help="random-access file size (64M)")
    parser.add_argument("--runtime", type=int, default=3,
                        help="seconds per timed fio run (default 3)")
    parser.add_argument("--meta-files", type=int, default=2000,
                        help="files per metadata run (default 2000)")
    parser.add_argument("--profile", metavar="JOBS",
                        help="instead of the table: where duetd's time goes in these jobs "
                        "(comma-separated)")
    parser.add_argument("--ack", default="applied", choices=("received", "applied", "durable"),
                        help="the module's ack mode (default applied, Duet's default; "
                        "received trades safety for speed: see the README)")
    parser.add_argument("--json", metavar="FILE", help="also write every run's figures here")
    args = parser.parse_args()
    args.jobs = [j for j in args.jobs.split(",") if j]
    args.profile = [j for j in (args.profile or "").split(",") if j]
    unknown = [j for j in args.jobs + args.profile if j not in JOBS]
    if unknown:
        parser.error(f"unknown job {unknown[0]} (known: {', '.join(JOBS)})")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    try:
        bench = Bench(args)
    except (BenchError, ClusterError, TopologyError, OSError) as e:
        print(f"mount_fio_bench.py: {e}", file=sys.stderr)
        return 1
    try:
        print(f"file system: {bench.fs}")
        print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} at start; "
              f"module ack = {args.ack}")
        bench.cluster.start_pair()
        if args.profile:
            for job in args.profile:
                bench.profile(job)
            return 0
        figures = bench.run()
        print_table(figures, args)
        print(f"load {os.getloadavg()[0]:.2f} at the end")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(figures, f, indent=1)
    except (BenchError, ClusterError, TopologyError, subprocess.TimeoutExpired) as e:
        print(f"mount_fio_bench.py: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mount_fio_bench.py: interrupted; everything it started is removed",
              file=sys.stderr)
        return 130
    finally:
        bench.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
