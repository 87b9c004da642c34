"""The informer never dies: odd characters, bad lines, cut streams and failing handlers all end in a
logged WARNING, a backoff and a re-list that delivers every object again (against a scripted server)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from polling import wait_for

from osdn.client import ClientConfig
from osdn.client.backoff import Backoff
from osdn.client.informer import Informer
from tests.unit.client.fakeapi import FakeApi, WatchScript, event_line, namespace

TRICKY = "line\u2028sep\u0085nel\u2029par"


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.fail_on: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, kind: str, new: dict[str, Any] | None, old: dict[str, Any] | None) -> None:
        name = (new or old or {})["metadata"]["name"]
        with self.lock:
            self.events.append((kind, name))
        if name in self.fail_on:
            self.fail_on.discard(name)
            raise RuntimeError(f"handler bug on {name}")

    def seen(self, kind: str, name: str) -> bool:
        with self.lock:
            return (kind, name) in self.events


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi()
    fake.put(namespace("a", 1))
    yield fake
    fake.close()


@pytest.fixture
def run(api: FakeApi) -> Iterator[Callable[[Recorder], tuple[Informer, list[float]]]]:
    started: list[Informer] = []

    def start(handler: Recorder, hold: Callable[[int], object] = lambda n: None) -> tuple[Informer, list[float]]:
        """`hold(n)` runs in the informer's n-th backoff sleep (which sleeps no time): a test pauses there."""
        delays: list[float] = []

        def sleep(seconds: float) -> None:
            delays.append(seconds)
            hold(len(delays))
        informer = Informer(ClientConfig(server=api.url, token="t"), "Namespace", handlers=[handler],
                            backoff=Backoff(initial=0.01, cap=0.04, jitter=0.5, rand=lambda: 0.0), sleep=sleep)
        started.append(informer.start())
        return informer, delays

    yield start
    for informer in started:
        informer._stop.set()
    api.close()
    for informer in started:
        assert informer._thread is not None
        informer._thread.join(5)
        assert not informer._thread.is_alive()


def test_separator_characters_in_an_object_are_data(api: FakeApi, run: Any) -> None:
    api.scripts.put(WatchScript(event_line("ADDED", namespace("b", 2, {"note": TRICKY})), hold=True))
    handler = Recorder()
    informer, delays = run(handler)
    wait_for(lambda: handler.seen("ADDED", "b"))
    assert informer.get("b")["metadata"]["annotations"]["note"] == TRICKY
    assert delays == [] and api.lists == 1


def test_bad_line_cut_stream_and_handler_error_relist_with_backoff(
        api: FakeApi, run: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="osdn.client.informer")
    api.scripts.put(WatchScript(event_line("ADDED", namespace("b", 2)) + b"{not json\n"))
    api.scripts.put(WatchScript(event_line("ADDED", namespace("c", 3))[:20], broken=True))
    api.scripts.put(WatchScript(event_line("ADDED", namespace("boom", 4)), hold=True))
    api.put(namespace("b", 2))
    api.put(namespace("c", 3))
    handler = Recorder()
    handler.fail_on.add("boom")
    resume = threading.Event()                      # the re-list after the handler error waits for it
    informer, delays = run(handler, lambda n: n == 3 and resume.wait(30))
    wait_for(lambda: api.lists >= 3)                # after the bad line and after the cut stream
    wait_for(lambda: handler.seen("ADDED", "boom"))
    wait_for(lambda: len(delays) == 3)              # the handler failed: backing off
    api.put(namespace("boom", 4))
    api.scripts.put(WatchScript(b"", hold=True))
    resume.set()
    wait_for(lambda: api.lists >= 4)                # after the handler error
    wait_for(lambda: handler.events.count(("MODIFIED", "boom")) >= 1)
    assert sorted(o["metadata"]["name"] for o in informer.items()) == ["a", "b", "boom", "c"]
    assert delays == [0.01, 0.02, 0.04]             # no event was applied in between: no reset
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3 and all(w.startswith("namespaces informer: ") for w in warnings)
    assert "not valid JSON" in warnings[0] and "failed" in warnings[1] and "handler failed on ADDED boom: Recorder: RuntimeError: handler bug on boom" in warnings[2]
    for name in ("a", "b", "c"):                    # every re-list after an error delivered every object
        assert handler.events.count(("MODIFIED", name)) >= 2, (name, handler.events)
