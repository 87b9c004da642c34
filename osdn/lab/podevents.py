"""Events the lab kubelet records about pods (Scheduled, FailedScheduling, Started, BackOff, ...).

Events go to the pod's namespace with source component `kubelet` (`default-scheduler` for
scheduling), as Kubernetes does, so `osdn describe pod` and `osdn get events` show why a pod is
Pending, restarting or failed. A repeat of the same (pod, reason, message) raises the count of the
last event instead of adding one. Best effort: a failure is logged, never raised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from osdn.client import Client
from osdn.errors import OsdnError
from osdn.lab.lifecycle import rfc3339

log = logging.getLogger(__name__)
Obj = dict[str, Any]
SCHEDULER = "default-scheduler"
KUBELET = "kubelet"


class PodEvents:
    def __init__(self, client: Client, clock: Callable[[], float]) -> None:
        self.client, self.clock = client, clock
        self._last: dict[tuple[str, str, str, str], Obj] = {}

    def record(self, pod: Obj, reason: str, message: str, warning: bool = False, source: str = KUBELET) -> None:
        meta = pod["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        key = (ns, name, reason, message)
        now = rfc3339(self.clock())
        previous = self._last.get(key)
        try:
            if previous is not None:
                body = {**previous, "count": int(previous.get("count", 1)) + 1, "lastTimestamp": now}
                stored = self.client.update(body, ns)
            else:
                stored = self.client.create(_event(meta, reason, message, warning, source, now), ns)
        except OsdnError as err:
            log.warning("event %s on pod %s/%s not recorded: %s", reason, ns, name, err.message)
            self._last.pop(key, None)
            return
        self._last[key] = stored

    def forget(self, namespace: str, name: str) -> None:
        """Drop what is remembered about a pod that is gone."""
        self._last = {k: v for k, v in self._last.items() if k[:2] != (namespace, name)}


def _event(meta: Obj, reason: str, message: str, warning: bool, source: str, now: str) -> Obj:
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.", "namespace": meta.get("namespace", "")},
        "involvedObject": {"kind": "Pod", "name": meta["name"], "namespace": meta.get("namespace", ""),
                           "uid": meta.get("uid", ""), "apiVersion": "v1"},
        "type": "Warning" if warning else "Normal", "reason": reason, "message": message,
        "source": {"component": source}, "count": 1, "firstTimestamp": now, "lastTimestamp": now,
    }
