"""The agent's side of the incremental compiler: watch events in, a `NodeIntent` out.

Informer threads call `record` for every event (cheap: the latest object per key, under a lock);
the sync thread calls `intent`, which hands the recorded changes to the `IncrementalCompiler` and
compiles. A full sync (`full=True`: start-up, retries, the periodic resync) first reconciles the
compiler with the informers' whole cache (`resync`, a diff by resourceVersion), so an event lost
for any reason is repaired within one sync period, and a failed compile leaves nothing half-fed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from osdn.node.compile import NodeFacts
from osdn.node.incremental import IncrementalCompiler, object_key
from osdn.node.intent import NodeIntent

Obj = Mapping[str, Any]


class IntentSource:
    def __init__(self, snapshot: Callable[[], Iterable[tuple[str, Obj]]]) -> None:
        self.snapshot = snapshot  # (kind, object) for every cached object
        self.compiler = IncrementalCompiler()
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str, str], Obj | None] = {}

    def record(self, kind: str, new: Obj | None, old: Obj | None) -> None:
        obj = new if new is not None else old
        if obj is None:
            return
        with self._lock:
            self._pending[object_key(kind, obj)] = new

    def intent(self, facts: NodeFacts, full: bool) -> NodeIntent:
        with self._lock:
            pending, self._pending = self._pending, {}
        if full:
            self.compiler.resync(self.snapshot())
        else:
            for (kind, ns, name), obj in pending.items():
                self.compiler.update(kind, (ns, name), obj)
        return self.compiler.compile(facts)
