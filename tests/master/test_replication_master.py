"""The ReplicationController controller against a real `osdn server`: the seeds' failover RC."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProc, start_server, wait_for

PODS = "/api/v1/namespaces/rc1/pods"
RCS = "/api/v1/namespaces/rc1/replicationcontrollers"
SEED_RC = {  # seed 000's failover RC (values filled in)
    "apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "egress-demo-controller"},
    "spec": {"replicas": 1, "selector": {"name": "egress-demo"},
             "template": {"metadata": {"name": "egress-demo", "labels": {"name": "egress-demo"},
                                       "annotations": {"pod.network.openshift.io/assign-macvlan": "true"}},
                          "spec": {"containers": [{"name": "egress-demo-container",
                                                   "image": "openshift/origin-egress-router",
                                                   "env": [{"name": "EGRESS_SOURCE", "value": "192.168.12.99"},
                                                           {"name": "EGRESS_GATEWAY", "value": "192.168.12.1"},
                                                           {"name": "EGRESS_DESTINATION", "value": "203.0.113.25"}],
                                                   "securityContext": {"privileged": True}}],
                                   "nodeSelector": {"site": "springfield-1"}}}}}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    s = start_server(tmp_path_factory.mktemp("rc"))
    try:
        with s.http() as api:
            api.post("/api/v1/namespaces", json={"metadata": {"name": "rc1"}}).raise_for_status()
        yield s
    finally:
        s.stop()


def live_pods(api: httpx.Client) -> list[dict[str, Any]]:
    return [p for p in api.get(PODS).json()["items"] if not p["metadata"].get("deletionTimestamp")]


def test_rc_keeps_one_pod_replaces_a_deleted_one_scales_and_cleans_up(srv: ServerProc) -> None:
    with srv.http() as api:
        api.post(RCS, json=SEED_RC).raise_for_status()
        first = wait_for(lambda: live_pods(api), what="the RC's pod")
        assert len(first) == 1 and first[0]["metadata"]["name"].startswith("egress-demo-controller-")
        assert first[0]["metadata"]["annotations"]["pod.network.openshift.io/assign-macvlan"] == "true"
        api.delete(f"{PODS}/{first[0]['metadata']['name']}").raise_for_status()
        second = wait_for(lambda: [p for p in live_pods(api) if p["metadata"]["name"] != first[0]["metadata"]["name"]],
                          what="a replacement pod")
        assert len(second) == 1
        assert wait_for(lambda: api.get(f"{RCS}/egress-demo-controller").json().get("status", {}).get("replicas") == 1)
        api.patch(f"{RCS}/egress-demo-controller", json={"spec": {"replicas": 3}},
                  headers={"Content-Type": "application/merge-patch+json"}).raise_for_status()
        wait_for(lambda: len(live_pods(api)) == 3, what="3 pods")
        api.patch(f"{RCS}/egress-demo-controller", json={"spec": {"replicas": 1}},
                  headers={"Content-Type": "application/merge-patch+json"}).raise_for_status()
        wait_for(lambda: len(live_pods(api)) == 1, what="scaled down to 1")
        api.delete(f"{RCS}/egress-demo-controller").raise_for_status()
        wait_for(lambda: not live_pods(api), what="the RC's pods deleted with it")
