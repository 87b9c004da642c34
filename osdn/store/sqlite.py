"""Embedded SQLite store: one file, WAL journal, an in-memory copy of every object for fast reads.

Invariants:
- one writer process owns the file (the API server); all writes run under `self._lock`;
- the resourceVersion counter is the rowid of the `events` table, so it survives restarts;
- WAL with synchronous=NORMAL: a committed transaction is in the OS page cache before `commit()`
  returns, so it survives `kill -9` of this process (not a power cut; use synchronous=FULL for that,
  `durability="full"`);
- watch history is the `events` table, trimmed to the newest `history` events;
- a file that is not a readable SQLite store raises StoreError naming it; one row whose JSON cannot
  be read is skipped with an ERROR naming the object (listed in `skipped`), or, with `strict`, raises
  StoreError.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from osdn.errors import AlreadyExistsError, ConflictError, GoneError, NotFoundError
from osdn.store import Callback, Event, Events, Key, Obj, StoreError, decode, dump, object_ref
from osdn.store.fence import current_fence

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
  resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
  rv INTEGER NOT NULL, data BLOB NOT NULL,
  PRIMARY KEY (resource, namespace, name));
CREATE TABLE IF NOT EXISTS events (
  rv INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL,
  resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL);
"""


class _Sub:
    def __init__(self, store: SQLiteStore, resource: str | None, namespace: str | None, cb: Callback) -> None:
        self.store, self.resource, self.namespace, self.cb = store, resource, namespace, cb

    def wants(self, key: Key) -> bool:
        return (self.resource is None or key.resource == self.resource) and \
            (self.namespace is None or key.namespace == self.namespace)

    def cancel(self) -> None:
        with self.store._lock:
            if self in self.store._subs:
                self.store._subs.remove(self)


class SQLiteStore:
    def __init__(self, path: str | Path, *, history: int = 100_000, durability: str = "normal",
                 strict: bool = False) -> None:
        self.path = str(path)
        self.history, self.strict = history, strict
        self._lock = threading.RLock()
        self._objects: dict[str, dict[tuple[str, str], tuple[Obj, bytes]]] = {}
        self._subs: list[_Sub] = []
        self._rv = 0
        self._writes = 0
        self.skipped: list[Key] = []
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if durability == 'full' else 'NORMAL'}")
            self._db.executescript(_SCHEMA)
            self._load()
        except sqlite3.Error as e:
            self._db.close()
            raise StoreError(f"refusing to start: the store {self.path} cannot be read ({e}); restore it from "
                             f"a backup, or move {Path(self.path).parent} away to start a new cluster") from None
        except StoreError:
            self._db.close()
            raise

    # ---- reads -------------------------------------------------------------------------------
    def _load(self) -> None:
        for resource, namespace, name, data in self._db.execute(
                "SELECT resource, namespace, name, data FROM objects"):
            raw = data if isinstance(data, bytes) else str(data).encode()
            try:
                obj = decode(raw)
            except ValueError as e:
                self._unreadable(Key(resource, namespace, name), e)
                continue
            self._objects.setdefault(resource, {})[(namespace, name)] = (obj, raw)
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name='events'").fetchone()
        self._rv = int(row[0]) if row else 0

    def _unreadable(self, key: Key, err: ValueError) -> None:
        where = f'{key.resource} "{key.name}"' + (f' in namespace "{key.namespace}"' if key.namespace else "")
        if self.strict:
            raise StoreError(f"refusing to start (--strict-store): {where} in the store {self.path} cannot be "
                             f"read ({err}); delete or repair that row, or start without --strict-store to skip it")
        log.error("store %s: skipping %s: its stored JSON cannot be read (%s); it is not served until "
                  "written again", self.path, where, err)
        self.skipped.append(key)

    def current_rv(self) -> int:
        return self._rv

    def is_empty(self) -> bool:
        return self._rv == 0

    def _entry(self, key: Key) -> tuple[Obj, bytes]:
        entry = self._objects.get(key.resource, {}).get((key.namespace, key.name))
        if entry is None:
            raise NotFoundError(f"{key.resource} \"{key.name}\" not found", object_ref(key))
        return entry

    def get(self, key: Key) -> Obj:
        return self._entry(key)[0]

    def get_raw(self, key: Key) -> bytes:
        return self._entry(key)[1]

    def list(self, resource: str, namespace: str | None = None) -> tuple[list[tuple[Obj, bytes]], int]:
        with self._lock:
            table = self._objects.get(resource, {})
            if namespace is None:
                items = list(table.values())
            else:
                items = [v for (ns, _), v in table.items() if ns == namespace]
            return items, self._rv

    # ---- writes ------------------------------------------------------------------------------
    def _commit(self, kind: str, key: Key, obj: Obj | None, stored: Obj) -> Obj:
        """Write one change and its event atomically; `obj` None means delete."""
        rv = self._rv + 1
        new = dict(stored)
        new["metadata"] = {**stored.get("metadata", {}), "resourceVersion": str(rv)}
        raw = dump(new)
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            cur = db.execute("INSERT INTO events (type, resource, namespace, name, data) VALUES (?,?,?,?,?)",
                             (kind, key.resource, key.namespace, key.name, raw))
            assert cur.lastrowid == rv, f"event rowid {cur.lastrowid} != expected rv {rv}"
            if obj is None:
                db.execute("DELETE FROM objects WHERE resource=? AND namespace=? AND name=?",
                           (key.resource, key.namespace, key.name))
            else:
                db.execute("INSERT OR REPLACE INTO objects VALUES (?,?,?,?,?)",
                           (key.resource, key.namespace, key.name, rv, raw))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._rv = rv
        table = self._objects.setdefault(key.resource, {})
        if obj is None:
            table.pop((key.namespace, key.name), None)
        else:
            table[(key.namespace, key.name)] = (new, raw)
        self._notify(Event(kind, key, rv, new, raw))
        self._writes += 1
        if self._writes % 10_000 == 0:
            self.compact()
        return new

    def _notify(self, event: Event) -> None:
        for sub in list(self._subs):
            if sub.wants(event.key):
                try:
                    sub.cb(event)
                except Exception:  # a broken watcher must not break writes
                    log.exception("watch callback failed for %s; cancelling it", event.key)
                    sub.cancel()

    def compact(self) -> int:
        """Drop events older than the newest `history`; the rv compacted at (0: none)."""
        with self._lock:
            rev = self._rv - self.history
            if rev > 0:
                self._db.execute("DELETE FROM events WHERE rv <= ?", (rev,))
            return max(rev, 0)

    def _check_fence(self) -> None:
        """A fenced write (osdn.store.fence) lands only while the lease is at the fence's revision."""
        fence = current_fence()
        if fence is not None:
            entry = self._objects.get(fence.lease.resource, {}).get((fence.lease.namespace, fence.lease.name))
            fence.check(None if entry is None else int(entry[0]["metadata"]["resourceVersion"]))

    def create(self, key: Key, obj: Obj) -> Obj:
        with self._lock:
            self._check_fence()
            if (key.namespace, key.name) in self._objects.get(key.resource, {}):
                raise AlreadyExistsError(f'{key.resource} "{key.name}" already exists', object_ref(key))
            return self._commit("ADDED", key, obj, obj)

    def _check_rv(self, key: Key, current: Obj, expected_rv: int | None) -> None:
        have = int(current["metadata"]["resourceVersion"])
        if expected_rv is not None and expected_rv != have:
            raise ConflictError(
                f'Operation cannot be fulfilled on {key.resource} "{key.name}": the object has been '
                f"modified (resourceVersion {expected_rv} is stale, current is {have}); please apply your "
                "changes to the latest version and try again", object_ref(key))

    def update(self, key: Key, obj: Obj, expected_rv: int | None = None) -> Obj:
        with self._lock:
            self._check_fence()
            current = self.get(key)
            self._check_rv(key, current, expected_rv)
            return self._commit("MODIFIED", key, obj, obj)

    def delete(self, key: Key, expected_rv: int | None = None) -> Obj:
        with self._lock:
            self._check_fence()
            current = self.get(key)
            self._check_rv(key, current, expected_rv)
            return self._commit("DELETED", key, None, current)

    # ---- watch -------------------------------------------------------------------------------
    def _history(self, resource: str | None, namespace: str | None, since_rv: int) -> Iterator[Event]:
        oldest = self._db.execute("SELECT MIN(rv) FROM events").fetchone()[0]
        if oldest is not None and since_rv + 1 < oldest:
            raise GoneError(f"too old resource version: {since_rv} ({oldest - 1})")
        for rv, kind, res, ns, name, data in self._db.execute(
                "SELECT rv, type, resource, namespace, name, data FROM events WHERE rv > ? ORDER BY rv",
                (since_rv,)):
            if (resource is None or res == resource) and (namespace is None or ns == namespace):
                yield Event(kind, Key(res, ns, name), rv, json.loads(data), bytes(data))

    def subscribe(self, resource: str | None, namespace: str | None, since_rv: int,
                  callback: Callback) -> tuple[Events, _Sub]:
        """Events after `since_rv` (the backlog) plus a subscription for every later one."""
        with self._lock:
            backlog = list(self._history(resource, namespace, since_rv)) if since_rv < self._rv else []
            sub = _Sub(self, resource, namespace, callback)
            self._subs.append(sub)
            return backlog, sub

    def close(self) -> None:
        with self._lock:
            self._subs.clear()
            self._db.close()
