"""The etcd v3 store: the Store contract on an etcd cluster, through its JSON gateway (etcd_gateway).

Layout: one key per object, `PREFIX/<resource>/<namespace>/<name>` (namespace empty for cluster-scoped
objects); the value is the object's JSON without `metadata.resourceVersion`, which is the key's
mod_revision (the etcd revision of its last write), filled in on every read.

Invariants:
- resourceVersion is the etcd revision: per object its mod_revision, for a list the header revision of
  the one range that read it (a list is one consistent snapshot);
- create is a transaction "create_revision == 0 then put"; update/delete with an expected rv compare
  mod_revision, without one they compare version > 0 (the object exists); a failed compare reads the
  key in the same transaction, to answer NotFound or Conflict with the current rv;
- one watch stream on PREFIX feeds every subscriber, in revision order, from a thread of its own; the
  events since the store opened (at most `history`, and none older than the last compaction this store
  made) are kept in memory, so a subscriber resumes from any rv in that window; older: GoneError (the
  API's 410 Gone, informers relist), as kube-apiserver's watch cache answers;
- a write returns once this process's watch delivered it, so local subscribers (the RBAC cache, the
  API's watches) have seen every write this process acknowledged, as with SQLite;
- every `compact_interval` seconds, history older than `history` revisions is compacted in etcd.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

from osdn.errors import AlreadyExistsError, ConflictError, GoneError, NotFoundError
from osdn.store import Callback, Event, Events, Key, Obj, StoreError, decode, dump, object_ref
from osdn.store.etcd_gateway import Body, EtcdURL, Gateway, b64, prefix_end, unb64
from osdn.store.fence import current_fence

log = logging.getLogger(__name__)
WRITE_DELIVERY_TIMEOUT = 5.0


@dataclass(frozen=True)
class EtcdOptions:
    history: int = 10_000              # revisions kept in etcd and events kept in memory for watch resumes
    compact_interval: float = 300.0    # seconds between compactions; 0: never compact


class _Sub:
    def __init__(self, store: EtcdStore, resource: str | None, namespace: str | None, since: int,
                 cb: Callback) -> None:
        self.store, self.resource, self.namespace, self.since, self.cb = store, resource, namespace, since, cb

    def wants(self, e: Event) -> bool:
        return e.rv > self.since and (self.resource is None or e.key.resource == self.resource) and \
            (self.namespace is None or e.key.namespace == self.namespace)

    def cancel(self) -> None:
        with self.store._cv:
            if self in self.store._subs:
                self.store._subs.remove(self)


class EtcdStore:
    def __init__(self, target: EtcdURL, options: EtcdOptions | None = None) -> None:
        self.target, self.options = target, options or EtcdOptions()
        self._gw = Gateway(target)
        self._prefix = (target.prefix.rstrip("/") + "/").encode()
        self._cv = threading.Condition(threading.RLock())
        self._subs: list[_Sub] = []
        self._window: deque[Event] = deque()
        self._closed = threading.Event()
        try:
            self._seen = self.current_rv()       # the last revision the watch delivered
        except StoreError:
            self._gw.close()
            raise
        self._base = self._seen                  # the window holds every event in (base, seen]
        self._compacted = 0
        self._watcher = threading.Thread(target=self._watch_loop, name="etcd-watch", daemon=True)
        self._watcher.start()
        self._compactor: threading.Thread | None = None
        if self.options.compact_interval > 0:
            self._compactor = threading.Thread(target=self._compact_loop, name="etcd-compact", daemon=True)
            self._compactor.start()

    def __str__(self) -> str:
        return str(self.target)

    # ---- keys and values ---------------------------------------------------------------------
    def _kbytes(self, key: Key) -> bytes:
        return self._prefix + f"{key.resource}/{key.namespace}/{key.name}".encode()

    def _key_of(self, raw: bytes) -> Key:
        resource, namespace, name = raw[len(self._prefix):].decode().split("/", 2)
        return Key(resource, namespace, name)

    def _range_of(self, resource: str, namespace: str | None) -> Body:
        start = self._prefix + (f"{resource}/{namespace}/" if namespace is not None else f"{resource}/").encode()
        return {"key": b64(start), "range_end": b64(prefix_end(start))}

    def _read(self, kv: Body, rev: int | None = None) -> tuple[Obj, bytes]:
        """The stored object with its resourceVersion (`rev`, default the key's mod_revision)."""
        obj = decode(unb64(kv.get("value", "")))
        obj["metadata"] = {**obj["metadata"], "resourceVersion": str(rev or int(kv["mod_revision"]))}
        return obj, dump(obj)

    def _readable(self, kv: Body) -> tuple[Obj, bytes] | None:
        try:
            return self._read(kv)
        except ValueError as e:
            log.error("store %s: skipping %s: its stored JSON cannot be read (%s)", self,
                      self._key_of(unb64(kv["key"])), e)
            return None

    # ---- reads -------------------------------------------------------------------------------
    def current_rv(self) -> int:
        return int(self._gw.call("/v3/kv/range", {"key": b64(self._prefix), "keys_only": True})["header"]["revision"])

    def is_empty(self) -> bool:
        body = {"key": b64(self._prefix), "range_end": b64(prefix_end(self._prefix)), "count_only": True}
        return int(self._gw.call("/v3/kv/range", body).get("count", 0)) == 0

    def _entry(self, key: Key) -> tuple[Obj, bytes]:
        kvs = self._gw.call("/v3/kv/range", {"key": b64(self._kbytes(key))}).get("kvs") or []
        entry = self._readable(kvs[0]) if kvs else None
        if entry is None:
            raise NotFoundError(f"{key.resource} \"{key.name}\" not found", object_ref(key))
        return entry

    def get(self, key: Key) -> Obj:
        return self._entry(key)[0]

    def get_raw(self, key: Key) -> bytes:
        return self._entry(key)[1]

    def list(self, resource: str, namespace: str | None = None) -> tuple[list[tuple[Obj, bytes]], int]:
        r = self._gw.call("/v3/kv/range", self._range_of(resource, namespace))
        items = [e for kv in r.get("kvs") or [] if (e := self._readable(kv)) is not None]
        return items, int(r["header"]["revision"])

    # ---- writes ------------------------------------------------------------------------------
    def _txn(self, key: Key, compare: Body, then: Body) -> tuple[bool, Body]:
        """One transaction: `compare` on the key (and, for a fenced write, the lease key's mod_revision
        equal to the fence's rv: osdn.store.fence), then `then`; a failure reads both keys, and a
        failed fence raises its refusal."""
        k = b64(self._kbytes(key))
        compares, failure = [{"key": k, **compare}], [{"request_range": {"key": k}}]
        fence = current_fence()
        if fence is not None:
            lk = b64(self._kbytes(fence.lease))
            compares.append({"key": lk, "target": "MOD", "result": "EQUAL", "mod_revision": str(fence.rv)})
            failure.append({"request_range": {"key": lk}})
        r = self._gw.call("/v3/kv/txn", {"compare": compares, "success": [then], "failure": failure})
        if fence is not None and not r.get("succeeded"):
            lease = r["responses"][1]["response_range"].get("kvs") or []
            fence.check(int(lease[0]["mod_revision"]) if lease else None)
        return bool(r.get("succeeded")), r

    def _stored(self, obj: Obj) -> str:
        meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "resourceVersion"}
        return b64(dump({**obj, "metadata": meta}))

    def _written(self, obj: Obj, rev: int) -> Obj:
        self._await_delivery(rev)
        return {**obj, "metadata": {**(obj.get("metadata") or {}), "resourceVersion": str(rev)}}

    def create(self, key: Key, obj: Obj) -> Obj:
        put = {"request_put": {"key": b64(self._kbytes(key)), "value": self._stored(obj)}}
        ok, r = self._txn(key, {"target": "CREATE", "result": "EQUAL", "create_revision": "0"}, put)
        if not ok:
            raise AlreadyExistsError(f'{key.resource} "{key.name}" already exists', object_ref(key))
        return self._written(obj, int(r["header"]["revision"]))

    def _precondition(self, expected_rv: int | None) -> Body:
        if expected_rv is None:
            return {"target": "VERSION", "result": "GREATER", "version": "0"}
        return {"target": "MOD", "result": "EQUAL", "mod_revision": str(expected_rv)}

    def _refused(self, key: Key, r: Body, expected_rv: int | None) -> Exception:
        kvs = (r.get("responses") or [{}])[0].get("response_range", {}).get("kvs") or []
        if not kvs:
            return NotFoundError(f"{key.resource} \"{key.name}\" not found", object_ref(key))
        return ConflictError(
            f'Operation cannot be fulfilled on {key.resource} "{key.name}": the object has been modified '
            f"(resourceVersion {expected_rv} is stale, current is {kvs[0]['mod_revision']}); please apply your "
            "changes to the latest version and try again", object_ref(key))

    def update(self, key: Key, obj: Obj, expected_rv: int | None = None) -> Obj:
        put = {"request_put": {"key": b64(self._kbytes(key)), "value": self._stored(obj)}}
        ok, r = self._txn(key, self._precondition(expected_rv), put)
        if not ok:
            raise self._refused(key, r, expected_rv)
        return self._written(obj, int(r["header"]["revision"]))

    def delete(self, key: Key, expected_rv: int | None = None) -> Obj:
        rm = {"request_delete_range": {"key": b64(self._kbytes(key)), "prev_kv": True}}
        ok, r = self._txn(key, self._precondition(expected_rv), rm)
        if not ok:
            raise self._refused(key, r, expected_rv)
        prev = r["responses"][0]["response_delete_range"]["prev_kvs"][0]
        rev = int(r["header"]["revision"])
        self._await_delivery(rev)
        return self._read(prev, rev)[0]

    def _await_delivery(self, rev: int) -> None:
        if threading.current_thread() is self._watcher:
            return       # a subscriber that writes: its own event comes after it returns
        with self._cv:
            if not self._cv.wait_for(lambda: self._seen >= rev or self._closed.is_set(), WRITE_DELIVERY_TIMEOUT):
                log.warning("store %s: the watch has not delivered revision %s after %ss; local watchers "
                            "see that write late", self, rev, WRITE_DELIVERY_TIMEOUT)

    # ---- watch -------------------------------------------------------------------------------
    def subscribe(self, resource: str | None, namespace: str | None, since_rv: int,
                  callback: Callback) -> tuple[Events, _Sub]:
        """Events after `since_rv` from the window (the backlog) plus a subscription for every later one."""
        with self._cv:
            if since_rv < self._base:
                raise GoneError(f"too old resource version: {since_rv} ({self._base})")
            sub = _Sub(self, resource, namespace, since_rv, callback)
            backlog = [e for e in self._window if sub.wants(e)]
            self._subs.append(sub)
            return backlog, sub

    def _watch_loop(self) -> None:
        backoff = 0.1
        while not self._closed.is_set():
            try:
                start = {"key": b64(self._prefix), "range_end": b64(prefix_end(self._prefix)),
                         "start_revision": str(self._seen + 1), "prev_kv": True}
                for result in self._gw.watch(start):
                    if self._closed.is_set():
                        return
                    self._on_watch(result)
                    backoff = 0.1
            except Exception as e:  # the stream broke in any way: resume from the last delivered revision
                if self._closed.is_set():
                    return
                log.warning("store %s: watch stream broke (%s); resuming from revision %s in %.1fs",
                            self, e, self._seen + 1, backoff)
            self._gw.rotate()
            self._closed.wait(backoff)
            backoff = min(backoff * 2, 5.0)

    def _on_watch(self, result: Body) -> None:
        if int(result.get("compact_revision") or 0):
            self._lost(int(result["compact_revision"]))
            return
        events = [e for raw in result.get("events") or [] if (e := self._event(raw)) is not None]
        with self._cv:
            for e in events:
                self._window.append(e)
                for sub in list(self._subs):
                    if sub.wants(e):
                        self._deliver(sub, e)
                self._seen = max(self._seen, e.rv)
            while len(self._window) > self.options.history:
                self._base = self._window.popleft().rv
            self._cv.notify_all()

    def _deliver(self, sub: _Sub, e: Event) -> None:
        try:
            sub.cb(e)
        except Exception:  # a broken watcher must not break the others
            log.exception("watch callback failed for %s; cancelling it", e.key)
            sub.cancel()

    def _event(self, raw: Body) -> Event | None:
        kv = raw["kv"]
        key, rev = self._key_of(unb64(kv["key"])), int(kv["mod_revision"])
        deleted = raw.get("type") == "DELETE"
        try:
            obj, data = self._read(raw["prev_kv"], rev) if deleted else self._read(kv)
        except (KeyError, ValueError) as e:
            log.error("store %s: watch event for %s at revision %s cannot be read (%s); skipped", self, key, rev, e)
            return None
        kind = "DELETED" if deleted else "ADDED" if kv.get("version") == "1" else "MODIFIED"
        return Event(kind, key, rev, obj, data)

    def _lost(self, compacted: int) -> None:
        """The watch fell behind a compaction (etcd was away too long): events are lost, so every
        subscription ends (their clients resume, get 410 and relist) and the window restarts now."""
        with self._cv:
            log.error("store %s: the watch fell behind compaction at revision %s; ending %d subscriptions",
                      self, compacted, len(self._subs))
            self._subs.clear()
            self._window.clear()
            self._seen = self._base = max(self._seen, self.current_rv())
            self._cv.notify_all()

    # ---- compaction --------------------------------------------------------------------------
    def compact(self) -> int:
        """Compact etcd history older than `history` revisions; the revision compacted at (0: none)."""
        rev = self.current_rv() - self.options.history
        if rev <= self._compacted:
            return 0
        try:
            self._gw.call("/v3/kv/compaction", {"revision": str(rev)})
        except GoneError:
            log.debug("store %s: revision %s was already compacted (by another server)", self, rev)
        self._compacted = rev
        with self._cv:
            while self._window and self._window[0].rv <= rev:
                self._window.popleft()
            self._base = max(self._base, rev)
        log.info("store %s: compacted history before revision %s", self, rev)
        return rev

    def _compact_loop(self) -> None:
        while not self._closed.wait(self.options.compact_interval):
            try:
                self.compact()
            except StoreError as e:
                log.warning("store %s: compaction failed (%s); retrying in %ss", self, e,
                            self.options.compact_interval)

    def close(self) -> None:
        self._closed.set()
        with self._cv:
            self._subs.clear()
            self._cv.notify_all()
        self._gw.close()
