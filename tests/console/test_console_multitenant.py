"""The console on a multitenant server: a project admin's answers use the cluster's mode and their
projects' own NetIDs (not the model's defaults), without other projects; the impact preview of a
pod-network change (the annotation `adm pod-network` writes) replays the master's NetID decision."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import ServerProc, start_server
from consolekit import add_pod, make_project_admin, seed_cluster

CHANGE = "pod.network.openshift.io/multitenant.change-network"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    s = start_server(tmp_path_factory.mktemp("console-mt"), "--network-plugin", "multitenant")
    try:
        seed_cluster(s)
        yield s
    finally:
        s.stop()


def _pods_allowed(srv: ServerProc, token: str) -> dict[tuple[str, str], int]:
    with srv.http(token=token) as http:
        grid = http.get("/console/api/reachability", params={"level": "pod"}).json()
    return {(r, c): grid["allowed"][i][j] for i, r in enumerate(grid["rows"]) for j, c in enumerate(grid["cols"])}


def test_a_project_admin_sees_their_projects_isolated_then_joined(srv: ServerProc) -> None:
    alice = make_project_admin(srv, "alice", "one")
    with srv.http(token=alice) as http:
        assert http.post("/apis/project.openshift.io/v1/projects", json={
            "apiVersion": "v1", "kind": "Project", "metadata": {"name": "two"}}).status_code == 201
    add_pod(srv, "one/p1", "node1", "10.128.0.20")
    add_pod(srv, "two/p2", "node2", "10.128.2.20")
    before = _pods_allowed(srv, alice)
    assert set(before) == {("one/p1", "one/p1"), ("one/p1", "two/p2"), ("two/p2", "one/p1"), ("two/p2", "two/p2")}
    assert before[("one/p1", "two/p2")] == 0  # multitenant: different NetIDs, as the cluster has them
    srv.cli("adm", "pod-network", "join-projects", "--to=one", "two", check=True)
    assert _pods_allowed(srv, alice)[("one/p1", "two/p2")] == 1
    with srv.http(token=alice) as http:
        topo = http.get("/console/api/topology").json()
    assert topo["mode"] == "multitenant"
    netids = {p["name"]: p["netid"] for p in topo["projects"]}
    assert set(netids) == {"one", "two"} and netids["one"] == netids["two"] is not None


def test_impact_of_a_pod_network_change_replays_the_master(srv: ServerProc) -> None:
    manifest = (f"apiVersion: network.openshift.io/v1\nkind: NetNamespace\nmetadata:\n  name: beta\n"
                f"  annotations: {{{CHANGE}: 'join:alpha'}}\nnetname: beta\n")
    with srv.http() as http:
        before = http.get("/apis/network.openshift.io/v1/netnamespaces/beta").json()
        r = http.post("/console/api/impact", json={"manifest": manifest})
        after = http.get("/apis/network.openshift.io/v1/netnamespaces/beta").json()
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["closed"] == [] and {(c["from"], c["to"]) for c in out["opened"]} == {
        (a, b) for a in ("alpha/a1", "alpha/a2") for b in ("beta/b1", "beta/b2")} | {
        (b, a) for a in ("alpha/a1", "alpha/a2") for b in ("beta/b1", "beta/b2")}
    assert out["lines"][0].startswith("Impact: 8 connection(s) would OPEN, 0 would CLOSE")
    assert after == before  # a preview: no annotation, no NetID change stored
