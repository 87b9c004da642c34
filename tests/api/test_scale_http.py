"""The scale subresource over HTTP: the autoscaling/v1 Scale of a Deployment and an RC, merge patch
and PUT (resourceVersion precondition), the 422 naming spec.replicas, RBAC on `deployments/scale`,
discovery listing it as autoscaling/v1 Scale."""

from __future__ import annotations

from typing import Any

from tests.conftest import ServerProc, wait_for

NS = "default"
DEPLOY = f"/apis/apps/v1/namespaces/{NS}/deployments"
RC = f"/api/v1/namespaces/{NS}/replicationcontrollers"
MERGE = {"Content-Type": "application/merge-patch+json"}
RBAC = "rbac.authorization.k8s.io"


def web(name: str = "web") -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name},
                                                 "matchExpressions": [{"key": "tier", "operator": "In",
                                                                       "values": ["a", "b"]}]},
                     "template": {"metadata": {"labels": {"app": name, "tier": "a"}},
                                  "spec": {"containers": [{"name": "c", "image": "i"}]}}}}


def test_scale_of_a_deployment_reads_and_writes_spec_replicas(server: ServerProc) -> None:
    with server.http() as api:
        created = api.post(DEPLOY, json=web()).json()
        scale = api.get(f"{DEPLOY}/web/scale").json()
        assert (scale["kind"], scale["apiVersion"]) == ("Scale", "autoscaling/v1")
        assert scale["spec"] == {"replicas": 1}
        assert scale["status"]["selector"] == "app=web,tier in (a,b)"
        assert scale["metadata"]["uid"] == created["metadata"]["uid"]
        r = api.patch(f"{DEPLOY}/web/scale", headers=MERGE, json={"spec": {"replicas": 4}})
        assert r.status_code == 200 and r.json()["spec"]["replicas"] == 4, r.text
        after = api.get(f"{DEPLOY}/web").json()
        assert after["spec"]["replicas"] == 4
        assert after["metadata"]["generation"] == created["metadata"]["generation"] + 1
        assert any(m.get("subresource") == "scale" for m in after["metadata"]["managedFields"])

        stale = {**scale, "spec": {"replicas": 2}}
        r = api.put(f"{DEPLOY}/web/scale", json=stale)
        assert r.status_code == 409, r.text

        def put_fresh() -> bool:   # the master writes the Deployment too (status, revision): retry a conflict
            fresh = api.get(f"{DEPLOY}/web/scale").json()
            r = api.put(f"{DEPLOY}/web/scale", json={**fresh, "spec": {"replicas": 2}})
            assert r.status_code in (200, 409), r.text
            return r.status_code == 200
        wait_for(put_fresh, what="a PUT with a fresh resourceVersion")
        assert api.get(f"{DEPLOY}/web").json()["spec"]["replicas"] == 2

        r = api.patch(f"{DEPLOY}/web/scale", headers=MERGE, json={"spec": {"replicas": -1}})
        assert r.status_code == 422
        assert r.json()["message"] == \
            'Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0'
        assert api.get(f"{DEPLOY}/web").json()["spec"]["replicas"] == 2


def test_scale_of_an_rc_and_kinds_without_scale(server: ServerProc) -> None:
    rc = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "r"},
          "spec": {"replicas": 0, "selector": {"app": "r"}, "template": {
              "metadata": {"labels": {"app": "r"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    with server.http() as api:
        api.post(RC, json=rc).raise_for_status()
        assert api.get(f"{RC}/r/scale").json()["status"]["selector"] == "app=r"
        api.post(f"/api/v1/namespaces/{NS}/configmaps", json={"metadata": {"name": "c"}}).raise_for_status()
        assert api.get(f"/api/v1/namespaces/{NS}/configmaps/c/scale").status_code == 404


def test_scale_needs_rbac_on_the_subresource_and_is_discovered(server: ServerProc) -> None:
    with server.http() as api:
        api.post(DEPLOY, json=web("w2")).raise_for_status()
        token = api.post("/osdn/v1/tokens", json={"user": "vera", "groups": []}).json()["token"]
        api.post(f"/apis/{RBAC}/v1/namespaces/{NS}/rolebindings", json={
            "metadata": {"name": "vera-view"}, "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "apiGroup": RBAC, "name": "vera"}]}).raise_for_status()
        resources = api.get("/apis/apps/v1").json()["resources"]
        assert {"name": "deployments/scale", "singularName": "", "namespaced": True, "group": "autoscaling",
                "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]} in resources
    with server.http(token=token) as viewer:
        assert viewer.get(f"{DEPLOY}/w2/scale").status_code == 200
        r = viewer.patch(f"{DEPLOY}/w2/scale", headers=MERGE, json={"spec": {"replicas": 3}})
        assert r.status_code == 403 and "deployments/scale" in r.json()["message"], r.text
