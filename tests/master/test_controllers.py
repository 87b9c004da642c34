"""Master controllers against a real `osdn server` process (loopback HTTP, CLI as a user types it).

Egress node health uses `egressHealth.mode: tcp` with loopback targets (tests/master/loopback.py):
no packet leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ServerProc, start_server, wait_for
from tests.master.loopback import FakeNode


def get(srv: ServerProc, *args: str) -> Any:
    return json.loads(srv.cli("get", *args, "-o", "json", check=True).stdout)


def netids(srv: ServerProc) -> dict[str, int]:
    return {o["metadata"]["name"]: o["netid"] for o in get(srv, "netnamespaces")["items"]}


def node_manifest(name: str, ip: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                           "status": {"addresses": [{"type": "InternalIP", "address": ip}]}})


@pytest.fixture(scope="module")
def fake_nodes() -> Iterator[dict[str, FakeNode]]:
    nodes = {f"node{i}": FakeNode() for i in (1, 2, 3)}
    yield nodes
    for n in nodes.values():
        n.down()


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, fake_nodes: dict[str, FakeNode]) -> Iterator[ServerProc]:
    tmp = tmp_path_factory.mktemp("master")
    cfg = tmp / "master.yaml"
    cfg.write_text(yaml.safe_dump({"egressHealth": {
        "mode": "tcp", "refusedIsOnline": False,
        "targets": {name: n.target for name, n in fake_nodes.items()}}}))
    s = start_server(tmp, "--network-plugin", "multitenant", "--config", str(cfg))
    try:
        yield s
    finally:
        s.stop()


# ---- NetIDs -------------------------------------------------------------------------------------

def test_every_project_gets_a_netnamespace_default_is_global(srv: ServerProc) -> None:
    for p in ("alpha", "bravo", "charlie"):
        srv.cli("new-project", p, check=True)
    ids = wait_for(lambda: (n := netids(srv)) and {"alpha", "bravo", "charlie"} <= set(n) and n,
                   what="netnamespaces")
    assert ids["default"] == 0
    values = [ids[p] for p in ("alpha", "bravo", "charlie")]
    assert len(set(values)) == 3 and all(10 <= v <= 16777215 for v in values)
    table = srv.cli("get", "netnamespaces", check=True).stdout
    assert table.splitlines()[0].split() == ["NAME", "NETID", "EGRESS", "IPS"]


def test_join_isolate_global_through_the_cli(srv: ServerProc) -> None:
    for p in ("j1", "j2", "j3"):
        srv.cli("new-project", p, check=True)
    wait_for(lambda: {"j1", "j2", "j3"} <= set(netids(srv)), what="netnamespaces")
    r = srv.cli("adm", "pod-network", "join-projects", "--to=j1", "j2", "j3", check=True)
    ids = netids(srv)
    assert ids["j1"] == ids["j2"] == ids["j3"] != 0
    assert 'project "j2" joined to "j1"' in r.stdout
    srv.cli("adm", "pod-network", "isolate-projects", "j2", check=True)
    ids = netids(srv)
    assert ids["j2"] not in (0, ids["j1"]) and ids["j3"] == ids["j1"]
    srv.cli("adm", "pod-network", "make-projects-global", "j3", check=True)
    assert netids(srv)["j3"] == 0
    srv.cli("adm", "pod-network", "isolate-projects", "j3", check=True)
    assert netids(srv)["j3"] not in (0, ids["j1"], netids(srv)["j2"])


def test_selector_forms(srv: ServerProc) -> None:
    for p in ("s1", "s2", "s3"):
        srv.cli("new-project", p, check=True)
    srv.cli("label", "namespace", "s2", "s3", "team=blue", check=True)
    wait_for(lambda: {"s1", "s2", "s3"} <= set(netids(srv)), what="netnamespaces")
    srv.cli("adm", "pod-network", "join-projects", "--to=s1", "--selector=team=blue", check=True)
    ids = netids(srv)
    assert ids["s1"] == ids["s2"] == ids["s3"]
    srv.cli("adm", "pod-network", "make-projects-global", "--selector=team=blue", check=True)
    assert netids(srv)["s2"] == netids(srv)["s3"] == 0
    srv.cli("adm", "pod-network", "isolate-projects", "--selector=team=blue", check=True)
    ids = netids(srv)
    assert len({ids["s1"], ids["s2"], ids["s3"]}) == 3 and 0 not in (ids["s2"], ids["s3"])


@pytest.mark.parametrize(("args", "message"), [
    (["isolate-projects", "default"], 'network isolation for project "default" is forbidden'),
    (["join-projects", "alpha"], "must provide --to=<project_name>"),
    (["join-projects", "--to=nosuch", "alpha"], 'project "nosuch" not found'),
    (["make-projects-global", "nosuch"], "project(s) not found: nosuch"),
    (["isolate-projects"], "must provide --selector=<project_selector> or projects"),
    (["isolate-projects", "--selector=x=y", "alpha"], "either specify --selector or projects but not both"),
], ids=["isolate-default", "no-to", "unknown-to", "unknown-project", "nothing", "both"])
def test_pod_network_errors(srv: ServerProc, args: list[str], message: str) -> None:
    r = srv.cli("adm", "pod-network", *args)
    assert r.returncode == 1
    assert message in r.stderr


def test_pod_network_needs_multitenant(server: ServerProc) -> None:
    server.cli("new-project", "np1", check=True)
    r = server.cli("adm", "pod-network", "make-projects-global", "np1")
    assert r.returncode == 1
    assert "managing pod network is only supported for openshift multitenant network plugin" in r.stderr


def test_namespace_delete_releases_netid_only_when_unused(srv: ServerProc) -> None:
    for p in ("d1", "d2"):
        srv.cli("new-project", p, check=True)
    wait_for(lambda: {"d1", "d2"} <= set(netids(srv)), what="netnamespaces")
    srv.cli("adm", "pod-network", "join-projects", "--to=d1", "d2", check=True)
    shared = netids(srv)["d1"]
    srv.cli("delete", "project", "d1", check=True)
    wait_for(lambda: "d1" not in netids(srv), what="d1 netnamespace deleted")
    assert netids(srv)["d2"] == shared          # still in use by d2: not released
    srv.cli("new-project", "d3", check=True)
    assert wait_for(lambda: netids(srv).get("d3")) != shared


# ---- HostSubnets ------------------------------------------------------------------------------

def hostsubnets(srv: ServerProc) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in get(srv, "hostsubnets")["items"]}


def test_hostsubnet_per_node_and_release(srv: ServerProc) -> None:
    srv.cli("create", "-f", "-", input=node_manifest("hs-a", "192.0.2.10"), check=True)
    srv.cli("create", "-f", "-", input=node_manifest("hs-b", "192.0.2.11"), check=True)
    subnets = wait_for(lambda: (h := hostsubnets(srv)) and {"hs-a", "hs-b"} <= set(h) and h,
                       what="hostsubnets")
    assert subnets["hs-a"]["hostIP"] == "192.0.2.10"
    assert subnets["hs-a"]["subnet"].endswith("/23") and subnets["hs-a"]["subnet"] != subnets["hs-b"]["subnet"]
    srv.cli("delete", "node", "hs-a", check=True)
    wait_for(lambda: "hs-a" not in hostsubnets(srv), what="hostsubnet deleted with its node")


def test_node_ip_inside_cluster_network_is_reported(srv: ServerProc) -> None:
    srv.cli("create", "-f", "-", input=node_manifest("hs-bad", "10.128.5.5"), check=True)
    out = wait_for(lambda: (d := srv.cli("describe", "node", "hs-bad").stdout) and "conflicts with cluster network" in d
                   and d, what="warning event")
    assert "node IP 10.128.5.5 conflicts with cluster network 10.128.0.0/14" in out
    assert "hs-bad" not in hostsubnets(srv)


@pytest.mark.parametrize(("patch", "message"), [
    ({"egressIPs": ["192.168.1.300"]}, "egressIPs[0]"),
    ({"egressCIDRs": ["192.168.1.1/24"]}, "egressCIDRs[0]"),
], ids=["bad-egress-ip", "non-canonical-cidr"])
def test_hostsubnet_egress_fields_validated(srv: ServerProc, patch: dict[str, Any], message: str) -> None:
    srv.cli("create", "-f", "-", input=node_manifest("hs-v", "192.0.2.20"))     # once per module
    wait_for(lambda: "hs-v" in hostsubnets(srv), what="hostsubnet")
    r = srv.cli("patch", "hostsubnet", "hs-v", "--type=merge", "-p", json.dumps(patch))
    assert r.returncode == 1 and message in r.stderr


# ---- egress IPs -------------------------------------------------------------------------------

def egress_of(srv: ServerProc, ns: str) -> dict[str, Any] | None:
    ann = (get(srv, "netnamespace", ns)["metadata"].get("annotations") or {}).get("network.osdn.io/egress")
    return json.loads(ann) if ann else None


def test_egress_ips_auto_assignment_balanced_then_failover(srv: ServerProc, fake_nodes: dict[str, FakeNode]) -> None:
    for i, name in enumerate(("node1", "node2"), 1):
        srv.cli("create", "-f", "-", input=node_manifest(name, f"192.168.1.{10 + i}"), check=True)
    for p in ("project1", "project2"):
        srv.cli("new-project", p, check=True)
    wait_for(lambda: {"node1", "node2"} <= set(hostsubnets(srv)) and {"project1", "project2"} <= set(netids(srv)),
             what="hostsubnets and netnamespaces")
    # the seed, verbatim
    srv.cli("patch", "netnamespace", "project1", "--type=merge", "-p", '{"egressIPs": ["192.168.1.100"]}', check=True)
    srv.cli("patch", "netnamespace", "project2", "--type=merge", "-p", '{"egressIPs": ["192.168.1.101"]}', check=True)
    srv.cli("patch", "hostsubnet", "node1", "--type=merge", "-p", '{"egressCIDRs": ["192.168.1.0/24"]}', check=True)
    srv.cli("patch", "hostsubnet", "node2", "--type=merge", "-p", '{"egressCIDRs": ["192.168.1.0/24"]}', check=True)
    placed = wait_for(lambda: (h := hostsubnets(srv)) and h["node1"].get("egressIPs") and h["node2"].get("egressIPs")
                      and h, what="one egress IP per node")
    assert sorted(placed["node1"]["egressIPs"] + placed["node2"]["egressIPs"]) == ["192.168.1.100", "192.168.1.101"]
    owner = "node1" if placed["node1"]["egressIPs"] == ["192.168.1.100"] else "node2"
    other = "node2" if owner == "node1" else "node1"
    assert wait_for(lambda: egress_of(srv, "project1"))["node"] == owner
    fake_nodes[owner].down()
    started = time.monotonic()
    moved = wait_for(lambda: (e := egress_of(srv, "project1")) and e.get("node") == other and e, timeout=30,
                     what="failover of 192.168.1.100")
    print(f"\nfailover seen after {time.monotonic() - started:.2f}s (bench/egress.py measures it)")
    assert moved["egressIP"] == "192.168.1.100"
    # the decision is published first (nodes act on it), the HostSubnet follows at once
    wait_for(lambda: "192.168.1.100" in (hostsubnets(srv)[other].get("egressIPs") or []), what="HostSubnet written")
    health = hostsubnets(srv)[owner]["metadata"]["annotations"]["network.osdn.io/egress-health"]
    assert health.startswith("offline")
    fake_nodes[owner].up()
    wait_for(lambda: hostsubnets(srv)[owner]["metadata"]["annotations"]["network.osdn.io/egress-health"] == "online",
             what="node back online")


def test_manual_egress_ips_fail_over_in_list_order_and_conflicts_drop(srv: ServerProc,
                                                                      fake_nodes: dict[str, FakeNode]) -> None:
    srv.cli("create", "-f", "-", input=node_manifest("node3", "192.168.2.13"), check=True)
    srv.cli("new-project", "ha", check=True)
    wait_for(lambda: "node3" in hostsubnets(srv) and "ha" in netids(srv), what="node3 and ha")
    srv.cli("patch", "hostsubnet", "node3", "--type=merge", "-p", '{"egressIPs": ["192.168.2.100"]}', check=True)
    # 192.168.2.200 is hosted by nobody yet; 192.168.2.100 is on node3
    srv.cli("patch", "netnamespace", "ha", "--type=merge", "-p",
            '{"egressIPs": ["192.168.2.200", "192.168.2.100"]}', check=True)
    assert wait_for(lambda: (e := egress_of(srv, "ha")) and e.get("egressIP") == "192.168.2.100" and e)["node"] == "node3"
    fake_nodes["node3"].down()
    dropped = wait_for(lambda: (e := egress_of(srv, "ha")) and e["action"] == "drop" and e, what="drop")
    assert "node node3" in dropped["reason"] and "offline" in dropped["reason"]
    fake_nodes["node3"].up()
    wait_for(lambda: (e := egress_of(srv, "ha")) and e["action"] == "via", timeout=30, what="back via node3")
    # a second project asking for the same IP is refused by admission...
    srv.cli("new-project", "thief", check=True)
    wait_for(lambda: "thief" in netids(srv), what="thief")
    r = srv.cli("patch", "netnamespace", "thief", "--type=merge", "-p", '{"egressIPs": ["192.168.2.100"]}')
    assert r.returncode == 1 and "already requested by project ha" in r.stderr
    # ...but joined projects share theirs; isolated again, two NetIDs claim the IP: both are dropped,
    # and a Warning event names the conflict
    srv.cli("adm", "pod-network", "join-projects", "--to=ha", "thief", check=True)
    srv.cli("patch", "netnamespace", "thief", "--type=merge", "-p",
            '{"egressIPs": ["192.168.2.200", "192.168.2.100"]}', check=True)
    srv.cli("adm", "pod-network", "isolate-projects", "thief", check=True)
    wait_for(lambda: (e := egress_of(srv, "ha")) and e["action"] == "drop", what="conflict drop")
    assert egress_of(srv, "thief")["action"] == "drop"
    events = srv.cli("describe", "netnamespace", "thief", check=True).stdout
    assert "EgressIPConflict" in events and "claiming EgressIP 192.168.2.100" in events


def test_restart_keeps_netids_and_subnets(tmp_path: Path) -> None:
    srv = start_server(tmp_path, "--network-plugin", "multitenant")
    try:
        srv.cli("new-project", "r1", check=True)
        srv.cli("create", "-f", "-", input=node_manifest("rn", "192.0.2.50"), check=True)
        before = wait_for(lambda: (n := netids(srv)).get("r1") and n, what="r1")
        subnet = wait_for(lambda: hostsubnets(srv).get("rn"), what="rn")["subnet"]
        srv.stop()
        srv.start()
        srv.cli("new-project", "r2", check=True)
        srv.cli("create", "-f", "-", input=node_manifest("rn2", "192.0.2.51"), check=True)
        after = wait_for(lambda: (n := netids(srv)).get("r2") and n, what="r2")
        assert after["r1"] == before["r1"] and after["r2"] not in (before["r1"], 0)
        assert wait_for(lambda: hostsubnets(srv).get("rn2"), what="rn2")["subnet"] != subnet
    finally:
        srv.stop()
