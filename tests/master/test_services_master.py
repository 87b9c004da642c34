"""ClusterIP allocation (admission) and the endpoints controller, against a real `osdn server` process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProc, start_server, wait_for

SVC = "/api/v1/namespaces/{ns}/services"




@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    s = start_server(tmp_path_factory.mktemp("svc"))
    try:
        with s.http() as api:
            for ns in ("s1", "s2"):
                api.post("/api/v1/namespaces", json={"metadata": {"name": ns}}).raise_for_status()
        yield s
    finally:
        s.stop()


def service(name: str, selector: dict[str, str] | None = None, cluster_ip: str | None = None,
            ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"ports": ports or [{"name": "http", "port": 80, "targetPort": 8080}]}
    if selector:
        spec["selector"] = selector
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def create_svc(api: httpx.Client, ns: str, body: dict[str, Any]) -> httpx.Response:
    return api.post(SVC.format(ns=ns), json=body)


def test_bootstrap_creates_the_dns_service_at_the_tenth_address(srv: ServerProc) -> None:
    with srv.http() as api:
        svc = api.get("/api/v1/namespaces/openshift-dns/services/dns-default").json()
    assert svc["spec"]["clusterIP"] == "172.30.0.10"
    assert {(p["protocol"], p["port"]) for p in svc["spec"]["ports"]} == {("UDP", 53), ("TCP", 53)}
    assert svc["metadata"]["annotations"]["network.osdn.io/node-local-endpoint"] == "gateway"


def test_cluster_ip_allocated_from_the_service_network(srv: ServerProc) -> None:
    with srv.http() as api:
        r = create_svc(api, "s1", service("auto"))
        assert r.status_code == 201, r.text
        spec = r.json()["spec"]
    ip = spec["clusterIP"]
    assert ip.startswith("172.30.") and ip not in ("172.30.0.0", "172.30.255.255")
    assert spec["clusterIPs"] == [ip] and spec["ipFamilies"] == ["IPv4"]


def test_explicit_cluster_ip_honoured_duplicate_refused_released_on_delete(srv: ServerProc) -> None:
    with srv.http() as api:
        r = create_svc(api, "s1", service("fixed", cluster_ip="172.30.0.50"))
        assert r.status_code == 201 and r.json()["spec"]["clusterIP"] == "172.30.0.50"
        dup = create_svc(api, "s2", service("other", cluster_ip="172.30.0.50"))
        assert dup.status_code == 422, dup.text
        status = dup.json()
        assert status["reason"] == "Invalid"
        assert status["details"]["causes"][0]["field"] == "spec.clusterIP"
        assert "172.30.0.50" in status["message"] and "already allocated" in status["message"]
        assert 'Service "other"' in status["message"]
        api.delete(SVC.format(ns="s1") + "/fixed").raise_for_status()
        again = create_svc(api, "s2", service("other", cluster_ip="172.30.0.50"))
        assert again.status_code == 201, again.text


def test_cluster_ip_outside_the_range_refused(srv: ServerProc) -> None:
    with srv.http() as api:
        r = create_svc(api, "s1", service("outside", cluster_ip="10.0.0.7"))
    assert r.status_code == 422
    assert "not in the valid range" in r.json()["message"] and "172.30.0.0/16" in r.json()["message"]


def test_headless_gets_no_cluster_ip_and_update_keeps_it(srv: ServerProc) -> None:
    with srv.http() as api:
        r = create_svc(api, "s1", service("headless", cluster_ip="None"))
        assert r.json()["spec"]["clusterIP"] == "None"
        made = create_svc(api, "s1", service("keep")).json()
        made["metadata"]["labels"] = {"x": "y"}
        upd = api.put(SVC.format(ns="s1") + "/keep", json=made)
        assert upd.status_code == 200, upd.text
        assert upd.json()["spec"]["clusterIP"] == made["spec"]["clusterIP"]


def test_allocations_survive_a_restart(tmp_path_factory: pytest.TempPathFactory) -> None:
    s = start_server(tmp_path_factory.mktemp("restart"), "--service-network", "172.30.0.0/28")
    try:
        with s.http() as api:
            api.post("/api/v1/namespaces", json={"metadata": {"name": "r"}}).raise_for_status()
            ips = {create_svc(api, "r", service(f"a{i}")).json()["spec"]["clusterIP"] for i in range(6)}
        s.stop()
        s.start()
        with s.http() as api:
            more = [create_svc(api, "r", service(f"b{i}")) for i in range(8)]
        got = [r.json()["spec"]["clusterIP"] for r in more if r.status_code == 201]
        # 14 usable addresses: 172.30.0.10 (DNS) + 6 before the restart + 7 more, then full
        assert len(got) == 7 and not set(got) & ips and "172.30.0.10" not in got
        assert more[-1].status_code == 500 and "is full" in more[-1].json()["message"]
    finally:
        s.stop()


def pod(name: str, labels: dict[str, str], ip: str, ready: bool = True, port_name: str | None = None) -> dict[str, Any]:
    ports = [{"containerPort": 9090, "name": port_name}] if port_name else []
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x", "ports": ports}]},
            "status": {"phase": "Running", "podIP": ip,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def make_pod(api: httpx.Client, ns: str, body: dict[str, Any]) -> None:
    status = body.pop("status")
    api.post(f"/api/v1/namespaces/{ns}/pods", json=body).raise_for_status()
    api.patch(f"/api/v1/namespaces/{ns}/pods/{body['metadata']['name']}/status", json={"status": status},
              headers={"Content-Type": "application/merge-patch+json"}).raise_for_status()


def endpoints(api: httpx.Client, ns: str, name: str) -> dict[str, Any] | None:
    r = api.get(f"/api/v1/namespaces/{ns}/endpoints/{name}")
    return r.json() if r.status_code == 200 else None


def addresses(ep: dict[str, Any] | None, field: str = "addresses") -> set[tuple[str, int]]:
    return {(a["ip"], p["port"]) for s in (ep or {}).get("subsets") or [] for a in s.get(field) or []
            for p in s.get("ports") or []}


def test_endpoints_follow_ready_pods_and_named_ports(srv: ServerProc) -> None:
    with srv.http() as api:
        create_svc(api, "s2", service("web", {"app": "web"}, ports=[{"name": "h", "port": 80, "targetPort": "metrics"}]))
        make_pod(api, "s2", pod("w1", {"app": "web"}, "10.128.0.5", port_name="metrics"))
        make_pod(api, "s2", pod("w2", {"app": "web"}, "10.128.0.6", ready=False, port_name="metrics"))
        make_pod(api, "s2", pod("w3", {"app": "web"}, "10.128.0.7"))  # lacks the named port
        make_pod(api, "s2", pod("x1", {"app": "other"}, "10.128.0.8", port_name="metrics"))
        # both in one look: the controller may write the ready pod before it has seen the unready one
        ep = wait_for(lambda: (e := endpoints(api, "s2", "web")) and addresses(e) == {("10.128.0.5", 9090)} and
                      addresses(e, "notReadyAddresses") == {("10.128.0.6", 9090)} and e,
                      what="w1 ready and w2 not ready")
        assert ep["subsets"][0]["addresses"][0]["targetRef"]["name"] == "w1"
        # a label change takes a pod out of the selector; a new pod joins
        api.patch("/api/v1/namespaces/s2/pods/w1", json={"metadata": {"labels": {"app": "gone"}}},
                  headers={"Content-Type": "application/merge-patch+json"}).raise_for_status()
        make_pod(api, "s2", pod("w4", {"app": "web"}, "10.128.0.9", port_name="metrics"))
        wait_for(lambda: addresses(endpoints(api, "s2", "web")) == {("10.128.0.9", 9090)}, what="new endpoint")
        api.delete(SVC.format(ns="s2") + "/web").raise_for_status()
        wait_for(lambda: endpoints(api, "s2", "web") is None, what="endpoints deleted with the service")


def test_manual_endpoints_of_a_selectorless_service_left_alone(srv: ServerProc) -> None:
    manual = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "ext"},
              "subsets": [{"addresses": [{"ip": "192.0.2.7"}], "ports": [{"name": "http", "port": 80}]}]}
    with srv.http() as api:
        create_svc(api, "s2", service("ext"))
        api.post("/api/v1/namespaces/s2/endpoints", json=manual).raise_for_status()
        time.sleep(1.0)
        assert addresses(endpoints(api, "s2", "ext")) == {("192.0.2.7", 80)}
        api.delete(SVC.format(ns="s2") + "/ext").raise_for_status()
        time.sleep(0.5)
        assert endpoints(api, "s2", "ext") is not None


def test_endpoints_repaired_after_a_hand_edit(srv: ServerProc) -> None:
    with srv.http() as api:
        create_svc(api, "s2", service("db", {"app": "db"}, ports=[{"name": "pg", "port": 5432}]))
        make_pod(api, "s2", pod("d1", {"app": "db"}, "10.128.0.20"))
        wait_for(lambda: addresses(endpoints(api, "s2", "db")) == {("10.128.0.20", 5432)}, what="endpoint")
        ep = endpoints(api, "s2", "db")
        assert ep is not None
        ep["subsets"][0]["addresses"] = [{"ip": "10.129.9.9"}]
        api.put("/api/v1/namespaces/s2/endpoints/db", json=ep).raise_for_status()
        wait_for(lambda: addresses(endpoints(api, "s2", "db")) == {("10.128.0.20", 5432)}, what="repair")
