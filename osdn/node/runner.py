"""A bounded-frequency sync runner (kube-proxy's BoundedFrequencyRunner, simplified).

Events only call `request()`; one thread runs `sync(full)` when work is pending, at most `burst`
times back to back and then no more often than once per `min_period` (a token bucket), and at least
every `period` (jittered, below). `full` is True for the first sync, for the retry of a failed one and
for the periodic full resync, in which the caller re-reads the kernel instead of trusting its memory.
The periodic full sync is due `period * (1 + jitter * r)` after the last one started, r drawn anew
from `rand` (uniform in [0, 1)) each time (`wait.JitterUntil`'s jitter): agents started together
(every node of a cluster after an upgrade) drift apart instead of all doing their expensive full
syncs at the same moment on shared CPUs. It runs when no event is waiting and the bucket is full, so it
never takes the token of the next event, plus `r * min_period` after the bucket filled (agents that see
the same writes reach a full bucket together: this keeps their full syncs apart). An event that arrives while the full sync is due is synced
incrementally first (its change does not wait for the full sync's expensive part); the full sync
follows once the events stop, and under constant churn no later than one more period after it was due
(then the event's sync is the full one).
A failed sync is retried after `min_period` (at least 1 s).
The periodic full sync yields to an event: while it runs, `should_yield()` says whether an event
arrived since it started; the sync may then stop early by raising `Yielded` (the agent checks
between its steps), the event's incremental sync runs next, and the full sync stays due, for the
next quiet moment. Only the periodic one yields: the first sync, a retry and the full sync under
constant churn (a period overdue) run to the end.

`request()` returns a ticket; `wait(ticket, timeout)` returns once a sync that *started after* the
ticket was issued has succeeded, and raises the error of such a sync if it failed. That is how a
CNI ADD waits until its pod's rules are in the kernel. The clock and the random source are injectable
for tests.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class SyncTimeoutError(TimeoutError):
    pass


class Yielded(Exception):
    """Raised by a periodic full sync that stopped early for an event (`SyncRunner.should_yield`)."""


JITTER = 0.1  # the periodic full sync comes 0-10 % of `period` late, anew each time


class SyncRunner:
    def __init__(self, sync: Callable[[bool], object], min_period: float, period: float, burst: int = 2,
                 clock: Callable[[], float] = time.monotonic, jitter: float = JITTER,
                 rand: Callable[[], float] = random.random) -> None:
        self.sync, self.min_period, self.period = sync, min_period, period
        self.burst, self.clock = max(1, burst), clock
        self.jitter, self.rand = max(0.0, jitter), rand
        self._draw = 0.0  # this period's jitter draw, in [0, 1): drawn at each full sync
        self._cv = threading.Condition()
        self._issued = 0        # last ticket handed out
        self._done = 0          # every ticket <= this is covered by a successful sync
        self._failed = 0        # every ticket <= this was covered by a failed sync ...
        self._error: BaseException | None = None  # ... with this error
        self._tokens = float(self.burst)
        self._full_at = float("-inf")  # when the bucket last became full (inf: it is not)
        self._stamp = clock()
        self._last_full = float("-inf")
        self._full_next = True  # first sync, or the retry of a failed one
        self._retry_at = float("-inf")
        self._stop = False
        self._yieldable = False  # the running sync is a periodic full one, which an event may cut short
        self._running_covered = 0  # the tickets the running sync covers
        self._last_full_before = float("-inf")  # `_last_full` before the running full sync started

    # -- callers ---------------------------------------------------------------------------------
    def request(self) -> int:
        with self._cv:
            self._issued += 1
            self._cv.notify_all()
            return self._issued

    def wait(self, ticket: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._done < ticket:
                if self._failed >= ticket and self._error is not None:
                    raise self._error
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SyncTimeoutError(f"no dataplane sync finished within {timeout:.1f}s")
                self._cv.wait(left)

    def set_periods(self, min_period: float, period: float) -> None:
        """New `min_period`/`period`, effective for the next wait (kubeProxyConfig edited live)."""
        with self._cv:
            self.min_period, self.period = min_period, period
            self._cv.notify_all()

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()

    def should_yield(self) -> bool:
        """True while the running sync is a periodic full one and an event arrived since it started."""
        with self._cv:
            return self._yieldable and self._issued > self._running_covered

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> None:
        """Run until `stop()`; the first sync happens at once."""
        self.request()
        while True:
            with self._cv:
                if not self._wait_for_work():
                    return
                covered = self._issued
                full = self._take_token()
            self._run_once(covered, full)

    def _pending(self) -> bool:
        return self._issued > max(self._done, self._failed)

    def _wait_for_work(self) -> bool:
        """Under the lock: wait until a sync is due and allowed; False when stopping."""
        while not self._stop:
            now = self.clock()
            pending = self._pending()
            due = pending or now >= self._full_due()
            gap = max(self._gap(now, pending), self._retry_at - now)
            if due and gap <= 0:
                return True
            wake = gap if due else self._full_due() - now
            self._cv.wait(max(0.001, min(wake, 1.0)))
        return False

    def _gap(self, now: float, pending: bool) -> float:
        """Seconds until a sync may start: a token for an event's sync. A periodic sync nobody asked for
        waits for a full bucket, so it never takes the token the next event's sync needs (under constant
        churn a later event's sync is the full one), and then for this period's jitter share of
        `min_period` more: agents that all wait for the same quiet moment (they see the same writes)
        do not all start their full syncs in it at once."""
        if pending:
            return self._token_wait(now, 1.0)
        wait = self._token_wait(now, float(self.burst))
        return max(wait, self._full_at + self._draw * self.min_period - now)

    def _full_due(self) -> float:
        """When the next periodic full sync is due: `period`, plus this period's jitter, after the last."""
        return self._last_full + self.period * (1.0 + self.jitter * self._draw)

    def _refill(self, now: float) -> None:
        if self.min_period <= 0:
            self._tokens, self._full_at = float(self.burst), float("-inf")
        else:
            before = self._tokens
            self._tokens = min(float(self.burst), before + (now - self._stamp) / self.min_period)
            if before < self.burst <= self._tokens:  # the bucket filled up in between: when
                self._full_at = self._stamp + (self.burst - before) * self.min_period
        self._stamp = now

    def _token_wait(self, now: float, need: float = 1.0) -> float:
        """Seconds until the bucket holds `need` tokens."""
        self._refill(now)
        return 0.0 if self._tokens >= need else (need - self._tokens) * self.min_period

    def _take_token(self) -> bool:
        """Under the lock: spend a token; True if this sync is to be a full one: the first, a retry, or
        the periodic one when it is due and no event waits (or, under constant churn, a period overdue)."""
        now = self.clock()
        self._refill(now)
        self._tokens = max(0.0, self._tokens - 1)
        self._full_at = float("inf")  # not full any more
        due = self._full_due()
        periodic = not self._full_next and now >= due and not self._pending()
        full = self._full_next or periodic or now >= due + self.period  # a period overdue: churn cannot starve it
        self._yieldable, self._running_covered = periodic, self._issued
        if full:
            self._last_full_before = self._last_full
            self._last_full, self._full_next = now, False
            self._draw = self.rand()
        return full

    def _run_once(self, covered: int, full: bool) -> None:
        try:
            self.sync(full)
        except Yielded:
            with self._cv:  # what it covered was synced before it started; it is still due
                self._yieldable, self._last_full = False, self._last_full_before
                self._done = max(self._done, covered)
                self._cv.notify_all()
            return
        except Exception as exc:
            log.warning("dataplane sync failed (retrying): %s", exc)
            with self._cv:
                self._failed, self._error = max(self._failed, covered), exc
                self._full_next, self._yieldable = True, False
                self._issued += 1  # pending again: retried ...
                self._retry_at = self.clock() + max(self.min_period, 1.0)  # ... after a pause
                self._cv.notify_all()
            return
        with self._cv:
            self._done = max(self._done, covered)
            self._error = None
            self._retry_at = float("-inf")
            self._yieldable = False
            self._cv.notify_all()
