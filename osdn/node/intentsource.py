"""The agent's side of the incremental compiler: watch events in, a `NodeIntent` out.

Informer threads call `record` for every event (cheap: the latest object per key, under a lock);
the sync thread calls `intent`, which hands the recorded changes to the `IncrementalCompiler` and
compiles. A full sync (`full=True`: start-up, retries, the periodic resync) first reconciles the
compiler with the informers' whole cache, so an event lost for any reason is repaired within one sync
period, and a failed compile leaves nothing half-fed.

That reconcile is by object identity: an informer hands its handlers the very object it caches, so
an object of the snapshot that the compiler was already fed is the same Python object, and only the
others (objects whose event was lost, or re-listed copies) and the fed objects missing from the
snapshot are handed to the compiler, one by one. The work in Python per full sync is one pass over
the snapshot and a set difference of ids (a few ms at 22k objects), not a resourceVersion comparison
per object (0.1-0.6 s on the sync thread at that size under load, which every event arriving
meanwhile waited for). The first full sync, and any after an error, go through the compiler's own
`resync` (the diff by resourceVersion).

With a `HeapFreezer` (the agent's), each full sync first settles the heap (`node.heap`): young
objects collected, survivors frozen, so no garbage collection walks the 22k cached objects.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from osdn.node.compile import NodeFacts
from osdn.node.heap import HeapFreezer
from osdn.node.incremental import IncrementalCompiler, Key, object_key
from osdn.node.intent import NodeIntent

Obj = Mapping[str, Any]


class IntentSource:
    def __init__(self, snapshot: Callable[[], Iterable[tuple[str, Obj]]], heap: HeapFreezer | None = None) -> None:
        self.snapshot = snapshot  # (kind, object) for every cached object
        self.heap = heap
        self.compiler = IncrementalCompiler()
        self._lock = threading.Lock()
        self._pending: dict[Key, Obj | None] = {}
        self._fed: dict[Key, Obj] | None = None  # what the compiler holds per key (None: not known)
        self._fed_ids: dict[int, Key] = {}  # id -> key of every object in `_fed` (which keeps them alive)
        self.examined = 0  # objects the last full sync handed to the compiler one by one

    def record(self, kind: str, new: Obj | None, old: Obj | None) -> None:
        obj = new if new is not None else old
        if obj is None:
            return
        with self._lock:
            self._pending[object_key(kind, obj)] = new

    def intent(self, facts: NodeFacts, full: bool) -> NodeIntent:
        with self._lock:
            pending, self._pending = self._pending, {}
        try:
            if full:
                if self.heap is not None:
                    self.heap.settle()
                self._resync(list(self.snapshot()))
            else:
                for key, obj in pending.items():
                    self._feed(key, obj)
        except Exception:
            self._fed = None  # the compiler may hold part of it: the next full sync diffs everything
            raise
        return self.compiler.compile(facts)

    def _feed(self, key: Key, obj: Obj | None) -> None:
        if self._fed is not None:
            old = self._fed.pop(key, None)
            if old is not None:
                del self._fed_ids[id(old)]
            if obj is not None:
                self._fed[key], self._fed_ids[id(obj)] = obj, key
        self.compiler.update(key[0], key[1:], obj)

    def _resync(self, objs: list[tuple[str, Obj]]) -> None:
        if self._fed is None:
            self.compiler.resync(objs)
            self._fed = {object_key(kind, obj): obj for kind, obj in objs}
            self._fed_ids = {id(obj): key for key, obj in self._fed.items()}
            self.examined = len(objs)
            return
        ids = self._fed_ids
        fresh = [(kind, obj) for kind, obj in objs if id(obj) not in ids]
        for kind, obj in fresh:
            self._feed(object_key(kind, obj), obj)
        gone = ids.keys() - {id(obj) for _, obj in objs}
        for key in [ids[i] for i in gone]:
            self._feed(key, None)
        self.examined = len(fresh) + len(gone)
