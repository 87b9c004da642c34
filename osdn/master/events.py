"""Events the master records about the objects it manages (seen by `osdn describe` and `get events`).

Events about cluster-scoped objects (NetNamespace, HostSubnet, Node) go to the `default` namespace,
as Kubernetes does. A repeat of the same (object, reason, message) updates the count of the last
event instead of creating a new one. Recording is best effort: a failure is logged, never raised.
"""

from __future__ import annotations

import datetime
import logging
import threading
from typing import Any

from osdn.client import Client
from osdn.errors import OsdnError

log = logging.getLogger(__name__)
Obj = dict[str, Any]
COMPONENT = "osdn-master"


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Recorder:
    def __init__(self, client: Client, namespace: str = "default") -> None:
        self.client, self.namespace = client, namespace
        self._last: dict[tuple[str, str, str, str, str], Obj] = {}
        self._lock = threading.Lock()

    def event(self, kind: str, name: str, reason: str, message: str, warning: bool = False) -> None:
        """Record one event about `kind`/`name`."""
        self._record({"kind": kind, "name": name}, self.namespace, reason, message, warning)

    def about(self, kind: str, obj: Obj, reason: str, message: str, warning: bool = False) -> None:
        """Record one event about the namespaced `obj` of `kind`, in its namespace and naming its uid
        (how `kubectl describe` finds the events of an object)."""
        meta = obj.get("metadata") or {}
        involved = {"kind": kind, "name": meta.get("name"), "namespace": meta.get("namespace"), "uid": meta.get("uid")}
        self._record(involved, str(meta.get("namespace")), reason, message, warning)

    def _record(self, involved: Obj, namespace: str, reason: str, message: str, warning: bool) -> None:
        kind, name = str(involved["kind"]), str(involved["name"])
        key = (namespace, kind, name, reason, message)
        now = utc_now()
        with self._lock:
            previous = self._last.get(key)
        try:
            if previous is not None:
                body = {**previous, "count": int(previous.get("count", 1)) + 1, "lastTimestamp": now}
                body["metadata"] = {**previous["metadata"]}
                stored = self.client.update(body, namespace)
            else:
                stored = self.client.create(self._new(involved, namespace, reason, message, warning, now), namespace)
        except OsdnError as err:
            log.warning("event %s on %s %s not recorded: %s", reason, kind, name, err.message)
            with self._lock:
                self._last.pop(key, None)
            return
        with self._lock:
            self._last[key] = stored
        (log.warning if warning else log.info)("%s %s: %s: %s", kind, name, reason, message)

    @staticmethod
    def _new(involved: Obj, namespace: str, reason: str, message: str, warning: bool, now: str) -> Obj:
        return {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"generateName": f"{involved['name']}.", "namespace": namespace},
            "involvedObject": dict(involved),
            "type": "Warning" if warning else "Normal", "reason": reason, "message": message,
            "source": {"component": COMPONENT}, "count": 1, "firstTimestamp": now, "lastTimestamp": now,
        }
