"""EndpointSlices (discovery.k8s.io/v1) against a real `osdn server`: the master keeps them current
from services and pods (and mirrors manual Endpoints), the API serves them with discovery, OpenAPI,
Table columns and RBAC, and the real kubectl and `kubernetes` Python client read them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import ServerProc, start_server, wait_for

GROUP = "/apis/discovery.k8s.io/v1"
SLICES = GROUP + "/namespaces/{ns}/endpointslices"
MERGE = {"Content-Type": "application/merge-patch+json"}
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"




@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    s = start_server(tmp_path_factory.mktemp("eps"))
    try:
        with s.http() as api:
            api.post("/api/v1/namespaces", json={"metadata": {"name": "e1"}}).raise_for_status()
        yield s
    finally:
        s.stop()


def make_svc(api: httpx.Client, name: str, selector: dict[str, str] | None, **spec: Any) -> None:
    body: dict[str, Any] = {"ports": [{"name": "http", "port": 80, "targetPort": 8080}], **spec}
    if selector:
        body["selector"] = selector
    api.post("/api/v1/namespaces/e1/services", json={"apiVersion": "v1", "kind": "Service",
                                                      "metadata": {"name": name}, "spec": body}).raise_for_status()


def make_pod(api: httpx.Client, name: str, labels: dict[str, str], ip: str, ready: bool = True) -> None:
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x"}]}}
    api.post("/api/v1/namespaces/e1/pods", json=body).raise_for_status()
    status = {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": str(ready)}]}
    api.patch(f"/api/v1/namespaces/e1/pods/{name}/status", json={"status": status}, headers=MERGE).raise_for_status()


def slices(api: httpx.Client, service: str) -> list[dict[str, Any]]:
    r = api.get(SLICES.format(ns="e1"), params={"labelSelector": f"kubernetes.io/service-name={service}"})
    r.raise_for_status()
    return list(r.json()["items"])


def addresses(api: httpx.Client, service: str) -> dict[str, bool]:
    return {e["addresses"][0]: e["conditions"]["ready"] for s in slices(api, service) for e in s["endpoints"]}


def test_slices_follow_pods_and_go_with_the_service(srv: ServerProc) -> None:
    with srv.http() as api:
        make_svc(api, "web", {"app": "web"})
        make_pod(api, "w1", {"app": "web"}, "10.128.0.5")
        make_pod(api, "w2", {"app": "web"}, "10.128.0.6", ready=False)
        wait_for(lambda: addresses(api, "web") == {"10.128.0.5": True, "10.128.0.6": False}, what="slice endpoints")
        [one] = slices(api, "web")
        svc = api.get("/api/v1/namespaces/e1/services/web").json()
        assert one["metadata"]["labels"] == {"kubernetes.io/service-name": "web",
                                             "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}
        assert one["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                                       "uid": svc["metadata"]["uid"], "controller": True,
                                                       "blockOwnerDeletion": True}]
        assert one["addressType"] == "IPv4" and one["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
        ep = next(e for e in one["endpoints"] if e["targetRef"]["name"] == "w1")
        assert ep["nodeName"] == "n1" and ep["conditions"] == {"ready": True, "serving": True, "terminating": False}
        api.patch("/api/v1/namespaces/e1/pods/w1", json={"metadata": {"labels": {"app": "gone"}}},
                  headers=MERGE).raise_for_status()
        wait_for(lambda: addresses(api, "web") == {"10.128.0.6": False}, what="pod leaves the slice")
        api.delete("/api/v1/namespaces/e1/services/web").raise_for_status()
        wait_for(lambda: slices(api, "web") == [], what="slices deleted with the service")


def test_a_hand_edit_is_repaired_and_manual_endpoints_are_mirrored(srv: ServerProc) -> None:
    with srv.http() as api:
        make_svc(api, "db", {"app": "db"})
        make_pod(api, "d1", {"app": "db"}, "10.128.0.20")
        wait_for(lambda: addresses(api, "db") == {"10.128.0.20": True}, what="slice")
        [one] = slices(api, "db")
        one["endpoints"][0]["addresses"] = ["10.129.9.9"]
        api.put(SLICES.format(ns="e1") + f"/{one['metadata']['name']}", json=one).raise_for_status()
        wait_for(lambda: addresses(api, "db") == {"10.128.0.20": True}, what="repair of a hand edit")
        make_svc(api, "ext", None)
        manual = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "ext", "labels": {"a": "b"}},
                  "subsets": [{"addresses": [{"ip": "192.0.2.7"}], "ports": [{"name": "http", "port": 80}]}]}
        api.post("/api/v1/namespaces/e1/endpoints", json=manual).raise_for_status()
        wait_for(lambda: addresses(api, "ext") == {"192.0.2.7": True}, what="mirrored slice")
        [mirrored] = slices(api, "ext")
        assert mirrored["metadata"]["labels"] == {"a": "b", "kubernetes.io/service-name": "ext",
                                                  "endpointslice.kubernetes.io/managed-by":
                                                  "endpointslicemirroring-controller.k8s.io"}
        assert mirrored["metadata"]["ownerReferences"][0]["kind"] == "Endpoints"
        api.delete("/api/v1/namespaces/e1/services/ext").raise_for_status()
        wait_for(lambda: slices(api, "ext") == [], what="mirrored slice deleted with the service")


def test_validation_discovery_openapi_and_table(srv: ServerProc) -> None:
    bad = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "bad"},
           "addressType": "IPv4", "endpoints": [{"addresses": ["127.0.0.1"]}]}
    with srv.http() as api:
        r = api.post(SLICES.format(ns="e1"), json=bad)
        assert r.status_code == 422
        assert r.json()["details"]["causes"][0]["field"] == "endpoints[0].addresses[0]"
        assert "loopback" in r.json()["message"] and 'EndpointSlice "bad" in project "e1"' in r.json()["message"]
        resources = {x["name"]: x for x in api.get(GROUP).json()["resources"]}
        assert resources["endpointslices"]["kind"] == "EndpointSlice" and resources["endpointslices"]["namespaced"]
        groups = {g["metadata"]["name"]: g for g in api.get("/apis", headers={"Accept": AGGREGATED}).json()["items"]}
        [res] = groups["discovery.k8s.io"]["versions"][0]["resources"]
        assert (res["resource"], res["scope"]) == ("endpointslices", "Namespaced")
        v3 = api.get("/openapi/v3/apis/discovery.k8s.io/v1").json()["components"]["schemas"]
        assert "io.k8s.api.discovery.v1.EndpointSlice" in v3
        assert "addressType" in v3["io.k8s.api.discovery.v1.EndpointSlice"]["properties"]
        target = v3["io.k8s.api.discovery.v1.Endpoint"]["properties"]["targetRef"]
        assert target["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.core.v1.ObjectReference"}]
        assert v3["io.k8s.api.core.v1.ObjectReference"]["properties"]["uid"]["description"].startswith("UID of")
        assert "io.k8s.api.discovery.v1.EndpointSlice" in api.get("/openapi/v2").json()["definitions"]
        make_svc(api, "tab", {"app": "tab"})
        make_pod(api, "t1", {"app": "tab"}, "10.128.0.30")
        wait_for(lambda: addresses(api, "tab"), what="slice")
        table = api.get(SLICES.format(ns="e1"), params={"labelSelector": "kubernetes.io/service-name=tab"},
                        headers={"Accept": TABLE}).json()
        names = [c["name"].upper() for c in table["columnDefinitions"]]   # kubectl prints them upper-cased
        assert names == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
        assert table["rows"][0]["cells"][1:4] == ["IPv4", "8080", "10.128.0.30"]


def _user_with_role(api: httpx.Client, user: str, role: str) -> str:
    token = str(api.post("/osdn/v1/tokens", json={"user": user, "groups": []}).json()["token"])
    rb = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": user},
          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
          "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user}]}
    api.post("/apis/rbac.authorization.k8s.io/v1/namespaces/e1/rolebindings", json=rb).raise_for_status()
    return token


def test_project_viewers_read_slices_and_only_the_master_writes_them(srv: ServerProc) -> None:
    with srv.http() as api:
        viewer, admin = _user_with_role(api, "vera", "view"), _user_with_role(api, "adam", "admin")
    body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "mine"},
            "addressType": "IPv4", "endpoints": [{"addresses": ["10.129.0.5"]}]}
    with srv.http(token=viewer) as vera:
        assert vera.get(SLICES.format(ns="e1")).status_code == 200
        assert vera.get(SLICES.format(ns="default")).status_code == 403
    with srv.http(token=admin) as adam:
        assert adam.get(SLICES.format(ns="e1")).status_code == 200
        r = adam.post(SLICES.format(ns="e1"), json=body)
        assert r.status_code == 403 and "endpointslices" in r.json()["message"]


def test_kubectl_and_the_python_client_list_slices(srv: ServerProc) -> None:
    with srv.http() as api:
        make_svc(api, "kc", {"app": "kc"})
        make_pod(api, "k1", {"app": "kc"}, "10.128.0.40")
        wait_for(lambda: addresses(api, "kc"), what="slice")
    out = srv.kubectl("get", "endpointslices", "-n", "e1", "-l", "kubernetes.io/service-name=kc", check=True).stdout
    header, row = out.splitlines()[:2]
    assert header.split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    assert row.split()[0].startswith("kc-") and row.split()[1:4] == ["IPv4", "8080", "10.128.0.40"]
    doc = yaml.safe_load(srv.kubectl("get", "endpointslices", "-n", "e1", "-l", "kubernetes.io/service-name=kc",
                                     "-o", "yaml", check=True).stdout)
    assert doc["items"][0]["endpoints"][0]["targetRef"]["name"] == "k1"
    kubernetes = pytest.importorskip("kubernetes")
    with kubernetes.config.new_client_from_config(str(srv.config)) as c:
        listed = kubernetes.client.DiscoveryV1Api(c).list_namespaced_endpoint_slice(
            "e1", label_selector="kubernetes.io/service-name=kc")
    [item] = listed.items
    assert item.address_type == "IPv4" and item.endpoints[0].addresses == ["10.128.0.40"]
    assert item.endpoints[0].conditions.ready is True and item.ports[0].port == 8080
