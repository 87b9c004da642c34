"""The bounded-frequency sync runner a CNI ADD waits on: burst, minimum gap, periodic full resync, errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from osdn.node.runner import SyncRunner, SyncTimeoutError


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


def test_first_sync_is_full_then_incremental_until_the_period_passes() -> None:
    """Driven step by step with a fake clock: which syncs are full (re-read the kernel)."""
    clock, rec = FakeClock(), Recorder()
    r = SyncRunner(rec, min_period=0.0, period=30, clock=clock)
    r.request()
    for advance in (0, 1, 10, 25, 1):  # t = 100, 101, 111, 136, 137
        clock.now += advance
        r.request()
        with r._cv:
            assert r._wait_for_work()
            covered, full = r._issued, r._take_token()
        r._run_once(covered, full)
    assert rec.full == [True, False, False, True, False], "first, then the one 30 s after the first"


def test_period_without_events_wakes_for_a_full_sync() -> None:
    clock, rec = FakeClock(), Recorder()
    r = SyncRunner(rec, min_period=0.0, period=30, clock=clock)
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
    r = SyncRunner(rec, min_period=1.0, period=30, burst=2, clock=clock)
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
        r._issued += 1  # ... and an event now runs at once, as the full sync
        assert r._wait_for_work() and r._take_token() is True
