"""ResourceQuota admission: a write that would take a namespace past a quota is refused (403).

As Kubernetes' ResourceQuota admission plugin (plugin/pkg/admission/resourcequota), for every user,
cluster admins and the master's controllers included. On CREATE (and on UPDATE, for what grows:
a Service turned LoadBalancer) of an object in a namespace, every ResourceQuota of that namespace
that counts its resource (osdn.api.quota) is checked against the quota's `spec.hard` and
`status.used`, and the request is refused with upstream's messages:
    pods "x" is forbidden: exceeded quota: q1, requested: pods=1, used: pods=3, limited: pods=3
    pods "x" is forbidden: failed quota: q1: must specify limits.cpu,requests.memory
    pods "x" is forbidden: status unknown for quota: q1, resources: pods
Admitted requests are charged at once to `status.used` of each quota with an optimistic-concurrency
update of the quota object (its resourceVersion), as upstream does: two creates racing for the last
slot (on one server or on several sharing the store) cannot both pass; the loser re-reads and is
refused. Within a server a per-namespace lock keeps such conflicts rare. Dry runs are checked and
charge nothing. A create of a name that exists is not charged (it fails with AlreadyExists).
Cost per write: one list of the namespace's quotas (a handful), no listing of the objects counted.

Deletes charge nothing back here: the quota controller (osdn.master.quota) recounts a namespace's
quotas when counted objects go away, and periodically, so freed slots (and charges of creates that
then failed in the store) come back. A ResourceQuota's own create or update gets its status here
(`status.hard` from spec, `status.used` counted from the store for every resource it did not track
yet), so a new quota is enforced from its first moment.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import Any

from osdn.api import objects
from osdn.api import quota as q
from osdn.api.quantity import QuantityError
from osdn.api.registry import by_kind
from osdn.apiserver.admission import AdmissionContext
from osdn.apiserver.resources import key_of
from osdn.errors import ConflictError, ForbiddenError, NotFoundError, ObjectRef
from osdn.store import Key, Store

Obj = dict[str, Any]
QUOTA = by_kind("ResourceQuota")
RETRIES = 10


def live_objects(store: Store, namespace: str) -> Callable[[str], list[Obj]]:
    """`list_objects` for osdn.api.quota.recount, reading the store."""
    return lambda resource: [o for o, _raw in store.list(resource, namespace)[0]]


class ResourceQuotaAdmission:
    name = "ResourceQuota"

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def _lock(self, namespace: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(namespace, threading.Lock())

    def admit(self, ctx: AdmissionContext) -> None:
        if ctx.subresource or ctx.operation not in ("CREATE", "UPDATE") or not ctx.info.namespaced:
            return
        if ctx.info.kind == "ResourceQuota":
            self._init_status(ctx)
        if not ctx.store.list(QUOTA.resource, ctx.namespace)[0]:
            return
        if ctx.operation == "CREATE" and _exists(ctx):
            return
        with self._lock(ctx.namespace):
            self._charge(ctx)

    def _charge(self, ctx: AdmissionContext) -> None:
        charged: set[str] = set()
        for _ in range(RETRIES):
            plans = [p for quota, _raw in ctx.store.list(QUOTA.resource, ctx.namespace)[0]
                     if quota["metadata"]["name"] not in charged and (p := _plan(ctx, quota)) is not None]
            if ctx.dry_run:
                return
            try:
                for quota, view, request in plans:
                    _write(ctx.store, quota, view, request)
                    charged.add(view.name)
                return
            except ConflictError:
                continue
        raise ConflictError(f'Operation cannot be fulfilled on resourcequotas in namespace "{ctx.namespace}": '
                            f"too many concurrent updates of its quotas; please try again")

    @staticmethod
    def _init_status(ctx: AdmissionContext) -> None:
        view = q.QuotaView.of(ctx.obj)
        tracked = {} if ctx.old is None else q.QuotaView.of(ctx.old).used
        fresh = {n for n in view.hard if n not in tracked}
        used = {n: a for n, a in tracked.items() if n in view.hard}
        if fresh:
            counted = q.recount(_only(view, fresh), live_objects(ctx.store, ctx.namespace))
            if ctx.old is None:   # the new quota counts itself under `resourcequotas`
                counted = {n: a + q.object_usage(QUOTA.resource, ctx.obj).get(n, Fraction(0))
                           for n, a in counted.items()}
            used.update(counted)
        ctx.obj["status"] = q.status_of(view, used)


def _only(view: q.QuotaView, names: Iterable[str]) -> q.QuotaView:
    keep = set(names)
    return q.QuotaView(view.name, {n: a for n, a in view.hard.items() if n in keep}, {}, view.scopes, view.binary)


def _exists(ctx: AdmissionContext) -> bool:
    name = str((ctx.obj.get("metadata") or {}).get("name") or "")
    try:
        ctx.store.get(key_of(ctx.info, ctx.namespace, name))
    except NotFoundError:
        return False
    return True


def _refuse(ctx: AdmissionContext, reason: str) -> ForbiddenError:
    name = str((ctx.obj.get("metadata") or {}).get("name") or "")
    return ForbiddenError(f'{ctx.info.resource} "{name}" is forbidden: {reason}',
                          ObjectRef(ctx.info.plural, name, ctx.namespace, ctx.info.group))


def _plan(ctx: AdmissionContext, quota: Obj) -> tuple[Obj, q.QuotaView, q.Usage] | None:
    """What this write charges to `quota`, or None; raises the refusal when it does not fit."""
    view, resource = q.QuotaView.of(quota), ctx.info.resource
    if not any(q.covers(resource, n) for n in view.hard):
        return None
    try:
        missing = q.missing_compute(view, resource, ctx.obj)
        request = q.requested(view, resource, ctx.obj, ctx.old)
    except QuantityError as err:
        raise _refuse(ctx, f"failed quota: {view.name}: {err}") from None
    if missing:
        raise _refuse(ctx, f"failed quota: {view.name}: must specify {','.join(missing)}")
    if not request:
        return None
    if unknown := q.unknown_usage(view, request):
        raise _refuse(ctx, f"status unknown for quota: {view.name}, resources: {','.join(unknown)}")
    if over := q.exceeded(view, request):
        raise _refuse(ctx, f"exceeded quota: {view.name}, requested: {view.show(request, over)}, "
                           f"used: {view.show(view.used, over)}, limited: {view.show(view.hard, over)}")
    return quota, view, request


def _write(store: Store, quota: Obj, view: q.QuotaView, request: q.Usage) -> None:
    """Charge `request` to the stored `quota`, only if nobody wrote it since it was read."""
    new = objects.clone(quota)
    used = new.setdefault("status", {}).setdefault("used", {})
    for n, amount in request.items():
        used[n] = q.format_amount(view.used.get(n, Fraction(0)) + amount, n in view.binary)
    meta = quota["metadata"]
    store.update(Key(QUOTA.resource, meta["namespace"], meta["name"]), new, int(meta["resourceVersion"]))
