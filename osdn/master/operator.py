"""ClusterOperator controller: keeps `ClusterOperator network` (config.openshift.io/v1) telling whether
every node runs the current `Network cluster` configuration (`osdn get clusteroperator network`).

One key. Any change of the Network config or of a Node (Ready, or the agent's applied-generation
annotation) recomputes the status with `osdn.model.operator_status.compute_status`; the object is
created on first use and written only when the status changed (transition times are kept).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Hashable
from typing import Any

from osdn import __version__
from osdn.api.kinds.operator import NETWORK_NAME
from osdn.client import Client
from osdn.master.controller import Controller, Informers
from osdn.model.operator_status import compute_status

Obj = dict[str, Any]
OPERATOR_NAME = "network"
KEY = "network"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ClusterOperatorController(Controller):
    name = "clusteroperator"

    def __init__(self, client: Client, informers: Informers, clock: Callable[[], str] = _now) -> None:
        super().__init__(client)
        self.clock = clock
        self.networks = informers.on("Network", self._on_event)
        self.nodes = informers.on("Node", self._on_event)
        self.operators = informers.on("ClusterOperator", self._on_event)

    def _on_event(self, _type: str, _new: Obj | None, _old: Obj | None) -> None:
        self.enqueue(KEY)

    def prepare(self) -> None:
        self.enqueue(KEY)

    def reconcile(self, key: Hashable) -> None:
        current = self.writes.latest(self.operators, OPERATOR_NAME)
        old_status = (current or {}).get("status")
        status = compute_status(self.networks.get(NETWORK_NAME), self.nodes.items(), old_status, self.clock(),
                                __version__)
        if current is None:
            obj = {"apiVersion": "config.openshift.io/v1", "kind": "ClusterOperator",
                   "metadata": {"name": OPERATOR_NAME}, "spec": {}, "status": status}
            # AlreadyExistsError (another master made it) is retried once our informer has it
            self.writes.record("ClusterOperator", OPERATOR_NAME, self.client.create(obj))
            return
        if status != old_status:
            updated = self.client.update({**current, "status": status}, subresource="status")
            self.writes.record("ClusterOperator", OPERATOR_NAME, updated)
