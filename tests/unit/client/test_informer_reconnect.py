"""An informer rides out a server that goes away: it keeps its cache, retries with backoff, logs its
return at INFO and re-lists; a watch that ran its course resets the backoff (scripted server)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
from polling import wait_for

from osdn.client import ClientConfig
from osdn.client.backoff import Backoff, reconnect_backoff
from osdn.client.informer import Informer
from tests.unit.client.fakeapi import FakeApi, WatchScript, namespace


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi()
    fake.put(namespace("a", 1))
    yield fake
    fake.close()


@pytest.fixture
def informer(api: FakeApi) -> Iterator[tuple[Informer, list[float]]]:
    delays: list[float] = []

    def sleep(delay: float) -> None:
        delays.append(delay)
        time.sleep(0.005)

    inf = Informer(ClientConfig(server=api.url, token="t"), "Namespace",
                   backoff=Backoff(initial=0.01, cap=0.08, jitter=0.5, rand=lambda: 0.0), sleep=sleep)
    inf.start()
    yield inf, delays
    inf._stop.set()
    api._closing.set()
    api.scripts.put(WatchScript(b""))  # a watch waiting for its script ends
    assert inf._thread is not None
    inf._thread.join(10)
    assert not inf._thread.is_alive()


def reopen(api: FakeApi) -> None:
    """Serve again on the same port (the API server is back)."""
    port = api.httpd.server_address[1]
    api._closing = threading.Event()
    api.httpd = ThreadingHTTPServer(("127.0.0.1", port), api._handler())
    api.httpd.daemon_threads = True
    threading.Thread(target=api.httpd.serve_forever, daemon=True).start()


def test_server_away_keeps_the_cache_then_relists_and_logs_the_return(
        api: FakeApi, informer: tuple[Informer, list[float]], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="osdn.client.informer")
    inf, delays = informer
    assert inf.wait_synced(20)
    api.scripts.put(WatchScript(b"", hold=True))
    api.close()                                   # the held watch ends, then connections are refused
    wait_for(lambda: len(delays) >= 5)
    assert [o["metadata"]["name"] for o in inf.items()] == ["a"], "the cache must outlive the server"
    assert delays[:5] == [0.01, 0.02, 0.04, 0.08, 0.08]
    api.put(namespace("b", 2))                    # changed while the informer could not see it
    api.scripts.put(WatchScript(b"", hold=True))
    reopen(api)
    wait_for(lambda: inf.get("b") is not None)
    back = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any(m.startswith("namespaces informer: back after ") and "2 objects re-listed" in m for m in back), back


def test_a_watch_that_ran_its_course_resets_the_backoff(api: FakeApi,
                                                      informer: tuple[Informer, list[float]]) -> None:
    inf, delays = informer
    for script in (WatchScript(b"", broken=True), WatchScript(b"", broken=True), WatchScript(b""),
                   WatchScript(b"", broken=True), WatchScript(b"", hold=True)):
        api.scripts.put(script)
    wait_for(lambda: len(delays) >= 3)
    assert delays[:3] == [0.01, 0.02, 0.01], "the clean end between the failures starts the backoff again"


def test_reconnect_backoff_spreads_a_fleet_over_up_to_twice_the_delay() -> None:
    low, mid = reconnect_backoff(), reconnect_backoff()
    low.rand, mid.rand = (lambda: 0.0), (lambda: 0.5)
    assert [low.next() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert [mid.next() for _ in range(7)] == [0.75, 1.5, 3.0, 6.0, 12.0, 15.0, 15.0]  # rand 1: twice
