"""Finalizers and `propagationPolicy: Foreground` (osdn.apiserver.foreground) through `Resources`
on a real SQLite store: an owner with a deletionTimestamp and the foregroundDeletion finalizer until
its blocking dependents are gone, dependents collected in the foreground down the chain, the events
a watcher sees, and the finalizer rules of writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from osdn.api.registry import by_kind
from osdn.apiserver.admission import AdmissionChain
from osdn.apiserver.auth import CLUSTER_ADMINS, Authorizer, User
from osdn.apiserver.foreground import FOREGROUND
from osdn.apiserver.resources import Resources, key_of
from osdn.errors import NotFoundError, ValidationError
from osdn.store.sqlite import SQLiteStore

ADMIN = User("admin", (CLUSTER_ADMINS,))
CM = by_kind("ConfigMap")
DEPLOY, RS, POD = by_kind("Deployment"), by_kind("ReplicaSet"), by_kind("Pod")


@pytest.fixture
def res(tmp_path: Path) -> Iterator[Resources]:
    store = SQLiteStore(tmp_path / "db")
    try:
        r = Resources(store, Authorizer(store), AdmissionChain([]), clock=lambda: "2026-12-04T23:00:00Z")
        r.create(ADMIN, by_kind("Namespace"), "", {"metadata": {"name": "p"}})
        yield r
    finally:
        store.close()


def ref(owner: dict[str, Any], block: bool = True) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": block}


def configmap(res: Resources, name: str, owner: dict[str, Any] | None = None, block: bool = True,
              finalizers: list[str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if owner is not None:
        meta["ownerReferences"] = [ref(owner, block)]
    if finalizers:
        meta["finalizers"] = finalizers
    return res.create(ADMIN, CM, "p", {"metadata": meta, "data": {"k": "v"}}).obj


def exists(res: Resources, name: str) -> dict[str, Any] | None:
    try:
        return res.store.get(key_of(CM, "p", name))
    except NotFoundError:
        return None


def events(res: Resources, since: int) -> list[tuple[str, str]]:
    found, sub = res.store.subscribe(CM.resource, "p", since, lambda _e: None)
    sub.cancel()
    return [(e.type, e.key.name) for e in found]


def test_an_owner_without_blockers_goes_at_once_after_its_dependents(res: Resources) -> None:
    owner = configmap(res, "owner")
    configmap(res, "child", owner)
    configmap(res, "loose", owner, block=False)
    since = res.store.current_rv()
    gone = res.delete(ADMIN, CM, "p", "owner", cascade_foreground=True).obj
    assert gone["metadata"]["name"] == "owner"
    assert exists(res, "owner") is None and exists(res, "child") is None and exists(res, "loose") is None
    seen = events(res, since)
    assert seen[0] == ("MODIFIED", "owner") and seen[-1] == ("DELETED", "owner")   # marked first, gone last
    assert set(seen[1:-1]) == {("DELETED", "child"), ("DELETED", "loose")}


def test_the_owner_waits_marked_for_a_blocking_dependent_with_a_finalizer(res: Resources) -> None:
    owner = configmap(res, "owner")
    configmap(res, "held", owner, finalizers=["example.com/hold"])
    configmap(res, "other", owner)
    marked = res.delete(ADMIN, CM, "p", "owner", cascade_foreground=True).obj
    assert marked["metadata"]["deletionTimestamp"] == "2026-12-04T23:00:00Z"
    assert marked["metadata"]["finalizers"] == [FOREGROUND]
    held = exists(res, "held")
    assert held is not None and held["metadata"]["deletionTimestamp"] and exists(res, "other") is None
    assert exists(res, "owner") == marked
    since = res.store.current_rv()
    res.patch(ADMIN, CM, "p", "held", {"metadata": {"finalizers": None}}, "merge")   # the hold is let go
    assert exists(res, "held") is None and exists(res, "owner") is None
    assert events(res, since) == [("DELETED", "held"), ("DELETED", "owner")]


def test_a_dependent_that_is_released_unblocks_the_owner(res: Resources) -> None:
    owner = configmap(res, "owner")
    configmap(res, "held", owner, finalizers=["example.com/hold"])
    res.delete(ADMIN, CM, "p", "owner", cascade_foreground=True)
    assert exists(res, "owner") is not None
    res.patch(ADMIN, CM, "p", "held", {"metadata": {"ownerReferences": None}}, "merge")
    assert exists(res, "owner") is None and exists(res, "held") is not None


def test_a_deployment_goes_after_its_replicaset_and_the_replicasets_pods(res: Resources) -> None:
    labels = {"app": "web"}
    template = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    deploy = res.create(ADMIN, DEPLOY, "p", {"metadata": {"name": "web"}, "spec": {
        "selector": {"matchLabels": labels}, "template": template}}).obj
    rs = res.create(ADMIN, RS, "p", {"metadata": {"name": "web-1", "ownerReferences": [ref(deploy)]}, "spec": {
        "selector": {"matchLabels": labels}, "template": template}}).obj
    pod = {"metadata": {"name": "web-1-a", "labels": labels, "ownerReferences": [ref(rs)],
                        "finalizers": ["example.com/hold"]}, "spec": template["spec"]}
    res.create(ADMIN, POD, "p", pod)
    res.delete(ADMIN, DEPLOY, "p", "web", cascade_foreground=True)
    for info, name in ((DEPLOY, "web"), (RS, "web-1")):   # both wait, marked, for the pod
        obj = res.store.get(key_of(info, "p", name))
        assert obj["metadata"]["finalizers"] == [FOREGROUND] and obj["metadata"]["deletionTimestamp"]
    res.patch(ADMIN, POD, "p", "web-1-a", {"metadata": {"$deleteFromPrimitiveList/finalizers": [
        "example.com/hold"]}}, "strategic")
    for info, name in ((POD, "web-1-a"), (RS, "web-1"), (DEPLOY, "web")):
        with pytest.raises(NotFoundError):
            res.store.get(key_of(info, "p", name))


def test_background_delete_of_an_object_with_finalizers_only_marks_it(res: Resources) -> None:
    configmap(res, "held", finalizers=["example.com/hold"])
    marked = res.delete(ADMIN, CM, "p", "held").obj
    assert marked["metadata"]["deletionTimestamp"] and exists(res, "held") == marked
    assert res.delete(ADMIN, CM, "p", "held").obj == marked   # again: nothing changes
    configmap(res, "plain")
    res.delete(ADMIN, CM, "p", "plain")
    assert exists(res, "plain") is None


def test_no_new_finalizer_on_an_object_being_deleted_and_the_mark_is_kept(res: Resources) -> None:
    configmap(res, "held", finalizers=["a"])
    res.delete(ADMIN, CM, "p", "held")
    with pytest.raises(ValidationError, match=r'metadata.finalizers: Forbidden: no new finalizers can be added '
                                              r'if the object is being deleted, found new finalizers \[\]string\{"b"\}'):
        res.patch(ADMIN, CM, "p", "held", {"metadata": {"finalizers": ["a", "b"]}}, "merge")
    kept = res.patch(ADMIN, CM, "p", "held", {"metadata": {"deletionTimestamp": None}, "data": {"k": "w"}},
                     "merge").obj
    assert kept["metadata"]["deletionTimestamp"] == "2026-12-04T23:00:00Z"
    fresh = configmap(res, "fresh")
    stamped = res.patch(ADMIN, CM, "p", "fresh", {"metadata": {"deletionTimestamp": "2020-01-01T00:00:00Z"}},
                        "merge").obj
    assert "deletionTimestamp" not in stamped["metadata"] and fresh["metadata"]["uid"] == stamped["metadata"]["uid"]


def test_resume_finishes_a_foreground_deletion_left_by_a_stopped_server(res: Resources) -> None:
    owner = configmap(res, "owner")
    configmap(res, "child", owner)
    stopped = dict(owner, metadata={**owner["metadata"], "deletionTimestamp": "2026-12-04T22:00:00Z",
                                    "finalizers": [FOREGROUND]})
    res.store.update(key_of(CM, "p", "owner"), stopped)   # marked, nothing collected yet
    assert res.collector.resume() == ["ConfigMap p/owner"]
    assert exists(res, "owner") is None and exists(res, "child") is None


def test_a_chain_longer_than_the_recursion_limit_goes_in_one_delete(res: Resources) -> None:
    """An ownership chain is walked without recursion: 1200 ConfigMaps, each owning the next."""
    owner = configmap(res, "c0")
    for i in range(1, 1200):
        owner = configmap(res, f"c{i}", owner)
    res.delete(ADMIN, CM, "p", "c0", cascade_foreground=True)
    assert res.store.list(CM.resource, "p")[0] == []


def test_a_cycle_waits_marked_as_in_kube(res: Resources) -> None:
    a = configmap(res, "a")
    b = configmap(res, "b", a)
    res.patch(ADMIN, CM, "p", "a", {"metadata": {"ownerReferences": [ref(b)]}}, "merge")
    res.delete(ADMIN, CM, "p", "a", cascade_foreground=True)
    marked = [exists(res, n) for n in ("a", "b")]
    assert all(m is not None and m["metadata"]["finalizers"] == [FOREGROUND] for m in marked)
