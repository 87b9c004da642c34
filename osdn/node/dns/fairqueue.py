"""A bounded work queue that serves its producers in turn (the DNS server's worker queue).

Items are queued per key (the client's IP); `get` takes one item from each key in rotation, so a pod
that floods the node's DNS server with names the upstream answers slowly delays its own queries,
not other pods': another client's query waits behind at most one query of each busy client, not
behind the whole flood. `put` refuses an item (returns False) past `per_key` items for its key or
`total` items altogether. Thread-safe; `close` wakes every waiting `get` with None.

`FairSlots` is the same rule for the TCP connections: at most `total` at once and `per_key` of one
client, so one pod holding connections open cannot lock every other pod out of DNS over TCP.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from typing import Generic, TypeVar

T = TypeVar("T")


class FairQueue(Generic[T]):
    def __init__(self, total: int, per_key: int) -> None:
        self.total, self.per_key = total, per_key
        self._queues: OrderedDict[str, deque[T]] = OrderedDict()  # keys with work, in serving order
        self._size = 0
        self._closed = False
        self._ready = threading.Condition()

    def put(self, key: str, item: T) -> bool:
        with self._ready:
            q = self._queues.get(key)
            if self._closed or self._size >= self.total or (q is not None and len(q) >= self.per_key):
                return False
            if q is None:
                q = self._queues[key] = deque()
            q.append(item)
            self._size += 1
            self._ready.notify()
            return True

    def get(self) -> T | None:
        """The next item, taking keys in turn; blocks while empty; None once closed."""
        with self._ready:
            while not self._queues and not self._closed:
                self._ready.wait()
            if self._closed:
                return None
            key, q = next(iter(self._queues.items()))
            item = q.popleft()
            self._size -= 1
            if q:
                self._queues.move_to_end(key)  # its next item waits for one of every other key
            else:
                del self._queues[key]
            return item

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def __len__(self) -> int:
        with self._ready:
            return self._size


class FairSlots:
    """At most `total` slots held at once, at most `per_key` by one key. Thread-safe."""

    def __init__(self, total: int, per_key: int) -> None:
        self.total, self.per_key = total, per_key
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> bool:
        with self._lock:
            mine = self._held.get(key, 0)
            if mine >= self.per_key or sum(self._held.values()) >= self.total:
                return False
            self._held[key] = mine + 1
            return True

    def release(self, key: str) -> None:
        with self._lock:
            left = self._held.get(key, 0) - 1
            if left > 0:
                self._held[key] = left
            else:
                self._held.pop(key, None)
