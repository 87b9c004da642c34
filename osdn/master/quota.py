"""The quota controller: keeps every ResourceQuota's `status` (`hard` from spec, `used` counted), as
Kubernetes' resource quota controller does. Key: `namespace/name` of a quota.

The API server charges admitted creates to `status.used` at once (osdn.apiserver.plugins.quota);
this controller gives back what is gone. A quota is recounted (its namespace's objects of every
resource it limits, listed from the API server, counted by osdn.api.quota) when it is created or its
`spec.hard` no longer matches `status.hard`, or a write lowered `status.used` (an update of the
quota that carried an older status over a charge); when an object of a commonly limited kind (Pod,
Service, ReplicationController, ReplicaSet, Deployment) is deleted, or a pod ends
(Succeeded/Failed) or a Service changes type, in that namespace; and every `RESYNC` seconds (other
kinds, and charges of creates the store then refused; kube's --resource-quota-sync-period). The new status is written with the
resourceVersion of the quota read before the count: a charge made meanwhile makes the write conflict
and the count is made again. A charge made just before the count whose object is not stored yet
(admitted, the store write under way) would not be counted: so a count that lowers `used` is only
written when a second count, `SETTLE` seconds later, finds the quota unchanged (no charge in between,
and the earlier ones' objects stored by then); the write is conditioned on that same resourceVersion.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from osdn.api import quota as q
from osdn.api.registry import resolve
from osdn.client import Client
from osdn.client.informer import Handler
from osdn.errors import NotFoundError
from osdn.master.controller import Controller, Informers

log = logging.getLogger(__name__)
Obj = dict[str, Any]
RESYNC = 300.0     # kube-controller-manager's --resource-quota-sync-period default (5m)
SETTLE = 1.0       # a count that lowers `used` is applied only if the quota saw no charge for this long
RESYNC_KEY = "*resync*"   # not a namespace/name: the periodic pass over every quota
# kinds whose deletes trigger a recount; the master caches them already (ConfigMaps, which may be large,
# are not cached for this: their slots come back at the periodic recount)
WATCHED = ("Pod", "Service", "ReplicationController", "ReplicaSet", "Deployment")


def needs_recount(quota: Mapping[str, Any]) -> bool:
    """Pure: the status does not (yet) track the spec: new quota, changed limits."""
    status = quota.get("status") or {}
    hard = dict((quota.get("spec") or {}).get("hard") or {})
    used = status.get("used") or {}
    return set(hard) != set(status.get("hard") or {}) or any(n not in used for n in hard) or \
        q.QuotaView.of(quota).hard != q.QuotaView.of({"spec": {"hard": status.get("hard") or {}}}).hard


def lowers_used(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> bool:
    """Pure: a write lowered some `status.used` amount (only a recount may do that; anything else,
    such as a quota update that carried an older status, may have dropped a charge)."""
    if old is None:
        return False
    before, after = q.QuotaView.of(old).used, q.QuotaView.of(new).used
    return any(after.get(n, amount) < amount for n, amount in before.items())


def frees_usage(kind: str, new: Mapping[str, Any] | None, old: Mapping[str, Any] | None) -> bool:
    """Pure: whether this change of a counted object may lower a quota's usage."""
    if new is None:
        return old is not None
    if old is None:
        return False
    if kind == "Pod":
        return q.pod_terminal(new) and not q.pod_terminal(old)
    if kind == "Service":
        return (new.get("spec") or {}).get("type") != (old.get("spec") or {}).get("type")
    return False


class QuotaController(Controller):
    name = "resourcequota"

    def __init__(self, client: Client, informers: Informers, resync: float = RESYNC, settle: float = SETTLE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(client)
        self.resync, self.settle, self.clock = resync, settle, clock
        self._settling: dict[Hashable, tuple[Any, float]] = {}   # key -> (rv a lowering count saw, when)
        self.quotas = informers.on("ResourceQuota", self._on_quota)
        for kind in WATCHED:
            informers.on(kind, self._handler(kind))

    @staticmethod
    def _key(obj: Mapping[str, Any]) -> str:
        meta = obj.get("metadata") or {}
        return f"{meta.get('namespace')}/{meta.get('name')}"

    def _on_quota(self, _type: str, new: Obj | None, old: Obj | None) -> None:
        if new is not None and (old is None or needs_recount(new) or lowers_used(new, old)):
            self.enqueue(self._key(new))

    def _handler(self, kind: str) -> Handler:
        return lambda _type, new, old: self._on_object(kind, new, old)

    def _on_object(self, kind: str, new: Obj | None, old: Obj | None) -> None:
        if not frees_usage(kind, new, old):
            return
        namespace = ((new or old or {}).get("metadata") or {}).get("namespace")
        for quota in self.quotas.items():
            if (quota.get("metadata") or {}).get("namespace") == namespace:
                self.enqueue(self._key(quota))

    def prepare(self) -> None:
        self.enqueue(RESYNC_KEY)

    def _resync(self) -> None:
        """Every quota once now, and this again in `resync` seconds (one timer for all quotas)."""
        for quota in self.quotas.items():
            self.enqueue(self._key(quota))
        self.queue.add_after(RESYNC_KEY, self.resync)

    def _list(self, namespace: str, resource: str) -> list[Obj]:
        try:
            info = resolve(resource)
        except NotFoundError:
            return []    # a kind osdn does not serve: nothing of it exists
        if info.resource != resource:
            return []    # `count/deployments` names core deployments, which do not exist
        return list(self.client.list(info, namespace).get("items") or [])

    def _settle_wait(self, key: Hashable, quota: Mapping[str, Any]) -> float:
        """Seconds before a lowering count of `quota` may be written: `settle` after the first count
        that saw this resourceVersion (a new charge starts the wait again), 0 when that has passed."""
        rv, now = (quota.get("metadata") or {}).get("resourceVersion"), self.clock()
        seen_rv, since = self._settling.get(key, (None, now))
        if seen_rv != rv:
            self._settling[key] = (rv, now)
            return self.settle
        return max(0.0, since + self.settle - now)

    def reconcile(self, key: Hashable) -> None:
        if key == RESYNC_KEY:
            self._resync()
            return
        namespace, name = str(key).split("/", 1)
        try:
            quota = self.client.get("ResourceQuota", name, namespace)
        except NotFoundError:
            self._settling.pop(key, None)
            return
        view = q.QuotaView.of(quota)
        status = q.status_of(view, q.recount(view, lambda resource: self._list(namespace, resource)))
        if lowers_used({"status": status}, quota) and (wait := self._settle_wait(key, quota)) > 0:
            self.queue.add_after(key, wait)   # count again once the quota has had no charge for `settle` s
            return
        self._settling.pop(key, None)
        if status != (quota.get("status") or {}):
            body = {**quota, "status": status}
            self.client.update(body, namespace, subresource="status")   # carries the rv read: a charge conflicts
            log.info("resourcequota %s: used %s", key, ",".join(f"{n}={a}" for n, a in status["used"].items()))
