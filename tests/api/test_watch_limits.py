"""Bounded resources at the edge, against a real server and real sockets.

Stalled watchers (raw sockets that never read) while 300 objects of 1 MB are written: the server's
memory stays bounded (each watcher's queue is capped, then the stalled connection is cut) and a
watcher that reads gets every event. Slow or idle connections and oversized headers are closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from uvicorn.server import ServerState

from osdn.apiserver.connections import ConnectionLimits, protocol_class
from osdn.apiserver.watchqueue import WatchLimits, WatchQueue
from osdn.store import Event, Key
from tests.conftest import ServerProc, start_server

MB = 1024 * 1024


def rss_mb(srv: ServerProc) -> float:
    assert srv.proc is not None
    for line in Path(f"/proc/{srv.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def raw_socket(srv: ServerProc, rcvbuf: int | None = None) -> socket.socket:
    """A plain or TLS socket to the server (as the server speaks), optionally with a tiny receive buffer."""
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", srv.port))
    if isinstance(srv.verify, ssl.SSLContext):
        return srv.verify.wrap_socket(sock, server_hostname="127.0.0.1")
    return sock


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed `sock` (reading and discarding what it sent), or None."""
    start = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - start < seconds:
        try:
            if sock.recv(65536) == b"":
                return time.monotonic() - start
        except TimeoutError:
            continue
        except (ConnectionResetError, ssl.SSLError):
            return time.monotonic() - start
    return None


def dribble(sock: socket.socket, pieces: list[bytes]) -> int:
    """Send one piece every 0.25 s until the server closes the connection; how many were sent."""
    for sent, piece in enumerate(pieces):
        try:
            sock.sendall(piece)
        except (OSError, ssl.SSLError):
            return sent
        if closed_within(sock, 0.25) is not None:
            return sent + 1
    return len(pieces)


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[ServerProc]:
    srv = start_server(tmp_path, "--no-controllers", "--write-stall-timeout", "3", "--request-header-timeout", "1",
                       "--request-body-timeout", "1")
    try:
        yield srv
    finally:
        srv.stop()


def test_stalled_watchers_are_cut_and_memory_stays_bounded(limited: ServerProc) -> None:
    srv = limited
    with srv.http() as http:
        assert http.post("/api/v1/namespaces", json={"metadata": {"name": "w"}}).status_code == 201
        r = http.post("/api/v1/namespaces/w/configmaps", json={"metadata": {"name": "big"}, "data": {"blob": ""}})
        assert r.status_code == 201
        start_rv = r.json()["metadata"]["resourceVersion"]
    seen: list[str] = []

    def reader() -> None:
        with srv.http() as h, h.stream("GET", "/api/v1/namespaces/w/configmaps",
                                       params={"watch": "true", "resourceVersion": start_rv}, timeout=None) as s:
            for line in s.iter_lines():
                seen.append(line[:40])
                if len(seen) == 300:
                    return

    reading = threading.Thread(target=reader, daemon=True)
    reading.start()
    request = (f"GET /api/v1/namespaces/w/configmaps?watch=true HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: Bearer {srv.admin_token}\r\n\r\n").encode()
    stalled = [raw_socket(srv, rcvbuf=4096) for _ in range(3)]
    with contextlib.ExitStack() as stack:
        for sock in stalled:
            stack.callback(sock.close)
            sock.sendall(request)
        time.sleep(0.5)
        before = rss_mb(srv)
        with srv.http() as http:
            for i in range(300):
                r = http.patch("/api/v1/namespaces/w/configmaps/big", json={"data": {"blob": f"{i:04}" + "x" * MB}},
                               headers={"Content-Type": "application/merge-patch+json"})
                assert r.status_code == 200, r.text[:300]
        grown = rss_mb(srv) - before
        reading.join(120)  # 300 MB of events: slow on a loaded machine
        assert len(seen) == 300, f"the reading watcher got {len(seen)} of 300 events"
        assert grown < 200, f"server RSS grew by {grown:.0f} MB with 3 stalled watchers"
        for sock in stalled:
            assert closed_within(sock, 60) is not None, "a stalled watcher was not disconnected"
    log = (srv.data_dir.parent / f"server-{srv.port}.log").read_text()
    # Which bound cuts a stalled watcher first depends on the machine's speed: its queue (the events
    # outrun it) or the write-stall timeout (the writes are slow under load). Either is the server's.
    assert "watch of configmaps by system:admin fell behind" in log or "took no data for 3s" in log


def test_slow_idle_and_oversized_requests_are_closed(limited: ServerProc) -> None:
    srv = limited
    with raw_socket(srv) as idle, raw_socket(srv) as drip:
        drip.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        sent = dribble(drip, [f"X-Drip-{i}: y\r\n".encode() for i in range(20)])   # headers never complete
        assert sent < 12, "a slowloris connection stayed open"
        assert closed_within(idle, 3) is not None, "an idle connection stayed open"
    with raw_socket(srv) as big:
        big.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 100_000)
        big.settimeout(3)
        assert big.recv(100).startswith(b"HTTP/1.1 431 ")
    with raw_socket(srv) as body:
        body.sendall(f"POST /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {srv.admin_token}\r\n"
                     "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{".encode())
        assert dribble(body, [b" "] * 20) < 12, "a slow request body kept its connection open"
    with srv.http() as http:                       # the server itself is fine
        assert http.get("/healthz").status_code == 200
    log = (srv.data_dir.parent / f"server-{srv.port}.log").read_text()
    assert log.count("no complete request headers within 1s") == 2
    assert "headers larger than 65536 bytes" in log and "request body not complete within 1s" in log


def _event(rv: int, size: int) -> Event:
    return Event("MODIFIED", Key("configmaps", "w", "big"), rv, {"metadata": {}}, b"x" * size)


@pytest.mark.parametrize("limits, sizes, kept", [
    (WatchLimits(max_events=3, max_bytes=1000), [10, 10, 10], 3),
    (WatchLimits(max_events=3, max_bytes=1000), [10, 10, 10, 10], 0),
    (WatchLimits(max_events=100, max_bytes=25), [10, 10, 10], 0),
], ids=["at-the-limit", "one-event-too-many", "too-many-bytes"])
def test_a_watch_queue_past_its_limits_drops_everything(limits: WatchLimits, sizes: list[int], kept: int) -> None:
    async def run() -> tuple[list[int], str]:
        queue = WatchQueue(asyncio.get_running_loop(), limits, "watch of configmaps by test")
        for rv, size in enumerate(sizes, 1):
            threading.Thread(target=queue.put, args=(_event(rv, size),)).start()   # the store's writer thread
            await asyncio.sleep(0.01)
        got = []
        while (event := await queue.get(0.05)) is not None:
            got.append(event.rv)
        return got, queue.overflow

    got, overflow = asyncio.run(run())
    assert got == list(range(1, kept + 1))
    assert bool(overflow) == (kept == 0)



class FakeTransport(asyncio.Transport):
    """What GuardedHttp needs of a transport: a write buffer whose size the test sets, and abort."""

    def __init__(self) -> None:
        super().__init__()
        self.buffered, self.aborted = 0, False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True


def test_the_write_stall_deadline_spares_a_slow_reader_and_cuts_a_stalled_one() -> None:
    async def run() -> list[tuple[str, bool]]:
        async def app(scope: object, receive: object, send: object) -> None:
            pass

        config = uvicorn.Config(app, log_level="warning")
        proto = protocol_class(ConnectionLimits(write_stall_timeout=0.1))(config, ServerState(), {})
        transport = FakeTransport()
        proto.connection_made(transport)
        seen = []
        transport.buffered = 1_000_000
        proto.pause_writing()
        for _ in range(5):                          # it reads a little every 0.06 s: 0.3 s, never cut
            await asyncio.sleep(0.06)
            transport.buffered -= 10_000
        seen.append(("slow reader", transport.aborted))
        await asyncio.sleep(0.25)                   # then it stops reading
        seen.append(("stalled", transport.aborted))
        return seen

    assert asyncio.run(run()) == [("slow reader", False), ("stalled", True)]


def test_an_idle_keep_alive_connection_is_closed_quietly(tmp_path: Path) -> None:
    """A client that got its answer and then went silent (it does not even answer the TLS goodbye) is
    closed by the idle timeout; the header deadline that runs out after it is no news for the log."""
    srv = start_server(tmp_path, "--no-controllers", "--idle-timeout", "1", "--request-header-timeout", "2")
    try:
        with raw_socket(srv) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.settimeout(10)
            assert sock.recv(100).startswith(b"HTTP/1.1 200 ")
            answered = time.monotonic()
            time.sleep(3.5)  # silent past the idle timeout (1 s) and the header deadline (2 s)
            assert time.monotonic() - answered > 2
        with srv.http() as http:
            assert http.get("/healthz").status_code == 200
        log = (srv.data_dir.parent / f"server-{srv.port}.log").read_text()
        assert "no complete request headers" not in log, log
    finally:
        srv.stop()
