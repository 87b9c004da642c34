"""NodePortAllocation admission: Services of type NodePort (and LoadBalancer) get a node port per
ServicePort from `--service-node-port-range` (default 30000-32767), as kube-apiserver's service
registry; the choice itself is pure (`osdn.model.nodeports`).

Level-triggered, as `serviceips`: the ports in use are those of the stored Services, read at each
allocation, so a delete (or a type change to ClusterIP) releases them and a restart loses nothing.
Concurrent writes are kept apart by a lock and a short reservation of what was just handed out
until the Service is in the store (or it is written again, or deleted). Refusals are 422 Invalid with kube's messages; a full range 500.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from osdn.api.registry import by_kind
from osdn.apiserver.admission import AdmissionContext
from osdn.apiserver.plugins.reservations import Reservations, service_write
from osdn.errors import ObjectRef, OsdnError, ValidationError
from osdn.model.nodeports import (
    NodePortRange,
    NoFreeNodePort,
    assign_node_ports,
    drop_type_dependent,
    node_ports_of,
    patch_allocated,
)
from osdn.store import Store


class NodePortAllocation:
    name = "NodePortAllocation"

    def __init__(self, port_range: NodePortRange | None = None, rand: random.Random | None = None,
                 clock: Any = time.monotonic) -> None:
        self.range = port_range or NodePortRange()
        self._lock = threading.Lock()
        self._held: Reservations[int] = Reservations(clock)
        self._rand = rand or random.Random()

    def admit(self, ctx: AdmissionContext) -> None:
        who = service_write(ctx, self._lock, self._held)
        if who is None:
            return
        spec = ctx.obj.get("spec")
        if not isinstance(spec, dict):
            return
        old_spec = (ctx.old or {}).get("spec") or {}
        if ctx.operation == "UPDATE" and isinstance(old_spec, dict):
            drop_type_dependent(spec, old_spec)
            patch_allocated(spec, old_spec)
        with self._lock:
            used = self._in_use(ctx.store, who)
            try:
                taken, errs = assign_node_ports(spec, node_ports_of(old_spec), used, self.range,
                                                self._rand.randrange(1 << 30))
            except NoFreeNodePort as err:
                raise OsdnError(f"failed to allocate a nodePort for Service {who}: {err}") from None
            if errs:
                namespace, name = who.split("/", 1)
                raise ValidationError.of(ObjectRef("Service", name, namespace), errs)
            if not ctx.dry_run:   # a dry run stores nothing, so holds nothing
                self._held.hold(taken, who)

    def _in_use(self, store: Store, who: str) -> set[int]:
        """Node ports held by stored Services (other than `who`) and by live reservations of others."""
        items, _ = store.list(by_kind("Service").resource)
        return self._held.in_use({f"{(o.get('metadata') or {}).get('namespace')}/{(o.get('metadata') or {}).get('name')}":
                                  node_ports_of(o.get("spec") or {}) for o, _raw in items}, who)
