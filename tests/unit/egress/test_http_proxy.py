"""The egress HTTP proxy on loopback: ACL verdicts, streaming, keep-alive, chunked, CONNECT, limits."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, cast

import pytest

from osdn.egress.http_acl import Decision, HttpAcl, decide, parse_http_destinations
from osdn.egress.http_conn import ClientConn, grow
from osdn.egress.http_proxy import HttpProxy
from osdn.egress.relay import Limits

Client = tuple[asyncio.StreamReader, asyncio.StreamWriter]
run_loop: Callable[[Coroutine[Any, Any, None]], None] = asyncio.run


@pytest.fixture(autouse=True, params=["asyncio", "uvloop"])
def loop_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test on asyncio's own loop and on uvloop (what `osdn egress-router` runs on)."""
    if request.param == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        monkeypatch.setattr(sys.modules[__name__], "run_loop", uvloop.run)


class Origin:
    """An HTTP origin on 127.0.0.1 that counts its connections and reports the client address."""

    def __init__(self) -> None:
        self.connections = 0

    async def handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.connections += 1
        while True:
            try:
                head = await r.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            line, *fields = head.decode().split("\r\n")
            method, path, _ = line.split(" ")
            hdrs = {k.lower(): v for k, _, v in (f.partition(": ") for f in fields if f)}
            body = b""
            if hdrs.get("transfer-encoding") == "chunked":
                while (size := int((await r.readuntil(b"\r\n")).strip(), 16)):
                    body += await r.readexactly(size)
                    await r.readexactly(2)
                await r.readuntil(b"\r\n")
            elif "content-length" in hdrs:
                body = await r.readexactly(int(hdrs["content-length"]))
            peer = w.get_extra_info("peername")[0]
            reply = f"{method} {path} from {peer} via={hdrs.get('via')} xff={hdrs.get('x-forwarded-for')} ".encode() + body
            if path == "/chunked":
                w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                for part in (reply, b"-tail"):
                    w.write(b"%x\r\n%s\r\n" % (len(part), part))
                w.write(b"0\r\nX-Trailer: yes\r\n\r\n")
            elif path == "/close":
                w.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + reply)
                await w.drain()
                w.close()
                return
            else:
                w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(reply), reply))
            await w.drain()
        w.close()


async def echo(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    while data := await r.read(65536):
        w.write(data)
        await w.drain()
    w.write(b"<eof seen>")
    w.close()


def run(test: Callable[[int, int, Origin], Awaitable[None]], config: str = "127.0.0.1",
        limits: Limits | None = None) -> None:
    async def main() -> None:
        origin = Origin()
        osrv = await asyncio.start_server(origin.handle, "127.0.0.1", 0)
        esrv = await asyncio.start_server(echo, "127.0.0.1", 0)
        psrv = await HttpProxy(parse_http_destinations(config), limits).serve("127.0.0.1", 0)
        try:
            await asyncio.wait_for(test(psrv.sockets[0].getsockname()[1], osrv.sockets[0].getsockname()[1],
                                        origin), 10)
            eport = esrv.sockets[0].getsockname()[1]
            await asyncio.wait_for(connect_check(psrv.sockets[0].getsockname()[1], eport, config), 10)
        finally:
            for s in (osrv, esrv, psrv):
                s.close()
    run_loop(main())


async def connect_check(pport: int, eport: int, config: str) -> None:
    """CONNECT is judged like any request; an allowed tunnel carries bytes both ways with half-close."""
    r, w = await asyncio.open_connection("127.0.0.1", pport)
    w.write(f"CONNECT 127.0.0.1:{eport} HTTP/1.1\r\nHost: 127.0.0.1:{eport}\r\n\r\n".encode() + b"early bytes ")
    status = await r.readuntil(b"\r\n\r\n")
    if not decide(parse_http_destinations(config), "127.0.0.1", ("127.0.0.1",)).allowed:
        assert status.startswith(b"HTTP/1.1 403")
        return
    assert status == b"HTTP/1.1 200 Connection established\r\n\r\n"
    w.write(b"x" * 300000)
    w.write_eof()
    data = await r.read(-1)
    assert data == b"early bytes " + b"x" * 300000 + b"<eof seen>"


async def send(c: Client, raw: bytes) -> tuple[bytes, bytes]:
    r, w = c
    w.write(raw)
    head = await r.readuntil(b"\r\n\r\n")
    length = [int(x.split(b":")[1]) for x in head.split(b"\r\n") if x.lower().startswith(b"content-length:")]
    body = await r.readexactly(length[0]) if length else b""
    return head, body


def test_keep_alive_reuses_both_connections() -> None:
    async def t(pport: int, oport: int, origin: Origin) -> None:
        c = await asyncio.open_connection("127.0.0.1", pport)
        for path in ("/a", "/b"):
            head, body = await send(c, f"GET http://127.0.0.1:{oport}{path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert head.startswith(b"HTTP/1.1 200 OK") and b"Connection: keep-alive" in head
            assert body.startswith(f"GET {path} from 127.0.0.1 via=1.1 osdn-egress-router xff=127.0.0.1".encode())
        assert origin.connections == 1
    run(t)


def test_denied_destination_gets_403_naming_the_rule() -> None:
    async def t(pport: int, oport: int, origin: Origin) -> None:
        c = await asyncio.open_connection("127.0.0.1", pport)
        head, body = await send(c, f"GET http://127.0.0.1:{oport}/ HTTP/1.1\r\n\r\n".encode())
        assert head.startswith(b"HTTP/1.1 403 Forbidden")
        assert b"access to 127.0.0.1:%d is denied by EGRESS_HTTP_PROXY_DESTINATION (line '!127.0.0.0/8')" % oport in body
        assert origin.connections == 0
    run(t, "!127.0.0.0/8\n*")


def test_default_deny_and_name_rules() -> None:
    async def t(pport: int, oport: int, origin: Origin) -> None:
        c = await asyncio.open_connection("127.0.0.1", pport)
        head, body = await send(c, f"GET http://localhost:{oport}/ HTTP/1.1\r\n\r\n".encode())
        assert head.startswith(b"HTTP/1.1 200"), head  # `localhost` allowed by name
        c = await asyncio.open_connection("127.0.0.1", pport)
        head, body = await send(c, f"GET http://127.0.0.1:{oport}/ HTTP/1.1\r\n\r\n".encode())
        assert head.startswith(b"HTTP/1.1 403") and b"no line allows it" in body
    run(t, "localhost")


def test_chunked_both_ways_with_trailers() -> None:
    async def t(pport: int, oport: int, origin: Origin) -> None:
        r, w = await asyncio.open_connection("127.0.0.1", pport)
        w.write(f"POST http://127.0.0.1:{oport}/chunked HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n".encode())
        head = await r.readuntil(b"\r\n\r\n")
        assert b"Transfer-Encoding: chunked" in head
        raw = await r.readuntil(b"X-Trailer: yes\r\n\r\n")
        assert b"POST /chunked from 127.0.0.1" in raw and raw.endswith(b"-tail\r\n0\r\nX-Trailer: yes\r\n\r\n")
        assert b"hello world" in raw
    run(t)


def test_http10_client_gets_dechunked_body_and_close() -> None:
    async def t(pport: int, oport: int, origin: Origin) -> None:
        r, w = await asyncio.open_connection("127.0.0.1", pport)
        w.write(f"GET http://127.0.0.1:{oport}/chunked HTTP/1.0\r\n\r\n".encode())
        data = await r.read(-1)
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.0 200") and b"Connection: close" in head and b"chunked" not in head
        assert body.startswith(b"GET /chunked") and body.endswith(b"-tail")
    run(t)


def test_close_delimited_response_streams_and_closes() -> None:
    async def t(pport: int, oport: int, origin: Origin) -> None:
        r, w = await asyncio.open_connection("127.0.0.1", pport)
        w.write(f"GET http://127.0.0.1:{oport}/close HTTP/1.1\r\n\r\n".encode())
        data = await r.read(-1)
        assert b"Connection: close" in data and data.endswith(b"GET /close from 127.0.0.1 via=1.1 osdn-egress-router "
                                                              b"xff=127.0.0.1 ")
    run(t)


def test_large_body_streams() -> None:
    async def t(pport: int, oport: int, origin: Origin) -> None:
        c = await asyncio.open_connection("127.0.0.1", pport)
        payload = bytes(range(256)) * 20000  # 5 MB
        head, body = await send(c, f"POST http://127.0.0.1:{oport}/up HTTP/1.1\r\nContent-Length: {len(payload)}"
                                   "\r\n\r\n".encode() + payload)
        assert head.startswith(b"HTTP/1.1 200") and body.endswith(payload)
    run(t)


BAD = [
    (b"GET http://127.0.0.1:%d/ HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n", b"HTTP/1.1 431"),
    (b"GET http://127.0.0.1:%d/ HTTP/1.1\r\n" + b"X: a\r\n" * 101 + b"\r\n", b"HTTP/1.1 431"),
    (b"POST http://127.0.0.1:%d/ HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", b"HTTP/1.1 400"),
    (b"POST http://127.0.0.1:%d/ HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", b"HTTP/1.1 400"),
    (b"GET http://127.0.0.1:%d/ HTTP/1.1\r\nX: a\r\n  folded\r\n\r\n", b"HTTP/1.1 400"),
    (b"GET /relative HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", b"HTTP/1.1 400"),
    (b"GET http://127.0.0.1:%d/ HTTP/2.0\r\n\r\n", b"HTTP/1.1 400"),
    (b"GET http://127.0.0.1:1/ HTTP/1.1\r\nX-Port: %d\r\n\r\n", b"HTTP/1.1 502"),
]


@pytest.mark.parametrize(("raw", "status"), BAD, ids=[f"bad{i + 1}" for i in range(len(BAD))])
def test_hostile_requests_are_refused(raw: bytes, status: bytes) -> None:
    async def t(pport: int, oport: int, origin: Origin) -> None:
        r, w = await asyncio.open_connection("127.0.0.1", pport)
        w.write(raw % oport)
        data = await r.read(-1)  # refused, then closed
        assert data.startswith(status), data[:200]
        assert origin.connections == 0
    run(t, "*")


def test_connection_limit_and_idle_timeout() -> None:
    async def t(pport: int, oport: int, origin: Origin) -> None:
        first = await asyncio.open_connection("127.0.0.1", pport)
        await asyncio.sleep(0.05)
        r, w = await asyncio.open_connection("127.0.0.1", pport)
        assert (await r.read(-1)).startswith(b"HTTP/1.1 503")
        assert await asyncio.wait_for(first[0].read(-1), 2) == b""  # idle: closed after 0.3 s
    run(t, "*", Limits(max_connections=1, idle_timeout=0.3))


def test_upstream_connections_are_pooled_across_clients_and_stale_ones_retried() -> None:
    async def t(pport: int, oport: int, origin: Origin) -> None:
        for _ in range(3):  # three clients, each closing after its request
            r, w = await asyncio.open_connection("127.0.0.1", pport)
            w.write(f"GET http://127.0.0.1:{oport}/x HTTP/1.1\r\nConnection: close\r\n\r\n".encode())
            assert (await r.read(-1)).startswith(b"HTTP/1.1 200")
        assert origin.connections == 1
        r, w = await asyncio.open_connection("127.0.0.1", pport)
        w.write(f"GET http://127.0.0.1:{oport}/close HTTP/1.1\r\n\r\n".encode())  # the origin closes this one
        assert b"GET /close" in await r.read(-1)
        c = await asyncio.open_connection("127.0.0.1", pport)
        head, _ = await send(c, f"GET http://127.0.0.1:{oport}/y HTTP/1.1\r\n\r\n".encode())
        assert head.startswith(b"HTTP/1.1 200")
    run(t)


def test_stalled_body_ends_the_connection_after_io_timeout() -> None:
    """The connection's one Deadline: a body that stops moving for io_timeout cuts the client off."""
    async def stall(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readuntil(b"\r\n\r\n")
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 10)
        await w.drain()
        await r.read()  # holds the connection open without sending the rest

    async def t(pport: int, oport: int, origin: Origin) -> None:
        srv = await asyncio.start_server(stall, "127.0.0.1", 0)
        try:
            r, w = await asyncio.open_connection("127.0.0.1", pport)
            w.write(f"GET http://127.0.0.1:{srv.sockets[0].getsockname()[1]}/ HTTP/1.1\r\n\r\n".encode())
            data = await asyncio.wait_for(r.read(-1), 8)  # ends: the proxy closed the connection
            assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"\r\n\r\n" + b"x" * 10)
        finally:
            srv.close()
    run(t, "*", Limits(io_timeout=0.3))


def test_a_tunnel_outlives_the_idle_timeout() -> None:
    async def t(pport: int, oport: int, origin: Origin) -> None:
        r, w = await asyncio.open_connection("127.0.0.1", pport)
        w.write(f"CONNECT 127.0.0.1:{oport} HTTP/1.1\r\n\r\n".encode())
        assert (await r.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        await asyncio.sleep(0.6)  # silent for longer than idle_timeout: a tunnel has io_timeout only
        w.write(b"GET /t HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await r.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
    run(t, "*", Limits(idle_timeout=0.3))


class FakeLoop:
    """time() and call_later() under the test's control."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[tuple[float, Callable[[], None]]] = []

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        self.timers.append((self.now + delay, fn))

    def run_until(self, t: float) -> None:
        while self.timers and min(self.timers, key=lambda x: x[0])[0] <= t:
            due = min(self.timers, key=lambda x: x[0])
            self.timers.remove(due)
            self.now = due[0]
            due[1]()
        self.now = t


class FakeConn:
    def __init__(self, proxy: HttpProxy, due: float) -> None:
        self.proxy, self.due, self.expired_at = proxy, due, -1.0

    def expire(self) -> None:
        assert self.proxy.loop is not None
        self.expired_at = self.proxy.loop.time()
        self.proxy.conns.discard(cast(ClientConn, self))


def test_the_sweep_ends_connections_past_due_never_before_and_stops_when_none_is_left() -> None:
    """One timer for all client connections (not one each): `due` comes from the sweep's clock, which
    may be a tick old, so a connection ends between one and two ticks after it, never before."""
    proxy = HttpProxy(parse_http_destinations("*"), Limits(idle_timeout=4, io_timeout=100))
    loop = FakeLoop()
    proxy.loop = cast(asyncio.AbstractEventLoop, loop)
    assert proxy.tick == 1.0
    loop.now = 50.0
    a, b = FakeConn(proxy, 0), FakeConn(proxy, 0)
    for conn in (a, b):
        proxy.watch(cast(ClientConn, conn))
    assert proxy.now == 50.0 and len(loop.timers) == 1  # one sweep for both
    a.due, b.due = 53.0, 56.5
    loop.run_until(53.99)
    assert a.expired_at < 0
    loop.run_until(60)
    assert a.expired_at == 54.0 and b.expired_at == 58.0
    assert not proxy.sweeping and not loop.timers  # nothing left to check: no timer either
    c = FakeConn(proxy, 0)
    loop.now = 100.0
    proxy.watch(cast(ClientConn, c))
    assert proxy.now == 100.0  # a fresh clock when the sweep starts again


def test_a_connect_that_hangs_gets_504_and_the_connection_serves_on() -> None:
    """A full accept queue drops SYNs, so a connect there hangs until connect_timeout: 504."""
    async def t(pport: int, oport: int, origin: Origin) -> None:
        full = socket.socket()
        full.bind(("127.0.0.4", 0))
        full.listen(0)
        hang = full.getsockname()[1]
        queued = socket.create_connection(("127.0.0.4", hang), timeout=5)  # never accepted: the queue is full
        try:
            c = await asyncio.open_connection("127.0.0.1", pport)
            head, _ = await send(c, f"GET http://127.0.0.4:{hang}/ HTTP/1.1\r\n\r\n".encode())
            assert head.startswith(b"HTTP/1.1 504")
            r, w = await asyncio.open_connection("127.0.0.1", pport)
            w.write(f"CONNECT 127.0.0.4:{hang} HTTP/1.1\r\n\r\n".encode())
            assert (await asyncio.wait_for(r.read(-1), 20)).startswith(b"HTTP/1.1 504")
            c = await asyncio.open_connection("127.0.0.1", pport)  # the proxy serves on
            head, _ = await send(c, f"GET http://127.0.0.1:{oport}/after HTTP/1.1\r\n\r\n".encode())
            assert head.startswith(b"HTTP/1.1 200")
        finally:
            queued.close()
            full.close()
    run(t, "*", Limits(connect_timeout=0.3))


def test_a_tunnel_upstream_that_speaks_first_and_a_refused_connect() -> None:
    """The 200 comes before the upstream's greeting; a refused connect is a 502 naming the port."""
    async def greeter(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"220 hello\n")  # speaks first, as SMTP does
        w.write(await r.read(100))
        w.close()

    async def t(pport: int, oport: int, origin: Origin) -> None:
        srv = await asyncio.start_server(greeter, "127.0.0.1", 0)
        try:
            r, w = await asyncio.open_connection("127.0.0.1", pport)
            w.write(f"CONNECT 127.0.0.1:{srv.sockets[0].getsockname()[1]} HTTP/1.1\r\n\r\n".encode())
            assert await r.readuntil(b"\r\n\r\n") == b"HTTP/1.1 200 Connection established\r\n\r\n"
            assert await r.readline() == b"220 hello\n"
            w.write(b"EHLO x\n")
            assert await r.read(-1) == b"EHLO x\n"
            w.close()
            free = socket.socket()
            free.bind(("127.0.0.1", 0))
            closed_port = free.getsockname()[1]
            free.close()  # nothing listens there
            r, w = await asyncio.open_connection("127.0.0.1", pport)
            w.write(f"CONNECT 127.0.0.1:{closed_port} HTTP/1.1\r\n\r\n".encode())
            reply = await r.read(-1)
            assert reply.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
            assert f"cannot connect to port {closed_port} of 127.0.0.1:".encode() in reply
            w.close()
        finally:
            srv.close()
    run(t, "*")


def test_a_silent_tunnel_is_closed_after_io_timeout() -> None:
    """The forwarder's sweep (a timer of the asyncio loop it is attached to) ends an idle tunnel."""
    async def t(pport: int, oport: int, origin: Origin) -> None:
        r, w = await asyncio.open_connection("127.0.0.1", pport)
        w.write(f"CONNECT 127.0.0.1:{oport} HTTP/1.1\r\n\r\n".encode())
        assert (await r.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        assert await asyncio.wait_for(r.read(-1), 20) == b""  # nothing sent either way: closed
        w.close()
    run(t, "*", Limits(io_timeout=0.3))


def test_verdicts_are_remembered_per_host_and_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ACL is evaluated once per (host, addresses): the rules never change while the proxy runs;
    a denied destination stays denied on every connection."""
    import osdn.egress.http_proxy as http_proxy

    calls: list[str] = []

    def counting(acl: HttpAcl, host: str, addrs: tuple[str, ...], resolved: dict[str, tuple[str, ...]]) -> Decision:
        calls.append(host)
        return decide(acl, host, addrs, resolved)

    monkeypatch.setattr(http_proxy, "decide", counting)

    async def t(pport: int, oport: int, origin: Origin) -> None:
        for _ in range(3):  # a new client and a new upstream connection each time
            c = await asyncio.open_connection("127.0.0.1", pport)
            head, _ = await send(c, f"GET http://127.0.0.2:{oport}/ HTTP/1.1\r\nConnection: close\r\n\r\n".encode())
            assert head.startswith(b"HTTP/1.1 403")
        assert calls == ["127.0.0.2"]
    run(t, "!127.0.0.2\n*")


def test_a_tunnel_to_an_ipv6_address() -> None:
    async def t(pport: int, oport: int, origin: Origin) -> None:
        try:
            srv = await asyncio.start_server(echo, "::1", 0)
        except OSError:
            pytest.skip("no IPv6 loopback here")
        try:
            r, w = await asyncio.open_connection("127.0.0.1", pport)
            w.write(f"CONNECT [::1]:{srv.sockets[0].getsockname()[1]} HTTP/1.1\r\n\r\nv6".encode())
            assert await r.readuntil(b"\r\n\r\n") == b"HTTP/1.1 200 Connection established\r\n\r\n"
            w.write_eof()
            assert await asyncio.wait_for(r.read(-1), 20) == b"v6<eof seen>"
            w.close()
        finally:
            srv.close()
    run(t, "*")


def test_pipelined_requests_with_a_body_are_answered_in_order() -> None:
    async def t(pport: int, oport: int, origin: Origin) -> None:
        r, w = await asyncio.open_connection("127.0.0.1", pport)
        w.write(f"POST http://127.0.0.1:{oport}/p1 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                f"GET http://127.0.0.1:{oport}/p2 HTTP/1.1\r\n\r\n"
                f"POST http://127.0.0.1:{oport}/p3 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                "3\r\nabc\r\n0\r\n\r\n".encode())  # all three in one write
        for path, body in (("/p1", b"hello"), ("/p2", b""), ("/p3", b"abc")):
            head, got = await send((r, w), b"")
            assert head.startswith(b"HTTP/1.1 200") and got.startswith(f"POST {path}".encode()
                                                                       if body else f"GET {path}".encode())
            assert got.endswith(b" " + body)
        assert origin.connections == 1
    run(t)


def test_a_response_head_cut_short_is_a_502() -> None:
    async def cut(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readuntil(b"\r\n\r\n")
        w.write(b"HTTP/1.1 200 OK\r\nContent-Le")
        await w.drain()
        w.close()

    async def t(pport: int, oport: int, origin: Origin) -> None:
        srv = await asyncio.start_server(cut, "127.0.0.1", 0)
        try:
            r, w = await asyncio.open_connection("127.0.0.1", pport)
            w.write(f"GET http://127.0.0.1:{srv.sockets[0].getsockname()[1]}/ HTTP/1.1\r\n\r\n".encode())
            reply = await asyncio.wait_for(r.read(-1), 20)
            assert reply.startswith(b"HTTP/1.1 502 Bad Gateway") and b"without a complete response" in reply
        finally:
            srv.close()
    run(t)


def test_a_client_that_does_not_read_pauses_the_origin_until_it_reads() -> None:
    """Bounded memory: the response fills the client's write buffer, then the proxy stops reading the
    origin (whose writes then wait) until the client reads again; the body arrives whole."""
    size = 48 << 20
    sent = [0]

    async def big(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readuntil(b"\r\n\r\n")
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        piece = b"b" * 65536
        while sent[0] < size:
            w.write(piece)
            sent[0] += len(piece)
            await w.drain()

    async def main() -> None:
        srv = await asyncio.start_server(big, "127.0.0.1", 0)
        proxy = HttpProxy(parse_http_destinations("*"))
        psrv = await proxy.serve("127.0.0.1", 0)
        try:
            r, w = await asyncio.open_connection("127.0.0.1", psrv.sockets[0].getsockname()[1])
            w.write(f"GET http://127.0.0.1:{srv.sockets[0].getsockname()[1]}/ HTTP/1.1\r\n\r\n".encode())
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while not any(c.upstream is not None and c.upstream.rpaused for c in proxy.conns):
                assert loop.time() < deadline, "the origin was never paused"
                await asyncio.sleep(0.02)
            assert sent[0] < size  # the origin waits: the proxy holds no more than its buffers
            await r.readuntil(b"\r\n\r\n")
            got = 0
            while got < size:
                got += len(await r.read(1 << 20))
            assert got == size
        finally:
            srv.close()
            psrv.close()
    run_loop(main())


def test_a_client_that_never_reads_is_cut_off_after_io_timeout() -> None:
    """Its connection is aborted, not closed after a flush that would never end."""
    async def big(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readuntil(b"\r\n\r\n")
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (64 << 20))
        with contextlib.suppress(ConnectionError):
            while True:
                w.write(b"b" * 65536)
                await w.drain()

    async def main() -> None:
        srv = await asyncio.start_server(big, "127.0.0.1", 0)
        proxy = HttpProxy(parse_http_destinations("*"), Limits(io_timeout=0.3))
        psrv = await proxy.serve("127.0.0.1", 0)
        try:
            r, w = await asyncio.open_connection("127.0.0.1", psrv.sockets[0].getsockname()[1])
            w.write(f"GET http://127.0.0.1:{srv.sockets[0].getsockname()[1]}/ HTTP/1.1\r\n\r\n".encode())
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while not proxy.conns:
                assert loop.time() < deadline
                await asyncio.sleep(0.01)
            while proxy.conns or proxy.active:  # never read: gone all the same
                assert loop.time() < deadline, "the connection outlived its io_timeout"
                await asyncio.sleep(0.05)
            w.close()
        finally:
            srv.close()
            psrv.close()
    run_loop(main())


def test_a_buffer_grows_in_place_once_it_has_two_pieces() -> None:
    one = grow(b"", b"GET ")
    assert one == b"GET "
    two = grow(one, b"http")
    assert grow(two, b"://") is two and two == b"GET http://"  # appended, not copied again


def test_a_head_trickled_a_byte_at_a_time_is_served() -> None:
    async def t(pport: int, oport: int, origin: Origin) -> None:
        r, w = await asyncio.open_connection("127.0.0.1", pport)
        raw = f"GET http://127.0.0.1:{oport}/slow HTTP/1.1\r\nX-A: 1\r\n\r\n".encode()
        for i in range(len(raw)):
            w.write(raw[i:i + 1])
            await w.drain()
            await asyncio.sleep(0.002)
        head, body = await send((r, w), b"")
        assert head.startswith(b"HTTP/1.1 200") and body.startswith(b"GET /slow from 127.0.0.1")
    run(t)


def test_a_body_cut_short_by_the_client_is_not_waited_for() -> None:
    """The client ends (EOF) before its body while the upstream connection is being opened."""
    async def t(pport: int, oport: int, origin: Origin) -> None:
        r, w = await asyncio.open_connection("127.0.0.1", pport)
        w.write(f"POST http://127.0.0.1:{oport}/cut HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc".encode())
        w.write_eof()
        assert await asyncio.wait_for(r.read(-1), 20) == b""  # closed, not held for io_timeout
    run(t)


def test_a_connect_pipelined_behind_a_response_waits_for_it_to_go_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tunnel takes the client socket only once the earlier response has all been written. Small
    socket buffers and a client that reads nothing yet keep part of the response (40 KB, less than
    the transport's 64 KiB high-water mark, so it all arrives) in the proxy's write buffer when the
    CONNECT is judged."""
    waited: list[int] = []

    async def main() -> None:
        osrv = await asyncio.start_server(Origin().handle, "127.0.0.1", 0)
        esrv = await asyncio.start_server(echo, "127.0.0.1", 0)
        proxy = HttpProxy(parse_http_destinations("*"))
        tunnel = proxy.tunnel

        def recording(c: ClientConn, addrs: tuple[str, ...]) -> None:
            assert c.t is not None
            waited.append(c.t.get_write_buffer_size())
            tunnel(c, addrs)

        monkeypatch.setattr(proxy, "tunnel", recording)
        psrv = await proxy.serve("127.0.0.1", 0)
        psrv.sockets[0].setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # inherited when accepted
        try:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(psrv.sockets[0].getsockname())
            r, w = await asyncio.open_connection(sock=sock)
            payload = bytes(range(200)) * 200  # 40 KB, echoed back by the origin
            oport, eport = osrv.sockets[0].getsockname()[1], esrv.sockets[0].getsockname()[1]
            w.write(f"POST http://127.0.0.1:{oport}/big HTTP/1.1\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
                    + payload + f"CONNECT 127.0.0.1:{eport} HTTP/1.1\r\n\r\nearly ".encode())
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 20
            while not waited:  # nothing read yet: the response's end waits in the proxy
                assert loop.time() < deadline, "the CONNECT was never judged"
                await asyncio.sleep(0.01)
            assert waited[0] > 0
            head, body = await send((r, w), b"")
            assert head.startswith(b"HTTP/1.1 200") and body.endswith(payload)
            assert await r.readuntil(b"\r\n\r\n") == b"HTTP/1.1 200 Connection established\r\n\r\n"
            w.write(b"late")
            w.write_eof()
            assert await asyncio.wait_for(r.read(-1), 20) == b"early late<eof seen>"
            assert waited[-1] == 0  # it went on once the buffer had drained
            w.close()
        finally:
            for s in (osrv, esrv, psrv):
                s.close()
    run_loop(main())
