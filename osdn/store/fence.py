"""Fencing of writes by a lease's revision: a write made "as the leader" lands only while the leader's
Lease is still at the resourceVersion the leader last wrote.

The master's controllers send every write with the header `X-Osdn-Fence: NAMESPACE/NAME/RV` (the
Lease and the resourceVersion of their last successful acquire or renew); the API server runs that
request inside `fenced(Fence(...))`, and the store checks the condition *in the same transaction* as
the write (etcd: one more compare on the lease key's mod_revision; SQLite: under its write lock). A
server that lost its lease (another took it over, so the Lease's revision moved) can therefore never
write as the leader, however late its request arrives. Renewals also move the revision: a write sent
with the previous revision is refused (409, message starting with `fenced:`) and the client resends
it once with the current one (osdn.client).

The fence travels in a context variable (one per request task); outside `fenced` writes are unfenced.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from osdn.api.decode import parse_uint
from osdn.api.kinds.coordination import FENCE_HEADER as HEADER
from osdn.api.kinds.coordination import FENCED_PREFIX as PREFIX
from osdn.errors import BadRequestError, ConflictError
from osdn.store import Key, object_ref

LEASES = "leases.coordination.k8s.io"


@dataclass(frozen=True)
class Fence:
    lease: Key
    rv: int

    def __str__(self) -> str:
        return f"{self.lease.namespace}/{self.lease.name}/{self.rv}"

    def check(self, current_rv: int | None) -> None:
        """Raise the fencing refusal unless the lease is at `rv` (None: the lease does not exist)."""
        if current_rv != self.rv:
            now = "is gone" if current_rv is None else f"is at resourceVersion {current_rv}"
            raise ConflictError(f"{PREFIX}Lease {self.lease.namespace}/{self.lease.name} {now}, not "
                                f"{self.rv}: the writer no longer holds it at that revision (it is not the "
                                "leader any more, or it renewed meanwhile)", object_ref(self.lease))


def parse_fence(value: str) -> Fence:
    """`NAMESPACE/NAME/RV` from the header; BadRequestError naming the header and the value."""
    parts = value.split("/")
    rv = parse_uint(parts[2]) if len(parts) == 3 else None
    if rv is None or not all(parts):
        raise BadRequestError(f'header {HEADER}: "{value[:300]}" is not NAMESPACE/NAME/RESOURCEVERSION of a Lease')
    return Fence(Key(LEASES, parts[0], parts[1]), rv)


_current: ContextVar[Fence | None] = ContextVar("osdn_store_fence", default=None)


@contextlib.contextmanager
def fenced(fence: Fence | None) -> Iterator[None]:
    """Every store write inside the block is fenced by `fence` (None: no fence)."""
    token = _current.set(fence)
    try:
        yield
    finally:
        _current.reset(token)


def current_fence() -> Fence | None:
    return _current.get()
