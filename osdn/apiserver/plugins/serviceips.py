"""ServiceIPAllocation admission: every ClusterIP/NodePort/LoadBalancer Service gets a clusterIP from
the ClusterNetwork's `serviceNetwork`, as kube-apiserver's service registry does.

- no `clusterIP` (or empty): a free address is allocated (random in the dynamic band, see
  `osdn.model.servicenet.allocate_ip`); `clusterIPs`, `ipFamilies` and `ipFamilyPolicy` are set to match;
- an explicit `clusterIP` is honoured if it is in the service network, not its network or broadcast
  address, and no other Service holds it; otherwise 422 Invalid naming `spec.clusterIP` and the value;
- `None` (headless) and ExternalName services get none; an update keeps the allocated address
  (an ExternalName service turned ClusterIP gets one).
Level-triggered: the addresses in use are those of the stored Services, read at each allocation, so
a delete releases its address and a restart loses nothing. Concurrent creates are kept apart by a
short-lived reservation (under a lock) until the new Service is in the store (or it is written
again, or deleted: then its address is free at once); a dry run reserves nothing.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from osdn.api.registry import by_kind
from osdn.apiserver.admission import AdmissionContext
from osdn.apiserver.plugins.reservations import Reservations, service_write
from osdn.apiserver.resources import key_of
from osdn.errors import FieldError, NotFoundError, ObjectRef, OsdnError, ValidationError
from osdn.model.servicenet import allocate_ip, ip_problem
from osdn.store import Store

Obj = dict[str, Any]
_NO_IP_TYPES = ("ExternalName",)


def service_network(store: Store) -> str:
    """The ClusterNetwork `default`'s serviceNetwork."""
    try:
        cn = store.get(key_of(by_kind("ClusterNetwork"), "", "default"))
    except NotFoundError:
        raise OsdnError("cannot allocate a service IP: ClusterNetwork 'default' does not exist") from None
    return str(cn.get("serviceNetwork"))


class ServiceIPAllocation:
    name = "ServiceIPAllocation"

    def __init__(self, rand: random.Random | None = None, clock: Any = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._held: Reservations[str] = Reservations(clock)
        self._rand = rand or random.Random()

    def admit(self, ctx: AdmissionContext) -> None:
        who = service_write(ctx, self._lock, self._held)
        if who is None:
            return
        spec = ctx.obj.get("spec")
        if not isinstance(spec, dict) or spec.get("type") in _NO_IP_TYPES or spec.get("clusterIP") == "None":
            return
        old_spec = (ctx.old or {}).get("spec") or {}
        old_ip = old_spec.get("clusterIP")
        if ctx.operation == "UPDATE" and old_ip and old_ip != "None" and not spec.get("clusterIP"):
            spec["clusterIP"] = old_ip   # `kubectl replace` of a manifest without one: the old address and families
            for field in ("clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                if not spec.get(field) and old_spec.get(field):
                    spec[field] = old_spec[field]
        if ctx.operation == "UPDATE" and spec.get("clusterIP") and spec.get("clusterIP") == old_ip:
            return
        ip = self._take(ctx.store, who, spec.get("clusterIP") or None, reserve=not ctx.dry_run)
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")

    def _take(self, store: Store, who: str, wanted: str | None, reserve: bool = True) -> str:
        cidr = service_network(store)
        namespace, name = who.split("/", 1)
        with self._lock:
            used = self._in_use(store, who)
            if wanted is None:
                ip = allocate_ip(cidr, used, self._rand.randrange(1 << 30))
                if ip is None:
                    raise OsdnError(f"failed to allocate a clusterIP for Service {who}: the service network "
                                        f"{cidr} is full")
            else:
                ip = wanted
                problem = ip_problem(cidr, ip) or ("provided IP is already allocated" if ip in used else None)
                if problem:
                    raise ValidationError.of(ObjectRef("Service", name, namespace), [FieldError(
                        "spec.clusterIP", f'Invalid value: "{ip}": failed to allocate IP {ip}: {problem}')])
            if reserve:   # a dry run stores nothing, so holds nothing
                self._held.hold((ip,), who)
            return ip

    def _in_use(self, store: Store, who: str) -> set[str]:
        """Addresses held by stored Services (other than `who`) and by live reservations of others."""
        items, _ = store.list(by_kind("Service").resource)
        return self._held.in_use({f"{(o.get('metadata') or {}).get('namespace')}/{(o.get('metadata') or {}).get('name')}":
                                  (ip,) if (ip := (o.get("spec") or {}).get("clusterIP")) else ()
                                  for o, _raw in items}, who)
