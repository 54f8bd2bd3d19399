"""A real Duet pair on one machine, for end-to-end tests and demos.

Two duetd processes, nodes "a" (127.0.0.2) and "b" (127.0.0.3), each in its own mount
namespace (unshare -m), so both mount the modules' directories at the same paths; optionally
a duet-witness on 127.0.0.4. Each node is a guard process (the one started, in the namespace)
and its daemon child (daemon_pid). Everything lives in one temporary directory. close() stops
every process the cluster started (by PID, including whatever a daemon left in its mount
namespace) and removes the directory, also when a test fails.

Waits poll `duetctl status --json` with a timeout; nothing sleeps a fixed time for a state.
"""

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

NODES = {"a": "127.0.0.2", "b": "127.0.0.3"}
WITNESS_ADDRESS = "127.0.0.4"
HEARTBEAT_TIMEOUT_S = 1  # the [heartbeat] timeout of the clusters made here


class ClusterError(AssertionError):
    pass


class Cluster:
    def __init__(self, bin_dir, modules, witness=False, ack="applied", module_lines=None):
        """modules: list of (name, default_primary) pairs; module_lines: optional
        {module name: [extra TOML lines of its [[module]] table]} (scripts, vips...)."""
        if os.geteuid() != 0:
            raise ClusterError("the end-to-end tests need root (FUSE mounts, namespaces)")
        if not os.path.exists("/dev/fuse"):
            raise ClusterError("/dev/fuse is missing: FUSE is required")
        self.bin = bin_dir
        self.dir = tempfile.mkdtemp(prefix="duet-e2e-")
        self.modules = [name for name, _ in modules]
        self.pids = {}  # node (or "witness") -> Popen
        self.namespaces = {}  # node -> its mount namespace id (to find what it left behind)
        base = 20000 + (os.getpid() * 7) % 30000
        self.ports = {"hb1": base, "hb2": base + 1, "repl": base + 2, "witness": base + 3}
        key = os.path.join(self.dir, "cluster.key")
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, (secrets.token_hex(32) + "\n").encode())
        os.close(fd)
        lines = [
            "[cluster]",
            'name = "e2e"',
            f'key_file = "{key}"',
            f'state_dir = "{self.dir}/state"',
        ]
        for node, ip in NODES.items():
            lines += [
                "[[node]]",
                f'name = "{node}"',
                f'heartbeat = ["{ip}:{self.ports["hb1"]}", "{ip}:{self.ports["hb2"]}"]',
                f'replication = "{ip}:{self.ports["repl"]}"',
                f'admin_socket = "{self.dir}/{node}.sock"',
                f'state_dir = "{self.dir}/{node}"',
            ]
        lines += ["[heartbeat]", 'interval = "100ms"', f'timeout = "{HEARTBEAT_TIMEOUT_S}s"']
        if witness:
            lines += ["[witness]", f'address = "{WITNESS_ADDRESS}:{self.ports["witness"]}"',
                      'lease = "3s"', 'renew_interval = "500ms"', 'drift_margin = "300ms"']
        for name, primary in modules:
            os.makedirs(self.mountpoint(name), exist_ok=True)
            lines += ["[[module]]", f'name = "{name}"', f'default_primary = "{primary}"',
                      f'directories = ["{self.mountpoint(name)}"]', f'ack = "{ack}"']
            lines += (module_lines or {}).get(name, [])
        self.config = os.path.join(self.dir, "duet.toml")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    # Paths.
    def mountpoint(self, module):
        return os.path.join(self.dir, "mnt", module)

    def backing(self, node, module):
        """The module's first directory as stored on `node` (outside any mount)."""
        return os.path.join(self.dir, node, "modules", module, "data", "0")

    def log_path(self, node):
        return os.path.join(self.dir, f"{node}.out")

    # Processes.
    def start(self, node, guard=True):
        """Starts the node's duetd (its guard, which forks the daemon; guard=False: the daemon
        alone, --no-guard) in a new mount namespace; returns the PID started."""
        out = open(self.log_path(node), "ab")
        proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private",
             os.path.join(self.bin, "adapters/daemon/duetd"), "--config", self.config,
             "--node", node] + ([] if guard else ["--no-guard"]),
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
        out.close()
        self.pids[node] = proc
        self.namespaces[node] = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.namespaces[node] is None:
            try:
                ns = os.readlink(f"/proc/{proc.pid}/ns/mnt")
                if ns != os.readlink("/proc/self/ns/mnt"):
                    self.namespaces[node] = ns
            except OSError:
                pass
            if proc.poll() is not None:
                raise ClusterError(f"duetd {node} exited at start ({proc.returncode}):\n"
                                   + self.log_tail(node))
            time.sleep(0.01)
        return proc.pid

    def start_witness(self):
        out = open(self.log_path("witness"), "ab")
        self.pids["witness"] = subprocess.Popen(
            [os.path.join(self.bin, "adapters/witness/duet-witness"), "--config", self.config,
             "--state-dir", os.path.join(self.dir, "witness")],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
        out.close()

    def daemon_pid(self, node, timeout=30, not_pid=None):
        """The PID of the node's daemon: the guard's child running duetd (other than
        `not_pid`), waited for."""
        guard = self.pids[node].pid
        exe = os.path.realpath(os.path.join(self.bin, "adapters/daemon/duetd"))
        def find():
            for pid in _children_of(guard):
                try:
                    if os.readlink(f"/proc/{pid}/exe") == exe and pid != not_pid:
                        return pid
                except OSError:
                    pass
            return None
        return self.wait_for(f"the daemon of {node}", find, timeout)

    def kill(self, node, sig=signal.SIGKILL):
        """SIGKILL: the node dies at once (its guard, its daemon and everything in its mount
        namespace, guard first so nothing is cleaned up, as when a machine dies). Another
        signal goes to the guard (or the lone daemon), which is waited for; whatever is left in
        the namespace is killed after."""
        proc = self.pids.get(node)
        if proc is None:
            return
        ns = self.namespaces.get(node)
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
        if sig == signal.SIGKILL and ns:
            for pid in self._pids_in_namespace(ns):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        proc.wait(timeout=30)
        if ns:
            for pid in self._pids_in_namespace(ns):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        del self.pids[node]

    def _pids_in_namespace(self, ns):
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.readlink(f"/proc/{entry}/ns/mnt") == ns:
                        pids.append(int(entry))
                except OSError:
                    pass
        return pids

    def close(self):
        for node in list(self.pids):
            try:
                self.kill(node)
            except Exception:  # keep cleaning up
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    # Observing.
    def log_tail(self, node, lines=40):
        try:
            with open(self.log_path(node), "rb") as f:
                return b"".join(f.readlines()[-lines:]).decode(errors="replace")
        except OSError:
            return "(no log)"

    def duetctl(self, node, *args, check=True):
        r = subprocess.run(
            [os.path.join(self.bin, "adapters/ctl/duetctl"), "--config", self.config,
             "--node", node, *args], capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise ClusterError(f"duetctl {' '.join(args)} on {node}: rc {r.returncode}: "
                               f"{r.stderr}{r.stdout}")
        return r

    def status(self, node):
        r = self.duetctl(node, "status", "--json", check=False)
        if r.returncode != 0:
            return None
        return json.loads(r.stdout)

    def module_status(self, node, module):
        s = self.status(node)
        if s is None:
            return None
        for m in s["modules"]:
            if m["name"] == module:
                return m
        return None

    def heartbeat_links_heard(self, node):
        """Whether `node`'s status shows its peer heard on every heartbeat link."""
        s = self.status(node)
        links = [link for link in (s or {}).get("links", [])
                 if link["name"].startswith("heartbeat")]
        return bool(links) and all(link["heard"] for link in links)

    def replace_machine(self, node, timeout=HEARTBEAT_TIMEOUT_S):
        """Kills `node` and starts it again with an empty state directory (a replaced
        machine), after its peer noticed the loss. Its datagrams and heartbeats start over
        below what its peer accepted from its earlier run: once `node` hears its peer, the
        peer must hear it on every heartbeat link within the heartbeat timeout (it used to
        drop them as replays until their numbers passed the old ones, seconds later)."""
        peer = "a" if node == "b" else "b"
        self.kill(node)
        self.wait_for(f"{peer} to stop hearing {node}",
                      lambda: not self.heartbeat_links_heard(peer), 30)
        shutil.rmtree(os.path.join(self.dir, node))
        self.start(node)
        self.wait_for(f"{node} hearing {peer}", lambda: self.heartbeat_links_heard(node), 60)
        self.wait_for(f"{peer} hearing the new run of {node} on every heartbeat link",
                      lambda: self.heartbeat_links_heard(peer), timeout)

    def wait_for(self, what, predicate, timeout=60):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(0.05)
        raise ClusterError(f"timed out after {timeout}s waiting for {what}\n"
                           + "".join(f"--- {n} status: {self.status(n)}\n--- {n} log:\n"
                                     f"{self.log_tail(n)}" for n in self.pids if n != "witness"))

    def wait_state(self, node, module, state, timeout=60):
        def check():
            m = self.module_status(node, module)
            return m is not None and m["state"] == state
        self.wait_for(f"{module} {state} on {node}", check, timeout)

    # Acting as the application on a node.
    def sh(self, node, command, check=True):
        """Runs `command` with /bin/sh inside the node's mount namespace."""
        pid = self.pids[node].pid
        r = subprocess.run(["nsenter", "-t", str(pid), "-m", "--", "sh", "-c", command],
                           capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise ClusterError(f"on {node}: {command}: rc {r.returncode}: {r.stderr}")
        return r


def _children_of(parent):
    """The PIDs whose parent is `parent`, from /proc."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
                if int(stat[stat.rindex(")") + 2:].split()[1]) == parent:
                    children.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return children


def process_alive(pid):
    """Whether `pid` runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        return stat[stat.rindex(")") + 2] != "Z"
    except (OSError, ValueError, IndexError):
        return False


def tree_of(root):
    """Every path under root with what a user compares: kind, mode, size, bytes or target."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            if os.path.islink(path):
                out[rel] = ("symlink", os.readlink(path))
            elif os.path.isdir(path):
                out[rel] = ("dir", oct(st.st_mode & 0o7777))
            else:
                with open(path, "rb") as f:
                    out[rel] = ("file", oct(st.st_mode & 0o7777), f.read())
    return out
