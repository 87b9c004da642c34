"""Deployments and ReplicaSets against a real `osdn server`: pods made, rolled out, scaled, collected.

Pods live in the API only: the test plays the kubelet by marking pods Ready (`mark_ready`).
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from osdn.api.timestamps import format_time
from tests.conftest import ServerProc, module_server, wait_for

NS = "default"
PODS = f"/api/v1/namespaces/{NS}/pods"
DEPLOYS = f"/apis/apps/v1/namespaces/{NS}/deployments"
RSS = f"/apis/apps/v1/namespaces/{NS}/replicasets"
MERGE = {"Content-Type": "application/merge-patch+json"}


def deployment(name: str, replicas: int, image: str, strategy: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                            "template": {"metadata": {"labels": {"app": name}},
                                         "spec": {"containers": [{"name": "c", "image": image}]}}}
    if strategy:
        spec["strategy"] = strategy
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


srv = module_server("deploy")


def pods_of(api: httpx.Client, app: str) -> list[dict[str, Any]]:
    return [p for p in api.get(PODS, params={"labelSelector": f"app={app}"}).json()["items"]
            if not p["metadata"].get("deletionTimestamp")]


def mark_ready(api: httpx.Client, app: str) -> None:
    """The kubelet's part: every pod of `app` Running and Ready."""
    for pod in pods_of(api, app):
        if not any(c.get("type") == "Ready" for c in pod.get("status", {}).get("conditions") or []):
            api.patch(f"{PODS}/{pod['metadata']['name']}/status", headers=MERGE, json={"status": {
                "phase": "Running", "conditions": [{"type": "Ready", "status": "True",
                                                    "lastTransitionTime": format_time(time.time())}]}})


def rolled_out(api: httpx.Client, name: str) -> bool:
    """What `kubectl rollout status` checks, playing the kubelet while waiting."""
    mark_ready(api, name)
    d = api.get(f"{DEPLOYS}/{name}").json()
    st, want = d.get("status") or {}, d["spec"]["replicas"]
    return st.get("observedGeneration", 0) >= d["metadata"]["generation"] and st.get("updatedReplicas") == want \
        and st.get("replicas") == want and st.get("availableReplicas") == want


def replicasets(api: httpx.Client, app: str) -> list[dict[str, Any]]:
    return api.get(RSS, params={"labelSelector": f"app={app}"}).json()["items"]


def test_deployment_makes_a_replicaset_and_pods_owned_by_it(srv: ServerProc) -> None:
    with srv.http() as api:
        api.post(DEPLOYS, json=deployment("egress-router-cni-deployment", 2, "router:1")).raise_for_status()
        wait_for(lambda: rolled_out(api, "egress-router-cni-deployment"), what="the rollout")
        (rs,) = replicasets(api, "egress-router-cni-deployment")
        pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
        assert rs["metadata"]["name"] == f"egress-router-cni-deployment-{pod_hash}"
        assert rs["spec"]["selector"]["matchLabels"] == {"app": "egress-router-cni-deployment",
                                                         "pod-template-hash": pod_hash}
        owner = rs["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["controller"]) == ("Deployment", True)
        pods = pods_of(api, "egress-router-cni-deployment")
        assert len(pods) == 2
        for pod in pods:
            assert pod["metadata"]["labels"]["pod-template-hash"] == pod_hash
            assert pod["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
        d = api.get(f"{DEPLOYS}/egress-router-cni-deployment").json()
        conditions = {c["type"]: c for c in d["status"]["conditions"]}
        assert conditions["Available"]["status"] == "True"
        assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"


def test_rolling_update_replaces_pods_and_keeps_the_history_limit(srv: ServerProc) -> None:
    with srv.http() as api:
        body = deployment("web", 3, "web:1")
        body["spec"]["revisionHistoryLimit"] = 1
        api.post(DEPLOYS, json=body).raise_for_status()
        wait_for(lambda: rolled_out(api, "web"), what="the first rollout")
        for image in ("web:2", "web:3"):
            api.patch(f"{DEPLOYS}/web", headers=MERGE, json={"spec": {"template": {"spec": {"containers": [
                {"name": "c", "image": image}]}}}}).raise_for_status()
            wait_for(lambda: rolled_out(api, "web"), what=f"the rollout of {image}")
            wait_for(lambda want=image: {p["spec"]["containers"][0]["image"] for p in pods_of(api, "web")} == {want},
                     what=f"only {image} pods")
        sets = wait_for(lambda: r if len(r := replicasets(api, "web")) == 2 else None, what="one old RS kept")
        by_revision = sorted(sets, key=lambda r: int(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]))
        assert [r["spec"]["replicas"] for r in by_revision] == [0, 3]
        assert by_revision[1]["spec"]["template"]["spec"]["containers"][0]["image"] == "web:3"


def test_recreate_and_scale(srv: ServerProc) -> None:
    with srv.http() as api:
        api.post(DEPLOYS, json=deployment("rec", 2, "rec:1", {"type": "Recreate"})).raise_for_status()
        wait_for(lambda: rolled_out(api, "rec"), what="the first rollout")
        api.patch(f"{DEPLOYS}/rec", headers=MERGE, json={"spec": {"replicas": 4, "template": {"spec": {
            "containers": [{"name": "c", "image": "rec:2"}]}}}}).raise_for_status()
        wait_for(lambda: rolled_out(api, "rec"), what="the Recreate rollout")
        assert {p["spec"]["containers"][0]["image"] for p in pods_of(api, "rec")} == {"rec:2"}
        assert len(pods_of(api, "rec")) == 4


def test_deleting_a_deployment_deletes_its_replicasets_and_pods(srv: ServerProc) -> None:
    with srv.http() as api:
        api.post(DEPLOYS, json=deployment("gone", 2, "gone:1")).raise_for_status()
        wait_for(lambda: len(pods_of(api, "gone")) == 2, what="2 pods")
        api.delete(f"{DEPLOYS}/gone").raise_for_status()
        wait_for(lambda: not replicasets(api, "gone"), what="the RS deleted")
        wait_for(lambda: not pods_of(api, "gone"), what="the pods deleted")


def test_replicaset_validation_names_the_field(srv: ServerProc) -> None:
    with srv.http() as api:
        bad = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "bad"},
               "spec": {"selector": {"matchLabels": {"app": "x"}},
                        "template": {"metadata": {"labels": {"app": "y"}},
                                     "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
        r = api.post(RSS, json=bad)
        assert r.status_code == 422
        assert "spec.template.metadata.labels" in r.json()["message"]
        assert "`selector` does not match template `labels`" in r.json()["message"]


def test_min_ready_seconds_holds_availability_back(srv: ServerProc) -> None:
    with srv.http() as api:
        body = deployment("slow", 2, "slow:1")
        body["spec"]["minReadySeconds"] = 3600
        api.post(DEPLOYS, json=body).raise_for_status()

        def ready_not_available() -> dict[str, Any] | None:
            mark_ready(api, "slow")
            rss = replicasets(api, "slow")
            st = (rss[0].get("status") or {}) if rss else {}
            return rss[0] if st.get("readyReplicas") == 2 and st.get("availableReplicas") == 0 else None
        rs = wait_for(ready_not_available, what="2 ready, none available yet")
        assert rs["spec"]["minReadySeconds"] == 3600
        d = wait_for(lambda: (o := api.get(f"{DEPLOYS}/slow").json()).get("status", {}).get("readyReplicas") == 2
                     and o, what="the Deployment's status")
        available = next(c for c in d["status"]["conditions"] if c["type"] == "Available")
        assert (available["status"], d["status"]["availableReplicas"]) == ("False", 0)
        api.patch(f"{DEPLOYS}/slow", headers=MERGE, json={"spec": {"minReadySeconds": 0}}).raise_for_status()
        wait_for(lambda: rolled_out(api, "slow"), what="available once minReadySeconds is 0")
        assert [r["metadata"]["name"] for r in replicasets(api, "slow")] == [rs["metadata"]["name"]]


def test_a_paused_deployment_scales_but_does_not_roll_out_until_resumed(srv: ServerProc) -> None:
    with srv.http() as api:
        api.post(DEPLOYS, json=deployment("paused", 1, "p:1")).raise_for_status()
        wait_for(lambda: rolled_out(api, "paused"), what="the first rollout")
        api.patch(f"{DEPLOYS}/paused", headers=MERGE, json={"spec": {"paused": True, "replicas": 2, "template": {
            "spec": {"containers": [{"name": "c", "image": "p:2"}]}}}}).raise_for_status()

        def paused_at_two() -> bool:
            mark_ready(api, "paused")
            d = api.get(f"{DEPLOYS}/paused").json()
            cond = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
            return cond["reason"] == "DeploymentPaused" and len(pods_of(api, "paused")) == 2 \
                and d["status"].get("observedGeneration") == d["metadata"]["generation"]
        wait_for(paused_at_two, what="scaled to 2 while paused")
        assert len(replicasets(api, "paused")) == 1
        assert {p["spec"]["containers"][0]["image"] for p in pods_of(api, "paused")} == {"p:1"}
        api.patch(f"{DEPLOYS}/paused", headers=MERGE, json={"spec": {"paused": False}}).raise_for_status()
        wait_for(lambda: rolled_out(api, "paused") and
                 {p["spec"]["containers"][0]["image"] for p in pods_of(api, "paused")} == {"p:2"},
                 what="the rollout after resume")


def test_orphan_deletion_keeps_the_replicaset_and_pods_and_a_new_deployment_adopts_them(srv: ServerProc) -> None:
    with srv.http() as api:
        api.post(DEPLOYS, json=deployment("orph", 2, "o:1")).raise_for_status()
        wait_for(lambda: rolled_out(api, "orph"), what="the rollout")
        (rs,) = replicasets(api, "orph")
        pods = sorted(p["metadata"]["name"] for p in pods_of(api, "orph"))
        r = api.request("DELETE", f"{DEPLOYS}/orph", json={"kind": "DeleteOptions", "apiVersion": "v1",
                                                           "propagationPolicy": "Orphan"})
        assert r.status_code == 200, r.text
        assert api.get(f"{DEPLOYS}/orph").status_code == 404
        (left,) = replicasets(api, "orph")     # released at once, within the DELETE
        assert left["metadata"]["uid"] == rs["metadata"]["uid"] and "ownerReferences" not in left["metadata"]
        assert sorted(p["metadata"]["name"] for p in pods_of(api, "orph")) == pods

        again = api.post(DEPLOYS, json=deployment("orph", 2, "o:1")).json()
        adopted = wait_for(lambda: [r for r in replicasets(api, "orph") if r["metadata"].get("ownerReferences")],
                           what="the RS adopted")
        assert adopted[0]["metadata"]["ownerReferences"][0]["uid"] == again["metadata"]["uid"]
        wait_for(lambda: rolled_out(api, "orph"), what="the new Deployment's status")
        assert [r["metadata"]["uid"] for r in replicasets(api, "orph")] == [rs["metadata"]["uid"]]
        assert sorted(p["metadata"]["name"] for p in pods_of(api, "orph")) == pods
