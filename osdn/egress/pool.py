"""Idle upstream connections of the egress HTTP proxy, shared by all clients (squid's pconn pool).

A connection is put back after a response that leaves it reusable and taken again for the next
request to the same host:port, so clients that close after each request do not cost the origin a
new TCP connection each time. Bounded: `per_key` idle connections per host:port, `total` overall
(the oldest is closed first), and none older than `idle` seconds is reused. Only connections the
ACL allowed when they were opened are ever pooled, keyed by the request's host and port.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar


class Idle(Protocol):
    """What the pool needs of a connection."""

    key: tuple[str, int]
    reused: bool

    def alive(self) -> bool: ...

    def close(self) -> None: ...


C = TypeVar("C", bound=Idle)


@dataclass
class UpstreamPool(Generic[C]):
    idle: float = 60.0
    per_key: int = 32
    total: int = 256
    clock: Callable[[], float] = time.monotonic
    _idle: dict[tuple[str, int], list[tuple[float, C]]] = field(default_factory=dict)
    _count: int = 0

    def take(self, key: tuple[str, int]) -> C | None:
        entries = self._idle.get(key)
        if not entries:
            return None
        now = self.clock()
        while entries:
            since, u = entries.pop()
            self._count -= 1
            if now - since < self.idle and u.alive():
                u.reused = True
                return u
            u.close()
        return None

    def give(self, u: C) -> None:
        if not u.alive():
            u.close()
            return
        entries = self._idle.setdefault(u.key, [])
        entries.append((self.clock(), u))
        self._count += 1
        if len(entries) > self.per_key:
            self._drop(u.key)
        while self._count > self.total:
            oldest = min(self._idle, key=lambda k: self._idle[k][0][0] if self._idle[k] else float("inf"))
            self._drop(oldest)

    def _drop(self, key: tuple[str, int]) -> None:
        entries = self._idle.get(key) or []
        if entries:
            entries.pop(0)[1].close()
            self._count -= 1
        if not entries:
            self._idle.pop(key, None)

    def close(self) -> None:
        for entries in self._idle.values():
            for _, u in entries:
                u.close()
        self._idle.clear()
        self._count = 0
