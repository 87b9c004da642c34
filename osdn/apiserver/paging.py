"""List paging (`limit`/`continue`) over a consistent snapshot, `resourceVersionMatch`, Go booleans.

The first page of a limited list keeps the rest of that list (already filtered) in memory; the
`continue` token names it, the resource version it was read at and the offset, so every page comes
from the same snapshot, as etcd's MVCC gives kube-apiserver. Snapshots live `ttl` seconds (300, kube's
compaction interval) and at most `max_bytes` in total (oldest dropped first); a token whose snapshot
is gone is 410 Expired, as kube answers a compacted continue token. A token is bound to the list it
came from (resource, namespace, selectors): used for another list it is a 400.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from osdn.api.registry import KindInfo
from osdn.errors import BadRequestError, GoneError, TimeoutError_

TTL = 300.0
MAX_BYTES = 64 * 1024 * 1024
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")
MATCH = ("", "NotOlderThan", "Exact")


def parse_bool(name: str, value: str | None, default: bool = False) -> bool:
    """Go's strconv.ParseBool, as kube-apiserver reads boolean query parameters."""
    if value in (None, ""):
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BadRequestError(f'{name}: invalid value "{value}": strconv.ParseBool: parsing "{value}": invalid syntax')


def check_resource_version_match(match: str, rv: str, current: int, continuing: bool) -> None:
    """resourceVersionMatch for a list served from the current state (osdn keeps no older states)."""
    if match not in MATCH:
        raise BadRequestError(f'resourceVersionMatch: Unsupported value: "{match}": supported values: '
                              '"Exact", "NotOlderThan"')
    if not match:
        return
    if continuing:
        raise BadRequestError("resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue "
                              "is provided")
    if not rv:
        raise BadRequestError("resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless "
                              "resourceVersion is provided")
    if match == "Exact" and rv == "0":
        raise BadRequestError('resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for '
                              'resourceVersion "0"')
    wanted = int(rv)
    if wanted > current:
        raise TimeoutError_(f"Too large resource version: {wanted}, current: {current}")
    if match == "Exact" and wanted != current:
        raise GoneError(f"too old resource version: {wanted} ({current})")


@dataclass
class _Snapshot:
    fingerprint: str
    rv: int
    raws: list[bytes]
    created: float
    size: int


@dataclass(frozen=True)
class Page:
    raws: list[bytes]
    rv: int
    continue_token: str = ""
    remaining: int | None = None


class Pager:
    def __init__(self, ttl: float = TTL, max_bytes: int = MAX_BYTES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.max_bytes, self.clock = ttl, max_bytes, clock
        self._snaps: OrderedDict[str, _Snapshot] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def first(self, fingerprint: str, raws: list[bytes], rv: int, limit: int) -> Page:
        if not limit or len(raws) <= limit:
            return Page(raws, rv)
        snap_id = secrets.token_urlsafe(12)
        snap = _Snapshot(fingerprint, rv, raws, self.clock(), sum(len(r) for r in raws))
        with self._lock:
            self._expire()
            self._snaps[snap_id] = snap
            self._bytes += snap.size
            while self._bytes > self.max_bytes and len(self._snaps) > 1:
                self._drop(next(iter(self._snaps)))
        return self._page(snap_id, snap, 0, limit)

    def next(self, fingerprint: str, token: str, limit: int) -> Page:
        snap_id, rv, start = self._decode(token)
        with self._lock:
            self._expire()
            snap = self._snaps.get(snap_id)
        if snap is None or snap.rv != rv:
            raise GoneError("The provided continue parameter is too old to display a consistent list result. "
                            "You can start a new list without the continue parameter.")
        if snap.fingerprint != fingerprint:
            raise BadRequestError("continue: Invalid value: the continue token was issued for another list "
                                  "(resource, namespace or selectors differ)")
        return self._page(snap_id, snap, start, limit)

    def _page(self, snap_id: str, snap: _Snapshot, start: int, limit: int) -> Page:
        end = start + limit if limit else len(snap.raws)
        if end >= len(snap.raws):
            with self._lock:
                if snap_id in self._snaps:
                    self._drop(snap_id)
            return Page(snap.raws[start:], snap.rv)
        token = base64.urlsafe_b64encode(json.dumps({"v": "meta.k8s.io/v1", "rv": snap.rv, "start": end,
                                                     "id": snap_id}).encode()).decode()
        return Page(snap.raws[start:end], snap.rv, token, len(snap.raws) - end)

    @staticmethod
    def _decode(token: str) -> tuple[str, int, int]:
        """A token's snapshot id, resourceVersion and offset; a forged token (nested arrays, 1e400, a
        negative offset, wrong types) is a 400, never a 500."""
        invalid = BadRequestError(f'continue: Invalid value: "{token[:40]}": continue key is not valid')
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
        except (ValueError, RecursionError):
            raise invalid from None
        snap_id, rv, start = (data.get("id"), data.get("rv"), data.get("start")) if isinstance(data, dict) \
            else (None, None, None)
        if not (isinstance(snap_id, str) and type(rv) is int and type(start) is int and rv >= 0 and start >= 0):
            raise invalid
        return snap_id, rv, start

    def _expire(self) -> None:
        now = self.clock()
        for snap_id in [i for i, s in self._snaps.items() if now - s.created > self.ttl]:
            self._drop(snap_id)

    def _drop(self, snap_id: str) -> None:
        self._bytes -= self._snaps.pop(snap_id).size


def watch_list(q: Mapping[str, str]) -> bool:
    """`sendInitialEvents=true` (client-go's watch-list): the watch starts with the current objects
    and a BOOKMARK marking their end; kube requires resourceVersionMatch=NotOlderThan and bookmarks."""
    if not parse_bool("sendInitialEvents", q.get("sendInitialEvents")):
        if q.get("sendInitialEvents") and q.get("resourceVersionMatch"):
            raise BadRequestError("resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch "
                                  "unless sendInitialEvents is provided")
        return False
    if q.get("resourceVersionMatch") != "NotOlderThan":
        raise BadRequestError('resourceVersionMatch: Required value: resourceVersionMatch "NotOlderThan" is '
                              "required when sendInitialEvents is provided")
    if not parse_bool("allowWatchBookmarks", q.get("allowWatchBookmarks")):
        raise BadRequestError("allowWatchBookmarks: Required value: allowWatchBookmarks must be true when "
                              "sendInitialEvents is provided")
    return True


def initial_events_end(info: KindInfo, rv: int) -> bytes:
    obj = {"kind": info.kind, "apiVersion": info.api_version, "metadata": {
        "resourceVersion": str(rv), "annotations": {"k8s.io/initial-events-end": "true"}}}
    return json.dumps({"type": "BOOKMARK", "object": obj}, separators=(",", ":")).encode() + b"\n"
