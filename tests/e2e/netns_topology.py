"""Hosts as network namespaces: nodes a and b, witness w, client c, on two networks.

    net1 10.71.1.0/24: a .1, b .2, w .3, c .10   (heartbeat link 0, replication, VIPs)
    net2 10.71.2.0/24: a .1, b .2                (heartbeat link 1)

Each network is a bridge inside a switch namespace of its own; every host reaches it through
a veth whose host end is called net1 (or net2) in every host, so a VIP names the same
interface on both nodes. No address exists in the machine's own namespace. Namespace names
start with "duet<pid>-" so parallel runs never collide.

Faults, all without iptables:
  cut_link / restore_link   the switch end of a host's veth down/up (a pulled cable: the host
                            sees NO-CARRIER)
  partition / heal          two hosts stop hearing each other on every network they share,
                            silently (each side's neighbour entry for the other points to an
                            unused MAC, permanently), while both keep every other host

close() kills every process left in the namespaces (by PID, repeatedly until none is left)
and deletes them, which takes the veths and bridges along.
"""

import os
import signal
import subprocess
import time

NETWORKS = {"net1": "10.71.1", "net2": "10.71.2"}
HOSTS = {  # host -> {network: last octet}
    "a": {"net1": 1, "net2": 1},
    "b": {"net1": 2, "net2": 2},
    "w": {"net1": 3},
    "c": {"net1": 10},
}
UNUSED_MAC = "02:00:00:00:00:99"  # nobody has it: frames to it are dropped by every host


class TopologyError(RuntimeError):
    pass


def run(*argv, check=True):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise TopologyError(f"{' '.join(argv)}: rc {r.returncode}: {r.stderr.strip()}")
    return r


def address(host, network="net1"):
    return f"{NETWORKS[network]}.{HOSTS[host][network]}"


class Topology:
    def __init__(self):
        if os.geteuid() != 0:
            raise TopologyError("the network-namespace topology needs root "
                                "(ip netns, veths, bridges, FUSE): run as root")
        self.prefix = f"duet{os.getpid()}-"
        self.created = []  # namespaces, in creation order
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def ns(self, host):
        """The network namespace of `host` ("a", "b", "w", "c") or of the switches ("sw")."""
        return self.prefix + host

    def _add_namespace(self, host):
        run("ip", "netns", "add", self.ns(host))
        self.created.append(self.ns(host))
        run("ip", "-n", self.ns(host), "link", "set", "lo", "up")

    def _build(self):
        self._add_namespace("sw")
        for network in NETWORKS:
            bridge = "br" + network[-1]
            run("ip", "-n", self.ns("sw"), "link", "add", bridge, "type", "bridge")
            run("ip", "-n", self.ns("sw"), "link", "set", bridge, "up")
        for host, octets in HOSTS.items():
            self._add_namespace(host)
            for network, octet in octets.items():
                port = self._switch_port(host, network)
                run("ip", "-n", self.ns("sw"), "link", "add", port, "type", "veth", "peer",
                    "name", network, "netns", self.ns(host))
                run("ip", "-n", self.ns("sw"), "link", "set", port, "master",
                    "br" + network[-1], "up")
                run("ip", "-n", self.ns(host), "addr", "add",
                    f"{NETWORKS[network]}.{octet}/24", "dev", network)
                run("ip", "-n", self.ns(host), "link", "set", network, "up")

    @staticmethod
    def _switch_port(host, network):
        return host + network[-1]  # "a1": a's cable into net1's switch

    # Faults.
    def cut_link(self, host, network):
        run("ip", "-n", self.ns("sw"), "link", "set", self._switch_port(host, network), "down")

    def restore_link(self, host, network):
        run("ip", "-n", self.ns("sw"), "link", "set", self._switch_port(host, network), "up")

    def cut_all_links(self, host):
        for network in HOSTS[host]:
            self.cut_link(host, network)

    def restore_all_links(self, host):
        for network in HOSTS[host]:
            self.restore_link(host, network)

    def _shared_networks(self, x, y):
        return [n for n in HOSTS[x] if n in HOSTS[y]]

    def partition(self, x, y):
        for network in self._shared_networks(x, y):
            for me, other in ((x, y), (y, x)):
                run("ip", "-n", self.ns(me), "neigh", "replace", address(other, network),
                    "lladdr", UNUSED_MAC, "dev", network, "nud", "permanent")

    def heal(self, x, y):
        for network in self._shared_networks(x, y):
            for me, other in ((x, y), (y, x)):
                run("ip", "-n", self.ns(me), "neigh", "del", address(other, network), "dev",
                    network, check=False)

    # Processes.
    def pids(self, host):
        r = run("ip", "netns", "pids", self.ns(host), check=False)
        return [int(p) for p in r.stdout.split()]

    def kill_all(self, host, timeout=10):
        """SIGKILL to every process in the host's namespace until none is left."""
        deadline = time.monotonic() + timeout
        while True:
            pids = self.pids(host)
            if not pids:
                return
            if time.monotonic() > deadline:
                raise TopologyError(f"processes left in {self.ns(host)}: {pids}")
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)

    def wait_tcp_flushed(self, host, timeout=2):
        """Waits until no TCP socket in the host still has something to tell its peer (data
        or the FIN of a closed one): after a kill, what the dead processes' sockets owed the
        wire has left before a cable is pulled. Gives up silently after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = run("ip", "netns", "exec", self.ns(host), "ss", "-Htn", "state", "established",
                    "state", "fin-wait-1", "state", "closing", "state", "last-ack", check=False)
            if r.returncode == 0 and not r.stdout.strip():
                return
            time.sleep(0.01)

    def has_address(self, host, ip, network="net1"):
        r = run("ip", "-n", self.ns(host), "-o", "addr", "show", "dev", network)
        return f" {ip}/" in r.stdout

    def close(self):
        for ns in reversed(self.created):
            host = ns[len(self.prefix):]
            try:
                self.kill_all(host)
            except TopologyError:
                pass  # still delete the name; the kernel frees the namespace with its last process
            run("ip", "netns", "del", ns, check=False)
        self.created = []
