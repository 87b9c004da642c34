"""The replica controllers' shared core: keep `spec.replicas` pods made from `spec.template` running.

ReplicationController (osdn.master.replication) and ReplicaSet (osdn.master.replicasets) are thin
adapters over `ReplicaController`: they only name the owner kind. Key: `namespace/name` of an owner.
Level-triggered, as Kubernetes' replica set controller (which serves both kinds): the owner's pods
are the active pods (not terminating, not Succeeded/Failed) whose controller ownerReference names
this owner; fewer than `replicas` -> create the missing ones (`generateName: <owner>-`, the
template's labels, annotations and spec, an ownerReference with `controller: true`); more -> delete
the extra ones least worth keeping (unscheduled, not running, not ready, then the newest, as
Kubernetes ranks them). A deleted pod (the egress router failover of the seeds: `replicas: 1`) is
replaced at once on the next reconcile. At most `BURST_REPLICAS` (500, kube's burstReplicas) pods
are created or deleted per reconcile; their watch events bring the next reconcile.

Writes not yet seen by the pod informer are remembered for `EXPECT_TTL` seconds so a reconcile that
runs before the watch echo neither doubles nor misses pods; a creation counts as observed the moment
the informer delivers any event for the pod (as Kubernetes' expectations do), so a pod that is
created and deleted before a reconcile runs is replaced at once rather than after the TTL.
`status.replicas`/`readyReplicas`/`availableReplicas`/`observedGeneration` are kept current
(available: Ready for `spec.minReadySeconds`, by the Ready condition's lastTransitionTime; the key is
looked at again when the next Ready pod becomes available).

Garbage collection (what kube's garbage collector does with background propagation): when the owner
is gone, or its uid is not the one a pod's controller reference names (deleted and created again),
the pods are deleted. Orphan pods that match the selector are not adopted. An owner being deleted
(a deletionTimestamp: Orphan, or Foreground waiting for its pods) gets no pod created or deleted,
only its status, as kube's syncReplicaSet (`rs.DeletionTimestamp == nil` guards manageReplicas). The functions above
`ReplicaController` are pure.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from osdn.api.timestamps import parse
from osdn.client import Client
from osdn.errors import ForbiddenError, NotFoundError
from osdn.master import replicafailure
from osdn.master.controller import Controller, Informers
from osdn.master.endpoints import pod_ready
from osdn.master.events import Recorder

log = logging.getLogger(__name__)
Obj = dict[str, Any]
EXPECT_TTL = 30.0
BURST_REPLICAS = 500   # kube's burstReplicas: pods created or deleted per reconcile; the rest in the next ones


@dataclass(frozen=True)
class OwnerKind:
    kind: str
    api_version: str


RC = OwnerKind("ReplicationController", "v1")
RS = OwnerKind("ReplicaSet", "apps/v1")


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def controller_ref(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    """Pure: the ownerReference of `obj` with `controller: true` naming a `kind`, if any."""
    for ref in _meta(obj).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == kind:
            return dict(ref)
    return None


def controller_of(obj: Mapping[str, Any], kind: str = RC.kind) -> str | None:
    """Pure: the name of the `kind` object that controls `obj`, if any."""
    ref = controller_ref(obj, kind)
    return str(ref.get("name")) if ref else None


def owner_ref(owner: Mapping[str, Any], kind: OwnerKind) -> Obj:
    """Pure: the controller ownerReference a dependent of `owner` carries."""
    return {"apiVersion": kind.api_version, "kind": kind.kind, "name": _meta(owner).get("name"),
            "uid": _meta(owner).get("uid"), "controller": True, "blockOwnerDeletion": True}


def owned_by(obj: Mapping[str, Any], owner: Mapping[str, Any] | None, kind: str) -> bool:
    """Pure: `obj`'s controller reference names this very `owner` (same name, and same uid if it has one)."""
    ref = controller_ref(obj, kind)
    return owner is not None and ref is not None and ref.get("name") == _meta(owner).get("name") and \
        ref.get("uid") in (None, _meta(owner).get("uid"))


def still_garbage(client: Client, kind: str, dependent: Mapping[str, Any], owner_kind: str,
                  owner: Mapping[str, Any] | None) -> bool:
    """`dependent` (of `kind`), read afresh, still has the controller reference the cache showed and
    it does not name `owner` (gone, or created again). The owner's and the dependent's informers are
    separate watches: after an Orphan delete (osdn.apiserver.orphans: the dependents are released,
    then the owner goes) the owner's DELETED event may come before the dependent's release."""
    meta = _meta(dependent)
    try:
        fresh = client.get(kind, str(meta.get("name")), str(meta.get("namespace")))
    except NotFoundError:
        return False
    ref = controller_ref(fresh, owner_kind)
    return ref is not None and ref.get("uid") == (controller_ref(dependent, owner_kind) or {}).get("uid") \
        and not owned_by(fresh, owner, owner_kind)


def alive_afresh(client: Client, kind: str, owner: Mapping[str, Any]) -> bool:
    """`owner` (of `kind`), read afresh, exists with the same uid and is not being deleted (kube's
    RecheckDeletionTimestamp). Asked before acting on dependents the cache shows as released or
    missing: an Orphan delete marks the owner, releases its dependents, deletes it, and the owner's
    cache may not have caught up with the mark."""
    meta = _meta(owner)
    try:
        fresh = client.get(kind, str(meta.get("name")), str(meta.get("namespace")))
    except NotFoundError:
        return False
    return _meta(fresh).get("uid") == meta.get("uid") and not _meta(fresh).get("deletionTimestamp")


def active(pod: Mapping[str, Any]) -> bool:
    return not _meta(pod).get("deletionTimestamp") and \
        (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


@dataclass(frozen=True)
class ReplicaPlan:
    create: int
    delete: tuple[str, ...]


def plan_replicas(replicas: int, pods: Sequence[Mapping[str, Any]], pending_create: int) -> ReplicaPlan:
    """Pure: how many pods to create and which to delete (newest first) to reach `replicas`."""
    have = len(pods) + pending_create
    if have < replicas:
        return ReplicaPlan(replicas - have, ())
    newest = sorted(pods, key=_keep_rank)
    return ReplicaPlan(0, tuple(str(_meta(p).get("name")) for p in newest[:max(0, have - replicas)]))


def _keep_rank(pod: Mapping[str, Any]) -> tuple[bool, bool, bool, str]:
    """Sort key, least worth keeping first: unscheduled, not running, not ready, then the newest."""
    created = str(_meta(pod).get("creationTimestamp") or "")
    inverted = "".join(chr(0x10FFFF - ord(c)) for c in created)
    return (bool((pod.get("spec") or {}).get("nodeName")), (pod.get("status") or {}).get("phase") == "Running",
            pod_ready(pod), inverted)


def pod_from_template(owner: Mapping[str, Any], kind: OwnerKind = RC) -> Obj:
    """Pure: a new pod of `owner` (generateName, template labels/annotations/spec, ownerReference)."""
    meta, template = _meta(owner), (owner.get("spec") or {}).get("template") or {}
    tmeta = template.get("metadata") or {}
    pod_meta: Obj = {"generateName": f"{meta.get('name')}-", "namespace": meta.get("namespace"),
                     "labels": dict(tmeta.get("labels") or {}), "ownerReferences": [owner_ref(owner, kind)]}
    if tmeta.get("annotations"):
        pod_meta["annotations"] = dict(tmeta["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": template.get("spec") or {}}


def available_in(pod: Mapping[str, Any], min_ready_seconds: int, now: float) -> float | None:
    """Pure: seconds until `pod` is available (Ready for `minReadySeconds`, kube's IsPodAvailable):
    0 when it is, None when it is not Ready (or its Ready condition has no transition time)."""
    if not pod_ready(pod):
        return None
    if min_ready_seconds <= 0:
        return 0.0
    cond = next(c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready")
    since = parse(cond.get("lastTransitionTime"))
    return None if since is None else max(0.0, since + min_ready_seconds - now)


def replica_status(owner: Mapping[str, Any], live: Sequence[Mapping[str, Any]], now: float) -> Obj:
    """Pure: the status fields this controller owns, from the owner's live pods."""
    min_ready = int((owner.get("spec") or {}).get("minReadySeconds") or 0)
    return {"replicas": len(live), "readyReplicas": sum(1 for p in live if pod_ready(p)),
            "availableReplicas": sum(1 for p in live if available_in(p, min_ready, now) == 0),
            "observedGeneration": _meta(owner).get("generation") or 1}


class ReplicaController(Controller):
    """Keeps an owner kind's pods; subclasses set `name` and `owner`."""

    owner: OwnerKind = RC

    def __init__(self, client: Client, informers: Informers, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        super().__init__(client)
        self.clock, self.wall = clock, wall   # expectations; minReadySeconds against Ready's transition time
        self.owners = informers.on(self.owner.kind, lambda _t, new, old: self.enqueue(self._key(new or old)))
        self.pods = informers.on("Pod", self._on_pod)
        self.created: dict[str, dict[str, float]] = {}  # key -> pod name -> when
        self.deleted: dict[str, dict[str, float]] = {}
        self.observed: dict[str, dict[str, float]] = {}  # pods the informer saw before their create returned
        self._books = threading.Lock()  # informer thread vs the worker
        self.recorder = Recorder(client)   # FailedCreate events (osdn.master.replicafailure)

    @staticmethod
    def _key(obj: Mapping[str, Any] | None) -> str:
        return f"{_meta(obj or {}).get('namespace')}/{_meta(obj or {}).get('name')}"

    def _on_pod(self, _type: str, new: Obj | None, old: Obj | None) -> None:
        for pod in (new, old):
            owner = controller_of(pod, self.owner.kind) if pod else None
            if pod and owner:
                key = f"{_meta(pod).get('namespace')}/{owner}"
                self._observe_creation(key, str(_meta(pod).get("name")))
                self.enqueue(key)

    def _observe_creation(self, key: str, pod_name: str) -> None:
        with self._books:
            if self.created.get(key, {}).pop(pod_name, None) is None:
                self.observed.setdefault(key, {})[pod_name] = self.clock()

    def _expect_creation(self, key: str, pod_name: str) -> None:
        with self._books:
            if self.observed.get(key, {}).pop(pod_name, None) is None:
                self.created.setdefault(key, {})[pod_name] = self.clock()

    def prepare(self) -> None:
        """Every owner, and the owners named by pods (one deleted while the master was down leaves garbage)."""
        for owner in self.owners.items():
            self.enqueue(self._key(owner))
        for pod in self.pods.items():
            if (named := controller_of(pod, self.owner.kind)) is not None:
                self.enqueue(f"{_meta(pod).get('namespace')}/{named}")

    def _pending(self, book: dict[str, dict[str, float]], key: str, seen: set[str], gone: bool) -> dict[str, float]:
        """Expected writes not yet reflected: created ones not seen, deleted ones still seen."""
        now = self.clock()
        with self._books:
            entries = {n: t for n, t in book.get(key, {}).items()
                       if now - t < EXPECT_TTL and ((n in seen) if gone else (n not in seen))}
            book[key] = entries
            self.observed[key] = {n: t for n, t in self.observed.get(key, {}).items() if now - t < EXPECT_TTL}
            return dict(entries)

    def reconcile(self, key: Hashable) -> None:
        namespace, name = str(key).split("/", 1)
        owner = self.owners.get(name, namespace)
        named = [p for p in self.pods.items(namespace) if controller_of(p, self.owner.kind) == name]
        for pod in named:   # the owner is gone (or created again): collect the garbage
            if not owned_by(pod, owner, self.owner.kind) and still_garbage(self.client, "Pod", pod, self.owner.kind,
                                                                           owner):
                self._delete_pod(key, namespace, str(_meta(pod).get("name")))
        if owner is None:
            return
        live = [p for p in named if active(p) and owned_by(p, owner, self.owner.kind)]
        if _meta(owner).get("deletionTimestamp"):   # being deleted: no pod made or deleted, the status follows
            self._status(owner, live)
            return
        seen = {str(_meta(p).get("name")) for p in live}
        deleting = self._pending(self.deleted, str(key), seen, gone=True)
        live = [p for p in live if _meta(p).get("name") not in deleting]
        created = self._pending(self.created, str(key), seen, gone=False)
        replicas = int((owner.get("spec") or {}).get("replicas", 1) or 0)
        plan = plan_replicas(replicas, live, len(created))
        if plan.create and not alive_afresh(self.client, self.owner.kind, owner):
            return   # being deleted with Orphan: its pods were released, not lost
        refused: str | None = None
        try:
            for _ in range(min(plan.create, BURST_REPLICAS)):
                pod = self.client.create(pod_from_template(owner, self.owner), namespace)
                self._expect_creation(str(key), pod["metadata"]["name"])
                log.info("%s %s: created pod %s", self.owner.kind, key, pod["metadata"]["name"])
        except ForbiddenError as err:   # ResourceQuota: FailedCreate event, ReplicaFailure condition, backoff
            refused = replicafailure.refusal_message(err.message, str(_meta(owner).get("name")))
            self.recorder.about(self.owner.kind, owner, replicafailure.REASON, replicafailure.event_message(refused),
                                warning=True)
        for pod_name in plan.delete[:BURST_REPLICAS]:
            self._delete_pod(key, namespace, pod_name)
        self._status(owner, live, refused)
        if refused is not None:
            raise ForbiddenError(refused)   # the worker retries this key with capped exponential backoff
        now, min_ready = self.wall(), int((owner.get("spec") or {}).get("minReadySeconds") or 0)
        waits = [w for p in live if (w := available_in(p, min_ready, now))]
        if waits:   # a Ready pod becomes available later: look again then
            self.queue.add_after(key, min(waits))

    def _delete_pod(self, key: Hashable, namespace: str, pod_name: str) -> None:
        try:
            self.client.delete("Pod", pod_name, namespace)
        except NotFoundError:
            return
        with self._books:
            self.deleted.setdefault(str(key), {})[pod_name] = self.clock()
        log.info("%s %s: deleted pod %s", self.owner.kind, key, pod_name)

    def _status(self, owner: Obj, live: list[Obj], refused: str | None = None) -> None:
        want = {**replica_status(owner, live, self.wall()), **replicafailure.failure_status(owner, refused, self.wall())}
        have = owner.get("status") or {}
        if any(have.get(k) != v for k, v in want.items()):
            self.client.patch(self.owner.kind, str(_meta(owner).get("name")), {"status": want},
                              str(_meta(owner).get("namespace")), subresource="status")
