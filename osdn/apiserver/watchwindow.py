"""Which resourceVersions a watch may start from: kube-apiserver's watch cache window, per resource.

kube-apiserver serves a watch from a per-resource ring of recent events (its watch cache), not
from etcd's history. The ring holds 100 events at first; when it is full and its oldest event is
younger than 75 s it doubles (up to 102400), and when even the newest quarter is older than 75 s
it halves again. A watch from resourceVersion R is answered `410 Expired "too old resource version:
R (OLDEST-1)"` when R < OLDEST-1, OLDEST being the first event still in the ring, or (while no event
was dropped) the resourceVersion the cache started from plus one. Informers take that 410 as the
signal to list again; replaying a long history instead would hand them stale events for minutes.

`WatchWindow` records every store event (from the store's writing thread) and answers `check` from
the event loop; the clock is injected (monotonic seconds).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from osdn.errors import GoneError
from osdn.store import Event

EVENT_FRESH_SECONDS = 75.0     # kube's eventFreshDuration
LOWER_BOUND = 100              # kube's defaultLowerBoundCapacity
UPPER_BOUND = 100 * 1024       # kube's defaultUpperBoundCapacity


class _Ring:
    """One resource's window: (rv, time) of its recent events, resized as kube's watchCache is."""

    def __init__(self) -> None:
        self.capacity = LOWER_BOUND
        self.events: deque[tuple[int, float]] = deque()
        self.dropped = False          # kube's removedEventSinceRelist

    def add(self, rv: int, now: float) -> None:
        self._resize(now)
        if len(self.events) >= self.capacity:
            self.events.popleft()
            self.dropped = True
        self.events.append((rv, now))

    def _resize(self, now: float) -> None:
        if len(self.events) < self.capacity:
            return
        if now - self.events[0][1] < EVENT_FRESH_SECONDS:
            self.capacity = min(self.capacity * 2, UPPER_BOUND)
        elif now - self.events[len(self.events) - self.capacity // 4][1] > EVENT_FRESH_SECONDS:
            self.capacity = max(self.capacity // 2, LOWER_BOUND)
            while len(self.events) > self.capacity:
                self.events.popleft()

    def oldest(self, start_rv: int) -> int:
        """The oldest resourceVersion a watch can be served from (kube's `oldest`)."""
        return self.events[0][0] if self.dropped else start_rv + 1


class WatchWindow:
    """The watch windows of every resource, from `start_rv` (the store's rv when the server started)."""

    def __init__(self, start_rv: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.start_rv, self._clock = start_rv, clock
        self._lock = threading.Lock()
        self._rings: dict[str, _Ring] = {}

    def record(self, event: Event) -> None:
        """A store event (any thread)."""
        now = self._clock()
        with self._lock:
            self._rings.setdefault(event.key.resource, _Ring()).add(event.rv, now)

    def check(self, resource: str, since: int) -> None:
        """GoneError when a watch of `resource` from `since` reaches before the window."""
        with self._lock:
            ring = self._rings.get(resource)
            oldest = ring.oldest(self.start_rv) if ring else self.start_rv + 1
        if since < oldest - 1:
            raise GoneError(f"too old resource version: {since} ({oldest - 1})")
