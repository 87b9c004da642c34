"""End-to-end helpers: a whole `osdn lab` (server, controllers, agents, CNI, kubelet) per test module.

`make_lab(tag, mode, nodes)` runs the real `osdn lab up` with a unique lab name and a temporary
lab dir, and always runs `osdn lab down` afterwards (also when a test fails or `up` half-worked), then
checks that no `osdn-<lab>-*` namespace and no lab process is left.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from osdn.client import Client, load_config
from osdn.kernel import netns
from osdn.lab import cluster
from osdn.lab.cluster import LabInfo, NodeInfo
from osdn.lab.pods import PodRequest, create_pod, http_get, pod_netns, probe, wait_pod_ip
from osdn.lab.restart import Stopped, start_agent, stop_agent, wait_agent_ready
from osdn.lab.state import load_state

MISSING = [m for m in ("osdn.node.agent", "osdn.cni.plugin") if importlib.util.find_spec(m) is None]
needs_agent = pytest.mark.skipif(bool(MISSING), reason=f"node agent / CNI not there yet: {MISSING} missing")


def osdn(*args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "osdn", *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"osdn {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


@dataclass
class Lab:
    info: LabInfo
    client: Client
    up_seconds: float

    @property
    def conf(self) -> str:
        return self.info.admin_conf

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return osdn("--config", self.conf, *args, check=check)

    def pod(self, name: str, project: str, node: str = "", labels: dict[str, str] | None = None,
            ports: list[int] | None = None, command: list[str] | None = None) -> tuple[str, str]:
        """An HTTP pod (or one running `command`); (IP, netns)."""
        create_pod(self.client, PodRequest(name, project, node, labels or {}, "python", ports or [80],
                                           command or []))
        ip = wait_pod_ip(self.client, project, name, timeout=60)
        return ip, pod_netns(self.client.get("Pod", name, project))

    def delete_pod(self, name: str, project: str, timeout: float = 30) -> None:
        """Delete the Pod and wait until the kubelet has removed its namespace."""
        ns = self.client.get("Pod", name, project)["metadata"]["annotations"]["lab.osdn.io/netns"]
        self.client.delete("Pod", name, project)
        deadline = time.monotonic() + timeout
        while netns.netns_exists(ns):
            assert time.monotonic() < deadline, f"pod {project}/{name}: namespace {ns} still there"
            time.sleep(0.05)

    def node(self, name: str) -> NodeInfo:
        node = self.info.node(name)
        assert node is not None, name
        return node

    def stop_agent(self, node: str, sig: int = signal.SIGTERM) -> Stopped:
        return stop_agent(self.info, node, sig)

    def start_agent(self, node: str) -> float:
        """Start the agent again with its recorded command line; seconds until it serves CNI."""
        return wait_agent_ready(self.info, node, start_agent(self.info, node))

    def can_connect(self, src_netns: str, ip: str, port: int = 80, want: bool = True, within: float = 5.0) -> bool:
        """Probe until the answer is `want` or `within` s pass (policies take a sync to land)."""
        deadline = time.monotonic() + within
        while True:
            ok = probe(src_netns, ip, port, timeout=0.5)
            if ok == want or time.monotonic() > deadline:
                return ok
            time.sleep(0.2)

    def get(self, src_netns: str, ip: str) -> str:
        return http_get(src_netns, ip)


def lab_name(tag: str) -> str:
    return f"e{tag}{os.getpid() % 100000}"[:12]


def make_lab(tag: str, mode: str, nodes: int, *up_args: str) -> Iterator[Lab]:
    """A lab for one test module; `up_args` go to `osdn lab up` (e.g. "--host-subnet-length", "3")."""
    name = lab_name(tag)
    lab_dir = tempfile.mkdtemp(prefix=f"osdn-e2e-{name}-")
    try:
        t0 = time.monotonic()
        osdn("lab", "up", "--name", name, "--nodes", str(nodes), "--mode", mode, "--dir", lab_dir, *up_args)
        took = time.monotonic() - t0
        info = cluster.load_lab(lab_dir)
        assert info is not None
        print(f"\nlab {name}: up in {took:.1f}s ({nodes} nodes, {mode})")
        with Client(load_config(info.admin_conf)) as client:
            yield Lab(info, client, took)
    finally:
        teardown_and_check(name, lab_dir)
    shutil.rmtree(lab_dir)  # kept (with its logs) only when something failed


def teardown_and_check(name: str, lab_dir: str) -> None:
    state = load_state(lab_dir)
    pids = [p.pid for p in state.processes] if state else []
    osdn("lab", "down", "--name", name, "--dir", lab_dir)
    assert cluster.leftovers(name) == [], f"namespaces left by lab {name}"
    alive = [p for p in pids if os.path.exists(f"/proc/{p}") and not _zombie(p)]
    assert alive == [], f"lab {name} processes still running: {alive}"
    assert not [p for p in os.listdir("/proc") if p.isdigit() and _mentions(p, lab_dir)], \
        f"a process still refers to {lab_dir}"


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _mentions(pid: str, text: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return text.encode() in fh.read() and not _zombie(int(pid))
    except OSError:
        return False
