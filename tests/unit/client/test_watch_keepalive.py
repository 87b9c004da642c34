"""A watch's connection carries TCP keepalive, so a server that vanishes without closing it (power
loss, partition) is noticed by the kernel (~30 s) instead of leaving the informer waiting for ever.
Checked from the kernel's own view of the socket (`ss -o` shows the keepalive timer)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
import time

import pytest

from osdn.client import Client, ClientConfig
from osdn.errors import OsdnError
from tests.unit.client.fakeapi import FakeApi, WatchScript


def keepalive_timers(port: int) -> list[str]:
    done = subprocess.run(["ss", "-tnoH", "state", "established", "dst", f"127.0.0.1:{port}"],
                          capture_output=True, text=True, timeout=30, check=True)
    return [line for line in done.stdout.splitlines() if line.strip()]


def test_a_watch_connection_has_tcp_keepalive() -> None:
    if shutil.which("ss") is None:
        pytest.skip("ss (iproute2) is absent")
    api = FakeApi()
    client = Client(ClientConfig(server=api.url, token="t"))
    api.scripts.put(WatchScript(b"", hold=True))

    def watch() -> None:
        with contextlib.suppress(OsdnError):  # the stream breaks when the fake server closes
            list(client.watch("Namespace"))

    watching = threading.Thread(target=watch, daemon=True)
    watching.start()
    try:
        port = api.httpd.server_address[1]
        deadline = time.monotonic() + 30
        while not (lines := keepalive_timers(port)):
            assert time.monotonic() < deadline, "the watch never connected"
            time.sleep(0.05)
        assert all("timer:(keepalive," in line for line in lines), lines
    finally:
        api.close()
        watching.join(10)
        client.close()
