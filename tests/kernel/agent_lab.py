"""A throw-away cluster for agent/CNI kernel tests: `osdn server` + node namespaces + `osdn node` agents.

Nodes: `<prefix>u` is an underlay namespace with bridge `ul`; node I is namespace `<prefix>nI` with
`eth0` (198.18.0.1I/24) on that bridge. Nothing is linked to the root namespace. Agents run as
subprocesses in the root namespace (as in production), programming their node namespace by name.
Pods are namespaces `<prefix>p-<name>` wired by invoking the real `osdn-cni` plugin.
`cleanup()` stops every process, runs no CNI (the namespaces go away anyway) and deletes every
namespace; tests assert that nothing with the prefix is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import start_server
from polling import wait_for

from osdn.client.config import write_kubeconfig
from osdn.lab.restart import cni_healthy

PREFIX = f"osdnag-{os.getpid()}-"
UNDERLAY = f"{PREFIX}u"

CLIENT = r"""
import socket, sys
s = socket.socket(); s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print(s.recv(100).decode())
except OSError as e:
    print("FAIL", e); sys.exit(1)
"""
SERVER = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(64); print("ready", flush=True)
while True:
    c, a = s.accept(); c.sendall(b"hello " + a[0].encode()); c.close()
"""


def sh(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=timeout)


def cni_argv() -> list[str]:
    exe = shutil.which("osdn-cni")
    return [exe] if exe else [sys.executable, "-m", "osdn.cni.plugin"]


def leftovers() -> list[str]:
    out = sh("ip", "netns", "list").stdout.splitlines()
    return [line.split()[0] for line in out if line.startswith(PREFIX)]


@dataclass
class NodeProc:
    name: str
    netns: str
    ip: str
    socket: str
    log: Path
    proc: subprocess.Popen[bytes] | None = None


@dataclass
class AgentLab:
    """Server (a tests.conftest ServerProc), nodes with agents, pods."""

    server: Any
    tmp: Path
    nodes: dict[str, NodeProc] = field(default_factory=dict)
    pods: dict[str, str] = field(default_factory=dict)  # pod short name -> netns
    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    made: list[str] = field(default_factory=list)

    # -- topology ----------------------------------------------------------------------------------
    def _netns(self, name: str) -> str:
        sh("ip", "netns", "add", name)
        self.made.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def add_node(self, name: str, index: int, extra: tuple[str, ...] = ()) -> NodeProc:
        if UNDERLAY not in self.made:
            self._netns(UNDERLAY)
            sh("ip", "-n", UNDERLAY, "link", "add", "ul", "type", "bridge")
            sh("ip", "-n", UNDERLAY, "link", "set", "ul", "up")
        ns = self._netns(f"{PREFIX}{name}")
        ip = f"198.18.0.{10 + index}"
        sh("ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", f"ul-{name}", "netns", UNDERLAY)
        sh("ip", "-n", UNDERLAY, "link", "set", f"ul-{name}", "master", "ul", "up")
        sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        node = NodeProc(name, ns, ip, str(self.tmp / name / "cni.sock"), self.tmp / f"agent-{name}.log")
        self.nodes[name] = node
        self.start_agent(node, extra)
        return node

    def node_config(self, node: NodeProc) -> Path:
        r = self.server.cli("adm", "token", "create", f"system:node:{node.name}", "--group", "system:nodes",
                            check=True)
        token = r.stdout.strip().splitlines()[-1]
        path = self.tmp / f"{node.name}.conf"
        write_kubeconfig(path, "osdn", self.server.url, f"system:node:{node.name}", token,
                         self.server.ca_file.read_text())
        return path

    def start_agent(self, node: NodeProc, extra: tuple[str, ...] = ()) -> None:
        os.makedirs(os.path.dirname(node.socket), exist_ok=True)
        argv = [sys.executable, "-m", "osdn", "node", "--name", node.name, "--netns", node.netns,
                "--node-ip", node.ip, "--config", str(self.node_config(node)), "--cni-socket", node.socket,
                "--min-sync-period", "0.1s", "--subnet-timeout", "20s", *extra]
        with open(node.log, "ab") as log:  # the child keeps its own copy of the descriptor
            node.proc = subprocess.Popen(argv, stdout=log, stderr=log)
        deadline = time.monotonic() + 60  # the socket answers 200 once the agent's first sync is done
        while not cni_healthy(node.socket):
            if node.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"agent {node.name} did not start:\n{node.log.read_text()[-3000:]}")
            time.sleep(0.05)

    def stop_agent(self, node: NodeProc) -> None:
        if node.proc and node.proc.poll() is None:
            node.proc.terminate()
            try:
                node.proc.wait(10)
            except subprocess.TimeoutExpired:
                node.proc.kill()
                node.proc.wait()

    def add_host(self, short: str, ip: str) -> str:
        """A plain host on the underlay (outside the pod network), usable like a pod by `connect`."""
        ns = self.add_netns(short)
        sh("ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", f"ul-{short}", "netns", UNDERLAY)
        sh("ip", "-n", UNDERLAY, "link", "set", f"ul-{short}", "master", "ul", "up")
        sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        return ns

    # -- pods --------------------------------------------------------------------------------------
    def add_netns(self, short: str) -> str:
        ns = self._netns(f"{PREFIX}p-{short}")
        self.pods[short] = ns
        return ns

    def cni(self, command: str, node: str, short: str, namespace: str | None = None, pod: str | None = None,
            conf: dict[str, Any] | None = None, version: str = "1.0.0") -> tuple[int, dict[str, Any]]:
        """Run `osdn-cni` COMMAND for pod netns `short` on `node`; (exit status, JSON output or {})."""
        ns = self.pods[short]
        args = "IgnoreUnknown=1" + (f";K8S_POD_NAMESPACE={namespace};K8S_POD_NAME={pod or short}" if namespace else "")
        env = {**os.environ, "CNI_COMMAND": command, "CNI_CONTAINERID": f"cid-{short}",
               "CNI_NETNS": f"/run/netns/{ns}", "CNI_IFNAME": "eth0", "CNI_PATH": "/usr/lib/cni", "CNI_ARGS": args}
        netconf = conf or {"cniVersion": version, "name": "osdn", "type": "osdn-cni",
                           "socket": self.nodes[node].socket}
        r = subprocess.run(cni_argv(), input=json.dumps(netconf), env=env, capture_output=True, text=True, timeout=90)
        return r.returncode, json.loads(r.stdout) if r.stdout.strip() else {}

    def add_pod(self, node: str, short: str, namespace: str = "default", labels: dict[str, str] | None = None) -> str:
        """Create the Pod object (with labels), then CNI ADD; the pod IP."""
        self.add_netns(short)
        if labels is not None:
            self.server.cli("create", "-f", "-", input=json.dumps({
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": short, "namespace": namespace, "labels": labels},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}), check=True)
        code, out = self.cni("ADD", node, short, namespace)
        assert code == 0, out
        return str(out["ips"][0]["address"]).split("/")[0]

    def serve(self, short: str, port: int) -> None:
        p = subprocess.Popen(["ip", "netns", "exec", self.pods[short], sys.executable, "-c", SERVER, str(port)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.procs.append(p)
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"

    def connect(self, short: str, ip: str, port: int, timeout: float = 1.0) -> str | None:
        r = sh("ip", "netns", "exec", self.pods[short], sys.executable, "-c", CLIENT, ip, str(port), str(timeout),
               check=False)
        return r.stdout.strip() if r.returncode == 0 else None

    def ping(self, short: str, ip: str) -> bool:
        return sh("ip", "netns", "exec", self.pods[short], "ping", "-c1", "-W1", ip, check=False).returncode == 0

    def wait_for(self, fn: Any, timeout: float = 30.0, what: str = "condition") -> None:
        wait_for(fn, timeout, what)

    # -- cleanup -----------------------------------------------------------------------------------
    def cleanup(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait(timeout=5)
        for node in self.nodes.values():
            self.stop_agent(node)
        for name in reversed(self.made):
            deadline = time.monotonic() + 5
            while sh("ip", "netns", "del", name, check=False).returncode != 0 and time.monotonic() < deadline:
                time.sleep(0.1)
        self.made.clear()


@contextlib.contextmanager
def agent_lab(tmp_path: Path, plugin: str) -> Iterator[AgentLab]:
    """An `osdn server` with `--network-plugin plugin` and an AgentLab on it; everything removed after
    (also on failure), then checked: nothing with the prefix may be left."""
    srv = start_server(tmp_path, "--network-plugin", plugin)
    lab = AgentLab(srv, tmp_path)
    try:
        yield lab
    finally:
        lab.cleanup()
        srv.stop()
    assert leftovers() == []
