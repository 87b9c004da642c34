"""The API server's watch window (osdn.apiserver.watchwindow) decides 410 Expired as kube's watch cache
does: 100 events at first, doubled while the oldest is fresher than 75 s, halved when even the newest
quarter is stale; before any event is dropped, everything since the server started is served. Watches
that allow bookmarks get one every minute and before their timeout."""

from __future__ import annotations

import pytest

from osdn.apiserver.watchwindow import LOWER_BOUND, Bookmarks, WatchWindow
from osdn.errors import GoneError
from osdn.store import Event, Key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def write(window: WatchWindow, resource: str, rv: int) -> None:
    window.record(Event("ADDED", Key(resource, "p", f"o{rv}"), rv, {"metadata": {}}, b"{}"))


def test_before_the_start_is_gone_and_after_it_is_served() -> None:
    window = WatchWindow(50, Clock())
    window.check("pods", 50)                 # kube: oldest = list rv + 1, refused below oldest - 1
    window.check("pods", 60)
    with pytest.raises(GoneError, match=r"too old resource version: 49 \(50\)") as e:
        window.check("pods", 49)
    assert e.value.to_status()["reason"] == "Expired" and e.value.code == 410


def test_a_burst_grows_the_window_so_nothing_fresh_is_dropped() -> None:
    clock = Clock()
    window = WatchWindow(0, clock)
    for rv in range(1, 1001):                # 1000 events within a second: the ring grows to 1600
        clock.now += 0.001
        write(window, "pods", rv)
    window.check("pods", 0)


def test_stale_events_fall_out_of_the_window_per_resource() -> None:
    clock = Clock()
    window = WatchWindow(0, clock)
    for rv in range(1, LOWER_BOUND + 1):
        write(window, "pods", rv)
    clock.now += 80                          # older than 75 s: the next event drops the oldest
    write(window, "pods", 101)
    window.check("pods", 1)
    with pytest.raises(GoneError, match=r"too old resource version: 0 \(1\)"):
        window.check("pods", 0)
    write(window, "configmaps", 102)         # another resource's window is its own
    window.check("configmaps", 0)
    for rv in range(103, 200):
        write(window, "pods", rv)
    with pytest.raises(GoneError, match=r"too old resource version: 50 \(98\)"):
        window.check("pods", 50)


def test_a_quiet_spell_shrinks_a_grown_window() -> None:
    clock = Clock()
    window = WatchWindow(0, clock)
    for rv in range(1, 401):                 # a burst: capacity 100 -> 200 -> 400
        write(window, "pods", rv)
    clock.now += 100                         # all stale: the next event halves the ring to 200
    write(window, "pods", 401)
    with pytest.raises(GoneError, match=r"too old resource version: 200 \(201\)"):
        window.check("pods", 200)
    window.check("pods", 201)


def test_bookmarks_every_minute_and_before_the_timeout_with_the_rv_passed() -> None:
    marks = Bookmarks(True, 10, now=0.0, deadline=300.0)
    assert marks.wait(0.0) == 60.0 and marks.due(59.0) is None
    assert marks.due(60.0) is None               # nothing passed since rv 10: nothing to say
    marks.passed(17)
    marks.passed(12)                             # never backwards
    assert marks.due(119.0) is None and marks.due(120.0) == 17
    assert marks.due(180.0) is None               # sent already
    marks.passed(20)
    assert marks.due(240.0) == 20
    assert marks.wait(250.0) == 48.0              # 2 s before the end (298) comes before 300
    marks.passed(25)
    assert marks.due(299.0, ending=True) == 25    # however late the loop woke


def test_no_bookmarks_unless_allowed() -> None:
    marks = Bookmarks(False, 10, now=0.0, deadline=None)
    marks.passed(30)
    assert marks.wait(0.0) is None and marks.due(1e9) is None and marks.due(1e9, ending=True) is None
