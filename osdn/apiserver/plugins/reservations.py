"""What an allocating admission plugin (service IPs, node ports) handed out but the store does not
show yet: held for a short while per owner (`namespace/name`), so two concurrent writes never get
the same value between admission and their store write. Not thread-safe: the plugin calls it under
the lock it allocates under; the clock is injected.

A hold ends when it expires, when the owner's stored object shows the value (the store is the
record from then on: a delete there releases it), or when the owner is written again or deleted
(`release`: a new write supersedes what an earlier one held).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from osdn.apiserver.admission import AdmissionContext

K = TypeVar("K", bound=Hashable)
RESERVATION_SECONDS = 30.0  # far longer than an admission-to-commit gap


class Reservations(Generic[K]):
    def __init__(self, clock: Callable[[], float]) -> None:
        self._held: dict[K, tuple[str, float]] = {}  # value -> (owner, expiry)
        self._clock = clock

    def release(self, owner: str) -> None:
        for value in [v for v, (o, _) in self._held.items() if o == owner]:
            del self._held[value]

    def hold(self, values: Iterable[K], owner: str) -> None:
        expiry = self._clock() + RESERVATION_SECONDS
        for value in values:
            self._held[value] = (owner, expiry)

    def in_use(self, stored: Mapping[str, Collection[K]], owner: str) -> set[K]:
        """The values held by the stored objects (`stored`: owner -> its values) other than `owner`'s,
        and by the live holds of others; forgets the holds that ended."""
        used = {v for o, values in stored.items() if o != owner for v in values}
        now = self._clock()
        for value, (o, expiry) in list(self._held.items()):
            if expiry < now or value in stored.get(o, ()):
                del self._held[value]
            elif o != owner:
                used.add(value)
        return used


def service_write(ctx: AdmissionContext, lock: threading.Lock, held: Reservations[Any]) -> str | None:
    """For a write of a Service (not of a subresource): what an earlier write of it held is released
    (a new write, or the delete, supersedes it); its owner name `namespace/name` if the write is a
    create or an update (then it may allocate), else None."""
    if ctx.info.kind != "Service" or ctx.subresource:
        return None
    meta = ctx.obj.get("metadata") or {}
    owner = f"{meta.get('namespace')}/{meta.get('name')}"
    with lock:
        held.release(owner)
    return owner if ctx.operation in ("CREATE", "UPDATE") else None
