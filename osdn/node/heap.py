"""Keeps the agent's long-lived objects out of the cyclic garbage collector's way.

At 10k pods the agent holds ~1M tracked objects (the informers' JSON, the compiler's parsed pods and
policies, the render's sets). CPython's oldest-generation collection walks all of them whenever the
objects that survived since the last one reach a quarter of the heap: a pause of 0.1-0.2 s on a
quiet core, up to 1.7 s in the loaded lab, that stops every thread (the sync, the informers) and
landed in whichever sync allocated at that moment (a full sync's snapshot; a measured change).

`HeapFreezer.settle()`, called once per full sync (every sync period), collects only the two young
generations (`gc.collect(1)`: the objects allocated since the last automatic collections, a few
milliseconds whatever the heap's size) and then freezes everything not frozen yet (`gc.freeze`): it
moves to the permanent generation, which no collection walks. It does not collect the unfrozen
part of the oldest generation first: after a burst (the bulk load of 22k objects) that part holds
most of the heap, and walking it cost a full sync 1-3 s in the loaded lab, during which every event
waited (CPython's automatic collections still walk it between settles). Objects are still freed by
reference count as ever; what a frozen heap cannot reclaim is cyclic garbage among frozen objects,
so every `full_every`-th call first unfreezes and collects everything once (one full pause, at a
moment the agent chooses: by default about once an hour at the 30 s sync period). The gc module is
injectable for tests.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Protocol

log = logging.getLogger(__name__)


class GcModule(Protocol):
    def collect(self, generation: int = 2) -> int: ...
    def freeze(self) -> None: ...
    def unfreeze(self) -> None: ...
    def get_freeze_count(self) -> int: ...


class HeapFreezer:
    def __init__(self, gc_module: GcModule = gc, full_every: int = 120) -> None:
        self.gc, self.full_every = gc_module, max(1, full_every)
        self.calls = 0

    def settle(self) -> None:
        """Collect the young generations (everything, every `full_every`-th call), freeze the rest."""
        start = time.perf_counter()
        full = self.calls % self.full_every == 0 and self.calls > 0
        self.calls += 1
        if full:
            self.gc.unfreeze()
        found = self.gc.collect(2 if full else 1)
        self.gc.freeze()
        if log.isEnabledFor(logging.DEBUG):  # counting the frozen objects walks them all: ~40 ms per 300k
            log.debug("heap settled%s: %d unreachable, %d frozen, in %.3fs", " (full collection)" if full else "",
                      found, self.gc.get_freeze_count(), time.perf_counter() - start)
