"""`osdn lab up --demo`: projects, HTTP pods across nodes, and a matrix of real connection attempts.

Role: create projects blue, red and green with two HTTP pods each (port 80, spread round-robin over
the nodes), then print who can connect to whom, measured by TCP connects from inside each pod's
namespace (timeout 1 s, all in parallel). Then, by mode:
- multitenant: same project ok, cross project blocked; join red to blue
  (`osdn adm pod-network join-projects --to blue red`) and show the change;
- networkpolicy: everything open; apply the seeds' deny-by-default + allow-same-namespace to every
  project and show the change;
- subnet: a flat network, everything open.
Last, one pod fetches a page from the lab's outside web server, which sees the pod's node address
(pod traffic leaving the cluster network is masqueraded).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import yaml

from osdn.client import Client
from osdn.errors import AlreadyExistsError
from osdn.lab.cluster import LabInfo
from osdn.lab.pods import PodRequest, create_pod, http_get, pod_netns, probe, wait_pod_ip
from osdn.lab.topology import plan_lab

PROJECTS = ("blue", "red", "green")
PODS_PER_PROJECT = 2
Echo = Callable[[str], None]
Obj = dict[str, Any]

# The seed examples, verbatim (docs: "Configuring network policy").
SEED_DENY_BY_DEFAULT = """\
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata:
  name: deny-by-default
spec:
  podSelector:
  ingress: []
"""
SEED_ALLOW_SAME_NAMESPACE = """\
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata:
  name: allow-same-namespace
spec:
  podSelector:
  ingress:
  - from:
    - podSelector: {}
"""


@dataclass(frozen=True)
class DemoPod:
    project: str
    name: str
    ip: str
    netns: str
    node: str

    @property
    def label(self) -> str:
        return f"{self.project}/{self.name}"


def run_demo(lab: LabInfo, client: Client, echo: Echo) -> None:
    t0 = time.monotonic()
    pods = create_demo_pods(lab, client)
    echo(f"\ndemo: {len(pods)} HTTP pods in {', '.join(PROJECTS)} across {len(lab.nodes)} nodes "
         f"({time.monotonic() - t0:.1f}s)")
    for p in pods:
        echo(f"  {p.label:<14} {p.ip:<15} {p.node}")
    show_matrix(pods, f"connections, mode {lab.mode}", echo)
    if lab.mode == "multitenant":
        _join_projects(lab, echo)
    elif lab.mode == "networkpolicy":
        _apply_policies(client, echo)
    else:
        echo("subnet mode: one flat pod network, no isolation.")
    if lab.mode != "subnet":
        show_matrix(pods, "connections after the change", echo)
    show_outside(lab, pods[0], echo)


def create_demo_pods(lab: LabInfo, client: Client) -> list[DemoPod]:
    names = [(proj, f"{proj}-{i}") for proj in PROJECTS for i in range(1, PODS_PER_PROJECT + 1)]
    for turn, (proj, name) in enumerate(names):
        node = lab.nodes[turn % len(lab.nodes)].name
        with contextlib.suppress(AlreadyExistsError):
            create_pod(client, PodRequest(name, proj, node, {"app": "demo"}, "python", [80]))
    out = []
    for proj, name in names:
        ip = wait_pod_ip(client, proj, name)
        pod = client.get("Pod", name, proj)
        out.append(DemoPod(proj, name, ip, pod_netns(pod), pod["spec"]["nodeName"]))
    return out


def measure(pods: list[DemoPod], port: int = 80, timeout: float = 1.0) -> dict[tuple[str, str], bool]:
    """(source label, destination label) -> connected; every pair probed in parallel."""
    pairs = [(s, d) for s in pods for d in pods if s is not d]
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda sd: probe(sd[0].netns, sd[1].ip, port, timeout), pairs))
    return {(s.label, d.label): ok for (s, d), ok in zip(pairs, results, strict=True)}


def render_matrix(labels: list[str], result: dict[tuple[str, str], bool]) -> str:
    """Rows are sources, columns destinations: `ok`, `--` (blocked) or `.` (self). Pure."""
    width = max(len(x) for x in labels) + 1
    head = " " * width + " ".join(f"{i + 1:>3}" for i in range(len(labels)))
    rows = [head]
    for i, src in enumerate(labels):
        cells = ["  ." if src == dst else (" ok" if result.get((src, dst)) else " --") for dst in labels]
        rows.append(f"{src:<{width}}" + " ".join(cells) + f"   {i + 1}")
    return "\n".join(rows)


def settled(pods: list[DemoPod], tries: int = 4) -> dict[tuple[str, str], bool]:
    """Measure until two rounds agree: agents learn new pods and policies within a sync or two."""
    result = measure(pods)
    for _ in range(tries):
        time.sleep(0.5)
        again = measure(pods)
        if again == result:
            break
        result = again
    return result


def show_matrix(pods: list[DemoPod], title: str, echo: Echo) -> dict[tuple[str, str], bool]:
    t0 = time.monotonic()
    result = settled(pods)
    allowed = sum(result.values())
    echo(f"\n{title}: {allowed}/{len(result)} allowed (TCP :80, 1 s timeout, {time.monotonic() - t0:.1f}s)")
    echo(render_matrix([p.label for p in pods], result))
    return result


def show_outside(lab: LabInfo, pod: DemoPod, echo: Echo) -> None:
    web = plan_lab(lab.name, len(lab.nodes)).web_ips[0]
    answer = http_get(pod.netns, web).strip() or "(no answer)"
    echo(f"\n{pod.label} on {pod.node} -> http://{web}/ (the lab's outside world): {answer}")


def _join_projects(lab: LabInfo, echo: Echo) -> None:
    base = [sys.executable, "-m", "osdn", "--config", lab.admin_conf, "adm", "pod-network"]
    if subprocess.run([*base, "--help"], capture_output=True, check=False).returncode != 0:
        echo("(osdn adm pod-network is not available: skipping join-projects)")
        return
    echo("\n$ osdn adm pod-network join-projects --to blue red")
    done = subprocess.run([*base, "join-projects", "--to", "blue", "red"], capture_output=True, text=True,
                          check=False)
    echo((done.stdout + done.stderr).strip())


def _apply_policies(client: Client, echo: Echo) -> None:
    echo("\napplying the seed policies deny-by-default + allow-same-namespace to "
         f"{', '.join(PROJECTS)}")
    for proj in PROJECTS:
        for text in (SEED_DENY_BY_DEFAULT, SEED_ALLOW_SAME_NAMESPACE):
            with contextlib.suppress(AlreadyExistsError):
                client.create(yaml.safe_load(text), namespace=proj)
