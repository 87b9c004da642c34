"""A request host whose DNS a tenant controls, against the egress HTTP proxy: a name answering
thousands of addresses. Every address is judged by the ACL, but at most MAX_TRIES (25, squid's
forward_max_tries) are tried per connection; before, each of 4,000 addresses got its own connect
timeout, holding the client connection (and a slot of the proxy's 1,024) for hours."""

from __future__ import annotations

import asyncio
import re
import socket

import pytest
from test_http_proxy import run, send

from osdn.egress.http_proxy import MAX_TRIES, HttpProxy

MANY = tuple(f"127.0.{i // 200}.{i % 200 + 10}" for i in range(300))  # nothing listens there: refused at once


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tried(body: bytes) -> list[str]:
    return re.findall(r"127\.0\.\d+\.\d+", body.decode())


def test_a_name_with_hundreds_of_addresses_is_tried_at_most_max_tries_times(monkeypatch: pytest.MonkeyPatch) -> None:
    real = HttpProxy.addresses

    async def addresses(self: HttpProxy, host: str, port: int) -> tuple[str, ...]:
        return MANY if host == "many.tenant.test" else await real(self, host, port)

    monkeypatch.setattr(HttpProxy, "addresses", addresses)
    port = free_port()

    async def t(pport: int, oport: int, origin: object) -> None:
        c = await asyncio.open_connection("127.0.0.1", pport)
        head, body = await send(c, f"GET http://many.tenant.test:{port}/ HTTP/1.1\r\n\r\n".encode())
        assert head.startswith(b"HTTP/1.1 502") and set(tried(body)) == set(MANY[:MAX_TRIES])
        r, w = await asyncio.open_connection("127.0.0.1", pport)
        w.write(f"CONNECT many.tenant.test:{port} HTTP/1.1\r\n\r\n".encode())
        reply = await asyncio.wait_for(r.read(-1), 20)
        assert reply.startswith(b"HTTP/1.1 502") and set(tried(reply)) == set(MANY[:MAX_TRIES])
        w.close()

    run(t, "*")
