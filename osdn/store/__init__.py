"""The object store: one interface, two backends (embedded SQLite: osdn.store.sqlite; etcd v3: osdn.store.etcd).

Contract (the shared suite in tests/unit/store/test_contract.py holds every backend to it):
- every write gets the next cluster-wide resourceVersion (an integer, strictly increasing);
- `update`/`delete` with `expected_rv` fail with ConflictError when the stored rv differs;
- `subscribe` replays the events after `since_rv` and then delivers live ones, in rv order,
  with no gap and no duplicate; GoneError if history older than `since_rv` was compacted;
- an acknowledged write survives `kill -9` of the process;
- `compact()` drops watch history older than the backend's `history`; `is_empty()` says whether the
  store holds no object at all (a new cluster).
Objects handed out are shared, read-only snapshots: callers copy before they mutate.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from osdn.errors import ObjectRef, OsdnError

Obj = dict[str, Any]


class StoreError(OsdnError):
    """The store cannot be opened or read (missing, empty, corrupt): the server refuses to start."""


@dataclass(frozen=True)
class Key:
    resource: str          # fully qualified resource: "pods", "netnamespaces.network.openshift.io"
    namespace: str         # "" for cluster-scoped objects
    name: str

    def __str__(self) -> str:
        return f"{self.resource}/{self.namespace}/{self.name}" if self.namespace else f"{self.resource}/{self.name}"


def dump(obj: Obj) -> bytes:
    """An object as the compact JSON every backend stores and serves."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def decode(raw: bytes) -> Obj:
    """A stored object; ValueError if the bytes are not JSON of an object with metadata."""
    obj = json.loads(raw)
    if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
        raise ValueError("not an object with metadata")
    return obj


def object_ref(key: Key) -> ObjectRef:
    """Status.details as kube-apiserver fills it: kind is the plural, group the API group."""
    plural, _, group = key.resource.partition(".")
    return ObjectRef(plural, key.name, key.namespace, group)


@dataclass(frozen=True)
class Event:
    type: str              # ADDED | MODIFIED | DELETED
    key: Key
    rv: int
    object: Obj
    raw: bytes             # the object as JSON, serialized once for every watcher


Callback = Callable[[Event], None]
Events = list[Event]  # an alias: inside Store, `list` names the method


class Subscription(Protocol):
    def cancel(self) -> None: ...


class Store(Protocol):
    def current_rv(self) -> int: ...
    def is_empty(self) -> bool: ...
    def compact(self) -> int: ...
    def get(self, key: Key) -> Obj: ...
    def get_raw(self, key: Key) -> bytes: ...
    def list(self, resource: str, namespace: str | None = None) -> tuple[list[tuple[Obj, bytes]], int]: ...
    def create(self, key: Key, obj: Obj) -> Obj: ...
    def update(self, key: Key, obj: Obj, expected_rv: int | None = None) -> Obj: ...
    def delete(self, key: Key, expected_rv: int | None = None) -> Obj: ...
    def subscribe(self, resource: str | None, namespace: str | None, since_rv: int,
                  callback: Callback) -> tuple[Events, Subscription]: ...
    def close(self) -> None: ...
