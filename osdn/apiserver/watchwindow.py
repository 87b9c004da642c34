"""Which resourceVersions a watch may start from: kube-apiserver's watch cache window, per resource.

kube-apiserver serves a watch from a per-resource ring of recent events (its watch cache), not
from etcd's history. The ring holds 100 events at first; when it is full and its oldest event is
younger than 75 s it doubles (up to 102400), and when even the newest quarter is older than 75 s
it halves again. A watch from resourceVersion R is answered `410 Expired "too old resource version:
R (OLDEST-1)"` when R < OLDEST-1, OLDEST being the first event still in the ring, or (while no event
was dropped) the resourceVersion the cache started from plus one. Informers take that 410 as the
signal to list again; replaying a long history instead would hand them stale events for minutes.

`WatchWindow` records every store event (from the store's writing thread) and answers `check` from
the event loop; the clock is injected (monotonic seconds). `Bookmarks` keeps a watcher's rv inside
the window while its selectors match nothing, as kube's bookmarks do.
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


BOOKMARK_SECONDS = 60.0        # kube's bookmarkFrequency
BOOKMARK_BEFORE_END = 2.0      # kube sends one 2 s before the watch's own timeout


class Bookmarks:
    """When a watch that allows bookmarks (`allowWatchBookmarks=true`) sends a BOOKMARK, as kube's
    cacher does: about every minute and 2 s before the watch's timeout. Its resourceVersion is that
    of the newest event of the resource the stream has passed (sent or filtered out by its
    selectors), never one it has not: a client that re-watches from it misses nothing, and stays
    inside the watch window though its selector matched nothing for a long time."""

    def __init__(self, enabled: bool, rv: int, now: float, deadline: float | None) -> None:
        self.enabled, self.rv, self.sent, self.deadline = enabled, rv, rv, deadline
        self.next = self._after(now)

    def _after(self, now: float) -> float | None:
        if not self.enabled:
            return None
        at = now + BOOKMARK_SECONDS
        if self.deadline is not None:
            at = min(at, self.deadline - BOOKMARK_BEFORE_END)
        return at if at > now else None

    def passed(self, rv: int) -> None:
        self.rv = max(self.rv, rv)

    def wait(self, now: float) -> float | None:
        """Seconds until the next bookmark or the watch's end, whichever is first (None: no limit)."""
        ends = [t for t in (self.next, self.deadline) if t is not None]
        return max(0.0, min(ends) - now) if ends else None

    def due(self, now: float, ending: bool = False) -> int | None:
        """The resourceVersion to send now, if a bookmark is due (or the watch is `ending`: the one
        kube sends before the timeout, however late the loop woke) and the stream moved since the last."""
        if not ending and (self.next is None or now < self.next):
            return None
        if not self.enabled:
            return None
        self.next = self._after(now)
        if self.rv <= self.sent:
            return None
        self.sent = self.rv
        return self.rv
