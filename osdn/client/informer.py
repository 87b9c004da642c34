"""Informers: a local cache of one resource kept current by list + watch, with change handlers.

Level-triggered use: handlers should only mark work dirty; the reconciler reads the cache.
The informer re-lists when the watch history is gone (410) and re-watches from the last seen
resourceVersion when a stream ends, so no event is lost across reconnects.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from osdn.api.registry import KindInfo
from osdn.client import Client, ClientConfig, kind_info
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
                 watch_timeout: float = 300.0) -> None:
        self.config, self.info = config, kind_info(kind)
        self.namespace, self.label_selector = namespace, label_selector
        self.handlers: list[Handler] = list(handlers or [])
        self.watch_timeout = watch_timeout
        self.cache: dict[tuple[str, str], Obj] = {}
        self.lock = threading.RLock()
        self.synced = threading.Event()
        self._stop = threading.Event()
        self._client: Client | None = None
        self._thread: threading.Thread | None = None
        self._rv = ""

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

    def items(self) -> list[Obj]:
        with self.lock:
            return list(self.cache.values())

    def get(self, name: str, namespace: str = "") -> Obj | None:
        with self.lock:
            return self.cache.get((namespace, name))

    # ---- loop --------------------------------------------------------------------------------
    def _emit(self, kind: str, new: Obj | None, old: Obj | None) -> None:
        for handler in self.handlers:
            try:
                handler(kind, new, old)
            except Exception:
                log.exception("%s informer: handler failed on %s", self.info.plural, kind)

    def _relist(self, client: Client) -> None:
        listing = client.list(self.info, self.namespace, self.label_selector)
        fresh = {obj_key(o): o for o in listing["items"]}
        with self.lock:
            old = self.cache
            self.cache = fresh
            self._rv = listing["metadata"]["resourceVersion"]
        for key, obj in fresh.items():
            if key not in old:
                self._emit("ADDED", obj, None)
            elif old[key]["metadata"].get("resourceVersion") != obj["metadata"].get("resourceVersion"):
                self._emit("MODIFIED", obj, old[key])
        for key, obj in old.items():
            if key not in fresh:
                self._emit("DELETED", None, obj)
        self.synced.set()

    def _apply(self, event: Obj) -> None:
        obj = event["object"]
        key = obj_key(obj)
        with self.lock:
            old = self.cache.get(key)
            if event["type"] == "DELETED":
                self.cache.pop(key, None)
            else:
                self.cache[key] = obj
            self._rv = obj["metadata"].get("resourceVersion", self._rv)
        self._emit(event["type"], None if event["type"] == "DELETED" else obj, old)

    def _run(self) -> None:
        backoff = 0.2
        need_list = True
        while not self._stop.is_set():
            try:
                self._client = Client(self.config)
                if need_list:
                    self._relist(self._client)
                    need_list = False
                for event in self._client.watch(self.info, self.namespace, self._rv, self.label_selector,
                                                self.watch_timeout):
                    self._apply(event)
                    backoff = 0.2
            except GoneError:
                need_list = True
            except OsdnError as e:
                if self._stop.is_set():
                    break
                log.warning("%s informer: %s; retrying in %.1fs", self.info.plural, e.message, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                need_list = need_list or not self.synced.is_set()
            finally:
                if self._client is not None:
                    self._client.close()
