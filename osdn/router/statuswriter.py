"""Writes routes' `status.ingress` in the background, so a sync never waits for the API.

The sync hands over every route's verdict (`submit`); the writer thread takes the newest verdict per
route, reads the route from the informer cache (so it writes on top of the latest resourceVersion),
and PUTs the status subresource only when `compute_status` says it changed. A conflict (the route
changed meanwhile) or a route gone is not an error: the next verdict covers it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from osdn.client import Client
from osdn.errors import ConflictError, NotFoundError, OsdnError
from osdn.router.admission import Verdict
from osdn.router.status import compute_status

log = logging.getLogger(__name__)
Key = tuple[str, str]
Obj = dict[str, Any]


class StatusWriter:
    def __init__(self, client: Client, router_name: str, lookup: Callable[[Key], Obj | None],
                 now: Callable[[], str], canonical_hostname: str = "") -> None:
        self.client, self.router_name, self.lookup, self.now = client, router_name, lookup, now
        self.canonical_hostname = canonical_hostname
        self.pending: dict[Key, Verdict] = {}
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.written = 0
        self.thread = threading.Thread(target=self._run, name="route-status", daemon=True)

    def start(self) -> StatusWriter:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        if self.thread.is_alive():  # stop() may come before start() (the informers never synced)
            self.thread.join(timeout=5)

    def submit(self, verdicts: dict[Key, Verdict]) -> None:
        with self.lock:
            self.pending.update(verdicts)
        self.wake.set()

    def _take(self) -> dict[Key, Verdict]:
        with self.lock:
            batch, self.pending = self.pending, {}
            self.wake.clear()
        return batch

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.wake.wait(1.0)
            for key, verdict in self._take().items():
                if self.stopping.is_set():
                    return
                self._write(key, verdict)

    def _write(self, key: Key, verdict: Verdict) -> None:
        route = self.lookup(key)
        if route is None:
            return
        status = compute_status(route, self.router_name, verdict, self.now(), self.canonical_hostname)
        if status is None:
            return
        try:
            self.client.update({**route, "status": status}, key[0], subresource="status")
            self.written += 1
        except (ConflictError, NotFoundError) as e:
            log.debug("route %s/%s: status not written (%s); the next sync retries", key[0], key[1], e)
        except OsdnError as e:
            log.warning("route %s/%s: status not written: %s", key[0], key[1], e)
