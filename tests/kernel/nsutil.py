"""Throw-away lab for kernel tests, built with `ip` commands: a node netns with a bridge and a gateway,
pods as netns attached to the bridge by veth. Nothing is ever linked to the root namespace; every
namespace name starts with a per-run prefix, and `Lab.cleanup` kills what it started and deletes what
it made (also after failures).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

PREFIX = f"osdnt-{os.getpid()}-"

SERVER = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(64); print("ready", flush=True)
while True:
    c, a = s.accept(); c.sendall(b"hello " + a[0].encode()); c.close()
"""

CLIENT = r"""
import socket, sys
s = socket.socket(); s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print(s.recv(100).decode())
except OSError as e:
    print("FAIL", e); sys.exit(1)
"""


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=60)


def netns_list() -> list[str]:
    return [line.split()[0] for line in sh("ip", "netns", "list").stdout.splitlines() if line.strip()]


def mac_for(ip: str) -> str:
    """openshift-sdn style pod MAC: 0a:58 + the IP's bytes."""
    return "0a:58:" + ":".join(f"{int(b):02x}" for b in ip.split("."))


@dataclass
class Pod:
    ns: str
    ip: str
    mac: str
    veth: str


@dataclass
class Lab:
    """One node netns (`<prefix>node`, bridge br0 with the gateway) and its pods."""

    tag: str
    gateway: str = "10.128.0.1"
    prefixlen: int = 23
    node: str = ""
    pods: dict[str, Pod] = field(default_factory=dict)
    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    made: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.node = self._add_ns("node")
        sh("ip", "-n", self.node, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.node, "addr", "add", f"{self.gateway}/{self.prefixlen}", "dev", "br0")
        sh("ip", "-n", self.node, "link", "set", "br0", "up")

    def _add_ns(self, short: str) -> str:
        name = f"{PREFIX}{self.tag}-{short}"
        sh("ip", "netns", "add", name)
        self.made.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def add_pod(self, short: str, ip: str) -> Pod:
        ns = self._add_ns(short)
        veth = f"vh-{short}"
        pod = Pod(ns, ip, mac_for(ip), veth)
        sh("ip", "link", "add", "eth0", "netns", ns, "address", pod.mac, "type", "veth",
           "peer", "name", veth, "netns", self.node)
        sh("ip", "-n", self.node, "link", "set", veth, "master", "br0", "up")
        sh("ip", "-n", ns, "addr", "add", f"{ip}/{self.prefixlen}", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "route", "add", "default", "via", self.gateway)
        self.pods[short] = pod
        return pod

    def ping(self, src: str, dst_ip: str, source_ip: str | None = None) -> bool:
        extra = ["-I", source_ip] if source_ip else []
        r = sh("ip", "netns", "exec", self.pods[src].ns, "ping", "-c1", "-W1", *extra, dst_ip, check=False)
        return r.returncode == 0

    def serve(self, pod: str, port: int) -> None:
        p = subprocess.Popen(["ip", "netns", "exec", self.pods[pod].ns, sys.executable, "-c", SERVER, str(port)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.procs.append(p)
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"

    def connect(self, src: str, dst_ip: str, port: int, timeout: float = 1.0) -> str | None:
        """TCP connect + read the greeting; the reply proves the return path too. None if blocked."""
        r = sh("ip", "netns", "exec", self.pods[src].ns, sys.executable, "-c", CLIENT, dst_ip, str(port),
               str(timeout), check=False)
        return r.stdout.strip() if r.returncode == 0 else None

    def cleanup(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait(timeout=5)
        for name in reversed(self.made):
            deadline = time.monotonic() + 5
            while sh("ip", "netns", "del", name, check=False).returncode != 0 and time.monotonic() < deadline:
                time.sleep(0.1)
        self.made.clear()


def leftovers() -> list[str]:
    """Namespaces of this run that still exist (should be none after cleanup)."""
    return [n for n in netns_list() if n.startswith(PREFIX)]


def join_nodes(a: Lab, b: Lab, vni: int = 42) -> None:
    """Underlay veth between two node namespaces and a VXLAN port (`vxlan0`) on each bridge."""
    sh("ip", "link", "add", "ul0", "netns", a.node, "type", "veth", "peer", "name", "ul0", "netns", b.node)
    for n, (lab, peer) in enumerate(((a, 2), (b, 1)), start=1):
        sh("ip", "-n", lab.node, "addr", "add", f"10.255.0.{n}/24", "dev", "ul0")
        sh("ip", "-n", lab.node, "link", "set", "ul0", "up")
        sh("ip", "-n", lab.node, "link", "add", "vxlan0", "type", "vxlan", "id", str(vni), "local",
           f"10.255.0.{n}", "remote", f"10.255.0.{peer}", "dstport", "4789", "dev", "ul0")
        sh("ip", "-n", lab.node, "link", "set", "vxlan0", "mtu", "1450", "master", "br0", "up")
