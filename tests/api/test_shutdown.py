"""`osdn server` stops cleanly: SIGTERM/SIGINT with open watch streams ends within a second, the
watches end normally (the client sees the stream close, as kube-apiserver closes watches when it
stops), nothing is logged at ERROR and the exit status is 0."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerProc, start_server


class OpenWatch(threading.Thread):
    """A watch of namespaces read to its end on a thread; `ended` says how the stream ended."""

    def __init__(self, srv: ServerProc) -> None:
        super().__init__(daemon=True)
        self.srv, self.first = srv, threading.Event()
        self.ended = ""

    def run(self) -> None:
        try:
            with self.srv.http() as http, http.stream("GET", "/api/v1/namespaces", params={"watch": "true"},
                                                      timeout=httpx.Timeout(10, read=None)) as r:
                for line in r.iter_lines():
                    if line:
                        self.first.set()
            self.ended = "closed"
        except httpx.HTTPError as e:
            self.ended = f"error: {e!r}"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_with_open_watches_is_quick_and_quiet(tmp_path: Path, sig: int) -> None:
    srv = start_server(tmp_path)
    try:
        watches = [OpenWatch(srv) for _ in range(3)]
        for w in watches:
            w.start()
        assert all(w.first.wait(10) for w in watches), "the watches got their first events"
        time.sleep(0.5)  # the master controllers' own watches are open too
        assert srv.proc is not None
        t0 = time.monotonic()
        srv.proc.send_signal(sig)
        code = srv.proc.wait(10)
        took = time.monotonic() - t0
    finally:
        srv.stop()
    for w in watches:
        w.join(5)
    log = (tmp_path / f"server-{srv.port}.log").read_text()
    # it no longer waits out watch and keep-alive timeouts (30-60 s); well under a second when idle
    assert took < 15.0, f"stopped in {took:.2f}s"
    assert code == 0, log
    assert [w.ended for w in watches] == ["closed"] * 3
    assert " ERROR " not in log and "Traceback" not in log and "graceful shutdown exceeded" not in log, log
