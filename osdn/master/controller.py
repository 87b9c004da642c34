"""Controller plumbing shared by the master controllers: shared informers, the worker loop, writes.

A controller subclass names the informers it reads, maps informer events to dirty keys
(`enqueue`), and implements `reconcile(key)`; the worker calls it one key at a time. Errors are
retried per key: ConflictError (someone else wrote first) almost at once, anything else with
capped exponential backoff with jitter (0.1 s .. 5 s, up to 20% longer). Neither the worker nor the
informers ever die: their errors are logged and retried. `Writes` remembers the objects this controller wrote so a
reconcile that runs before the watch echo arrives reads its own writes (newest resourceVersion wins).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from osdn.client import Client, ClientConfig
from osdn.client.backoff import delay_for
from osdn.client.informer import Handler, Informer
from osdn.errors import ConflictError, NotFoundError, OsdnError
from osdn.master.queue import WorkQueue

log = logging.getLogger(__name__)
Obj = dict[str, Any]


class Informers:
    """One informer per kind, shared by every controller of a master process."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self._by_kind: dict[str, Informer] = {}

    def get(self, kind: str) -> Informer:
        if kind not in self._by_kind:
            self._by_kind[kind] = Informer(self.config, kind, watch_timeout=3600)
        return self._by_kind[kind]

    def on(self, kind: str, handler: Handler) -> Informer:
        informer = self.get(kind)
        informer.handlers.append(handler)
        return informer

    def start(self) -> None:
        for informer in self._by_kind.values():
            informer.start()

    def wait_synced(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        return all(i.wait_synced(max(0.0, deadline - time.monotonic())) for i in self._by_kind.values())

    def stop(self, wait: float = 0.3) -> None:
        """Stop all informers at once. `Informer.stop` cannot interrupt a blocking watch read, so
        this waits at most `wait` seconds; the daemon threads exit when their stream ends."""
        threads = [threading.Thread(target=i.stop, daemon=True) for i in self._by_kind.values()]
        for t in threads:
            t.start()
        deadline = time.monotonic() + wait
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))


def rv_of(obj: Obj | None) -> int:
    try:
        return int(((obj or {}).get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


class Writes:
    """The objects a controller wrote, so reads see them before the watch echo arrives.

    A delete is remembered with the resourceVersion of the deleted object: a cached copy at or
    below it is stale. Entries are dropped once the informer has caught up.
    """

    def __init__(self) -> None:
        self._objs: dict[tuple[str, str, str], tuple[Obj | None, int]] = {}
        self._lock = threading.Lock()

    def record(self, kind: str, name: str, obj: Obj, namespace: str = "") -> None:
        with self._lock:
            self._objs[(kind, namespace, name)] = (obj, rv_of(obj))

    def record_delete(self, kind: str, name: str, deleted: Obj, namespace: str = "") -> None:
        with self._lock:
            self._objs[(kind, namespace, name)] = (None, rv_of(deleted))

    def names(self, kind: str, namespace: str = "") -> list[str]:
        """Names of the objects of `kind` in `namespace` written or deleted here and not yet seen
        by the informer: with the informer's names, what `latest` must be asked about to list them."""
        with self._lock:
            return [n for (k, ns, n) in self._objs if k == kind and ns == namespace]

    def latest(self, informer: Informer, name: str, namespace: str = "") -> Obj | None:
        """The newer of the informer's copy and our last write."""
        cached = informer.get(name, namespace)
        key = (informer.info.kind, namespace, name)
        with self._lock:
            if key not in self._objs:
                return cached
            mine, rv = self._objs[key]
            if mine is None and cached is not None and rv_of(cached) > rv:
                del self._objs[key]          # re-created after our delete
                return cached
            if mine is None:
                if cached is None:
                    del self._objs[key]
                return None
            if rv_of(cached) >= rv:
                del self._objs[key]
                return cached
            return mine


class Controller:
    """Base class: a queue, a worker thread, per-key retries. Subclasses implement `reconcile`."""

    name = "controller"

    def __init__(self, client: Client) -> None:
        self.client = client
        self.queue = WorkQueue()
        self.writes = Writes()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures: dict[Hashable, int] = {}
        self.rand: Callable[[], float] = random.random   # retry jitter; injectable
        self.reconciles = 0

    # ---- lifecycle ---------------------------------------------------------------------------
    def prepare(self) -> None:
        """Called once after the informers synced, before the worker starts (restart-safe state)."""

    def start(self) -> None:
        self.prepare()
        self._thread = threading.Thread(target=self._run, name=f"master-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.queue.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def enqueue(self, key: Hashable) -> None:
        self.queue.add(key)

    # ---- worker ------------------------------------------------------------------------------
    def reconcile(self, key: Hashable) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        """The worker: never dies. A failing reconcile is retried per key; an error outside one (a
        bug in the queue or the retry itself) is logged and the loop goes on after a pause."""
        while not self._stop.is_set():
            try:
                self._work_once()
            except Exception:
                log.exception("%s: worker loop error; continuing in 1s", self.name)
                self._stop.wait(1.0)

    def _work_once(self) -> None:
        key = self.queue.get(timeout=1.0)
        if key is None:
            return
        try:
            self.reconcile(key)
            self._failures.pop(key, None)
            self.reconciles += 1
        except Exception as err:  # one bad key must not stop the controller
            self._retry(key, err)
        finally:
            self.queue.done(key)

    def _retry(self, key: Hashable, err: Exception) -> None:
        n = self._failures[key] = self._failures.get(key, 0) + 1
        if isinstance(err, ConflictError | NotFoundError):
            delay = 0.02 * n if n < 10 else 1.0
            log.debug("%s: %s on %s; retrying in %.2fs", self.name, type(err).__name__, key, delay)
        else:
            delay = delay_for(n, 0.1, 5.0, 0.2, self.rand())
            if isinstance(err, OsdnError):
                log.warning("%s: reconcile %s failed: %s; retrying in %.1fs", self.name, key, err.message, delay)
            else:
                log.exception("%s: reconcile %s crashed; retrying in %.1fs", self.name, key, delay)
        if not self._stop.is_set():
            self.queue.add_after(key, delay)
