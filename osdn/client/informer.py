"""Informers: a local cache of one resource kept current by list + watch, with change handlers.

Level-triggered use: handlers should only mark work dirty; the reconciler reads the cache.
The informer re-lists when the watch history is gone (410) and re-watches from the last seen
resourceVersion when a stream ends, so no event is lost across reconnects. It never dies: any other
error (HTTP, a broken stream, an event that does not parse, a handler that raises) is logged at
WARNING naming the resource, and after a capped exponential backoff with jitter (`Backoff`, reset by
the next event or a watch that ran its course) the informer re-lists and delivers every object to
the handlers again; the first list that works after failures is logged at INFO. The cache is only
ever replaced by a list that worked: while the server is away it keeps the last state.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from osdn.api.registry import KindInfo
from osdn.client import Client, ClientConfig, kind_info
from osdn.client.backoff import Backoff
from osdn.errors import GoneError, OsdnError

log = logging.getLogger(__name__)
Obj = dict[str, Any]
# handler(event_type, new_or_None, old_or_None)
Handler = Callable[[str, "Obj | None", "Obj | None"], None]


def obj_key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta["name"])


class Informer:
    def __init__(self, config: ClientConfig, kind: str | KindInfo, namespace: str = "",
                 label_selector: str = "", handlers: list[Handler] | None = None,
                 watch_timeout: float = 300.0, backoff: Backoff | None = None,
                 sleep: Callable[[float], object] | None = None) -> None:
        self.config, self.info = config, kind_info(kind)
        self.namespace, self.label_selector = namespace, label_selector
        self.handlers: list[Handler] = list(handlers or [])
        self.watch_timeout = watch_timeout
        self.cache: dict[tuple[str, str], Obj] = {}
        self._by_ns: dict[str, dict[str, Obj]] = {}  # namespace -> name -> object (client-go's namespace index)
        self.lock = threading.RLock()
        self.synced = threading.Event()
        self._stop = threading.Event()
        self._client: Client | None = None
        self._thread: threading.Thread | None = None
        self._rv = ""
        self.backoff = backoff or Backoff()
        self.sleep = sleep or self._stop.wait   # injectable: tests record the delays

    # ---- public ------------------------------------------------------------------------------
    def start(self) -> Informer:
        self._thread = threading.Thread(target=self._run, name=f"informer-{self.info.plural}", daemon=True)
        self._thread.start()
        return self

    def wait_synced(self, timeout: float = 30.0) -> bool:
        return self.synced.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        if self._client is not None:
            self._client.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def items(self, namespace: str | None = None) -> list[Obj]:
        """The cached objects; with `namespace`, only that namespace's, at the cost of their number."""
        with self.lock:
            if namespace is None:
                return list(self.cache.values())
            return list(self._by_ns.get(namespace, {}).values())

    def get(self, name: str, namespace: str = "") -> Obj | None:
        with self.lock:
            return self.cache.get((namespace, name))

    # ---- loop --------------------------------------------------------------------------------
    def _emit(self, kind: str, new: Obj | None, old: Obj | None) -> None:
        """Call every handler; if any raised, the others still ran and HandlerError is raised after."""
        failed = []
        for handler in self.handlers:
            try:
                handler(kind, new, old)
            except Exception as e:
                failed.append(f"{getattr(handler, '__qualname__', type(handler).__qualname__)}: {type(e).__name__}: {e}")
        if failed:
            name = "/".join(obj_key(new or old or {"metadata": {"name": "?"}})).lstrip("/")
            raise HandlerError(f"handler failed on {kind} {name}: {'; '.join(failed)}")

    def _relist(self, client: Client, resync: bool) -> None:
        """Replace the cache with a fresh list and tell the handlers what changed; with `resync`
        (after an error) every object is delivered again, as client-go's resync does."""
        listing = client.list(self.info, self.namespace, self.label_selector)
        fresh = {obj_key(o): o for o in listing["items"]}
        by_ns: dict[str, dict[str, Obj]] = {}
        for (ns, name), obj in fresh.items():
            by_ns.setdefault(ns, {})[name] = obj
        with self.lock:
            old = self.cache
            self.cache, self._by_ns = fresh, by_ns
            self._rv = listing["metadata"]["resourceVersion"]
        failures: list[HandlerError] = []
        for kind, new, prev in _changes(old, fresh, resync):
            try:
                self._emit(kind, new, prev)
            except HandlerError as e:
                failures.append(e)
        self.synced.set()
        if failures:
            raise failures[0]

    def _apply(self, event: Obj) -> None:
        obj = event["object"]
        with self.lock:
            self._rv = obj["metadata"].get("resourceVersion", self._rv)
            if event["type"] == "BOOKMARK":
                return
            key = obj_key(obj)
            old = self.cache.get(key)
            if event["type"] == "DELETED":
                self.cache.pop(key, None)
                names = self._by_ns.get(key[0], {})
                names.pop(key[1], None)
                if not names:
                    self._by_ns.pop(key[0], None)
            else:
                self.cache[key] = obj
                self._by_ns.setdefault(key[0], {})[key[1]] = obj
        self._emit(event["type"], None if event["type"] == "DELETED" else obj, old)

    def _run(self) -> None:
        """List, then watch from the list's resourceVersion; re-watch when a stream ends. Any error
        (HTTP, a broken stream, a bad event, a handler exception) is logged at WARNING and followed,
        after a backoff, by a re-list that delivers every object again: the loop never dies."""
        need_list, resync, failures = True, False, 0
        while not self._stop.is_set():
            try:
                self._client = Client(self.config)
                if need_list:
                    self._relist(self._client, resync)
                    need_list, resync = False, False
                    if failures:
                        log.info("%s informer: back after %d failed attempts; %d objects re-listed",
                                 self.info.plural, failures, len(self.cache))
                        failures = 0
                for event in self._client.watch(self.info, self.namespace, self._rv, self.label_selector,
                                                self.watch_timeout):
                    self._apply(event)
                    self.backoff.reset()
                self.backoff.reset()  # the stream ran its course: the server is healthy
            except GoneError:
                need_list = True
            except Exception as err:
                if self._stop.is_set():
                    break
                delay, failures = self.backoff.next(), failures + 1
                log.warning("%s informer: %s; re-listing in %.2fs", self.info.plural,
                            err.message if isinstance(err, OsdnError) else f"{type(err).__name__}: {err}", delay,
                            exc_info=not isinstance(err, OsdnError))
                self.sleep(delay)
                need_list, resync = True, True
            finally:
                if self._client is not None:
                    self._client.close()


class HandlerError(OsdnError):
    """A change handler raised; the informer re-lists and delivers every object again."""


def _changes(old: dict[tuple[str, str], Obj], fresh: dict[tuple[str, str], Obj],
             resync: bool) -> list[tuple[str, Obj | None, Obj | None]]:
    """The (type, new, old) events that turn cache `old` into `fresh`. Pure."""
    out: list[tuple[str, Obj | None, Obj | None]] = []
    for key, obj in fresh.items():
        prev = old.get(key)
        if prev is None:
            out.append(("ADDED", obj, None))
        elif resync or prev["metadata"].get("resourceVersion") != obj["metadata"].get("resourceVersion"):
            out.append(("MODIFIED", obj, prev))
    out += [("DELETED", None, obj) for key, obj in old.items() if key not in fresh]
    return out
