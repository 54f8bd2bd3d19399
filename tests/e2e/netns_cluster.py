"""A real Duet pair in network namespaces (netns_topology.py): duetd on nodes a and b, each
in its own network AND mount namespace, optionally duet-witness on w, and clients on c that
reach each module's key-value service (kv_service.py) through its VIP.

Modules get VIP 10.71.1.100, .101... on net1 and the service's port 8001, 8002...; their
scripts (kv_scripts/) start and stop the service with its database in the module's
replicated directory. Replication runs over net1; heartbeats over net1 and net2.

Everything lives in one temporary directory and the topology's namespaces. close() (also run
on SIGINT/SIGTERM) kills every process by PID, which takes the FUSE mounts with their mount
namespaces, deletes the namespaces (veths and bridges with them) and removes the directory.
Waits poll `duetctl status --json` with a timeout; nothing sleeps a fixed time for a state.

    python3 netns_cluster.py BUILD_DIR [--witness] [--keep]   starts a pair with modules
        alpha (on a) and beta (on b); --keep leaves it up and prints how to use and remove it
    python3 netns_cluster.py down PID                         removes a kept cluster
"""

import argparse
import glob
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from kv_workload import Writer, read_store
from netns_topology import Topology, TopologyError, address

HERE = os.path.dirname(os.path.abspath(__file__))
NODES = ("a", "b")
HEARTBEAT_PORT, REPLICATION_PORT, WITNESS_PORT = 7200, 7100, 7300
WITNESS_LEASE_S = 3


class ClusterError(AssertionError):
    pass


def new_key(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, (secrets.token_hex(32) + "\n").encode())
    os.close(fd)


class NetnsCluster:
    def __init__(self, bin_dir, modules=(("alpha", "a"), ("beta", "b")), witness=False,
                 split_brain="discard-non-default", services=None, module_config=None):
        """modules: (name, default_primary) pairs. services: the modules that run the
        key-value service behind a VIP (default: all); the others are plain replicated
        directories without scripts or VIP. module_config: module name -> TOML text added to
        its [[module]] table (its keys first, then any [[module.checker]] tables)."""
        if os.geteuid() != 0:
            raise ClusterError("the network-namespace cluster needs root (namespaces, FUSE)")
        if not os.path.exists("/dev/fuse"):
            raise ClusterError("/dev/fuse is missing: FUSE is required")
        self.bin = os.path.abspath(bin_dir)
        self.procs = {}  # "a", "b", "witness" -> Popen
        self.writers = []
        self.topology = None
        self.dir = tempfile.mkdtemp(prefix=f"duet-netns-{os.getpid()}-")
        self._previous_handlers = {s: signal.signal(s, self._on_signal)
                                   for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.topology = Topology()
            self.modules = {name: i for i, (name, _) in enumerate(modules)}
            self.primaries = dict(modules)
            self.services = list(self.modules) if services is None else list(services)
            self.witness = witness
            self.key = os.path.join(self.dir, "cluster.key")
            new_key(self.key)
            os.makedirs(os.path.join(self.dir, "run"))
            self._write_scripts()
            self.config_text = self._config_text(modules, witness, split_brain,
                                                 module_config or {})
            for node in NODES:
                self.set_key(node, self.key)
        except BaseException:
            self.close()
            raise

    # Configuration.
    def vip(self, module):
        return f"10.71.1.{100 + self.modules[module]}"

    def port(self, module):
        return 8001 + self.modules[module]

    def url(self, module):
        return f"http://{self.vip(module)}:{self.port(module)}"

    def mountpoint(self, module):
        return os.path.join(self.dir, "mnt", module)

    def backing(self, node, module):
        """The module's directory as stored on `node` (outside any mount)."""
        return os.path.join(self.dir, node, "modules", module, "data", "0")

    def divergent_dir(self, node, module):
        """Where duetd keeps a discarded side's changes (one dated copy per split brain)."""
        return os.path.join(self.dir, node, "modules", module, "divergent")

    def config(self, node):
        return os.path.join(self.dir, f"{node}.toml")

    def _write_scripts(self):
        for module in self.services:
            scripts = os.path.join(self.dir, "scripts", module)
            os.makedirs(scripts)
            for name in ("start_prim", "stop_prim"):
                shutil.copy(os.path.join(HERE, "kv_scripts", name), scripts)
            with open(os.path.join(scripts, "service.conf"), "w") as f:
                f.write(f"PORT={self.port(module)}\nRUN_DIR={self.dir}/run\n"
                        f"SERVICE={HERE}/kv_service.py\n")

    def _config_text(self, modules, witness, split_brain, module_config):
        lines = ["[cluster]", 'name = "netns"', "key_file = KEY_FILE",
                 f'state_dir = "{self.dir}/state"']
        for node in NODES:
            hb = [f'"{address(node, n)}:{HEARTBEAT_PORT}"' for n in ("net1", "net2")]
            lines += ["[[node]]", f'name = "{node}"', f"heartbeat = [{', '.join(hb)}]",
                      f'replication = "{address(node)}:{REPLICATION_PORT}"',
                      f'admin_socket = "{self.dir}/{node}.sock"',
                      f'state_dir = "{self.dir}/{node}"']
        lines += ["[heartbeat]", 'interval = "100ms"', 'timeout = "1s"']
        if witness:
            lines += ["[witness]", f'address = "{address("w")}:{WITNESS_PORT}"',
                      f'lease = "{WITNESS_LEASE_S}s"', 'renew_interval = "500ms"',
                      'drift_margin = "300ms"']
        for name, primary in modules:
            lines += ["[[module]]", f'name = "{name}"', f'default_primary = "{primary}"',
                      f'directories = ["{self.mountpoint(name)}"]',
                      f'split_brain = "{split_brain}"']
            if name in self.services:
                lines += [f'vips = [{{ address = "{self.vip(name)}/24", interface = "net1" }}]',
                          f'scripts = "{self.dir}/scripts/{name}"', 'script_timeout = "20s"']
            if name in module_config:
                lines.append(module_config[name].strip())
        return "\n".join(lines) + "\n"

    def set_key(self, node, key_file):
        """Node `node` uses `key_file` as the cluster key from its next start on."""
        with open(self.config(node), "w") as f:
            f.write(self.config_text.replace("KEY_FILE", json.dumps(key_file)))

    # Processes.
    def start(self, node):
        """Starts duetd on `node` in its network namespace and a mount namespace of its own
        (the process started is duetd's guard, which forks the daemon)."""
        with open(self.log_path(node), "ab") as out:
            self.procs[node] = subprocess.Popen(
                ["ip", "netns", "exec", self.topology.ns(node),
                 "unshare", "-m", "--propagation", "private",
                 os.path.join(self.bin, "adapters/daemon/duetd"), "--config", self.config(node),
                 "--node", node],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
        self.wait_for(f"duetd {node} to answer", lambda: self._answers(node), timeout=20)

    def _answers(self, node):
        if self.procs[node].poll() is not None:
            raise ClusterError(f"duetd {node} exited at start ({self.procs[node].returncode}):"
                               f"\n{self.log_tail(node)}")
        return self.status(node) is not None

    def start_witness(self):
        with open(self.log_path("witness"), "ab") as out:
            self.procs["witness"] = subprocess.Popen(
                ["ip", "netns", "exec", self.topology.ns("w"),
                 os.path.join(self.bin, "adapters/witness/duet-witness"),
                 "--config", self.config("a"), "--state-dir", os.path.join(self.dir, "witness")],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
        self.witness_started = time.monotonic()

    def start_pair(self, wait_out_witness_blackout=True):
        """Starts both nodes (and the witness if configured) and waits for every module to be
        PRIM on its default primary and SECOND on the other node, and for the witness to grant
        leases."""
        if self.witness:
            self.start_witness()
        for node in NODES:
            self.start(node)
        for module in self.modules:
            primary = self.primaries[module]
            self.wait_state(primary, module, "PRIM")
            self.wait_state(self.other(primary), module, "SECOND")
        if self.witness and wait_out_witness_blackout:
            # A starting witness grants no lease for one lease period (engine/witness.h) and
            # nothing reports when that ends: a fault before then tests the blackout instead.
            time.sleep(max(0.0, self.witness_started + WITNESS_LEASE_S + 0.5 - time.monotonic()))

    @staticmethod
    def other(node):
        return "b" if node == "a" else "a"

    def kill_node(self, node):
        """The node dies abruptly: kill -9 of every process in it (duetd's guard first, so it
        cleans nothing up), then, once the kernel has sent what their sockets owed the wire,
        its links are cut. Its VIPs stay on its interface, as a crashed machine's would until
        it reboots. (A power loss would tell the peer nothing more: the peer then waits the
        heartbeat timeout, as after this kill.)"""
        proc = self.procs.pop(node)
        proc.kill()
        self.topology.kill_all(node)
        proc.wait(timeout=30)
        self.topology.wait_tcp_flushed(node)  # the peer learns of the closed connections
        self.topology.cut_all_links(node)
        for pidfile in glob.glob(os.path.join(self.dir, "run", f"{node}-*.pid")):
            os.unlink(pidfile)  # the node's /run is gone with it

    def kill_witness(self):
        """The witness dies abruptly (kill -9); start_witness() brings it back."""
        self.topology.kill_all("w")
        self.procs.pop("witness").wait(timeout=30)

    def restart_node(self, node):
        """The node comes back: duetd starts while its links are still cut (it sweeps the VIPs
        an earlier run left), then its links return."""
        self.start(node)
        self.topology.restore_all_links(node)

    def sh(self, node, command, check=True):
        """Runs `command` with /bin/sh in the node's network and mount namespaces (only the
        network one when its duetd is not running)."""
        proc = self.procs.get(node)
        if proc is not None and proc.poll() is None:
            argv = ["nsenter", "-t", str(proc.pid), "-m", "-n", "--"]
        else:
            argv = ["ip", "netns", "exec", self.topology.ns(node)]
        r = subprocess.run(argv + ["sh", "-c", command], capture_output=True, text=True,
                           timeout=120)
        if check and r.returncode != 0:
            raise ClusterError(f"on {node}: {command}: rc {r.returncode}: {r.stderr}")
        return r

    # Clients (in namespace c).
    def writer(self, module, interval=0.01):
        """A client writing to `module` through its VIP until stopped (or close())."""
        w = Writer(self.topology.ns("c"), self.url(module), module, interval)
        self.writers.append(w)
        return w

    def read_store(self, module):
        """The module's store as the client reads it through the VIP."""
        return read_store(self.topology.ns("c"), self.url(module))

    def read_store_on(self, node, module):
        """The module's store as the service on `node` serves it (not through the VIP)."""
        return read_store(self.topology.ns(node), f"http://127.0.0.1:{self.port(module)}")

    # Observing.
    def has_vip(self, node, module):
        return self.topology.has_address(node, self.vip(module))

    def service_running(self, node, module):
        """Whether the module's key-value service runs on `node`."""
        return any(f"--port {self.port(module)}" in self._cmdline(pid)
                   and "kv_service.py" in self._cmdline(pid)
                   for pid in self.topology.pids(node))

    @staticmethod
    def _cmdline(pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return ""

    def log_path(self, node):
        return os.path.join(self.dir, f"{node}.out")

    def log_text(self, node):
        try:
            with open(self.log_path(node), "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, node, lines=40):
        return "\n".join(self.log_text(node).splitlines()[-lines:])

    def duetctl(self, node, *args, check=True):
        r = subprocess.run([os.path.join(self.bin, "adapters/ctl/duetctl"), "--config",
                            self.config(node), "--node", node, *args],
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise ClusterError(f"duetctl {' '.join(args)} on {node}: rc {r.returncode}: "
                               f"{r.stderr}{r.stdout}")
        return r

    def status(self, node):
        r = self.duetctl(node, "status", "--json", check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def module_status(self, node, module):
        s = self.status(node)
        return None if s is None else next(m for m in s["modules"] if m["name"] == module)

    def wait_for(self, what, predicate, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(0.05)
        raise ClusterError(f"timed out after {timeout}s waiting for {what}\n" + "".join(
            f"--- {n} status: {self.status(n)}\n--- {n} log:\n{self.log_tail(n)}\n"
            for n in NODES if n in self.procs))

    def wait_resyncs_done(self, node, module, since=0, timeout=60):
        """What `node` logged after each resync of `module` it sent (the text after "resync
        done: ") since log offset `since`, once there is at least one. A source logs it when
        the target's answer closes its map, a moment after the target reports up to date, so
        a test that saw the target up to date waits for it rather than reading once."""
        def logged():
            return [line.split("resync done: ")[1]
                    for line in self.log_text(node)[since:].splitlines()
                    if f"{module}: resync done:" in line and "bytes sent" in line]
        return self.wait_for(f"{node} to log a resync of {module} done", logged, timeout)

    def wait_state(self, node, module, state, timeout=30):
        def check():
            m = self.module_status(node, module)
            return m is not None and m["state"] == state
        self.wait_for(f"{module} {state} on {node}", check, timeout)

    # Teardown.
    def _on_signal(self, signum, frame):
        self.close()
        # Not SystemExit: unittest would take it for one test's error and run the next one.
        raise KeyboardInterrupt(f"stopped by signal {signum}; the cluster is torn down")

    def detach(self):
        """Leaves everything running: close() then only restores the signal handlers."""
        self.procs, self.writers, self.topology, self.dir = {}, [], None, None

    def close(self):
        for w in self.writers:
            try:
                w.stop()
            except Exception:  # keep cleaning up
                pass
        self.writers = []
        if self.topology is not None:
            self.topology.close()  # every process in the namespaces, then the namespaces
            self.topology = None
        for proc in self.procs.values():
            proc.wait(timeout=30)
        self.procs = {}
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        for s, handler in self._previous_handlers.items():
            signal.signal(s, handler)
        self._previous_handlers = {}


def tear_down_kept(pid):
    """Removes what `netns_cluster.py --keep` left running under process id `pid`."""
    prefix = f"duet{pid}-"
    names = [line.split()[0] for line in subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True).stdout.splitlines()]
    for name in names:
        if name.startswith(prefix):
            for p in subprocess.run(["ip", "netns", "pids", name], capture_output=True,
                                    text=True).stdout.split():
                os.kill(int(p), signal.SIGKILL)
            subprocess.run(["ip", "netns", "del", name], check=False)
            print(f"removed namespace {name}")
    for d in glob.glob(os.path.join(tempfile.gettempdir(), f"duet-netns-{pid}-*")):
        shutil.rmtree(d, ignore_errors=True)
        print(f"removed {d}")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "down":
        tear_down_kept(int(sys.argv[2]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("build_dir")
    parser.add_argument("--witness", action="store_true", help="run duet-witness on w")
    parser.add_argument("--keep", action="store_true", help="leave the cluster up")
    args = parser.parse_args()
    try:
        c = NetnsCluster(args.build_dir, witness=args.witness)
    except (ClusterError, TopologyError) as e:
        print(f"netns_cluster.py: {e}", file=sys.stderr)
        return 1
    try:
        c.start_pair()
        print(c.duetctl("a", "status").stdout, end="")
        if args.keep:
            ctl = os.path.join(c.bin, "adapters/ctl/duetctl")
            ns = c.topology.ns
            print(f"\nThe cluster stays up (files in {c.dir}).\n"
                  f"  {ctl} --config {c.config('a')} --node a status\n"
                  f"  {ctl} --config {c.config('b')} --node b log -f alpha\n"
                  f"  ip netns exec {ns('c')} curl -X PUT -d hello {c.url('alpha')}/kv/k1\n"
                  f"  ip netns exec {ns('c')} curl {c.url('alpha')}/kv\n"
                  f"  ip netns exec {ns('a')} ip addr   "
                  f"# a shell in a's mounts too: nsenter -t {c.procs['a'].pid} -m -n\n"
                  f"Remove it with: python3 {os.path.abspath(__file__)} down {os.getpid()}")
            c.detach()
    finally:
        c.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
