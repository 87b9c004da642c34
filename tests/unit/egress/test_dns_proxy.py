"""The egress DNS proxy on loopback: IP and name targets, run-time re-resolution, retries, debug log.

The proxy's epoll loop runs in a thread (`running`); the origins and clients are asyncio."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
from collections.abc import Iterator

import pytest

from osdn.egress.dns_config import parse_dns_destinations
from osdn.egress.dns_proxy import DnsProxy, DnsProxyOptions


async def tagged_echo(tag: bytes, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    data = await r.read(-1)
    w.write(tag + data)
    await w.drain()
    w.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running(*proxies: DnsProxy) -> Iterator[None]:
    threads = []
    try:
        for p in proxies:
            p.bind("127.0.0.1")
            threads.append(threading.Thread(target=p.run, daemon=True))
            threads[-1].start()
        yield
    finally:
        for p in proxies:
            p.stop()
        for t in threads:
            t.join(20)


async def roundtrip(port: int, payload: bytes) -> bytes:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    try:
        w.write(payload)
        w.write_eof()
        data = await r.read(-1)
    except OSError:  # closed by the proxy (with our bytes unread: a reset) before or while we wrote
        data = b""
    w.close()
    return data


def test_ip_and_name_targets_with_remote_port(capsys: pytest.CaptureFixture[str]) -> None:
    async def main() -> None:
        a = await asyncio.start_server(lambda r, w: tagged_echo(b"A:", r, w), "127.0.0.2", 0)
        b = await asyncio.start_server(lambda r, w: tagged_echo(b"B:", r, w), "127.0.0.3", a.sockets[0].getsockname()[1])
        port = a.sockets[0].getsockname()[1]
        answers = {"db.example.test": ("127.0.0.2",)}
        now = [0.0]

        def resolve(name: str, _port: int) -> tuple[str, ...]:
            return answers[name]

        p1, p2 = free_port(), free_port()
        dests = parse_dns_destinations(f"# comment\n\n{p1} 127.0.0.2 {port}\n{p2} db.example.test {port}\n")
        proxy = DnsProxy(dests, DnsProxyOptions(debug=True), resolve=resolve, clock=lambda: now[0])
        try:
            with running(proxy):
                by_ip, by_name = dests[0].listen_port, dests[1].listen_port
                assert await roundtrip(by_ip, b"hi") == b"A:hi"
                assert await roundtrip(by_name, b"x" * 100000) == b"A:" + b"x" * 100000
                answers["db.example.test"] = ("127.0.0.3",)
                now[0] = 0.5  # within the resolution interval: the old answer
                assert await roundtrip(by_name, b"q") == b"A:q"
                now[0] = 1.6  # re-resolved
                assert await roundtrip(by_name, b"q") == b"B:q"
        finally:
            a.close()
            b.close()

    asyncio.run(main())
    out = capsys.readouterr().out
    assert re.search(r"127\.0\.0\.1:\d+ fe1 :\d+ -> be1/127\.0\.0\.2:\d+ [\d.]+s 2 bytes up 4 bytes down", out)
    assert re.search(r"fe2 :\d+ -> be2/127\.0\.0\.2:", out) and "be2/127.0.0.3:" in out


def test_failed_connect_tries_the_next_address_and_resolver_failure_holds(capsys: pytest.CaptureFixture[str]) -> None:
    async def main() -> None:
        a = await asyncio.start_server(lambda r, w: tagged_echo(b"A:", r, w), "127.0.0.2", 0)
        port = a.sockets[0].getsockname()[1]
        calls = []
        now = [0.0]

        def resolve(name: str, _port: int) -> tuple[str, ...]:
            calls.append(now[0])
            if now[0] > 5:
                raise OSError("resolver down")
            return ("127.0.0.9", "127.0.0.2")  # nothing listens on .9

        listen = free_port()
        dests = parse_dns_destinations(f"{listen} svc.example.test {port}")
        proxy = DnsProxy(dests, DnsProxyOptions(debug=True), resolve=resolve, clock=lambda: now[0])
        try:
            with running(proxy):
                for _ in range(3):
                    assert await roundtrip(listen, b"z") == b"A:z"
                now[0] = 8.0  # resolver fails: the last answer is held (10 s)
                assert await roundtrip(listen, b"z") == b"A:z"
                now[0] = 20.0  # held too long: no address, the client is closed
                assert await roundtrip(listen, b"z") == b""
                assert calls == [0.0, 8.0, 20.0]
        finally:
            a.close()

    asyncio.run(main())
    assert "-> svc.example.test:" in capsys.readouterr().out  # the failure is logged


def test_a_connect_that_hangs_times_out_and_the_next_address_is_tried() -> None:
    """A full accept queue drops SYNs, so a connect there hangs: connect_timeout ends the try."""
    async def main() -> None:
        a = await asyncio.start_server(lambda r, w: tagged_echo(b"A:", r, w), "127.0.0.2", 0)
        port = a.sockets[0].getsockname()[1]
        full = socket.socket()
        full.bind(("127.0.0.4", port))
        full.listen(0)
        queued = [socket.create_connection(("127.0.0.4", port), timeout=5)]  # never accepted: the queue is full

        def resolve(name: str, _port: int) -> tuple[str, ...]:
            return ("127.0.0.4", "127.0.0.2")

        listen = free_port()
        dests = parse_dns_destinations(f"{listen} svc.example.test {port}")
        proxy = DnsProxy(dests, DnsProxyOptions(connect_timeout=0.3), resolve=resolve, clock=lambda: 0.0)
        only = DnsProxy(parse_dns_destinations(f"{free_port()} 127.0.0.4 {port}"),
                        DnsProxyOptions(connect_timeout=0.3, retries=0))
        try:
            with running(proxy, only):
                for _ in range(2):  # round-robin: one of the two tries the hanging address first
                    assert await asyncio.wait_for(roundtrip(listen, b"z"), 20) == b"A:z"
                assert await asyncio.wait_for(roundtrip(only.dests[0].listen_port, b"z"), 20) == b""
        finally:
            a.close()
            for s in (full, *queued):
                s.close()

    asyncio.run(main())


def test_a_resolver_that_hangs_is_given_up_and_the_held_answer_used() -> None:
    """The resolution runs in a thread: a stuck resolver blocks neither the loop nor, past
    resolve_timeout, the waiting client (the last good answer is still within hold_valid)."""
    async def main() -> None:
        a = await asyncio.start_server(lambda r, w: tagged_echo(b"A:", r, w), "127.0.0.2", 0)
        port = a.sockets[0].getsockname()[1]
        now, release = [0.0], threading.Event()

        def resolve(name: str, _port: int) -> tuple[str, ...]:
            if now[0] > 0:
                release.wait(30)
            return ("127.0.0.2",)

        by_name, by_ip = free_port(), free_port()
        dests = parse_dns_destinations(f"{by_name} svc.example.test {port}\n{by_ip} 127.0.0.2 {port}")
        proxy = DnsProxy(dests, DnsProxyOptions(resolve_timeout=0.3), resolve=resolve, clock=lambda: now[0])
        try:
            with running(proxy):
                assert await roundtrip(by_name, b"1") == b"A:1"
                now[0] = 2.0  # stale: resolved again, and the resolver hangs
                stuck = asyncio.ensure_future(roundtrip(by_name, b"2"))
                assert await asyncio.wait_for(roundtrip(by_ip, b"3"), 20) == b"A:3"  # the loop serves on
                assert await asyncio.wait_for(stuck, 20) == b"A:2"  # given up: the held answer
        finally:
            release.set()
            a.close()

    asyncio.run(main())


def test_half_close_speaking_first_and_a_slow_reader() -> None:
    """The upstream greets first; the client half-closes and still reads 8 MB that it takes slowly
    (the forwarder stops reading the upstream while the client's socket is full, nothing is lost)."""
    big = bytes(range(256)) * (8 * 4096)

    async def greeter(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"hello\n")
        got = await r.read(-1)  # until the client's EOF
        w.write(got + big)
        await w.drain()
        w.close()

    async def main() -> None:
        up = await asyncio.start_server(greeter, "127.0.0.2", 0)
        listen = free_port()
        proxy = DnsProxy(parse_dns_destinations(f"{listen} 127.0.0.2 {up.sockets[0].getsockname()[1]}"))
        try:
            with running(proxy):
                r, w = await asyncio.open_connection("127.0.0.1", listen)
                assert await asyncio.wait_for(r.readline(), 20) == b"hello\n"
                w.write(b"ping")
                w.write_eof()
                data = b""
                while chunk := await asyncio.wait_for(r.read(65536), 20):
                    data += chunk
                    if len(data) < 1 << 20:
                        await asyncio.sleep(0.01)  # slow at first: the proxy's sends fill up
                assert data == b"ping" + big
                w.close()
        finally:
            up.close()

    asyncio.run(main())


def test_an_idle_connection_is_closed_after_the_inactivity_timeout() -> None:
    async def main() -> None:
        async def silent(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await r.read(-1)
            w.close()

        up = await asyncio.start_server(silent, "127.0.0.2", 0)
        listen = free_port()
        proxy = DnsProxy(parse_dns_destinations(f"{listen} 127.0.0.2 {up.sockets[0].getsockname()[1]}"),
                         DnsProxyOptions(inactivity=0.3))
        try:
            with running(proxy):
                r, w = await asyncio.open_connection("127.0.0.1", listen)
                w.write(b"anyone?")
                assert await asyncio.wait_for(r.read(-1), 20) == b""  # closed by the proxy
                w.close()
        finally:
            up.close()

    asyncio.run(main())
