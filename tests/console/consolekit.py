"""Helpers of the console tests: a small cluster made through the API (hand-made HostSubnets, pods with
their status set as a node would), users with tokens, and a polling wait."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import ServerProc

Obj = dict[str, Any]
SEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "seeds"
DENY_BY_DEFAULT = (SEEDS / "002-networkpolicy-deny-by-default.yaml").read_text()
NODES = {"node1": ("198.18.0.11", "10.128.0.0/23"), "node2": ("198.18.0.12", "10.128.2.0/23")}
PODS = {"alpha/a1": ("node1", "10.128.0.2"), "alpha/a2": ("node2", "10.128.2.2"),
        "beta/b1": ("node1", "10.128.0.3"), "beta/b2": ("node2", "10.128.2.3")}


def create(srv: ServerProc, path: str, obj: Obj) -> Obj:
    with srv.http() as http:
        r = http.post(path, json=obj)
    assert r.status_code == 201, r.text
    return dict(r.json())


def add_pod(srv: ServerProc, key: str, node: str, ip: str) -> None:
    ns, name = key.split("/")
    pod = create(srv, f"/api/v1/namespaces/{ns}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox",
                                                   "ports": [{"name": "http", "containerPort": 80}]}]}})
    pod["status"] = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}
    with srv.http() as http:
        r = http.put(f"/api/v1/namespaces/{ns}/pods/{name}/status", json=pod)
    assert r.status_code == 200, r.text


def seed_cluster(srv: ServerProc, pods: dict[str, tuple[str, str]] | None = None) -> None:
    """Two nodes with HostSubnets, projects alpha and beta with two pods each (one per node)."""
    for node, (ip, subnet) in NODES.items():
        create(srv, "/apis/network.openshift.io/v1/hostsubnets", {
            "apiVersion": "network.openshift.io/v1", "kind": "HostSubnet", "metadata": {"name": node},
            "host": node, "hostIP": ip, "subnet": subnet})
    pods = PODS if pods is None else pods
    for ns in sorted({k.split("/")[0] for k in pods}):
        srv.cli("new-project", ns, check=True)
    for key, (node, ip) in pods.items():
        add_pod(srv, key, node, ip)


def make_user(srv: ServerProc, name: str) -> str:
    with srv.http() as http:
        r = http.post("/osdn/v1/tokens", json={"user": name, "groups": []})
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def make_project_admin(srv: ServerProc, name: str, project: str) -> str:
    """A user who requested `project` (so is its admin) and holds no other rights."""
    token = make_user(srv, name)
    with srv.http(token=token) as http:
        r = http.post("/apis/project.openshift.io/v1/projects",
                      json={"apiVersion": "v1", "kind": "Project", "metadata": {"name": project}})
    assert r.status_code == 201, r.text
    return token
