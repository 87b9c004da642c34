"""Retry delays: capped exponential backoff with jitter, as client-go's informers and workqueues use.

`Backoff` holds one retry sequence (the informer's: "how long since the last success?"); the random
source is injectable so tests are deterministic. `delay_for` is the pure formula behind it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


def delay_for(attempt: int, initial: float, cap: float, jitter: float, rand: float) -> float:
    """Delay before retry number `attempt` (1-based): initial * 2**(attempt-1), capped, then stretched
    by up to `jitter` (a fraction) times `rand` (in [0, 1)). Pure."""
    base = min(initial * 2 ** min(attempt - 1, 62), cap)
    return base * (1.0 + jitter * rand)


@dataclass
class Backoff:
    """Successive delays 0.2, 0.4, 0.8 ... up to `cap` seconds, each up to `jitter` longer at random;
    `reset` after a success starts again from `initial`."""

    initial: float = 0.2
    cap: float = 30.0
    jitter: float = 0.2
    rand: Callable[[], float] = field(default=random.random, repr=False)
    attempts: int = 0

    def next(self) -> float:
        self.attempts += 1
        return delay_for(self.attempts, self.initial, self.cap, self.jitter, self.rand())

    def reset(self) -> None:
        self.attempts = 0


def reconnect_backoff() -> Backoff:
    """Reconnect delays of a node's informers and start-up calls: 0.5 s doubling to 10 s, each
    stretched by up to 100 % at random (full jitter, as client-go's reflectors), so a fleet of agents
    does not re-list in step when the API server returns: every one is back within 20 s."""
    return Backoff(initial=0.5, cap=10.0, jitter=1.0)
