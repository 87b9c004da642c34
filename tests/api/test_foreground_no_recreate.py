"""Owners held in a foreground deletion by a dependent with a finalizer: the master's controllers make
nothing for them meanwhile. A Service's EndpointSlice is not made again (with its blockOwnerDeletion
reference it would hold the Service for ever); a Deployment's ReplicaSet makes no replacement pod,
and both only count their pods down."""

from __future__ import annotations

from typing import Any

from tests.conftest import ServerProc, wait_for

NS = "/api/v1/namespaces/default"
SLICES = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
MERGE = {"Content-Type": "application/merge-patch+json"}


def test_a_service_being_deleted_gets_no_new_endpointslice(server: ServerProc) -> None:
    with server.http() as api:
        svc = api.post(f"{NS}/services", json={"metadata": {"name": "held"}, "spec": {
            "selector": {"app": "held"}, "ports": [{"port": 80, "protocol": "TCP"}]}})
        assert svc.status_code == 201, svc.text
        ref = {"apiVersion": "v1", "kind": "Service", "name": "held", "uid": svc.json()["metadata"]["uid"],
               "blockOwnerDeletion": True}
        try:
            api.post(f"{NS}/configmaps", json={"metadata": {
                "name": "holder", "ownerReferences": [ref], "finalizers": ["example.com/hold"]}})

            def slices() -> list[str]:
                found = api.get(SLICES, params={"labelSelector": "kubernetes.io/service-name=held"}).json()
                return [s["metadata"]["name"] for s in found["items"]]

            wait_for(lambda: len(slices()) == 1, what="the Service's placeholder EndpointSlice")
            marked = api.delete(f"{NS}/services/held", params={"propagationPolicy": "Foreground"})
            assert marked.status_code == 200 and marked.json()["metadata"]["deletionTimestamp"]
            wait_for(lambda: not slices(), what="the EndpointSlice collected")
            assert api.get(f"{NS}/services/held").status_code == 200   # still held by the ConfigMap
            api.patch(f"{NS}/configmaps/holder", headers=MERGE, json={"metadata": {"finalizers": None}})
            wait_for(lambda: api.get(f"{NS}/services/held").status_code == 404, timeout=30,
                     what="the Service gone (no slice made again blocks it)")
            assert slices() == []
        finally:
            api.patch(f"{NS}/configmaps/holder", headers=MERGE, json={"metadata": {"finalizers": None}})
            api.delete(f"{NS}/configmaps/holder")
            api.delete(f"{NS}/services/held")


def test_a_deployment_held_in_a_foreground_deletion_makes_no_pod_and_counts_down(server: ServerProc) -> None:
    """Deployment of 2, one pod held by a finalizer, deleted in the foreground: the marked ReplicaSet
    and Deployment make no pod or RS (kube's controllers skip an owner with a deletionTimestamp) and
    only their status follows (syncReplicaSet, syncStatusOnly): 0 replicas, while the held pod stays."""
    apps = "/apis/apps/v1/namespaces/default"
    with server.http() as api:
        server.kubectl("create", "deployment", "countdown", "--image=i", "--replicas=2", check=True)

        def pods() -> list[dict[str, Any]]:
            return list(api.get(f"{NS}/pods", params={"labelSelector": "app=countdown"}).json()["items"])

        def replicas(path: str) -> int | None:
            got = api.get(path)
            return int((got.json().get("status") or {}).get("replicas") or 0) if got.status_code == 200 else None

        held = wait_for(lambda: len(found := pods()) == 2 and found[0]["metadata"]["name"], what="two pods")
        try:
            api.patch(f"{NS}/pods/{held}", headers=MERGE, json={"metadata": {"finalizers": ["example.com/hold"]}})
            wait_for(lambda: replicas(f"{apps}/deployments/countdown") == 2, what="the Deployment counting 2")
            rs = api.get(f"{apps}/replicasets", params={"labelSelector": "app=countdown"}).json()["items"]
            assert len(rs) == 1
            rs_path = f"{apps}/replicasets/{rs[0]['metadata']['name']}"
            marked = api.delete(f"{apps}/deployments/countdown", params={"propagationPolicy": "Foreground"})
            assert marked.status_code == 200 and marked.json()["metadata"]["deletionTimestamp"]
            wait_for(lambda: replicas(rs_path) == 0 and replicas(f"{apps}/deployments/countdown") == 0,
                     what="the marked ReplicaSet and Deployment counting 0")
            assert [p["metadata"]["name"] for p in pods()] == [held]   # no replacement: only the held pod
            assert len(api.get(f"{apps}/replicasets", params={"labelSelector": "app=countdown"}).json()["items"]) == 1
        finally:
            api.patch(f"{NS}/pods/{held}", headers=MERGE, json={"metadata": {"finalizers": None}})
        wait_for(lambda: api.get(f"{apps}/deployments/countdown").status_code == 404 and not pods(),
                 what="the Deployment and its pods gone")
