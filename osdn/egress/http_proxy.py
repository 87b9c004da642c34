"""The egress HTTP proxy (HTTP proxy mode): HTTP and HTTPS (CONNECT) on port 8080, asyncio.

Every request is judged by `http_acl.decide` (squid's http_access semantics for the rules of
EGRESS_HTTP_PROXY_DESTINATION); a denied one gets `403 Forbidden` naming the rule. Bodies stream
in both directions in bounded pieces (never a whole message in memory); chunked bodies are relayed
chunk by chunk (de-chunked for an HTTP/1.0 client); client connections are kept alive as HTTP/1.1
says; idle upstream connections are pooled (`pool`). A CONNECT tunnel leaves asyncio once judged:
its client socket and a new upstream one become a pair of the worker's `epollfwd` forwarder (one
epoll descriptor, a reader of the asyncio loop), which connects, sends the `200` and forwards both
ways (half-close passed on, bounded by one piece per direction). Limits (`Limits`): head size and
field count, open client connections and tunnels (more get `503`), connect timeout (`504`), idle
keep-alive, head and body timeouts (the connection is closed), kept by one `relay.Deadline` per
client connection; a tunnel has the inactivity timeout (io_timeout) only. The proxy connects to
the very addresses the ACL judged. Verdicts are remembered per (host, addresses) and IP literals per
host (bounded): the rules never change while the proxy runs; a name is resolved again for every new
upstream connection (the resolver's cache, not this proxy's, decides how long an answer lives).
"""

from __future__ import annotations

import _socket
import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
from typing import TypeVar

from osdn.egress import http_wire as wire
from osdn.egress.epollfwd import Loop, Pair
from osdn.egress.http_acl import Decision, HttpAcl, decide
from osdn.egress.pool import Upstream, UpstreamPool
from osdn.egress.relay import (
    Deadline,
    Limits,
    open_upstream,
    pump,
    read_exactly,
    relay_chunked,
    relay_length,
    take_buffered,
)

log = logging.getLogger(__name__)
VIA = ("Via", "1.1 osdn-egress-router")
SMALL_BODY = 65536
TUNNEL_OPEN = b"HTTP/1.1 200 Connection established\r\n\r\n"
MEMO = 4096  # remembered IP literals and ACL verdicts (a verdict with 5 rules costs ~20 µs)
K = TypeVar("K")
V = TypeVar("V")


class HttpProxy:
    def __init__(self, acl: HttpAcl, limits: Limits | None = None,
                 resolved: dict[str, tuple[str, ...]] | None = None) -> None:
        self.acl, self.limits, self.resolved = acl, limits or Limits(), resolved or {}
        self.active = 0
        self.literals: dict[str, tuple[str, ...]] = {}  # host -> (address,) when it is one
        self.verdicts: dict[tuple[str, tuple[str, ...]], Decision] = {}  # (host, addresses) -> verdict
        self.pool = UpstreamPool(idle=self.limits.idle_timeout)
        self.loop: asyncio.AbstractEventLoop | None = None  # set by serve: no look-up per connection
        self.fwd: Loop | None = None  # CONNECT tunnels' forwarder, set by serve

    async def serve(self, host: str = "0.0.0.0", port: int = 8080) -> asyncio.Server:
        self.loop = asyncio.get_running_loop()
        self.fwd = Loop(waker=False)
        self.fwd.attach(self.loop)
        return await asyncio.start_server(self.handle, host, port, limit=self.limits.max_head,
                                          reuse_address=True, reuse_port=True, backlog=1024)

    def literal(self, host: str) -> tuple[str, ...]:
        """(host,) normalised when host is an IP address, else (); remembered."""
        found = self.literals.get(host)
        if found is None:
            try:
                found = (str(ipaddress.ip_address(host)),)
            except ValueError:
                found = ()
            _remember(self.literals, host, found)
        return found

    async def addresses(self, host: str, port: int) -> tuple[str, ...]:
        """An IP address itself, or what the resolver answers now for a name (not cached here)."""
        if found := self.literal(host):
            return found
        try:
            infos = await asyncio.wait_for(asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM), self.limits.connect_timeout)
        except (TimeoutError, OSError):
            return ()
        return tuple(dict.fromkeys(str(i[4][0]) for i in infos))

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = (writer.get_extra_info("peername") or ("?", 0))[0]
        if self.active >= self.limits.max_connections:
            writer.write(wire.error_response(503, "Service Unavailable", "too many connections to the egress proxy"))
            _close(writer)
            return
        self.active += 1
        dl = Deadline(self.limits, self.loop)
        try:
            while await self._one_request(reader, writer, peer, dl):
                pass
        except (TimeoutError, wire.WireError, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            log.debug("client %s: %s", peer, getattr(exc, "message", None) or exc)
        except asyncio.CancelledError:
            if not dl.expired:
                raise
            dl.absorb()
            log.debug("client %s: timed out", peer)
        finally:
            dl.close()
            self.active -= 1
            _close(writer)

    async def _read_head(self, reader: asyncio.StreamReader, timeout: float, request: bool,
                         dl: Deadline) -> wire.Head | None:
        dl.after(timeout)
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise wire.WireError(400, "incomplete head") from None
            return None
        except asyncio.LimitOverrunError:
            raise wire.WireError(431, f"head larger than {self.limits.max_head} bytes") from None
        dl.io()  # not idle any more: connecting and relaying have their own bounds
        return wire.parse_head(raw, self.limits.max_headers, request)

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str,
                           dl: Deadline) -> bool:
        """Serve one request; True when the client connection stays open for another."""
        try:
            head = await self._read_head(reader, self.limits.idle_timeout, True, dl)
        except wire.WireError as exc:
            writer.write(wire.error_response(exc.status, "Bad Request" if exc.status == 400 else
                                             "Request Header Fields Too Large", exc.message))
            return False
        if head is None:
            return False
        method, target, version = head.start
        try:
            if method == "CONNECT":
                await self._connect(reader, writer, peer, target, dl)
                return False
            return await self._forward(reader, writer, peer, head, dl)
        except wire.WireError as exc:
            writer.write(wire.error_response(exc.status, _REASONS.get(exc.status, "Error"), exc.message))
            return False

    async def _judge(self, host: str, port: int, peer: str) -> tuple[str, ...]:
        addrs = self.literal(host) or await self.addresses(host, port)
        verdict = self.verdicts.get((host, addrs))
        if verdict is None:  # the rules and `resolved` never change while the proxy runs
            verdict = decide(self.acl, host, addrs, self.resolved)
            _remember(self.verdicts, (host, addrs), verdict)
        if not verdict.allowed:
            log.info("denied %s -> %s:%d (%s)", peer, host, port, _why(verdict))
            raise wire.WireError(403, f"egress router: access to {host}:{port} is denied by "
                                      f"EGRESS_HTTP_PROXY_DESTINATION ({_why(verdict)})")
        if not addrs:
            raise wire.WireError(503, f"egress router: cannot resolve {host}")
        return addrs

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str,
                       target: str, dl: Deadline) -> None:
        """The tunnel leaves asyncio: the client socket (a duplicate of the transport's, which is then
        closed) and a new upstream one are an `epollfwd.Pair` of this worker's forwarder, which
        connects, sends the `200` (or the 502/504) and forwards both ways until both sides end."""
        host, port = wire.split_target(target, 443)
        addrs = await self._judge(host, port, peer)
        transport = writer.transport
        if transport.get_write_buffer_size():  # earlier responses first
            transport.set_write_buffer_limits(0)
            await writer.drain()
        sock = writer.get_extra_info("socket")
        try:
            client = _socket.socket(sock.family, socket.SOCK_STREAM, 0, os.dup(sock.fileno()))
        except OSError as exc:  # EMFILE
            raise wire.WireError(503, f"egress router: {exc.strerror}") from None
        early = take_buffered(reader)  # what the client sent after the head: upstream first
        transport.close()  # nothing buffered: the duplicate is now the connection
        dl.close()  # the pair has its own timers: connect_timeout, then io_timeout of inactivity
        assert self.fwd is not None
        self.fwd.refresh()
        self.active += 1
        pair = Pair(self.fwd, client, (peer, 0), self.limits.connect_timeout, self.limits.io_timeout,
                    self._tunnel_done, _tunnel_failed, early, TUNNEL_OPEN)
        pair.connect(addrs, port, len(addrs))

    def _tunnel_done(self, pair: Pair) -> None:
        self.active -= 1

    async def _new_upstream(self, host: str, port: int, peer: str, dl: Deadline) -> Upstream:
        """A new judged connection to host:port (an idle pooled one is taken first, without a coroutine:
        it was judged when it was opened)."""
        addrs = await self._judge(host, port, peer)
        ur, uw = await open_upstream(addrs, port, dl)
        return Upstream((host, port), ur, uw)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str,
                       head: wire.Head, dl: Deadline) -> bool:
        method, target, version = head.start
        host, port, path = wire.absolute_url(target)
        framing = wire.request_framing(head)
        fields = wire.forward_fields(head)
        if not head.get("host"):
            fields.append(("Host", host if port == 80 else f"{host}:{port}"))
        xff = head.get("x-forwarded-for")
        fields = [f for f in fields if f[0].lower() != "x-forwarded-for"]
        fields += [VIA, ("X-Forwarded-For", f"{xff}, {peer}" if xff else peer)]
        out = wire.render_head(f"{method} {path} HTTP/1.1", fields)
        while True:
            u = self.pool.take((host, port)) or await self._new_upstream(host, port, peer, dl)
            try:
                await self._body(reader, u.writer, framing, False, out, dl)
                resp = await self._read_head(u.reader, self.limits.io_timeout, False, dl)
                if resp is None and u.reused and not framing.chunked and not framing.length:
                    u.close()  # the origin closed the idle connection meanwhile: once more on a new one
                    continue
                if resp is None:
                    raise wire.WireError(502, "the origin closed the connection without a response")
                return await self._response(u, resp, writer, method, wire.keep_alive(head, version), version, dl)
            except BaseException:
                u.close()
                raise

    async def _response(self, u: Upstream, resp: wire.Head, writer: asyncio.StreamWriter, method: str,
                        client_keep: bool, version: str, dl: Deadline) -> bool:
        while (status := resp.start[1]).startswith("1") and status != "101":  # 100 Continue, 103 Early Hints
            writer.write(wire.render_head(" ".join(resp.start), resp.fields))
            nxt = await self._read_head(u.reader, self.limits.io_timeout, False, dl)
            if nxt is None:
                raise ConnectionError("the origin closed the connection after an interim response")
            resp = nxt
        framing = wire.response_framing(resp, method)
        dechunk = framing.chunked and version == "HTTP/1.0"
        keep = client_keep and (framing.chunked or framing.length is not None) and not dechunk
        fields = [f for f in wire.forward_fields(resp) if not (dechunk and f[0].lower() == "transfer-encoding")]
        fields += [VIA, ("Connection", "keep-alive" if keep else "close")]
        try:
            await self._body(u.reader, writer, framing, dechunk, wire.render_head(f"{version} {status} {resp.start[2]}",
                                                                                 fields), dl)
        except wire.WireError as exc:  # the head is out: the client can only see the connection end
            raise ConnectionError(exc.message) from None
        if wire.keep_alive(resp, resp.start[0]) and (framing.chunked or framing.length is not None):
            self.pool.give(u)
        else:
            u.close()
        return keep

    async def _body(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, framing: wire.Framing,
                    dechunk: bool, head: bytes, dl: Deadline) -> None:
        """Send `head`, then relay the body; a small fixed-length body goes out with the head in one write.
        Drained only when something is left in the transport's buffer (a drain is a coroutine each)."""
        if framing.length is not None and framing.length <= SMALL_BODY and not framing.chunked:
            dst.write(head + await read_exactly(src, framing.length, dl) if framing.length else head)
        else:
            dst.write(head)
            if framing.chunked:
                await relay_chunked(src, dst, dl, dechunk)
            elif framing.length is None:
                await pump(src, dst, dl, half_close=False)
            elif framing.length:
                await relay_length(src, dst, framing.length, dl)
        if dst.transport.get_write_buffer_size():
            await dst.drain()


_REASONS = {400: "Bad Request", 403: "Forbidden", 431: "Request Header Fields Too Large", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}


def _why(verdict: Decision) -> str:
    if verdict.rule is None:
        return "no line allows it" if not verdict.allowed else "*"
    return f"line '{verdict.rule.line}'"


def _remember(memo: dict[K, V], key: K, value: V) -> None:
    """A bounded memo: forgotten all at once when full."""
    if len(memo) >= MEMO:
        memo.clear()
    memo[key] = value


def _tunnel_failed(pair: Pair) -> None:
    """No try connected: the 504 or 502 goes to the client (best effort: it is closed next)."""
    addrs, port = ", ".join(pair.addrs), pair.port
    if isinstance(pair.error, TimeoutError):
        reply = wire.error_response(504, _REASONS[504], f"egress router: connecting to port {port} of {addrs} timed out")
    else:
        reply = wire.error_response(502, _REASONS[502], f"egress router: cannot connect to port {port} of {addrs}: "
                                                         f"{pair.error}")
    with contextlib.suppress(OSError):
        pair.client.sock.send(reply, socket.MSG_DONTWAIT)


def _close(writer: asyncio.StreamWriter) -> None:
    """Close (what is buffered is still sent); not waited for."""
    if not writer.transport.is_closing():  # else closed already, or by the tunnel it was handed to
        writer.close()
