"""The EgressRouter controller against a real `osdn server` (seed 004): the CR makes the NAD and the
Deployment as the CNO renders them, the Deployment's pod, status conditions, updates, a second router
in one namespace, and deleting the CR deletes both objects (no garbage collector in osdn: the
controller collects). Pods live in the API only: the test plays the kubelet (mark_ready)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProc, start_server, wait_for

NS = "er1"
ROUTERS = f"/apis/network.operator.openshift.io/v1/namespaces/{NS}/egressrouters"
NAD = f"/apis/k8s.cni.cncf.io/v1/namespaces/{NS}/network-attachment-definitions/egress-router-cni-nad"
DEPLOY = f"/apis/apps/v1/namespaces/{NS}/deployments/egress-router-cni-deployment"
MERGE = {"Content-Type": "application/merge-patch+json"}
ROUTER = {"apiVersion": "network.operator.openshift.io/v1", "kind": "EgressRouter",
          "metadata": {"name": "egress-router-redirect"},
          "spec": {"addresses": [{"ip": "192.168.12.99/24", "gateway": "192.168.12.1"}],
                   "redirect": {"redirectRules": [{"destinationIP": "10.0.0.99", "port": 80, "protocol": "UDP"}],
                                "fallbackIP": "192.168.12.100"}}}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    s = start_server(tmp_path_factory.mktemp("egrouter"))
    try:
        with s.http() as api:
            api.post("/api/v1/namespaces", json={"metadata": {"name": NS}}).raise_for_status()
        yield s
    finally:
        s.stop()


def got(api: httpx.Client, path: str) -> dict[str, Any] | None:
    r = api.get(path)
    return r.json() if r.status_code == 200 else None


def router_pods(api: httpx.Client) -> list[dict[str, Any]]:
    return list(api.get(f"/api/v1/namespaces/{NS}/pods", params={"labelSelector": "app=egress-router-cni"}).json()[
        "items"])


def mark_ready(api: httpx.Client) -> None:
    """The kubelet's part: the router's pods Running and Ready."""
    for pod in router_pods(api):
        api.patch(f"/api/v1/namespaces/{NS}/pods/{pod['metadata']['name']}/status", headers=MERGE, json={
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})


def condition(api: httpx.Client, name: str, kind: str) -> str:
    router = got(api, f"{ROUTERS}/{name}") or {}
    return next((c["status"] for c in (router.get("status") or {}).get("conditions") or [] if c["type"] == kind), "")


def test_router_makes_nad_and_deployment_then_deleting_it_deletes_both(srv: ServerProc) -> None:
    with srv.http() as api:
        uid = api.post(ROUTERS, json=ROUTER).raise_for_status().json()["metadata"]["uid"]
        nad = wait_for(lambda: got(api, NAD), what="the NetworkAttachmentDefinition")
        deploy = wait_for(lambda: got(api, DEPLOY), what="the Deployment")
        owner = {"apiVersion": "network.operator.openshift.io/v1", "kind": "EgressRouter",
                 "name": "egress-router-redirect", "uid": uid, "controller": True}
        assert nad["metadata"]["ownerReferences"] == [owner] == deploy["metadata"]["ownerReferences"]
        assert json.loads(nad["spec"]["config"])["ip"] == {
            "addresses": ["192.168.12.99/24"], "destinations": ["80 UDP 10.0.0.99"], "fallbackIP": "192.168.12.100",
            "gateway": "192.168.12.1"}
        assert deploy["spec"]["selector"] == {"matchLabels": {"app": "egress-router-cni"}}
        assert wait_for(lambda: condition(api, "egress-router-redirect", "Progressing") == "True",
                        what="Progressing=True")
        wait_for(lambda: mark_ready(api) or condition(api, "egress-router-redirect", "Available") == "True",
                 what="Available=True once the router's pod is ready")
        (pod,) = router_pods(api)
        assert json.loads(pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"]) == [
            {"name": "egress-router-cni-nad", "default-route": ["192.168.12.1"]}]

        change = {"spec": {"redirect": {"redirectRules": [{"destinationIP": "10.0.0.98", "port": 53,
                                                           "protocol": "TCP"}]}}}
        api.patch(f"{ROUTERS}/egress-router-redirect", headers=MERGE, json=change).raise_for_status()
        wait_for(lambda: json.loads((got(api, NAD) or {"spec": {"config": "{}"}})["spec"]["config"]).get(
            "ip", {}).get("destinations") == ["53 TCP 10.0.0.98"], what="the NAD updated from the router")

        api.patch(NAD, headers=MERGE, json={"spec": {"config": '{"cniVersion": "0.4.0", "type": "x"}'}})
        wait_for(lambda: json.loads((got(api, NAD) or {"spec": {"config": "{}"}})["spec"]["config"]).get("type")
                 == "egress-router", what="a hand edit of the NAD repaired")

        assert api.delete(f"{ROUTERS}/egress-router-redirect").status_code == 200
        wait_for(lambda: got(api, NAD) is None and got(api, DEPLOY) is None,
                 what="the NAD and the Deployment deleted with their EgressRouter")
        wait_for(lambda: not router_pods(api), what="the router's pods gone with its Deployment")


def test_one_router_per_namespace(srv: ServerProc) -> None:
    with srv.http() as api:
        api.post(ROUTERS, json={**ROUTER, "metadata": {"name": "first"}}).raise_for_status()
        wait_for(lambda: got(api, NAD), what="the first router's NAD")
        second = copy.deepcopy(ROUTER)
        second["metadata"] = {"name": "second"}
        api.post(ROUTERS, json=second).raise_for_status()
        wait_for(lambda: condition(api, "second", "Degraded") == "True", what="the second router Degraded")
        conds = (got(api, f"{ROUTERS}/second") or {})["status"]["conditions"]
        message = next(c["message"] for c in conds if c["type"] == "Degraded")
        assert message == f"EgressRouter first of namespace {NS} already owns egress-router-cni-nad and " \
                          "egress-router-cni-deployment: one router per namespace"
        out = srv.kubectl("get", "egressrouters", "-n", NS, check=True).stdout
        assert out.split("\n")[0].split() == ["NAME", "CONDITION", "STATUS", "AGE"]
        assert "Available,Progressing,Degraded" in out and "False,False,True" in out
        api.delete(f"{ROUTERS}/first").raise_for_status()
        wait_for(lambda: (got(api, NAD) or {}).get("metadata", {}).get("ownerReferences", [{}])[0].get("name")
                 == "second", what="the second router takes the names over")
        api.delete(f"{ROUTERS}/second").raise_for_status()
        wait_for(lambda: got(api, NAD) is None and got(api, DEPLOY) is None, what="everything collected")
