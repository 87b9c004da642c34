"""The egress HTTP proxy (HTTP proxy mode): HTTP and HTTPS (CONNECT) on port 8080, asyncio protocols.

Every request is judged by `http_acl.decide` (squid's http_access semantics for the rules of
EGRESS_HTTP_PROXY_DESTINATION); a denied one gets `403 Forbidden` naming the rule. The request path
is callbacks on asyncio (uvloop) transports, `http_conn`: no stream reader and no task per request.
Bodies stream in both directions as they arrive (never a whole message in memory, `relay.Body`);
chunked bodies are relayed as they are (de-chunked for an HTTP/1.0 client); client connections are
kept alive as HTTP/1.1 says; idle upstream connections are pooled (`pool`). A CONNECT tunnel leaves
asyncio once judged: its client socket and a new upstream one become a pair of the worker's
`epollfwd` forwarder (one epoll descriptor, a reader of the asyncio loop), which connects, sends the
`200` and forwards both ways (half-close passed on, bounded by one piece per direction). Limits
(`Limits`): head size and field count, open client connections and tunnels (more get `503`),
connect timeout (`504`), idle keep-alive and io timeouts (the connection is closed), checked by one
sweep over the client connections every second (or a quarter of the shortest timeout) against a
clock read by that sweep, not a timer per connection; a tunnel has the inactivity timeout
(io_timeout) only. The proxy connects to the very addresses the ACL judged (the first `MAX_TRIES` of them). Verdicts are remembered
per (host, addresses) and IP literals per host (bounded): the rules never change while the proxy
runs; a name is resolved again for every new upstream connection (the resolver's cache, not this
proxy's, decides how long an answer lives).
"""

from __future__ import annotations

import _socket
import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
from collections.abc import Callable
from typing import TypeVar

from osdn.egress import http_wire as wire
from osdn.egress.epollfwd import Loop, Pair
from osdn.egress.http_acl import Decision, HttpAcl, decide
from osdn.egress.http_conn import BUSY, REASONS, TUNNEL, ClientConn, UpstreamConn
from osdn.egress.pool import UpstreamPool
from osdn.egress.relay import Limits

log = logging.getLogger(__name__)
TUNNEL_OPEN = b"HTTP/1.1 200 Connection established\r\n\r\n"
MEMO = 4096  # remembered IP literals and ACL verdicts (a verdict with 5 rules costs ~20 µs)
MAX_TRIES = 25  # addresses tried per connection, as squid's forward_max_tries: a name whose owner
# answers 4,000 addresses would hold a client connection for 4,000 connect timeouts
SWEEP = 1.0  # seconds between timeout checks at most (less when a timeout is shorter)
K = TypeVar("K")
V = TypeVar("V")
Then = Callable[[ClientConn, tuple[str, ...]], None]


class HttpProxy:
    def __init__(self, acl: HttpAcl, limits: Limits | None = None,
                 resolved: dict[str, tuple[str, ...]] | None = None) -> None:
        self.acl, self.limits, self.resolved = acl, limits or Limits(), resolved or {}
        self.active = 0
        self.literals: dict[str, tuple[str, ...]] = {}  # host -> (address,) when it is one
        self.verdicts: dict[tuple[str, tuple[str, ...]], Decision] = {}  # (host, addresses) -> verdict
        self.pool: UpstreamPool[UpstreamConn] = UpstreamPool(idle=self.limits.idle_timeout)
        self.loop: asyncio.AbstractEventLoop | None = None  # set by serve
        self.fwd: Loop | None = None  # CONNECT tunnels' forwarder, set by serve
        self.conns: set[ClientConn] = set()  # checked by the sweep
        self.now = 0.0  # the sweep's clock: at most one tick old while connections are open
        limits = self.limits
        self.tick = min(SWEEP, max(0.01, min(limits.idle_timeout, limits.io_timeout) / 4))
        self.sweeping = False

    async def serve(self, host: str = "0.0.0.0", port: int = 8080) -> asyncio.Server:
        self.loop = asyncio.get_running_loop()
        self.fwd = Loop(waker=False)
        self.fwd.attach(self.loop)
        return await self.loop.create_server(lambda: ClientConn(self), host, port, reuse_address=True,
                                             reuse_port=True, backlog=1024)

    # timeouts

    def watch(self, conn: ClientConn) -> None:
        """Check `conn`'s `due` from now on (the sweep runs while any connection is open)."""
        self.conns.add(conn)
        if not self.sweeping:
            assert self.loop is not None
            self.sweeping, self.now = True, self.loop.time()
            self.loop.call_later(self.tick, self._sweep)

    def _sweep(self) -> None:
        assert self.loop is not None
        self.now = now = self.loop.time()
        late = now - self.tick  # `due` was set from a clock up to one tick old: never early
        for conn in [c for c in self.conns if c.due <= late]:
            conn.expire()
        self.sweeping = bool(self.conns)
        if self.sweeping:
            self.loop.call_later(self.tick, self._sweep)

    # judging

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

    def judge(self, c: ClientConn, then: Then) -> None:
        """then(c, addresses) once c's target is allowed (at once for an IP literal); else the error."""
        addrs = self.literal(c.host)
        if not addrs:
            c.task = asyncio.ensure_future(self._judge_name(c, then))
            return
        try:
            self._check(c, addrs)
        except wire.WireError as exc:
            c.fail(exc)
            return
        then(c, addrs)

    async def _judge_name(self, c: ClientConn, then: Then) -> None:
        addrs = await self.addresses(c.host, c.port)
        c.task = None
        if c.state != BUSY:
            return
        try:
            self._check(c, addrs)
        except wire.WireError as exc:
            c.fail(exc)
            return
        then(c, addrs)

    def _check(self, c: ClientConn, addrs: tuple[str, ...]) -> None:
        host, port = c.host, c.port
        verdict = self.verdicts.get((host, addrs))
        if verdict is None:  # the rules and `resolved` never change while the proxy runs
            verdict = decide(self.acl, host, addrs, self.resolved)
            _remember(self.verdicts, (host, addrs), verdict)
        if not verdict.allowed:
            log.info("denied %s -> %s:%d (%s)", c.peer, host, port, _why(verdict))
            raise wire.WireError(403, f"egress router: access to {host}:{port} is denied by "
                                      f"EGRESS_HTTP_PROXY_DESTINATION ({_why(verdict)})")
        if not addrs:
            raise wire.WireError(503, f"egress router: cannot resolve {host}")

    # upstream connections

    def open(self, c: ClientConn, addrs: tuple[str, ...]) -> None:
        """A new connection to c's (judged) target; the request goes out on it."""
        c.task = asyncio.ensure_future(self._open(c, addrs))

    async def _open(self, c: ClientConn, addrs: tuple[str, ...]) -> None:
        assert self.loop is not None
        key, port, last = (c.host, c.port), c.port, None
        addrs = addrs[:MAX_TRIES]  # all of them were judged; the first are tried
        for addr in addrs:
            try:
                _, u = await asyncio.wait_for(self.loop.create_connection(
                    lambda: UpstreamConn(self, key), addr, port), self.limits.connect_timeout)
            except OSError as exc:  # TimeoutError is one
                last = exc
                continue
            c.task = None
            if c.state != BUSY:
                u.close()
            else:
                c.send(u)
            return
        c.task = None
        if isinstance(last, TimeoutError):
            c.fail(wire.WireError(504, f"egress router: connecting to port {port} of {', '.join(addrs)} timed out"))
        else:
            c.fail(wire.WireError(502, f"egress router: cannot connect to port {port} of {', '.join(addrs)}: {last}"))

    def tunnel(self, c: ClientConn, addrs: tuple[str, ...]) -> None:
        """The tunnel leaves asyncio: the client socket (a duplicate of the transport's, which is then
        closed) and a new upstream one are an `epollfwd.Pair` of this worker's forwarder, which
        connects, sends the `200` (or the 502/504) and forwards both ways until both sides end."""
        t = c.t
        assert t is not None and self.fwd is not None
        if t.get_write_buffer_size():  # earlier responses first: resume_writing calls again
            c.addrs = addrs
            t.set_write_buffer_limits(0)
            return
        sock = t.get_extra_info("socket")
        try:
            client = _socket.socket(sock.family, socket.SOCK_STREAM, 0, os.dup(sock.fileno()))
        except OSError as exc:  # EMFILE
            c.fail(wire.WireError(503, f"egress router: {exc.strerror}"))
            return
        early, c.buf, c.state = bytes(c.buf), b"", TUNNEL  # what the client sent after the head: upstream first
        t.close()  # nothing buffered: the duplicate is now the connection
        self.fwd.refresh()
        self.active += 1
        pair = Pair(self.fwd, client, (c.peer, 0), self.limits.connect_timeout, self.limits.io_timeout,
                    self._tunnel_done, _tunnel_failed, early, TUNNEL_OPEN)
        pair.connect(addrs[:MAX_TRIES], c.port, min(len(addrs), MAX_TRIES))

    def _tunnel_done(self, pair: Pair) -> None:
        self.active -= 1


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
        reply = wire.error_response(504, REASONS[504], f"egress router: connecting to port {port} of {addrs} timed out")
    else:
        reply = wire.error_response(502, REASONS[502], f"egress router: cannot connect to port {port} of {addrs}: "
                                                        f"{pair.error}")
    with contextlib.suppress(OSError):
        pair.client.sock.send(reply, socket.MSG_DONTWAIT)
