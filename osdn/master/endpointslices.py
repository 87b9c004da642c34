"""EndpointSlice controller: the discovery.k8s.io/v1 slices of every Service, next to its Endpoints.

Key: `namespace/name` of a Service. Level-triggered: each reconcile lists the slices labelled
`kubernetes.io/service-name=<name>` that one of the two managers below owns (label
`endpointslice.kubernetes.io/managed-by`) and applies `osdn.master.slices.plan_slices`:
- a Service with a selector (not ExternalName): slices from its pods, managed by
  `endpointslice-controller.k8s.io`;
- a Service without a selector whose Endpoints are kept by hand: those Endpoints mirrored, managed by
  `endpointslicemirroring-controller.k8s.io` (unless labelled `endpointslice.kubernetes.io/skip-mirror`);
- otherwise (the Service is gone, or ExternalName): its managed slices are deleted. osdn has no
  garbage collector, so this is how slices go with their Service; slices of other managers are never
  touched.
While the owner (the Service, or the mirrored Endpoints) is being deleted (a deletionTimestamp: a
foreground deletion waits for its dependents, osdn.apiserver.foreground) no slice is created, as
upstream's reconcilers skip creates then: a slice made again would block the deletion for ever.
Before creating, the owner is read afresh (the DELETE marks it before it deletes the slices, and
the slices' watch may show that first). Updates and deletes go on.
Pod events enqueue the Services whose selector matches the old or new labels; Endpoints and
EndpointSlice events enqueue the Service of the same name (so hand edits of a managed slice are
repaired).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable, Mapping
from typing import Any

from osdn.client import Client
from osdn.errors import NotFoundError
from osdn.master.controller import Controller, Informers
from osdn.master.endpoints import manages, selects
from osdn.master.replicas import alive_afresh
from osdn.master.slices import (
    CONTROLLER,
    MANAGED_BY_LABEL,
    MIRROR_CONTROLLER,
    SERVICE_NAME_LABEL,
    SKIP_MIRROR_LABEL,
    Desired,
    desired_for_endpoints,
    desired_for_service,
    plan_slices,
)

log = logging.getLogger(__name__)
Obj = dict[str, Any]
KIND = "EndpointSlice"


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _mirrored(svc: Mapping[str, Any] | None, ep: Mapping[str, Any] | None) -> bool:
    """Pure: upstream's mirroring condition: a Service without a selector, Endpoints not opted out."""
    if svc is None or ep is None or ((svc.get("spec") or {}).get("selector")):
        return False
    return (_meta(ep).get("labels") or {}).get(SKIP_MIRROR_LABEL) != "true"


class EndpointSliceController(Controller):
    name = "endpointslices"

    def __init__(self, client: Client, informers: Informers) -> None:
        super().__init__(client)
        self._by_service: dict[tuple[str, str], set[str]] = {}   # (namespace, service) -> slice names
        self._index_lock = threading.Lock()
        self.services = informers.on("Service", self._on_named)
        self.endpoints = informers.on("Endpoints", self._on_named)
        self.slices = informers.on(KIND, self._on_slice)
        self.pods = informers.on("Pod", self._on_pod)

    def _on_named(self, _type: str, new: Obj | None, old: Obj | None) -> None:
        meta = _meta((new or old) or {})
        self.enqueue(f"{meta.get('namespace')}/{meta.get('name')}")

    def _on_slice(self, _type: str, new: Obj | None, old: Obj | None) -> None:
        """Keep the index of slices by service (a reconcile must not scan every slice) and enqueue."""
        with self._index_lock:
            for obj, add in ((old, False), (new, True)):
                meta = _meta(obj or {})
                service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
                if obj is not None and service:
                    names = self._by_service.setdefault((str(meta.get("namespace")), str(service)), set())
                    (names.add if add else names.discard)(str(meta.get("name")))
        for obj in (new, old):
            meta = _meta(obj or {})
            service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
            if obj is not None and service:
                self.enqueue(f"{meta.get('namespace')}/{service}")

    def _on_pod(self, _type: str, new: Obj | None, old: Obj | None) -> None:
        ns = _meta((new or old) or {}).get("namespace")
        labels = [_meta(p).get("labels") for p in (new, old) if p is not None]
        for svc in self.services.items(str(ns or "")):
            selector = (svc.get("spec") or {}).get("selector")
            if any(selects(selector, lb) for lb in labels):
                self.enqueue(f"{ns}/{_meta(svc).get('name')}")

    def prepare(self) -> None:
        for obj in self.services.items() + self.endpoints.items():
            self._on_named("ADDED", obj, None)
        for obj in self.slices.items():
            self._on_slice("ADDED", obj, None)

    def _existing(self, namespace: str, service: str) -> list[Obj]:
        """This service's slices of either manager, our own recent writes included."""
        with self._index_lock:
            names = set(self._by_service.get((namespace, service), ()))
        out = []
        for name in sorted(names | set(self.writes.names(KIND, namespace))):
            obj = self.writes.latest(self.slices, name, namespace)
            labels = (_meta(obj).get("labels") or {}) if obj else {}
            if obj and labels.get(SERVICE_NAME_LABEL) == service \
                    and labels.get(MANAGED_BY_LABEL) in (CONTROLLER, MIRROR_CONTROLLER):
                out.append(obj)
        return out

    def _desired(self, namespace: str, name: str) -> tuple[Desired | None, Obj | None]:
        """The slices wanted, and their owner (the Service, or the mirrored Endpoints)."""
        svc = self.services.get(name, namespace)
        if manages(svc):
            assert svc is not None
            pods = self.pods.items(namespace)
            return desired_for_service(svc, pods), svc
        ep = self.endpoints.get(name, namespace)
        if ep is not None and _mirrored(svc, ep):
            return desired_for_endpoints(ep), ep
        return None, None

    def _may_create(self, desired: Desired, owner: Obj) -> bool:
        """The owner is not being deleted, also read afresh: the foreground DELETE marks it before it
        deletes the slices, and the slices' watch may deliver that before the owner's shows the mark."""
        kind = "Service" if desired.manager == CONTROLLER else "Endpoints"
        return not _meta(owner).get("deletionTimestamp") and alive_afresh(self.client, kind, owner)

    def reconcile(self, key: Hashable) -> None:
        namespace, name = str(key).split("/", 1)
        desired, owner = self._desired(namespace, name)
        existing = self._existing(namespace, name)
        if desired is None or owner is None:
            for obj in existing:
                self._delete(namespace, str(_meta(obj).get("name")))
            return
        mine = [s for s in existing if (_meta(s).get("labels") or {}).get(MANAGED_BY_LABEL) == desired.manager]
        for other in (s for s in existing if s not in mine):
            self._delete(namespace, str(_meta(other).get("name")))
        plan = plan_slices(desired, mine)
        if plan.create and not self._may_create(desired, owner):   # upstream: `if service.DeletionTimestamp == nil`
            plan.create = []
        for obj in plan.create:
            self._record(self.client.create(obj, namespace))
        for obj in plan.update:
            self._record(self.client.update(obj, namespace))
        for slice_name in plan.delete:
            self._delete(namespace, slice_name)
        if not plan.empty():
            log.info("endpointslices %s: %d created, %d updated, %d deleted", key, len(plan.create),
                     len(plan.update), len(plan.delete))

    def _record(self, done: Obj) -> None:
        self.writes.record(KIND, done["metadata"]["name"], done, done["metadata"].get("namespace", ""))

    def _delete(self, namespace: str, name: str) -> None:
        try:
            deleted = self.client.delete(KIND, name, namespace)
            self.writes.record_delete(KIND, name, deleted, namespace)
        except NotFoundError:
            pass
