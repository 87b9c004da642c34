"""The bounded-frequency sync runner a CNI ADD waits on: burst, minimum gap, periodic resync, errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from osdn.node.runner import SyncRunner, SyncTimeoutError


class Recorder:
    def __init__(self, fail: int = 0) -> None:
        self.times: list[float] = []
        self.fail = fail

    def __call__(self) -> None:
        self.times.append(time.monotonic())
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
