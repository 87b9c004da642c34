"""A work queue of dirty keys, as in client-go: deduplicated, one worker, per-key retry backoff.

Invariants: a key is never processed by two workers at once (one worker thread per queue); a key
marked dirty while it is being processed is processed again afterwards; `add_after` delays a key
(retry backoff, debounce) without blocking other keys. Thread-safe; no I/O.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Hashable


class WorkQueue:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._ready: dict[Hashable, None] = {}       # ordered set
        self._delayed: list[tuple[float, int, Hashable]] = []
        self._seq = 0
        self._busy: set[Hashable] = set()
        self._again: set[Hashable] = set()
        self._closed = False

    def __len__(self) -> int:
        with self._cond:
            return len(self._ready) + len(self._delayed)

    def add(self, key: Hashable) -> None:
        with self._cond:
            if key in self._busy:
                self._again.add(key)
            else:
                self._ready[key] = None
            self._cond.notify()

    def add_after(self, key: Hashable, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            self._seq += 1
            heapq.heappush(self._delayed, (self._clock() + delay, self._seq, key))
            self._cond.notify()

    def get(self, timeout: float | None = None) -> Hashable | None:
        """Next dirty key (marked busy until `done`), or None on timeout or close."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while not self._closed:
                self._promote()
                if self._ready:
                    key = next(iter(self._ready))
                    del self._ready[key]
                    self._busy.add(key)
                    return key
                if deadline is not None and self._clock() >= deadline:
                    return None
                self._cond.wait(self._wait_time(deadline))
            return None

    def done(self, key: Hashable) -> None:
        with self._cond:
            self._busy.discard(key)
            if key in self._again:
                self._again.discard(key)
                self._ready[key] = None
                self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _promote(self) -> None:
        now = self._clock()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, key = heapq.heappop(self._delayed)
            if key in self._busy:
                self._again.add(key)
            else:
                self._ready[key] = None

    def _wait_time(self, deadline: float | None) -> float | None:
        now = self._clock()
        waits = [t - now for t in (deadline, self._delayed[0][0] if self._delayed else None) if t is not None]
        return max(0.0, min(waits)) if waits else None
