"""ResourceQuota against a real server: a project admin is held to the quota a cluster admin set, by
direct creates and through a Deployment's controllers; she may read her quota, not change it; racing
creates do not overshoot; deletes free slots; dry runs charge nothing; kubectl create/get/describe."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProc, module_server
from tests.polling import wait_for

Obj = dict[str, Any]
MERGE = {"Content-Type": "application/merge-patch+json"}


srv = module_server("quota")


@pytest.fixture(scope="module")
def alice(srv: ServerProc, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """alice's client config: a user who self-provisions projects (admin of each, as `oc new-project`)."""
    path: Path = tmp_path_factory.mktemp("alice") / "alice.conf"
    srv.cli("adm", "token", "create", "alice", "--write-config", str(path), check=True)
    return path


def token(config: Path) -> str:
    from osdn.client.config import load_config
    return load_config(str(config)).token


def project(srv: ServerProc, alice: Path, name: str, hard: str) -> str:
    """A project of alice's with the quota `q1` (--hard) set by the cluster admin."""
    srv.cli("new-project", name, config=alice, check=True)
    srv.kubectl("create", "quota", "q1", f"--hard={hard}", "-n", name, check=True)
    return name


def pod(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def post(c: httpx.Client, ns: str, obj: Obj, plural: str = "pods", query: str = "") -> httpx.Response:
    return c.post(f"/api/v1/namespaces/{ns}/{plural}{query}", json=obj)


def used(srv: ServerProc, ns: str) -> Obj:
    with srv.http() as c:
        return dict(c.get(f"/api/v1/namespaces/{ns}/resourcequotas/q1").json()["status"]["used"])


def names(srv: ServerProc, ns: str, plural: str = "pods") -> list[str]:
    with srv.http() as c:
        return [o["metadata"]["name"] for o in c.get(f"/api/v1/namespaces/{ns}/{plural}").json()["items"]]


def test_direct_creates_stop_at_the_quota_with_upstreams_403(srv: ServerProc, alice: Path) -> None:
    ns = project(srv, alice, "direct", "pods=3")
    with srv.http(token(alice)) as c:
        assert [post(c, ns, pod(f"p{i}")).status_code for i in range(3)] == [201, 201, 201]
        r = post(c, ns, pod("p3"))
    assert r.status_code == 403, r.text
    assert r.json()["reason"] == "Forbidden"
    assert r.json()["message"] == ('pods "p3" is forbidden: exceeded quota: q1, requested: pods=1, used: pods=3, '
                                   "limited: pods=3")
    assert sorted(names(srv, ns)) == ["p0", "p1", "p2"]


def rs_of(srv: ServerProc, ns: str) -> Obj | None:
    with srv.http() as c:
        items = c.get(f"/apis/apps/v1/namespaces/{ns}/replicasets").json()["items"]
    return items[0] if items else None


def replica_failure(srv: ServerProc, ns: str) -> Obj | None:
    rs = rs_of(srv, ns)
    return next((c for c in ((rs or {}).get("status") or {}).get("conditions") or []
                 if c["type"] == "ReplicaFailure"), None)


def failed_create_count(srv: ServerProc, ns: str) -> int:
    with srv.http() as c:
        events = c.get(f"/api/v1/namespaces/{ns}/events").json()["items"]
    return sum(int(e.get("count", 1)) for e in events if e.get("reason") == "FailedCreate")


def test_a_deployment_of_100_gets_3_pods_a_failure_condition_and_backs_off(srv: ServerProc, alice: Path) -> None:
    ns = project(srv, alice, "scaled", "pods=3")
    r = srv.cli("create", "deployment", "big", "--image=nginx", "--replicas=100", "-n", ns, config=alice)
    assert r.returncode == 0, r.stderr
    condition = wait_for(lambda: replica_failure(srv, ns), 60, "the ReplicaSet's ReplicaFailure condition")
    assert condition["status"] == "True" and condition["reason"] == "FailedCreate"
    assert condition["message"].endswith("is forbidden: exceeded quota: q1, requested: pods=1, used: pods=3, "
                                         "limited: pods=3")
    # the controller keeps trying (with backoff) and keeps being refused: still 3 pods
    first = wait_for(lambda: failed_create_count(srv, ns), 30, "a FailedCreate event")
    wait_for(lambda: failed_create_count(srv, ns) > first, 60, "a later refused retry")
    assert len(names(srv, ns)) == 3 and used(srv, ns) == {"pods": "3"}
    # a freed slot is taken again by the ReplicaSet, and no more than that
    with srv.http() as c:
        assert c.delete(f"/api/v1/namespaces/{ns}/pods/{names(srv, ns)[0]}").status_code == 200
    wait_for(lambda: failed_create_count(srv, ns) > first + 1 and len(names(srv, ns)) == 3, 60,
             "the slot retaken and refused again")
    assert len(names(srv, ns)) == 3


def test_a_project_admin_reads_but_cannot_change_her_quota(srv: ServerProc, alice: Path) -> None:
    ns = project(srv, alice, "locked", "pods=3")
    path = f"/api/v1/namespaces/{ns}/resourcequotas"
    with srv.http(token(alice)) as c:
        assert c.get(f"{path}/q1").status_code == 200
        assert c.get(path).status_code == 200
        writes = [c.patch(f"{path}/q1", json={"spec": {"hard": {"pods": "1000"}}}, headers=MERGE),
                  c.patch(f"{path}/q1/status", json={"status": {"used": {"pods": "0"}}}, headers=MERGE),
                  c.delete(f"{path}/q1"),
                  c.post(path, json={"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "mine"},
                                     "spec": {"hard": {"pods": "1000"}}})]
    assert [w.status_code for w in writes] == [403, 403, 403, 403], [w.text for w in writes]
    r = srv.kubectl("patch", "quota", "q1", "-n", ns, "-p", '{"spec":{"hard":{"pods":"9"}}}',
                    kubeconfig=alice)
    assert r.returncode != 0 and 'cannot patch resource "resourcequotas"' in r.stderr


def test_racing_creates_do_not_overshoot(srv: ServerProc, alice: Path) -> None:
    ns = project(srv, alice, "racing", "configmaps=5")
    codes: list[int] = []

    def create(i: int) -> None:
        with srv.http(token(alice)) as c:
            codes.append(post(c, ns, {"metadata": {"name": f"cm{i}"}}, "configmaps").status_code)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [201] * 5 + [403] * 11
    assert len(names(srv, ns, "configmaps")) == 5 and used(srv, ns) == {"configmaps": "5"}


def test_deleting_a_pod_frees_its_slot(srv: ServerProc, alice: Path) -> None:
    ns = project(srv, alice, "freed", "pods=2")
    with srv.http(token(alice)) as c:
        assert post(c, ns, pod("a")).status_code == 201 and post(c, ns, pod("b")).status_code == 201
        assert post(c, ns, pod("c")).status_code == 403
        assert c.delete(f"/api/v1/namespaces/{ns}/pods/a").status_code == 200
        wait_for(lambda: used(srv, ns) == {"pods": "1"}, 30, "the quota controller to give the slot back")
        assert post(c, ns, pod("c")).status_code == 201
    assert used(srv, ns) == {"pods": "2"}


def test_dry_run_charges_nothing(srv: ServerProc, alice: Path) -> None:
    ns = project(srv, alice, "dry", "pods=1")
    with srv.http(token(alice)) as c:
        assert post(c, ns, pod("a"), query="?dryRun=All").status_code == 201
        assert used(srv, ns) == {"pods": "0"} and names(srv, ns) == []
        assert post(c, ns, pod("a")).status_code == 201
        r = post(c, ns, pod("b"), query="?dryRun=All")
    assert r.status_code == 403 and "exceeded quota: q1" in r.json()["message"]


def test_kubectl_create_get_describe_quota(srv: ServerProc, alice: Path) -> None:
    srv.cli("new-project", "shown", config=alice, check=True)
    r = srv.kubectl("create", "quota", "q1", "--hard=pods=10,count/deployments.apps=2", "-n", "shown", check=True)
    assert r.stdout.strip() == "resourcequota/q1 created"
    srv.kubectl("create", "deployment", "web", "--image=nginx", "-n", "shown", kubeconfig=alice, check=True)
    wait_for(lambda: used(srv, "shown").get("count/deployments.apps") == "1", 30, "the deployment counted")
    lines = srv.kubectl("get", "quota", "-n", "shown", kubeconfig=alice, check=True).stdout.splitlines()
    assert lines[0].split() == ["NAME", "AGE", "REQUEST", "LIMIT"]
    mine_line = next(line for line in lines if line.startswith("q1 "))   # beside the template's project-default
    assert "count/deployments.apps: 1/2, pods: " in mine_line
    text = srv.kubectl("describe", "quota", "q1", "-n", "shown", kubeconfig=alice, check=True).stdout
    assert text.splitlines()[:5] == ["Name:                   q1", "Namespace:              shown",
                                     "Resource                Used  Hard", "--------                ----  ----",
                                     "count/deployments.apps  1     2"]
    mine = srv.cli("describe", "quota", "q1", "-n", "shown", config=alice, check=True).stdout
    assert mine.splitlines()[:5] == text.splitlines()[:5]
    r = srv.kubectl("create", "quota", "bad", "--hard=pods=1.5", "-n", "shown")
    assert r.returncode != 0 and 'spec.hard[pods]: Invalid value: "1500m": must be an integer' in r.stderr  # kubectl sends 1.5 as 1500m
    out = srv.cli("create", "quota", "q2", "--hard=services.loadbalancers=0", "-n", "shown", "-o", "json", check=True)
    assert json.loads(out.stdout)["status"]["used"] == {"services.loadbalancers": "0"}


TEMPLATE = "/apis/template.openshift.io/v1/namespaces/default/templates/project-request"


def test_a_quota_in_the_project_request_template_bounds_every_new_project(srv: ServerProc, alice: Path) -> None:
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "tenant-default"},
             "spec": {"hard": {"pods": "2", "count/deployments.apps": "1"}}}
    with srv.http() as c:
        before = c.get(TEMPLATE).json()
        r = c.patch(TEMPLATE, json={"objects": [*before.get("objects", []), quota]}, headers=MERGE)
        assert r.status_code == 200, r.text
    try:
        srv.cli("new-project", "templated", config=alice, check=True)
        with srv.http(token(alice)) as c:
            got = c.get("/api/v1/namespaces/templated/resourcequotas/tenant-default").json()
            assert got["status"]["used"] == {"count/deployments.apps": "0", "pods": "0"}
            assert [post(c, "templated", pod(f"p{i}")).status_code for i in range(3)] == [201, 201, 403]
    finally:
        with srv.http() as c:
            c.patch(TEMPLATE, json={"objects": before.get("objects", [])}, headers=MERGE)


def test_every_new_project_is_bounded_by_the_default_quota(srv: ServerProc, alice: Path) -> None:
    """The bootstrap template's `project-default` quota: a self-provisioned project is bounded from its
    first moment, and its admin may read the quota, not lift it."""
    srv.cli("new-project", "fresh", config=alice, check=True)
    with srv.http(token(alice)) as c:
        got = c.get("/api/v1/namespaces/fresh/resourcequotas/project-default").json()
        assert got["spec"]["hard"]["pods"] == "1000" and got["status"]["hard"]["count/deployments.apps"] == "100"
        assert got["status"]["used"]["pods"] == "0"
        lift = c.patch("/api/v1/namespaces/fresh/resourcequotas/project-default", headers=MERGE,
                       json={"spec": {"hard": {"pods": "1000000"}}})
        assert lift.status_code == 403, lift.text
        assert c.delete("/api/v1/namespaces/fresh/resourcequotas/project-default").status_code == 403
