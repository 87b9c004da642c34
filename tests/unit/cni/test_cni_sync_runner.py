"""The bounded-frequency sync runner a CNI ADD waits on: burst, minimum gap, periodic full resync, errors."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator

import pytest

from osdn.node.runner import SyncRunner, SyncTimeoutError, Yielded


class Recorder:
    def __init__(self, fail: int = 0) -> None:
        self.times: list[float] = []
        self.full: list[bool] = []
        self.fail = fail

    def __call__(self, full: bool) -> None:
        self.times.append(time.monotonic())
        self.full.append(full)
        if self.fail:
            self.fail -= 1
            raise RuntimeError("kernel said no")


def running(runner: SyncRunner) -> Iterator[SyncRunner]:
    t = threading.Thread(target=runner.run, daemon=True)
    t.start()
    try:
        yield runner
    finally:
        runner.stop()
        t.join(2)


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


def test_wait_returns_after_a_sync_that_started_later(rec: Recorder) -> None:
    for r in running(SyncRunner(rec, min_period=0.0, period=60)):
        r.wait(r.request(), 2)
        n = len(rec.times)
        r.wait(r.request(), 2)
        assert len(rec.times) > n


def test_min_period_spaces_syncs_after_the_burst(rec: Recorder) -> None:
    for r in running(SyncRunner(rec, min_period=0.2, period=60, burst=2)):
        for _ in range(4):
            r.wait(r.request(), 3)
    gaps = [b - a for a, b in zip(rec.times, rec.times[1:], strict=False)]
    assert len(rec.times) >= 4 and max(gaps[-2:]) >= 0.15


def test_period_forces_a_resync_without_events(rec: Recorder) -> None:
    for _ in running(SyncRunner(rec, min_period=0.0, period=0.1)):
        time.sleep(0.45)
    assert len(rec.times) >= 3


def test_failure_reaches_the_waiter_and_is_retried() -> None:
    rec = Recorder(fail=1)
    for r in running(SyncRunner(rec, min_period=0.0, period=60)):
        with pytest.raises(RuntimeError, match="kernel said no"):
            r.wait(1, 2)  # the first sync (ticket 1, issued by run) fails
        r.wait(r.request(), 3)  # retried after the pause, and later requests succeed
    assert len(rec.times) >= 2


def test_wait_times_out_when_nothing_runs(rec: Recorder) -> None:
    r = SyncRunner(rec, min_period=0.0, period=60)
    with pytest.raises(SyncTimeoutError):
        r.wait(r.request(), 0.05)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def step(r: SyncRunner, event: bool = True) -> bool:
    """One turn of the loop at the fake clock's time (an event first if `event`); whether it was full."""
    if event:
        r.request()
    with r._cv:
        assert r._wait_for_work()
        covered, full = r._issued, r._take_token()
    r._run_once(covered, full)
    return full


def test_first_sync_is_full_then_incremental_until_the_period_passes() -> None:
    """Driven step by step with a fake clock: which syncs are full (re-read the kernel)."""
    clock, rec = FakeClock(), Recorder()
    r = SyncRunner(rec, min_period=0.0, period=30, clock=clock, rand=lambda: 0.0)
    r.request()
    for advance in (0, 1, 10):  # t = 100, 101, 111
        clock.now += advance
        step(r)
    clock.now += 25  # t = 136: the periodic full sync is due; with no event waiting it runs
    assert step(r, event=False)
    clock.now += 1
    step(r)
    assert rec.full == [True, False, False, True, False], "first, then the one 30 s after the first"


def test_period_without_events_wakes_for_a_full_sync() -> None:
    clock, rec = FakeClock(), Recorder()
    r = SyncRunner(rec, min_period=0.0, period=30, clock=clock, rand=lambda: 0.0)
    with r._cv:
        r._take_token()  # a full sync at t = 100
        r._done = r._issued
    clock.now += 30
    with r._cv:
        assert r._wait_for_work() and r._take_token() is True


def test_a_failed_sync_is_retried_as_a_full_one() -> None:
    rec = Recorder(fail=1)
    for r in running(SyncRunner(rec, min_period=0.0, period=60)):
        with pytest.raises(RuntimeError):
            r.wait(1, 2)  # the first sync (ticket 1, issued by run) fails
        r.wait(r.request(), 3)  # the retry
        r.wait(r.request(), 3)  # an ordinary sync after it
    assert rec.full[:2] == [True, True] and rec.full[-1] is False


def test_a_periodic_sync_waits_for_a_full_bucket_and_leaves_a_token_for_events() -> None:
    clock, rec = FakeClock(), Recorder()
    r = SyncRunner(rec, min_period=1.0, period=30, burst=2, clock=clock, rand=lambda: 0.0)
    with r._cv:
        r._take_token()  # the first (full) sync at t = 100
        r._done = r._issued
    clock.now = 129.5
    with r._cv:
        r._issued += 1  # an event at 129.5 takes a token: 1 left
        assert r._wait_for_work() and r._take_token() is False
        r._done = r._issued
    clock.now = 130.2  # the period is over, but the bucket holds 1.7 tokens: no periodic sync yet ...
    with r._cv:
        assert r._token_wait(clock.now, 2.0) > 0
        r._issued += 1  # ... and an event now runs at once, incrementally: it does not wait for the full sync
        assert r._wait_for_work() and r._take_token() is False
        r._done = r._issued
    clock.now = 131.0  # no event waits, but the bucket is not full again yet
    with r._cv:
        assert r._token_wait(clock.now, 2.0) > 0
    clock.now = 131.6  # full again (0.7 tokens at 130.2, +1.4): the deferred full sync runs
    with r._cv:
        assert r._wait_for_work() and r._take_token() is True


def test_the_periodic_full_sync_is_jittered_anew_each_period() -> None:
    """Due `period * (1 + jitter * r)` after the last one, r from the injected source, drawn per full sync."""
    draws = iter([0.5, 0.9, 0.0])
    clock, rec = FakeClock(), Recorder()
    r = SyncRunner(rec, min_period=0.0, period=30, clock=clock, jitter=0.1, rand=lambda: next(draws))
    assert step(r)  # t = 100: the first sync draws 0.5: the next is due at 100 + 30 * 1.05
    assert r._full_due() == pytest.approx(131.5)
    clock.now = 131.4
    with r._cv:
        assert r._token_wait(clock.now, 2.0) == 0 and not r._pending() and clock.now < r._full_due()
    clock.now = 131.5
    assert step(r, event=False)  # the periodic full sync draws 0.9: due 131.5 + 32.7
    clock.now = 164.1
    assert not step(r)
    clock.now = 164.25
    assert step(r, event=False)
    assert rec.full == [True, True, False, True]


def test_an_event_while_the_full_sync_is_due_is_synced_first_and_churn_cannot_starve_it() -> None:
    clock, rec = FakeClock(), Recorder()
    r = SyncRunner(rec, min_period=0.0, period=30, clock=clock, rand=lambda: 0.0)
    assert step(r)  # t = 100
    for t in (130, 140, 159.9):  # events keep coming after the full sync is due (130): incremental
        clock.now = t
        assert not step(r), t
    clock.now = 160  # a period overdue: this event's sync is the full one
    assert step(r)
    clock.now = 161
    assert not step(r)


def test_agents_started_together_spread_their_full_syncs() -> None:
    """Two runners with different random sources: their periodic full syncs stop coinciding."""
    due = []
    for seed in (1, 2):
        rng = random.Random(seed)
        r = SyncRunner(Recorder(), min_period=0.0, period=30, clock=FakeClock(), rand=rng.random)
        step(r)
        due.append(r._full_due())
    assert due[0] != due[1] and all(130 <= d < 133 for d in due)


def test_a_due_full_sync_waits_its_jitter_share_of_min_period_after_the_bucket_filled() -> None:
    """Agents that see the same writes reach a full bucket at the same moment: each then waits its own
    share of `min_period` (this period's draw), so their full syncs do not start together."""
    clock, rec = FakeClock(), Recorder()
    r = SyncRunner(rec, min_period=1.0, period=30, burst=2, clock=clock, jitter=0.1, rand=lambda: 0.5)
    assert step(r)  # t = 100: the first sync; next due at 131.5
    clock.now = 131.0
    assert not step(r)  # an event just before: 1 token left; the bucket is full again at 132.0
    with r._cv:
        clock.now = 132.0
        assert r._gap(clock.now, pending=False) == pytest.approx(0.5)
        clock.now = 132.4
        assert r._gap(clock.now, pending=False) > 0
        clock.now = 132.5
        assert r._gap(clock.now, pending=False) <= 0 and r._wait_for_work() and r._take_token() is True
        assert r._gap(clock.now, pending=True) == 0, "an event's sync still needs a token only"


class Interrupted:
    """A sync that, when told to, has an event arrive while it runs, and yields if the runner says so."""

    def __init__(self) -> None:
        self.runner: SyncRunner | None = None
        self.event_during = False
        self.calls: list[tuple[bool, bool]] = []  # (full, yielded)

    def __call__(self, full: bool) -> None:
        assert self.runner is not None
        if self.event_during:
            self.event_during = False
            self.runner.request()
        yielded = self.runner.should_yield()
        self.calls.append((full, yielded))
        if yielded:
            raise Yielded


def test_a_periodic_full_sync_yields_to_an_event_and_stays_due() -> None:
    """An event arriving during the periodic full sync cuts it short: the event's incremental sync
    runs next and the full sync follows at the next quiet moment. The first sync and the full sync
    of a period overdue (constant churn) never yield."""
    clock, sync = FakeClock(), Interrupted()
    r = sync.runner = SyncRunner(sync, min_period=0.0, period=30, clock=clock, rand=lambda: 0.0)
    sync.event_during = True
    assert step(r, event=False) is True  # t = 100, the first sync: an event during it does not stop it
    assert sync.calls == [(True, False)]
    assert step(r, event=False) is False  # that event's sync
    clock.now = 131.0  # the periodic full sync is due, nothing waits: it starts ...
    sync.event_during = True
    assert step(r, event=False) is True
    assert sync.calls[-1] == (True, True)  # ... and yields to the event that came meanwhile
    with r._cv:
        assert r._pending() and r._full_due() == 130.0, "the event waits, the full sync is still due"
    assert step(r, event=False) is False  # the event's sync: incremental
    assert step(r, event=False) is True and sync.calls[-1] == (True, False)  # then the full one, to the end
    with r._cv:
        assert r._full_due() == 161.0 and not r._pending()
    for t in (161.0, 170.0, 190.9):  # churn after the next full sync is due: incremental syncs
        clock.now = t
        assert step(r) is False
    clock.now = 191.0  # a period overdue: this event's sync is the full one and runs to the end
    sync.event_during = True
    assert step(r) is True and sync.calls[-1] == (True, False)


def test_a_yielding_sync_answers_the_waiters_it_covered() -> None:
    """Tickets the yielded full sync covered were synced before it started: their waiters return."""
    clock, sync = FakeClock(), Interrupted()
    r = sync.runner = SyncRunner(sync, min_period=0.0, period=30, clock=clock, rand=lambda: 0.0)
    ticket = r.request()
    step(r, event=False)  # the first sync covers it
    clock.now = 131.0
    sync.event_during = True
    step(r, event=False)  # the periodic one yields
    r.wait(ticket, 0.01)  # answered at once
    with pytest.raises(SyncTimeoutError):
        r.wait(r._issued, 0.01)  # the event that cut it short is not synced yet
