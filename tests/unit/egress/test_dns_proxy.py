"""The egress DNS proxy on loopback: IP and name targets, run-time re-resolution, retries, debug log."""

from __future__ import annotations

import asyncio
import re
import socket

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


async def roundtrip(port: int, payload: bytes) -> bytes:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(payload)
    w.write_eof()
    try:
        data = await r.read(-1)
    except ConnectionResetError:  # closed with our bytes unread: a reset
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

        async def resolve(name: str, _port: int) -> tuple[str, ...]:
            return answers[name]

        p1, p2 = free_port(), free_port()
        dests = parse_dns_destinations(f"# comment\n\n{p1} 127.0.0.2 {port}\n{p2} db.example.test {port}\n")
        proxy = DnsProxy(dests, DnsProxyOptions(debug=True), resolve=resolve, clock=lambda: now[0])
        servers = await proxy.serve("127.0.0.1")
        try:
            by_ip, by_name = dests[0].listen_port, dests[1].listen_port
            assert await roundtrip(by_ip, b"hi") == b"A:hi"
            assert await roundtrip(by_name, b"x" * 100000) == b"A:" + b"x" * 100000
            answers["db.example.test"] = ("127.0.0.3",)
            now[0] = 0.5  # within the resolution interval: the old answer
            assert await roundtrip(by_name, b"q") == b"A:q"
            now[0] = 1.6  # re-resolved
            assert await roundtrip(by_name, b"q") == b"B:q"
        finally:
            for s in (*servers, a, b):
                s.close()

    asyncio.run(main())
    out = capsys.readouterr().out
    assert re.search(r"fe1 :\d+ -> be1/127\.0\.0\.2:\d+ [\d.]+s 2 bytes up 4 bytes down", out)
    assert re.search(r"fe2 :\d+ -> be2/127\.0\.0\.2:", out) and "be2/127.0.0.3:" in out


def test_failed_connect_tries_the_next_address_and_resolver_failure_holds() -> None:
    async def main() -> None:
        a = await asyncio.start_server(lambda r, w: tagged_echo(b"A:", r, w), "127.0.0.2", 0)
        port = a.sockets[0].getsockname()[1]
        calls = []
        now = [0.0]

        async def resolve(name: str, _port: int) -> tuple[str, ...]:
            calls.append(now[0])
            if now[0] > 5:
                raise OSError("resolver down")
            return ("127.0.0.9", "127.0.0.2")  # nothing listens on .9

        listen = free_port()
        dests = parse_dns_destinations(f"{listen} svc.example.test {port}")
        proxy = DnsProxy(dests, resolve=resolve, clock=lambda: now[0])
        servers = await proxy.serve("127.0.0.1")
        try:
            for _ in range(3):
                assert await roundtrip(listen, b"z") == b"A:z"
            now[0] = 8.0  # resolver fails: the last answer is held (10 s)
            assert await roundtrip(listen, b"z") == b"A:z"
            now[0] = 20.0  # held too long: no address, the client is closed
            assert await roundtrip(listen, b"z") == b""
            assert calls == [0.0, 8.0, 20.0]
        finally:
            for s in (*servers, a):
                s.close()

    asyncio.run(main())


def test_a_connect_that_hangs_times_out_and_the_next_address_is_tried() -> None:
    """A full accept queue drops SYNs, so a connect there hangs: connect_timeout ends the try."""
    async def main() -> None:
        a = await asyncio.start_server(lambda r, w: tagged_echo(b"A:", r, w), "127.0.0.2", 0)
        port = a.sockets[0].getsockname()[1]
        full = socket.socket()
        full.bind(("127.0.0.4", port))
        full.listen(0)
        queued = [socket.create_connection(("127.0.0.4", port), timeout=5)]  # never accepted: the queue is full

        async def resolve(name: str, _port: int) -> tuple[str, ...]:
            return ("127.0.0.4", "127.0.0.2")

        listen = free_port()
        dests = parse_dns_destinations(f"{listen} svc.example.test {port}")
        proxy = DnsProxy(dests, DnsProxyOptions(connect_timeout=0.3), resolve=resolve, clock=lambda: 0.0)
        servers = await proxy.serve("127.0.0.1")
        try:
            for _ in range(2):  # round-robin: one of the two tries the hanging address first
                assert await asyncio.wait_for(roundtrip(listen, b"z"), 20) == b"A:z"
            only = DnsProxy(parse_dns_destinations(f"{free_port()} 127.0.0.4 {port}"),
                            DnsProxyOptions(connect_timeout=0.3, retries=0))
            more = await only.serve("127.0.0.1")
            servers += more
            assert await asyncio.wait_for(roundtrip(only.dests[0].listen_port, b"z"), 20) == b""
        finally:
            for s in (*servers, a):
                s.close()
            for s in (full, *queued):
                s.close()

    asyncio.run(main())
