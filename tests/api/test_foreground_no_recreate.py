"""A Service deleted in the foreground while a dependent with a finalizer holds it: the master's
EndpointSlice controller makes no slice for it meanwhile (a slice made again, with its
blockOwnerDeletion reference, would hold the Service for ever), and once the finalizer is removed
the Service goes, with no slice left."""

from __future__ import annotations

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
