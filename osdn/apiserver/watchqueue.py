"""One watcher's queue of events: bounded in count and in bytes; overflow ends the watch.

The store calls `put` from the writing thread; the watch stream awaits `get` on the event loop.
A watcher that does not keep up (a client that stopped reading, so its stream waits on the socket)
fills its queue; then, as kube-apiserver does when a watcher's channel is full, the queue is dropped
and the stream ends: the client re-watches from the last resourceVersion it saw, or re-lists.
Memory per watcher is therefore at most `max_bytes` of queued events (plus the socket buffers).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter

from osdn.apiserver.auth import User
from osdn.errors import TooManyRequestsError
from osdn.store import Event

log = logging.getLogger(__name__)
WATCH_OVERFLOWS = Counter("osdn_apiserver_watch_overflows_total", "Watches closed because the client fell behind")


@dataclass(frozen=True)
class WatchLimits:
    max_events: int = 1000              # events queued for one watcher before it is closed
    max_bytes: int = 32 * 1024 * 1024   # bytes of queued objects (serialized) before it is closed
    per_user: int = 100                 # open watches of one user (cluster admins: not counted)


class WatchSlots:
    """Open watches per user, so one tenant cannot take the server's connections (`--max-connections`,
    watches included) with watches and leave none to other tenants, nodes and controllers (1,000
    watches by one project admin used to turn every other request into a 503). Cluster admins are not
    counted. Used on the event loop only."""

    def __init__(self, per_user: int) -> None:
        self.per_user = per_user
        self._held: dict[str, int] = {}

    def take(self, user: User) -> Callable[[], None]:
        """A slot for one watch of `user` and the function that gives it back (once); 429 past the limit."""
        if user.is_cluster_admin:
            return lambda: None
        if self._held.get(user.name, 0) >= self.per_user:
            raise TooManyRequestsError(f'too many watches: user "{user.name}" has {self.per_user} open, the '
                                       "limit of one user (osdn server --max-watches-per-user)")
        self._held[user.name] = self._held.get(user.name, 0) + 1
        given_back = False

        def release() -> None:
            nonlocal given_back
            if not given_back:
                given_back = True
                self._held[user.name] -= 1
                if not self._held[user.name]:
                    del self._held[user.name]
        return release


class WatchQueue:
    def __init__(self, loop: asyncio.AbstractEventLoop, limits: WatchLimits, label: str) -> None:
        self._loop, self.limits, self.label = loop, limits, label   # label: "watch of pods by alice"
        self._lock = threading.Lock()
        self._items: deque[Event] = deque()
        self._bytes = 0
        self._wake = asyncio.Event()
        self._wake_pending = False
        self.overflow = ""              # why the watcher was dropped; "" while it keeps up

    def put(self, event: Event) -> None:
        """Queue an event (any thread); past the limits, drop everything and mark the overflow."""
        with self._lock:
            if self.overflow:
                return
            if len(self._items) >= self.limits.max_events or self._bytes + len(event.raw) > self.limits.max_bytes:
                self.overflow = (f"{len(self._items)} events ({self._bytes} bytes) queued, limits "
                                 f"{self.limits.max_events} events / {self.limits.max_bytes} bytes")
                self._items.clear()
                self._bytes = 0
                WATCH_OVERFLOWS.inc()
                log.warning("%s fell behind (%s); closing it", self.label, self.overflow)
            else:
                self._items.append(event)
                self._bytes += len(event.raw)
            if self._wake_pending:
                return
            self._wake_pending = True
        self._loop.call_soon_threadsafe(self._wake.set)

    async def get(self, timeout: float | None) -> Event | None:
        """The next event; None on timeout or once the queue overflowed."""
        while True:
            with self._lock:
                if self.overflow:
                    return None
                if self._items:
                    event = self._items.popleft()
                    self._bytes -= len(event.raw)
                    return event
                self._wake_pending = False
                self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                return None
