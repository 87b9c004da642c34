"""The real kubectl deletes with `--cascade=foreground`: the owner stays, with a deletionTimestamp
and the foregroundDeletion finalizer, until its ReplicaSets and their pods are gone, then goes; a
watcher sees MODIFIED (marked) then DELETED. A pod with a finalizer of its own holds the whole chain.
Skipped only when kubectl is not installed."""

from __future__ import annotations

import json
import shutil
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProc, wait_for

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


def names(server: ServerProc, kind: str, app: str) -> list[str]:
    return server.kubectl("get", kind, "-l", f"app={app}", "-o", "name", check=True).stdout.split()


def get(server: ServerProc, what: str) -> dict[str, Any] | None:
    out = server.kubectl("get", what, "-o", "json")
    return json.loads(out.stdout) if out.returncode == 0 else None


Event = tuple[str, bool, list[str], int]


def watched(api: httpx.Client, path: str, since: str, selector: dict[str, str], until: int = 1) -> list[Event]:
    """Watch events at `path` (with a labelSelector or fieldSelector) after `since`, up to the
    `until`-th DELETED: (type, has a deletionTimestamp, finalizers, resourceVersion)."""
    seen, deleted = [], 0
    params = {"watch": "1", "resourceVersion": since, "timeoutSeconds": "5", **selector}
    with api.stream("GET", path, params=params) as stream:
        for line in stream.iter_lines():
            event = json.loads(line)
            meta = event["object"]["metadata"]
            seen.append((event["type"], bool(meta.get("deletionTimestamp")), meta.get("finalizers") or [],
                         int(meta["resourceVersion"])))
            deleted += event["type"] == "DELETED"
            if deleted == until:
                break
    return seen


def last_deleted(events: list[Event]) -> int:
    return max(rv for kind, _, _, rv in events if kind == "DELETED")


def test_kubectl_delete_cascade_foreground_waits_for_the_replicasets_and_pods(server: ServerProc) -> None:
    with server.http() as api:
        server.kubectl("create", "deployment", "fg", "--image=i", "--replicas=2", check=True)
        wait_for(lambda: len(names(server, "pods", "fg")) == 2, what="two pods")
        since = api.get(DEPLOYS).json()["metadata"]["resourceVersion"]
        out = server.kubectl("delete", "deployment", "fg", "--cascade=foreground", check=True).stdout
        assert out.strip() == 'deployment.apps "fg" deleted'
        assert get(server, "deployment/fg") is None
        wait_for(lambda: not names(server, "rs", "fg") and not names(server, "pods", "fg"),
                 what="the ReplicaSet and pods gone")
        events = watched(api, DEPLOYS, since, {"fieldSelector": "metadata.name=fg"})
        assert [e[:3] for e in events[-2:]] == [("MODIFIED", True, ["foregroundDeletion"]), ("DELETED", True, [
            "foregroundDeletion"])]   # marked, then gone: the DELETED event carries the last stored state
        pods = watched(api, "/api/v1/namespaces/default/pods", since, {"labelSelector": "app=fg"}, until=2)
        assert last_deleted(pods) < events[-1][3]   # the pods went first


def test_a_pod_with_a_finalizer_holds_the_deployment_marked_until_it_goes(server: ServerProc) -> None:
    server.kubectl("create", "deployment", "held", "--image=i", "--replicas=2", check=True)
    pods = wait_for(lambda: len(found := names(server, "pods", "held")) == 2 and found, what="two pods")
    server.kubectl("patch", pods[0], "--type=merge", "-p", '{"metadata":{"finalizers":["example.com/hold"]}}',
                   check=True)
    server.kubectl("delete", "deployment", "held", "--cascade=foreground", "--wait=false", check=True)
    deploy = wait_for(lambda: get(server, "deployment/held"), what="the Deployment, marked")
    assert deploy["metadata"]["deletionTimestamp"] and deploy["metadata"]["finalizers"] == ["foregroundDeletion"]
    rs = get(server, f"rs/{names(server, 'rs', 'held')[0].split('/')[1]}")
    assert rs is not None and rs["metadata"]["finalizers"] == ["foregroundDeletion"]
    wait_for(lambda: names(server, "pods", "held") == [pods[0]], what="only the held pod left")
    held = get(server, pods[0])
    assert held is not None and held["metadata"]["deletionTimestamp"]
    assert get(server, "deployment/held") is not None   # still waiting: no replacement pods, nothing gone
    server.kubectl("patch", pods[0], "--type=json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]',
                   check=True)
    wait_for(lambda: get(server, "deployment/held") is None, what="the Deployment gone")
    assert not names(server, "rs", "held") and not names(server, "pods", "held")


def test_kubectl_delete_rc_cascade_foreground(server: ServerProc) -> None:
    rc = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc1"},
          "spec": {"replicas": 2, "selector": {"app": "rc1"}, "template": {
              "metadata": {"labels": {"app": "rc1"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    server.kubectl("create", "-f", "-", input=json.dumps(rc), check=True)
    wait_for(lambda: len(names(server, "pods", "rc1")) == 2, what="two pods")
    with server.http() as api:
        since = api.get("/api/v1/namespaces/default/replicationcontrollers").json()["metadata"]["resourceVersion"]
        out = server.kubectl("delete", "rc", "rc1", "--cascade=foreground", check=True).stdout
        assert out.strip() == 'replicationcontroller "rc1" deleted'
        assert get(server, "rc/rc1") is None
        wait_for(lambda: not names(server, "pods", "rc1"), what="the pods gone")
        rcs = watched(api, "/api/v1/namespaces/default/replicationcontrollers", since, {"fieldSelector": "metadata.name=rc1"})
        assert ("MODIFIED", True, ["foregroundDeletion"]) in [e[:3] for e in rcs]
        pods = watched(api, "/api/v1/namespaces/default/pods", since, {"labelSelector": "app=rc1"}, until=2)
        assert last_deleted(pods) < last_deleted(rcs)   # the RC went after its pods


def test_propagation_policy_in_the_query_string(server: ServerProc) -> None:
    """`DELETE ...?propagationPolicy=Foreground` (curl users; kube-apiserver reads DeleteOptions from
    the query too): the owner is marked while a held dependent stays; a bad value is a 400."""
    cms = "/api/v1/namespaces/default/configmaps"
    with server.http() as api:
        owner = api.post(cms, json={"metadata": {"name": "owner"}}).json()["metadata"]
        ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["uid"],
               "blockOwnerDeletion": True}
        api.post(cms, json={"metadata": {"name": "held", "ownerReferences": [ref], "finalizers": ["x.io/hold"]}})
        bad = api.delete(f"{cms}/owner", params={"propagationPolicy": "Sideways"})
        assert bad.status_code == 400 and "propagationPolicy: Unsupported value" in bad.json()["message"]
        marked = api.delete(f"{cms}/owner", params={"propagationPolicy": "Foreground"})
        assert marked.status_code == 200
        assert marked.json()["metadata"]["finalizers"] == ["foregroundDeletion"]
        assert api.get(f"{cms}/owner").status_code == 200
        api.patch(f"{cms}/held", headers={"Content-Type": "application/merge-patch+json"},
                  json={"metadata": {"finalizers": None}})
        wait_for(lambda: api.get(f"{cms}/owner").status_code == 404, what="the owner gone")
