"""The console's topology data (osdn.console.topology): nodes with HostSubnets and the VXLAN mesh,
pods per node grouped by project with NetIDs, egress IPs and their holders, services and endpoints."""

from __future__ import annotations

from typing import Any

from osdn.console.topology import compute_topology
from osdn.model.cluster import ClusterState

Obj = dict[str, Any]


def _hs(node: str, ip: str, subnet: str, egress: list[str]) -> Obj:
    return {"kind": "HostSubnet", "apiVersion": "network.openshift.io/v1", "metadata": {"name": node},
            "host": node, "hostIP": ip, "subnet": subnet, "egressIPs": egress}


def _netns(name: str, netid: int, egress: list[str]) -> Obj:
    return {"kind": "NetNamespace", "apiVersion": "network.openshift.io/v1", "metadata": {"name": name},
            "netname": name, "netid": netid, "egressIPs": egress}


def _pod(ns: str, name: str, ip: str | None, node: str | None, labels: dict[str, str]) -> Obj:
    spec: Obj = {"containers": [{"name": "c", "image": "x", "ports": [{"name": "http", "containerPort": 8080}]}]}
    if node:
        spec["nodeName"] = node
    return {"kind": "Pod", "apiVersion": "v1", "metadata": {"namespace": ns, "name": name, "labels": labels},
            "spec": spec, "status": {"podIP": ip} if ip else {}}


def _objects() -> list[Obj]:
    return [
        _hs("node1", "192.168.1.10", "10.128.0.0/23", ["192.168.1.100"]), _hs("node2", "192.168.1.11", "10.128.2.0/23", []),
        _hs("node3", "192.168.1.12", "10.128.4.0/23", []),
        _netns("blue", 11, ["192.168.1.100"]), _netns("red", 12, ["192.168.1.101"]), _netns("default", 0, []),
        _pod("blue", "web", "10.128.0.2", "node1", {"app": "web"}), _pod("blue", "db", "10.128.2.2", "node2", {}),
        _pod("red", "r1", "10.128.0.3", "node1", {}), _pod("red", "pending", None, None, {}),
        {"kind": "Service", "apiVersion": "v1", "metadata": {"namespace": "blue", "name": "web"},
         "spec": {"clusterIP": "172.30.0.10", "selector": {"app": "web"},
                  "ports": [{"port": 80, "protocol": "TCP", "targetPort": "http"}]}},
    ]


def test_nodes_pods_and_the_vxlan_mesh() -> None:
    topo = compute_topology(ClusterState.from_objects(_objects()), {"blue", "red", "default"})
    assert [(n["name"], n["hostIP"], n["subnet"]) for n in topo["nodes"]] == [
        ("node1", "192.168.1.10", "10.128.0.0/23"), ("node2", "192.168.1.11", "10.128.2.0/23"),
        ("node3", "192.168.1.12", "10.128.4.0/23"), ("", None, None)]
    node1 = topo["nodes"][0]
    assert [(p["name"], [x["key"] for x in p["pods"]]) for p in node1["projects"]] == [
        ("blue", ["blue/web"]), ("red", ["red/r1"])]
    assert topo["nodes"][3]["projects"][0]["pods"][0] == {"name": "pending", "key": "red/pending", "ip": None,
                                                          "hostNetwork": False}
    assert {(link["from"], link["to"]) for link in topo["links"]} == {("node1", "node2"), ("node1", "node3"),
                                                                      ("node2", "node3")}


def test_projects_egress_ips_and_services() -> None:
    topo = compute_topology(ClusterState.from_objects(_objects()), {"blue", "red", "default"})
    assert [(p["name"], p["netid"], p["pods"]) for p in topo["projects"]] == [
        ("blue", 11, 2), ("default", 0, 0), ("red", 12, 2)]
    assert topo["egress"] == [{"ip": "192.168.1.100", "projects": ["blue"], "nodes": ["node1"]},
                              {"ip": "192.168.1.101", "projects": ["red"], "nodes": []}]
    assert topo["nodes"][0]["egressIPs"] == ["192.168.1.100"]
    assert topo["services"] == [{"namespace": "blue", "name": "web", "key": "blue/web", "clusterIP": "172.30.0.10",
                                 "ports": ["80/TCP->http"], "endpoints": ["blue/web"]}]


def test_what_the_caller_cannot_read_is_unknown_not_made_up() -> None:
    """A project admin reads neither HostSubnets nor NetNamespaces: the node is known from its pods,
    without subnet or links, and the NetID is null rather than the model's default."""
    topo = compute_topology(ClusterState.from_objects([_pod("blue", "web", "10.128.0.2", "node9", {})]), set())
    assert [(n["name"], n["subnet"]) for n in topo["nodes"]] == [("node9", None)]
    assert topo["links"] == []
    assert [(p["name"], p["netid"]) for p in topo["projects"]] == [("blue", None)]
