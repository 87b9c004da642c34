"""EgressRouter controller: the cluster-network-operator's part of seed 004 in the master.

Key: a namespace. For the EgressRouter of that namespace it makes the NetworkAttachmentDefinition
`egress-router-cni-nad` and the Deployment `egress-router-cni-deployment` exactly as the CNO renders
them (osdn.model.egress_operator), created when missing and updated when a field it renders differs
(defaulted fields are left alone), and writes the router's status conditions (Available once the
Deployment has an available replica, Progressing until then, Degraded with the reason when the
objects cannot be made). osdn's API server has no garbage collector for ownerReferences, so this
controller collects: a NAD or Deployment controlled by an EgressRouter that no longer exists or is
being deleted (the uid of its ownerReference is not a current router's) is deleted, also one left
while no master ran (every namespace is looked at on start). Nothing is made for a router being
deleted (read afresh before a create: its deletion may delete the objects before the router's watch
shows the mark), and a NAD or Deployment that is itself being deleted (held by finalizers, e.g. a
foreground deletion waiting for its pods) is neither updated nor taken over by another router: it
is made again once it is gone. The names are fixed, as upstream's, so a namespace holds one
router: the oldest EgressRouter of a namespace is rendered, any other is Degraded saying which one
owns the names. The Deployment controller then runs the pod; the lab kubelet gives it net1.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from osdn import __version__
from osdn.client import Client
from osdn.errors import AlreadyExistsError, NotFoundError, OsdnError
from osdn.master.controller import Controller, Informers
from osdn.master.replicas import alive_afresh
from osdn.model.egress_operator import (
    DEPLOYMENT_NAME,
    NAD_NAME,
    conditions,
    covers,
    overlay,
    owned_by,
    render_deployment,
    render_nad,
)

log = logging.getLogger(__name__)
Obj = dict[str, Any]
OWNED = (("NetworkAttachmentDefinition", NAD_NAME), ("Deployment", DEPLOYMENT_NAME))


def _meta(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return (obj or {}).get("metadata") or {}


def _age(router: Obj) -> tuple[str, str]:
    return str(_meta(router).get("creationTimestamp") or ""), str(_meta(router).get("name"))


class EgressRouterController(Controller):
    name = "egress-router"

    def __init__(self, client: Client, informers: Informers, clock: Callable[[], float] = time.time) -> None:
        super().__init__(client)
        self.clock = clock  # wall clock: condition times
        self.routers = informers.on("EgressRouter", self._on_event)
        self.informers = {kind: informers.on(kind, self._on_event) for kind, _ in OWNED}

    def _on_event(self, _type: str, new: Obj | None, old: Obj | None) -> None:
        self.enqueue(str(_meta(new or old).get("namespace") or ""))

    def prepare(self) -> None:
        for informer in (self.routers, *self.informers.values()):
            for obj in informer.items():
                self.enqueue(str(_meta(obj).get("namespace") or ""))

    def reconcile(self, key: Hashable) -> None:
        namespace = str(key)
        routers = sorted((r for r in self.routers.items() if _meta(r).get("namespace") == namespace
                          and not _meta(r).get("deletionTimestamp")), key=_age)
        self._collect(namespace, {str(_meta(r).get("uid")) for r in routers})
        if not routers:
            return
        owner, *others = routers
        problem = ""
        try:
            self._apply(render_nad(owner, __version__), owner)
            self._apply(render_deployment(owner, __version__), owner)
        except OsdnError as exc:
            problem = f"could not reconcile Egress Router {namespace}/{_meta(owner).get('name')}: {exc.message}"
        self._write_status(owner, self._available(namespace, owner) and not problem, problem)
        for other in others:
            self._write_status(other, False, f"EgressRouter {_meta(owner).get('name')} of namespace {namespace} "
                                             f"already owns {NAD_NAME} and {DEPLOYMENT_NAME}: one router per "
                                             "namespace")

    def _current(self, kind: str, name: str, namespace: str) -> Obj | None:
        return self.writes.latest(self.informers[kind], name, namespace)

    def _collect(self, namespace: str, live: set[str]) -> None:
        """Delete the NAD and Deployment of an EgressRouter that is gone."""
        for kind, name in OWNED:
            obj = self._current(kind, name, namespace)
            uid = owned_by(obj) if obj else None
            if obj is None or uid is None or uid in live:
                continue
            try:
                left = self.client.delete(kind, name, namespace)
            except NotFoundError:
                left = obj
            if _meta(left).get("finalizers"):   # it stays, marked, until its finalizers are done
                self.writes.record(kind, name, left, namespace)
            else:
                self.writes.record_delete(kind, name, obj, namespace)
            log.info("egress router: deleted %s %s/%s (its EgressRouter %s is gone)", kind, namespace, name, uid)

    def _apply(self, want: Obj, router: Obj) -> None:
        kind, meta = want["kind"], want["metadata"]
        have = self._current(kind, meta["name"], meta["namespace"])
        if _meta(have).get("deletionTimestamp"):   # being deleted: made again once gone (its DELETED event)
            return
        if have is not None and covers(have, want):
            return
        if have is None and not alive_afresh(self.client, "EgressRouter", router):
            return   # the router's deletion deleted it; the router's watch has not shown the mark yet
        if have is None:
            try:
                done = self.client.create(want, meta["namespace"])
            except AlreadyExistsError:
                done = self.client.get(kind, meta["name"], meta["namespace"])
                done = self.client.update(overlay(done, want), meta["namespace"])
        else:
            done = self.client.update(overlay(have, want), meta["namespace"])
        self.writes.record(kind, meta["name"], done, meta["namespace"])
        log.info("egress router: %s %s %s/%s", "created" if have is None else "updated", kind, meta["namespace"],
                 meta["name"])

    def _available(self, namespace: str, router: Obj) -> bool:
        deployment = self._current("Deployment", DEPLOYMENT_NAME, namespace)
        return bool(deployment and owned_by(deployment) == _meta(router).get("uid")
                    and int((deployment.get("status") or {}).get("availableReplicas") or 0) >= 1)

    def _write_status(self, router: Obj, available: bool, problem: str) -> None:
        old = (router.get("status") or {}).get("conditions") or []
        new = conditions(old, available, problem, self.clock())
        if [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in old] == \
                [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in new]:
            return
        meta = _meta(router)
        self.client.patch("EgressRouter", str(meta["name"]), {"status": {"conditions": new}},
                          str(meta.get("namespace")), subresource="status")
