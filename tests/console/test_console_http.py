"""The console's endpoints on a real `osdn server`: tokens required, answers computed as the caller
(a project admin sees and traces only their project), the impact preview writes nothing, hostile
input is a 4xx naming the field or limit, and the change feed reports only readable changes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ServerProc, start_server
from consolekit import DENY_BY_DEFAULT, PODS, add_pod, make_project_admin, seed_cluster
from polling import wait_for

ENDPOINTS = [("GET", "/console/api/topology"), ("GET", "/console/api/reachability"),
             ("POST", "/console/api/trace"), ("POST", "/console/api/impact"), ("GET", "/console/api/watch")]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    s = start_server(tmp_path_factory.mktemp("console"))
    try:
        seed_cluster(s)
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def alice(srv: ServerProc) -> str:
    """Admin of project `wonder` only, which holds one pod."""
    token = make_project_admin(srv, "alice", "wonder")
    add_pod(srv, "wonder/w1", "node1", "10.128.0.9")
    return token


def test_the_app_is_served_with_a_strict_policy_and_every_endpoint_needs_a_token(srv: ServerProc) -> None:
    with srv.http(token="") as anonymous:
        page = anonymous.get("/console/")
        assert page.status_code == 200 and "osdn console" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert anonymous.get("/console/static/app.js").headers["content-type"].startswith("text/javascript")
        assert anonymous.get("/console/static/../auth.py").status_code == 404
        for method, path in ENDPOINTS:
            r = anonymous.request(method, path, json={})
            assert (r.status_code, r.json()["kind"]) == (401, "Status"), path


def test_admin_sees_every_node_pod_and_project(srv: ServerProc) -> None:
    with srv.http() as http:
        topo = http.get("/console/api/topology").json()
        grid = http.get("/console/api/reachability", params={"port": 80, "level": "project"}).json()
    pods = {p["key"] for n in topo["nodes"] for proj in n["projects"] for p in proj["pods"]}
    assert set(PODS) <= pods
    assert {"node1", "node2"} <= {n["name"] for n in topo["nodes"]}
    assert {"from": "node1", "to": "node2", "kind": "vxlan"} in topo["links"]
    assert {"alpha", "beta"} <= set(grid["rows"]) and grid["svg"].startswith("<svg")


def test_a_project_admin_sees_and_traces_only_their_project(srv: ServerProc, alice: str) -> None:
    with srv.http(token=alice) as http:
        topo = http.get("/console/api/topology").json()
        grid = http.get("/console/api/reachability", params={"level": "pod"}).json()
        trace = http.post("/console/api/trace", json={"from": "wonder/w1", "to": "alpha/a1"})
        by_ip = http.post("/console/api/trace", json={"from": "wonder/w1", "to": PODS["alpha/a1"][1]}).json()
    pods = {p["key"] for n in topo["nodes"] for proj in n["projects"] for p in proj["pods"]}
    assert pods == {"wonder/w1"}
    assert [p["name"] for p in topo["projects"]] == ["wonder"]
    assert grid["rows"] == ["wonder/w1"] and "alpha" not in grid["svg"]
    assert trace.status_code == 404 and "alpha/a1" in trace.json()["message"]
    assert "alpha" not in json.dumps(by_ip)  # an address of a pod alice cannot read names nothing of it


def test_trace_of_a_blocked_pair_names_the_policy(srv: ServerProc) -> None:
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
              "metadata": {"name": "deny-b2"}, "spec": {"podSelector": {"matchLabels": {"app": "b2"}}}}
    with srv.http() as http:
        assert http.post("/apis/networking.k8s.io/v1/namespaces/beta/networkpolicies", json=policy).status_code == 201
        try:
            out = http.post("/console/api/trace", json={"from": "alpha/a1", "to": "beta/b2", "port": 80}).json()
        finally:
            http.delete("/apis/networking.k8s.io/v1/namespaces/beta/networkpolicies/deny-b2")
    assert out["verdict"]["allowed"] is False
    assert out["text"].startswith("pod alpha/a1 (10.128.0.2) -> pod beta/b2 (10.128.2.3) TCP/80: DENIED")
    assert "NetworkPolicy beta/deny-b2" in out["text"]


def test_trace_to_a_multicast_group_lists_its_receivers(srv: ServerProc) -> None:
    with srv.http() as http:
        out = http.post("/console/api/trace", json={"from": "alpha/a1", "to": "224.1.2.3"}).json()
        node = http.post("/console/api/trace", json={"from": "node/node1", "to": "224.1.2.3"})
    assert out["multicast"]["receivers"] == [] and out["text"].startswith(
        "multicast from pod alpha/a1 to group 224.1.2.3: 0 receiver(s)")
    assert "multicast not enabled on namespace alpha" in out["text"]
    assert node.status_code == 422 and "from: multicast senders must be pods" in node.json()["message"]


def test_impact_of_deny_by_default_lists_what_closes_and_writes_nothing(srv: ServerProc) -> None:
    with srv.http() as http:
        r = http.post("/console/api/impact", json={"manifest": DENY_BY_DEFAULT, "namespace": "beta"})
        assert r.status_code == 200, r.text
        left = http.get("/apis/networking.k8s.io/v1/namespaces/beta/networkpolicies").json()["items"]
    out = r.json()
    closed = {(c["from"], c["to"]) for c in out["closed"] if c["port"] == 80}
    assert {("alpha/a1", "beta/b1"), ("alpha/a2", "beta/b2"), ("beta/b1", "beta/b2")} <= closed
    assert out["opened"] == [] and out["objects"] == ["NetworkPolicy beta/deny-by-default"]
    assert out["lines"][0].startswith("Impact: 0 connection(s) would OPEN")
    assert left == []


def test_impact_needs_the_rights_the_change_would(srv: ServerProc, alice: str) -> None:
    with srv.http(token=alice) as http:
        r = http.post("/console/api/impact", json={"manifest": DENY_BY_DEFAULT, "namespace": "beta"})
        own = http.post("/console/api/impact", json={"manifest": DENY_BY_DEFAULT, "namespace": "wonder"})
    assert r.status_code == 403 and "beta" in r.json()["message"]
    assert own.status_code == 200 and own.json()["lines"] == ["No connection between existing pods would change."]


@pytest.mark.parametrize(("method", "path", "body", "code", "words"), [
    ("GET", "/console/api/reachability?port=0", None, 422, "port: 0: must be between 1 and 65535"),
    ("GET", "/console/api/reachability?port=http", None, 422, 'port: "http": must be a number'),
    ("GET", "/console/api/reachability?protocol=ICMP", None, 422, 'protocol: "ICMP": must be one of'),
    ("GET", "/console/api/reachability?level=cube", None, 422, 'level: "cube"'),
    ("GET", "/console/api/reachability?from=alpha", None, 422, "to: a drill-down needs both from and to"),
    ("POST", "/console/api/reachability", {"verify": [1]}, 422, "verify: must be the JSON object"),
    ("POST", "/console/api/trace", {"from": "alpha/a1"}, 422, "to: required"),
    ("POST", "/console/api/trace", {"from": "a" * 300, "to": "alpha/a1"}, 422, "from: longer than 253"),
    ("POST", "/console/api/impact", {"manifest": ""}, 422, "manifest: required"),
    ("POST", "/console/api/impact", {"manifest": "a: [b"}, 400, "not valid YAML"),
    ("POST", "/console/api/impact", {"manifest": "---\n".join(["kind: Namespace\napiVersion: v1\nmetadata: {name: x}\n"] * 51)},
     422, "51 objects, more than 50"),
    ("POST", "/console/api/impact", {"manifest": "kind: ConfigMap\napiVersion: v1\nmetadata: {name: x}\n"}, 422,
     "kind ConfigMap does not change the network model"),
    ("POST", "/console/api/impact", {"manifest": "x" * (1024 * 1024 + 1)}, 413, "larger than 1048576 bytes"),
    ("POST", "/console/api/trace", [1, 2], 422, "body: must be a JSON object"),
], ids=lambda v: v if isinstance(v, str) and v.startswith("/") else None)
def test_hostile_input_is_a_4xx_status_naming_the_problem(srv: ServerProc, method: str, path: str, body: object,
                                                          code: int, words: str) -> None:
    with srv.http() as http:
        r = http.request(method, path, json=body) if body is not None else http.request(method, path)
    assert r.status_code == code, r.text
    assert words in r.json()["message"]


def _read_feed(srv: ServerProc, token: str, lines: list[dict[str, Any]], stop: threading.Event) -> None:
    with srv.http(token=token) as http, http.stream("GET", "/console/api/watch", timeout=None) as r:
        for line in r.iter_lines():
            if line:
                lines.append(json.loads(line))
            if stop.is_set():
                return


def test_the_change_feed_reports_only_what_the_caller_may_read(srv: ServerProc, alice: str) -> None:
    lines: list[dict[str, Any]] = []
    stop = threading.Event()
    reader = threading.Thread(target=_read_feed, args=(srv, alice, lines, stop), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any(e["type"] == "READY" for e in lines), what="the feed's READY line")
        with srv.http() as http:  # another project's service, then a policy in alice's own project
            svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hidden"},
                   "spec": {"selector": {"app": "a1"}, "ports": [{"port": 80}]}}
            assert http.post("/api/v1/namespaces/alpha/services", json=svc).status_code == 201
            pol = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "mine"},
                   "spec": {"podSelector": {}}}
            assert http.post("/apis/networking.k8s.io/v1/namespaces/wonder/networkpolicies", json=pol).status_code == 201
        changed = wait_for(lambda: [e for e in lines if e["type"] == "CHANGED" and "NetworkPolicy" in e["kinds"]],
                           what="a CHANGED line naming NetworkPolicy")
        kinds = {k for e in lines if e["type"] == "CHANGED" for k in e["kinds"]}
        assert changed and "Service" not in kinds and "Endpoints" not in kinds
    finally:
        stop.set()
        with srv.http() as http:
            http.delete("/api/v1/namespaces/alpha/services/hidden")
            http.delete("/apis/networking.k8s.io/v1/namespaces/wonder/networkpolicies/mine")
