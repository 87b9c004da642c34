"""The egress HTTP proxy's connections as asyncio protocols: callbacks, no stream reader, no task.

A `ClientConn` reads request heads (one find of the blank line), has the proxy judge the target,
sends the rewritten head (and a small body with it, in one write) on an `UpstreamConn` (pooled, or
new), relays the request body through a `relay.Body`, and the `UpstreamConn` relays the response
back the same way; then the next request (pipelined ones wait in the client's buffer). Only what is
slow gets a task: resolving a host name and opening a new upstream connection. Back-pressure: a
transport whose write buffer is full pauses reading on the other side until it drains; input that
arrives while a request is under way is held up to `max_head` bytes, then reading pauses. Timeouts:
`due` (idle_timeout between requests, io_timeout from the last byte read during one) is checked by
the proxy's sweep; connecting has connect_timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from osdn.egress import http_wire as wire
from osdn.egress.relay import CLOSE, Body

if TYPE_CHECKING:
    from osdn.egress.http_proxy import HttpProxy

log = logging.getLogger(__name__)
HEAD, BUSY, TUNNEL, CLOSED = range(4)  # ClientConn.state
VIA = ("Via", "1.1 osdn-egress-router")
NONE: frozenset[str] = frozenset()  # fields the proxy replaces
XFF, TE = frozenset({"x-forwarded-for"}), frozenset({"transfer-encoding"})
JOIN_BELOW = 65536  # a response head and the first body bytes go out in one write below this size
REASONS = {400: "Bad Request", 403: "Forbidden", 431: "Request Header Fields Too Large", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}


def grow(buf: bytes | bytearray, data: bytes) -> bytes | bytearray:
    """`buf` + `data`, appended in place once there are two pieces (a head that arrives a byte at a
    time costs O(n), not O(n²))."""
    if not buf:
        return data
    grown = buf if isinstance(buf, bytearray) else bytearray(buf)
    grown += data
    return grown


class ClientConn(asyncio.Protocol):
    """One client connection: its requests, one at a time."""

    def __init__(self, proxy: HttpProxy) -> None:
        self.proxy = proxy
        self.t: asyncio.Transport | None = None
        self.peer = "?"
        self.state = HEAD
        self.counted = self.eof = self.started = self.rpaused = self.wpaused = False
        self.buf: bytes | bytearray = b""
        self.scanned = 0  # bytes of buf known not to hold the end of a head (but its last 3)
        self.due = 0.0
        self.upstream: UpstreamConn | None = None
        self.body: Body | None = None  # the request body on its way upstream
        self.task: asyncio.Task[None] | None = None
        self.method = self.version = self.host = ""
        self.port = 0
        self.out = b""  # the rewritten request head
        self.framing = wire.Framing()
        self.addrs: tuple[str, ...] = ()  # a judged CONNECT waiting for earlier responses to go out
        self.keep = False  # the client's connection stays open after this response

    # asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t = transport = cast(asyncio.Transport, transport)  # (uvloop's is not a subclass)
        p = self.proxy
        if p.active >= p.limits.max_connections:
            transport.write(wire.error_response(503, REASONS[503], "too many connections to the egress proxy"))
            self.state = CLOSED
            transport.close()
            return
        p.active += 1
        self.counted = True
        self.peer = (transport.get_extra_info("peername") or ("?", 0))[0]
        p.watch(self)
        self.due = p.now + p.limits.idle_timeout

    def data_received(self, data: bytes) -> None:
        if self.body is not None and self.upstream is not None:
            self._request_body(data)
            return
        self.buf = grow(self.buf, data)
        if self.state == HEAD:
            self._next()
        elif self.state == BUSY:
            self._flow()

    def eof_received(self) -> bool:
        self.eof = True
        if self.state == HEAD:
            self._next()
        elif self.body is not None:
            log.debug("client %s: request body cut short", self.peer)
            self.close()
        return True  # half-open: the response under way still goes out

    def connection_lost(self, exc: Exception | None) -> None:
        state, self.state = self.state, CLOSED
        if self.counted:
            self.counted = False
            self.proxy.active -= 1
            self.proxy.conns.discard(self)
        if state != TUNNEL:
            self._drop_upstream()
        if self.task is not None:
            self.task.cancel()

    def pause_writing(self) -> None:
        self.wpaused = True
        if self.upstream is not None:
            self.upstream.reading(False)

    def resume_writing(self) -> None:
        self.wpaused = False
        if self.upstream is not None:
            self.upstream.reading(True)
        elif self.addrs:
            self.proxy.tunnel(self, self.addrs)  # what was buffered for the client is out: the tunnel starts

    # requests

    def _next(self) -> None:
        """Serve the next request in the buffer, if its head is complete."""
        buf, limit = self.buf, self.proxy.limits.max_head
        end = buf.find(b"\r\n\r\n", max(0, self.scanned - 3))
        self.scanned = len(buf) if end < 0 else 0
        if end < 0 or end > limit:
            if len(buf) > limit or end > limit:
                self.fail(wire.WireError(431, f"head larger than {limit} bytes"))
            elif self.eof:
                if buf.strip():
                    self.fail(wire.WireError(400, "incomplete head"))
                else:
                    self.close()
            return
        self.buf = buf[end + 4:]
        p = self.proxy
        self.due = p.now + p.limits.io_timeout
        self.state, self.started, self.upstream = BUSY, False, None
        try:
            head = wire.parse_head(bytes(buf[:end + 4]), p.limits.max_headers, True)
            self.method, target, self.version = head.start
            if self.method == "CONNECT":
                self.host, self.port = wire.split_target(target, 443)
                p.judge(self, p.tunnel)
                return
            self._rewrite(head, target)
        except wire.WireError as exc:
            self.fail(exc)
            return
        self._route()

    def _rewrite(self, head: wire.Head, target: str) -> None:
        host, port, path = wire.absolute_url(target)
        self.host, self.port, self.framing = host, port, wire.request_framing(head)
        extra = [] if head.get("host") else [("Host", host if port == 80 else f"{host}:{port}")]
        xff = head.get("x-forwarded-for")
        extra += [VIA, ("X-Forwarded-For", f"{xff}, {self.peer}" if xff else self.peer)]
        self.out = wire.forward_head(f"{self.method} {path} HTTP/1.1", head, XFF if xff is not None else NONE, extra)
        self.keep = wire.keep_alive(head, self.version)

    def _route(self) -> None:
        """A pooled connection (judged when it was opened), else a judged new one."""
        u = self.proxy.pool.take((self.host, self.port))
        if u is not None:
            self.send(u)
        else:
            self.proxy.judge(self, self.proxy.open)

    def send(self, u: UpstreamConn) -> None:
        """The request goes out on `u`: the head, with a small body that is all here in the same write."""
        self.upstream, u.client, u.method, u.version = u, self, self.method, self.version
        if self.wpaused:
            u.reading(False)
        framing, buf = self.framing, bytes(self.buf)  # (not a bytearray grown later under the transport)
        if framing.chunked or framing.length:
            if framing.length and len(buf) >= framing.length:
                n = framing.length
                u.t.write(self.out + buf[:n])
                self.buf = buf[n:]
                return
            self.body = Body(framing, False, self.proxy.limits.max_head)
            u.t.write(self.out)
            self.buf = b""
            if buf:
                self._request_body(buf)
            if self.eof and self.body is not None:  # the client has ended before its body did
                self.close()
                return
            self._flow()
            return
        u.t.write(self.out)

    def retry(self) -> bool:
        """The reused upstream closed before answering a request without a body: once more on another
        connection (True), as a client would; else False."""
        if not self.upstream or not self.upstream.reused or self.framing.chunked or self.framing.length:
            return False
        self.upstream = None
        self._route()
        return True

    def _request_body(self, data: bytes) -> None:
        body, u = self.body, self.upstream
        assert body is not None and u is not None
        self.due = self.proxy.now + self.proxy.limits.io_timeout
        try:
            n = body.feed(data, u.t.write)
        except wire.WireError as exc:
            self.fail(exc)
            return
        if body.done:
            self.body = None
            if n < len(data):
                self.buf = data[n:]
                self._flow()

    def _flow(self) -> None:
        """Read from the client while its input has somewhere to go (bounded otherwise)."""
        u = self.upstream
        pause = (u is not None and u.wpaused) if self.body is not None else \
            len(self.buf) > self.proxy.limits.max_head
        if pause != self.rpaused and self.t is not None and self.state != CLOSED:
            self.rpaused = pause
            if pause:
                self.t.pause_reading()
            else:
                self.t.resume_reading()

    def respond(self, head: bytes, first: list[bytes]) -> None:
        """The response head (and the first body bytes) to the client."""
        assert self.t is not None
        self.started = True
        if not first:
            self.t.write(head)
        elif len(first) == 1 and len(first[0]) < JOIN_BELOW:
            self.t.write(head + first[0])
        else:
            self.t.writelines([head, *first])

    def done(self, u: UpstreamConn, reusable: bool) -> None:
        """The response has all gone out: `u` back to the pool (or closed), then the next request."""
        self.upstream, u.client = None, None
        if self.body is not None:  # answered before the request body ended
            self.body, reusable, self.keep = None, False, False
        if reusable:
            u.reading(True)
            self.proxy.pool.give(u)
        else:
            u.close()
        if not self.keep:
            self.close()
            return
        p = self.proxy
        self.state, self.due = HEAD, p.now + p.limits.idle_timeout
        self._flow()
        if self.buf or self.eof:
            self._next()

    def fail(self, exc: wire.WireError) -> None:
        """An error response (before the response head went out; after it, only the close tells)."""
        log.debug("client %s: %s", self.peer, exc.message)
        if self.state != CLOSED and not self.started and self.t is not None:
            self.t.write(wire.error_response(exc.status, REASONS.get(exc.status, "Error"), exc.message))
        self.close()

    def expire(self) -> None:
        """Timed out: closed without waiting for what is buffered (a client that reads nothing would
        hold it open)."""
        log.debug("client %s: timed out", self.peer)
        self._drop_upstream()
        if self.state != CLOSED and self.t is not None:
            self.state = CLOSED
            self.t.abort()

    def close(self) -> None:
        """Close (what is buffered still goes out) with the upstream connection, which is not reused."""
        self._drop_upstream()
        if self.state != CLOSED and self.t is not None:
            self.state = CLOSED
            self.t.close()

    def _drop_upstream(self) -> None:
        u, self.upstream, self.body = self.upstream, None, None
        if u is not None:
            u.client = None
            u.close()


class UpstreamConn(asyncio.Protocol):
    """A connection to an origin: relays each response to the client of the request it carries."""

    def __init__(self, proxy: HttpProxy, key: tuple[str, int]) -> None:
        self.proxy, self.key = proxy, key
        self.t: asyncio.Transport  # set by connection_made, before anyone has the connection
        self.client: ClientConn | None = None
        self.reused = self.dead = self.rpaused = self.wpaused = self.reusable = False
        self.buf: bytes | bytearray = b""
        self.scanned = 0
        self.body: Body | None = None
        self.method = self.version = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t = cast(asyncio.Transport, transport)

    def alive(self) -> bool:
        return not self.dead and not self.t.is_closing()

    def close(self) -> None:
        self.dead = True
        self.t.close()

    def reading(self, on: bool) -> None:
        if on == self.rpaused and not self.dead:
            self.rpaused = not on
            if on:
                self.t.resume_reading()
            else:
                self.t.pause_reading()

    def pause_writing(self) -> None:
        self.wpaused = True
        if self.client is not None:
            self.client._flow()

    def resume_writing(self) -> None:
        self.wpaused = False
        if self.client is not None:
            self.client._flow()

    def data_received(self, data: bytes) -> None:
        c = self.client
        if c is None:  # idle in the pool: an origin that speaks unasked is not reused
            self.close()
            return
        c.due = self.proxy.now + self.proxy.limits.io_timeout
        if self.body is not None:
            self._relay(c, self.body, data, None)
            return
        self.buf = grow(self.buf, data)
        self._head(c)

    def _head(self, c: ClientConn) -> None:
        limits = self.proxy.limits
        while True:
            buf = self.buf
            end = buf.find(b"\r\n\r\n", max(0, self.scanned - 3))
            self.scanned = len(buf) if end < 0 else 0
            try:
                if end < 0 or end > limits.max_head:
                    if len(buf) > limits.max_head or end > limits.max_head:
                        raise wire.WireError(431, f"head larger than {limits.max_head} bytes")
                    return
                self.buf = buf[end + 4:]
                resp = wire.parse_head(bytes(buf[:end + 4]), limits.max_headers, False)
                status = resp.start[1]
                if status[:1] != "1" or status == "101":
                    break
                assert c.t is not None  # 100 Continue, 103 Early Hints: passed on
                c.t.write(wire.render_head(" ".join(resp.start), resp.fields))
            except wire.WireError as exc:
                c.fail(exc)
                return
        self._response(c, resp)

    def _response(self, c: ClientConn, resp: wire.Head) -> None:
        try:
            framing = wire.response_framing(resp, self.method)
        except wire.WireError as exc:
            c.fail(exc)
            return
        dechunk = framing.chunked and self.version == "HTTP/1.0"
        framed = framing.chunked or framing.length is not None
        keep = c.keep and framed and not dechunk
        self.reusable = framed and wire.keep_alive(resp, resp.start[0])
        head = wire.forward_head(f"{self.version} {resp.start[1]} {resp.start[2]}", resp, TE if dechunk else NONE,
                                 [VIA, ("Connection", "keep-alive" if keep else "close")])
        body = self.body = Body(framing, dechunk, self.proxy.limits.max_head)
        rest, self.buf, c.keep = bytes(self.buf), b"", keep
        if body.done or not rest:
            c.respond(head, [])
            if body.done:
                self._finish(c, rest)
            return
        self._relay(c, body, rest, head)

    def _relay(self, c: ClientConn, body: Body, data: bytes, head: bytes | None) -> None:
        """Body bytes to the client (after `head`, when it has not gone out yet)."""
        assert c.t is not None
        write: Callable[[bytes], None]
        if head is None:
            write = c.t.write
        else:
            first: list[bytes] = []
            write = first.append
        try:
            n = body.feed(data, write)
        except wire.WireError as exc:
            if head is None:
                c.fail(exc)
            else:
                c.fail(wire.WireError(502, f"the origin's response body: {exc.message}"))
            return
        if head is not None:
            c.respond(head, first)
        if body.done:
            self._finish(c, data[n:])

    def _finish(self, c: ClientConn, extra: bytes) -> None:
        self.body = None
        c.done(self, self.reusable and not extra)

    def eof_received(self) -> bool:
        self._ended()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended()

    def _ended(self) -> None:
        """The origin closed: the end of a close-delimited body, a retry, or an error."""
        was_dead, self.dead = self.dead, True
        c = self.client
        if c is None or was_dead:
            return
        body = self.body
        if body is not None and body.state == CLOSE:
            self.body = None
            c.done(self, False)
        elif body is None and not self.buf and not c.started and c.retry():
            self.client = None
            self.t.close()
        elif c.started:
            log.debug("client %s: the origin closed the connection mid-response", c.peer)
            c.close()
        else:
            c.fail(wire.WireError(502, "the origin closed the connection without a "
                                       + ("complete response" if self.buf else "response")))
