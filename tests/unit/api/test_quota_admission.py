"""ResourceQuota admission through the real write path (Resources over a SQLite store): refusals with
upstream's messages, charges to status.used, dry runs, racing creates, the status a quota gets; and
the pure parts of the quota controller, the ReplicaFailure condition and the CLI text."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from osdn.api.registry import by_kind
from osdn.apiserver.admission import AdmissionChain
from osdn.apiserver.auth import CLUSTER_ADMINS, Authorizer, User
from osdn.apiserver.plugins.quota import ResourceQuotaAdmission
from osdn.apiserver.resources import Resources, key_of
from osdn.cli.quota_cmd import quota_object
from osdn.cli.quota_describe import describe_quota
from osdn.client import Client
from osdn.errors import BadRequestError, ForbiddenError
from osdn.master import replicafailure
from osdn.master.controller import Informers
from osdn.master.quota import QuotaController, frees_usage, lowers_used, needs_recount
from osdn.store.sqlite import SQLiteStore

Obj = dict[str, Any]
ADMIN = User("admin", (CLUSTER_ADMINS,))
POD, CM, QUOTA, DEPLOY = by_kind("Pod"), by_kind("ConfigMap"), by_kind("ResourceQuota"), by_kind("Deployment")


@pytest.fixture
def res(tmp_path: Path) -> Iterator[Resources]:
    store = SQLiteStore(tmp_path / "db")
    try:
        r = Resources(store, Authorizer(store), AdmissionChain([ResourceQuotaAdmission()]))
        r.create(ADMIN, by_kind("Namespace"), "", {"metadata": {"name": "p1"}})
        yield r
    finally:
        store.close()


def pod(name: str, **resources: Obj) -> Obj:
    container: Obj = {"name": "c", "image": "busybox", **({"resources": resources} if resources else {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [container]}}


def add_quota(res: Resources, hard: Obj, name: str = "q1", **spec: Any) -> Obj:
    return res.create(ADMIN, QUOTA, "p1", {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name},
                                           "spec": {"hard": hard, **spec}}).obj


def used(res: Resources, name: str = "q1") -> Obj:
    return dict(res.store.get(key_of(QUOTA, "p1", name))["status"]["used"])


def test_a_new_quota_counts_what_exists_and_itself(res: Resources) -> None:
    res.create(ADMIN, POD, "p1", pod("a"))
    add_quota(res, {"resourcequotas": "2"}, name="other")
    q1 = add_quota(res, {"pods": "3", "resourcequotas": "5", "count/deployments.apps": "1"})
    assert q1["status"] == {"hard": {"count/deployments.apps": "1", "pods": "3", "resourcequotas": "5"},
                            "used": {"count/deployments.apps": "0", "pods": "1", "resourcequotas": "2"}}


def test_the_last_slot_goes_once_with_upstreams_message(res: Resources) -> None:
    add_quota(res, {"pods": "2"})
    res.create(ADMIN, POD, "p1", pod("a"))
    res.create(ADMIN, POD, "p1", pod("b"))
    assert used(res) == {"pods": "2"}
    with pytest.raises(ForbiddenError) as err:
        res.create(ADMIN, POD, "p1", pod("c"))
    assert err.value.message == ('pods "c" is forbidden: exceeded quota: q1, requested: pods=1, used: pods=2, '
                                 "limited: pods=2")
    assert err.value.to_status()["details"] == {"name": "c", "kind": "pods"}
    assert [o["metadata"]["name"] for o, _ in res.store.list(POD.resource, "p1")[0]] == ["a", "b"]
    assert used(res) == {"pods": "2"}


def test_every_covering_quota_is_checked_and_charged(res: Resources) -> None:
    add_quota(res, {"count/deployments.apps": "1"})
    add_quota(res, {"configmaps": "5"}, name="q2")
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d1"},
              "spec": {"selector": {"matchLabels": {"a": "b"}},
                       "template": {"metadata": {"labels": {"a": "b"}},
                                    "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    res.create(ADMIN, DEPLOY, "p1", deploy)
    with pytest.raises(ForbiddenError, match=r'^deployments.apps "d2" is forbidden: exceeded quota: q1, requested: '
                                             r"count/deployments.apps=1, used: count/deployments.apps=1, limited: "
                                             r"count/deployments.apps=1$"):
        res.create(ADMIN, DEPLOY, "p1", {**deploy, "metadata": {"name": "d2"}})
    res.create(ADMIN, CM, "p1", {"metadata": {"name": "cm"}})
    assert used(res, "q2") == {"configmaps": "1"} and used(res) == {"count/deployments.apps": "1"}


def test_dry_run_is_checked_but_charges_nothing(res: Resources) -> None:
    add_quota(res, {"pods": "1"})
    res.create(ADMIN, POD, "p1", pod("a"), dry_run=True)
    assert used(res) == {"pods": "0"}
    res.create(ADMIN, POD, "p1", pod("a"))
    with pytest.raises(ForbiddenError, match="exceeded quota"):
        res.create(ADMIN, POD, "p1", pod("b"), dry_run=True)


def test_an_existing_name_is_not_charged(res: Resources) -> None:
    add_quota(res, {"pods": "5"})
    res.create(ADMIN, POD, "p1", pod("a"))
    for _ in range(3):
        with pytest.raises(Exception, match="already exists"):
            res.create(ADMIN, POD, "p1", pod("a"))
    assert used(res) == {"pods": "1"}


def test_compute_quota_wants_requests_and_sums_them(res: Resources) -> None:
    add_quota(res, {"requests.memory": "100Mi", "limits.cpu": "1"})
    with pytest.raises(ForbiddenError, match='^pods "bare" is forbidden: failed quota: q1: must specify '
                                             "limits.cpu,requests.memory$"):
        res.create(ADMIN, POD, "p1", pod("bare"))
    res.create(ADMIN, POD, "p1", pod("a", requests={"memory": "64Mi"}, limits={"cpu": "500m"}))
    assert used(res) == {"limits.cpu": "500m", "requests.memory": "64Mi"}
    with pytest.raises(ForbiddenError, match="requested: requests.memory=64Mi, used: requests.memory=64Mi, "
                                             "limited: requests.memory=100Mi"):
        res.create(ADMIN, POD, "p1", pod("b", requests={"memory": "64Mi"}, limits={"cpu": "500m"}))


def test_racing_creates_never_pass_the_limit(res: Resources) -> None:
    add_quota(res, {"configmaps": "5"})
    results: list[str] = []

    def create(i: int) -> None:
        try:
            res.create(ADMIN, CM, "p1", {"metadata": {"name": f"cm{i}"}})
            results.append("ok")
        except ForbiddenError:
            results.append("refused")

    threads = [threading.Thread(target=create, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok"] * 5 + ["refused"] * 15
    assert len(res.store.list(CM.resource, "p1")[0]) == 5 and used(res) == {"configmaps": "5"}


def test_a_quota_change_keeps_tracked_usage_and_counts_new_resources(res: Resources) -> None:
    q1 = add_quota(res, {"pods": "1"})
    res.create(ADMIN, POD, "p1", pod("a"))
    res.create(ADMIN, CM, "p1", {"metadata": {"name": "cm"}})
    stored = res.store.get(key_of(QUOTA, "p1", "q1"))
    res.update(ADMIN, QUOTA, "p1", "q1", {**stored, "spec": {"hard": {"pods": "2", "configmaps": "9"}}})
    assert q1["status"]["used"] == {"pods": "0"}
    assert res.store.get(key_of(QUOTA, "p1", "q1"))["status"] == {"hard": {"configmaps": "9", "pods": "2"},
                                                                 "used": {"configmaps": "1", "pods": "1"}}


# ---- the controller's triggers, the ReplicaFailure condition, the CLI text (pure)

@pytest.mark.parametrize(("quota", "expected"), [
    ({"spec": {"hard": {"pods": "1"}}}, True),
    ({"spec": {"hard": {"pods": "1"}}, "status": {"hard": {"pods": "1"}, "used": {"pods": "0"}}}, False),
    ({"spec": {"hard": {"pods": "2"}}, "status": {"hard": {"pods": "1"}, "used": {"pods": "0"}}}, True),
    ({"spec": {"hard": {"pods": "1k"}}, "status": {"hard": {"pods": "1000"}, "used": {"pods": "0"}}}, False),
], ids=["new", "tracked", "limit-changed", "same-amount"])
def test_needs_recount(quota: Obj, expected: bool) -> None:
    assert needs_recount(quota) is expected


@pytest.mark.parametrize(("kind", "new", "old", "expected"), [
    ("Pod", None, {}, True), ("Pod", {"status": {"phase": "Failed"}}, {}, True), ("Pod", {}, None, False),
    ("Pod", {"status": {"phase": "Running"}}, {}, False),
    ("Service", {"spec": {"type": "ClusterIP"}}, {"spec": {"type": "LoadBalancer"}}, True),
    ("ConfigMap", {"data": {}}, {}, False), ("ConfigMap", None, {}, True),
], ids=["pod-deleted", "pod-ended", "pod-added", "pod-running", "service-type", "cm-edited", "cm-deleted"])
def test_what_frees_usage(kind: str, new: Obj | None, old: Obj | None, expected: bool) -> None:
    assert frees_usage(kind, new, old) is expected


@pytest.mark.parametrize(("new", "old", "expected"), [
    ({"pods": "2"}, {"pods": "3"}, True), ({"pods": "3"}, {"pods": "2"}, False), ({"pods": "3"}, None, False),
    ({}, {"pods": "1"}, False),
], ids=["lowered", "charged", "created", "dropped-resource"])
def test_a_lowered_usage_is_recounted(new: Obj, old: Obj | None, expected: bool) -> None:
    quota = {"spec": {"hard": {"pods": "9"}}, "status": {"used": new}}
    assert lowers_used(quota, None if old is None else {"status": {"used": old}}) is expected


REFUSAL = 'pods "web-5d8f-" is forbidden: exceeded quota: q1, requested: pods=1, used: pods=3, limited: pods=3'


def test_replica_failure_condition_is_set_once_and_cleared() -> None:
    msg = replicafailure.refusal_message(REFUSAL.replace('"web-5d8f-"', '"web-5d8f-x7k2p"'), "web-5d8f")
    assert msg == REFUSAL
    assert replicafailure.event_message(msg) == f"Error creating: {REFUSAL}"
    set_ = replicafailure.failure_status({"status": {"conditions": [{"type": "Other"}]}}, msg, 0.0)
    assert set_ == {"conditions": [{"type": "Other"}, {"type": "ReplicaFailure", "status": "True",
                                    "lastTransitionTime": "1970-01-01T00:00:00Z", "reason": "FailedCreate",
                                    "message": REFUSAL}]}
    owner = {"status": set_}
    assert replicafailure.failure_status(owner, msg, 99.0) == {}          # a repeat writes nothing
    assert replicafailure.failure_status(owner, None, 99.0) == {"conditions": [{"type": "Other"}]}
    assert replicafailure.failure_status({}, None, 99.0) == {}


def test_create_quota_object_and_describe_text() -> None:
    obj = quota_object("q1", "pods=10,count/deployments.apps=2", "NotTerminating")
    assert obj["spec"] == {"hard": {"pods": "10", "count/deployments.apps": "2"}, "scopes": ["NotTerminating"]}
    with pytest.raises(BadRequestError, match='invalid resource quota --hard item "pods"'):
        quota_object("q1", "pods", "")
    obj["metadata"]["namespace"] = "p1"
    obj["status"] = {"hard": {"pods": "10", "count/deployments.apps": "2"},
                     "used": {"pods": "3", "count/deployments.apps": "1"}}
    assert describe_quota(obj).splitlines() == [
        "Name:       q1", "Namespace:  p1", "Scopes:     NotTerminating",
        " * Matches all pods that do not have an active deadline. These pods usually include long running pods "
        "whose container command is not expected to terminate.",
        "Resource                Used  Hard", "--------                ----  ----",
        "count/deployments.apps  1     2", "pods                    3     10"]


class FakeClient:
    """The API as the quota controller sees it: one quota (with its resourceVersion), a list of pods."""

    def __init__(self, used: str, pods: int) -> None:
        self.quota: Obj = {"apiVersion": "v1", "kind": "ResourceQuota",
                           "metadata": {"name": "q1", "namespace": "p1", "resourceVersion": "10"},
                           "spec": {"hard": {"pods": "5"}}, "status": {"hard": {"pods": "5"}, "used": {"pods": used}}}
        self.pods = [{"metadata": {"name": f"p{i}"}} for i in range(pods)]
        self.writes: list[str] = []

    def get(self, kind: str, name: str, namespace: str) -> Obj:
        return json.loads(json.dumps(self.quota))

    def list(self, info: Any, namespace: str) -> Obj:
        return {"items": self.pods}

    def charge(self, used: str) -> None:   # what the API server's admission does
        self.quota["status"]["used"]["pods"] = used
        self.quota["metadata"]["resourceVersion"] = str(int(self.quota["metadata"]["resourceVersion"]) + 1)

    def update(self, body: Obj, namespace: str, subresource: str = "") -> Obj:
        assert subresource == "status" and body["metadata"]["resourceVersion"] == self.quota["metadata"][
            "resourceVersion"], "a stale write would have been refused"
        self.writes.append(body["status"]["used"]["pods"])
        self.charge(body["status"]["used"]["pods"])
        return body


class FakeInformers:
    def on(self, kind: str, handler: Any) -> Any:
        return SimpleNamespace(items=lambda: [])


def controller(client: FakeClient, clock: list[float]) -> QuotaController:
    return QuotaController(cast(Client, client), cast(Informers, FakeInformers()), settle=1.0,
                           clock=lambda: clock[0])


def test_a_lower_count_waits_until_the_quota_had_no_charge_for_settle_seconds() -> None:
    client, clock = FakeClient(used="3", pods=2), [0.0]
    ctl = controller(client, clock)
    ctl.reconcile("p1/q1")                  # 2 pods, 3 charged: maybe a create not stored yet
    clock[0] = 0.5
    ctl.reconcile("p1/q1")                  # woken early by another event: still waiting
    assert client.writes == []
    client.charge("4")                      # a create was admitted meanwhile: the wait starts again
    client.pods.append({"metadata": {"name": "p2"}})
    clock[0] = 1.2
    ctl.reconcile("p1/q1")
    assert client.writes == []
    clock[0] = 2.3
    ctl.reconcile("p1/q1")                  # quiet for a second: the count stands
    assert client.writes == ["3"]


def test_a_higher_count_is_written_at_once() -> None:
    client = FakeClient(used="1", pods=2)
    controller(client, [0.0]).reconcile("p1/q1")
    assert client.writes == ["2"]
