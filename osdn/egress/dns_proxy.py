"""The egress DNS proxy (DNS proxy mode): TCP forwarding per EGRESS_DNS_PROXY_DESTINATION, asyncio.

What the image's haproxy does with the generated config: one listener per line (`bind :PORT`), each
connection forwarded to the target's port; a name target is resolved at run time through the pod's
resolver (/etc/resolv.conf) and re-resolved when the last answer is older than `resolve_every`
(haproxy's 1 s resolution interval); the last good answer is kept for `hold_valid` (10 s) when the
resolver fails. Several addresses are used round-robin (`server-template`); a failed connect tries
the next address, up to `retries` (3) more times (`option redispatch`). Timeouts as the config
says: connect 10 s, client/server inactivity 1 min. At most `max_connections` (4000, `maxconn`) at
once; more wait in the listen backlog. EGRESS_DNS_PROXY_DEBUG logs one line per connection to stdout.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from osdn.egress.dns_config import DnsDestination
from osdn.egress.tcpfwd import Link, Pipe

log = logging.getLogger(__name__)
Resolve = Callable[[str, int], Awaitable[tuple[str, ...]]]


@dataclass(frozen=True)
class DnsProxyOptions:
    connect_timeout: float = 10.0
    inactivity: float = 60.0
    retries: int = 3
    resolve_every: float = 1.0
    hold_valid: float = 10.0
    max_connections: int = 4000
    debug: bool = False


@dataclass
class _Answer:
    addrs: tuple[str, ...] = ()
    at: float = -1e9
    turn: int = 0


async def system_resolve(name: str, port: int) -> tuple[str, ...]:
    infos = await asyncio.get_running_loop().getaddrinfo(name, port, family=socket.AF_INET, type=socket.SOCK_STREAM)
    return tuple(dict.fromkeys(str(i[4][0]) for i in infos))


@dataclass
class DnsProxy:
    dests: list[DnsDestination]
    options: DnsProxyOptions = field(default_factory=DnsProxyOptions)
    resolve: Resolve = system_resolve
    clock: Callable[[], float] = time.monotonic
    answers: dict[str, _Answer] = field(default_factory=dict)

    active: int = 0

    async def serve(self, host: str = "0.0.0.0") -> list[asyncio.Server]:
        loop = asyncio.get_running_loop()
        servers = []
        for d in self.dests:
            servers.append(await loop.create_server(functools.partial(self._accept, loop, d), host, d.listen_port,
                                                    reuse_address=True, reuse_port=True, backlog=1024))
        return servers

    def _accept(self, loop: asyncio.AbstractEventLoop, d: DnsDestination) -> Pipe:
        """A new client connection: its Pipe now, the upstream connection in a task."""
        start = self.clock()
        link = Link(loop, self.options.inactivity, lambda up, down: self._done(d, link, start, up, down))
        self.active += 1
        link.client.made = lambda: loop.create_task(self._connect(d, link))
        return link.client

    async def _connect(self, d: DnsDestination, link: Link) -> None:
        client = link.client
        if self.active > self.options.max_connections:
            link.close()
            return
        try:
            link.addr = await self._open(d, link)
        except OSError as exc:
            self._log(f"{_peer(client)} fe{d.number} :{d.port} -> {d.target}:{d.target_port} failed: "
                      f"{exc or type(exc).__name__}")
            link.close()
            return
        if link.closed:  # the client left while we connected
            link.close_upstream()
            return
        link.join()

    def _done(self, d: DnsDestination, link: Link, start: float, sent: int, received: int) -> None:
        self.active -= 1
        if link.addr:
            self._log(f"{_peer(link.client)} fe{d.number} :{d.port} -> be{d.number}/{link.addr}:{d.remote_port} "
                      f"{self.clock() - start:.3f}s {sent} bytes up {received} bytes down")

    async def targets(self, d: DnsDestination) -> tuple[str, ...]:
        """Addresses to try, rotated round-robin; names re-resolved as described above."""
        ans = self.answers.setdefault(d.target, _Answer())
        now = self.clock()
        if now - ans.at >= self.options.resolve_every:
            try:
                ans.addrs, ans.at = await asyncio.wait_for(self.resolve(d.target, d.remote_port), 5.0), now
            except (TimeoutError, OSError) as exc:
                if now - ans.at > self.options.hold_valid:
                    ans.addrs = ()
                log.warning("resolving %s failed: %s", d.target, exc)
        if not ans.addrs:
            return ()
        ans.turn = (ans.turn + 1) % len(ans.addrs)
        return ans.addrs[ans.turn:] + ans.addrs[:ans.turn]

    async def _open(self, d: DnsDestination, link: Link) -> str:
        """Connect link.upstream to the first address that answers (up to `retries` more tries)."""
        addrs = await self.targets(d) if d.is_name else (d.target,)
        last: Exception = OSError(f"{d.target} has no address")
        loop = link.loop
        task = asyncio.current_task(loop)
        for attempt in range(self.options.retries + 1):
            if not addrs:
                break
            addr = addrs[attempt % len(addrs)]
            # a plain timer cancels the try (asyncio.timeout costs a Timeout and loop look-ups each time)
            timer = loop.call_later(self.options.connect_timeout, _expire, task, link)
            try:
                await loop.create_connection(lambda: link.upstream, addr, d.remote_port)
                return addr
            except OSError as exc:
                last = exc
            except asyncio.CancelledError:
                if not link.connect_expired or task is None:
                    raise
                task.uncancel()
                link.connect_expired = False
                if link.upstream.transport is not None:  # connected just as the timer fired
                    return addr
                last = TimeoutError(f"connecting to {addr}:{d.remote_port} timed out")
            finally:
                timer.cancel()
        raise last

    def _log(self, line: str) -> None:
        if self.options.debug:
            print(line, flush=True)


def _expire(task: asyncio.Task[None] | None, link: Link) -> None:
    if task is not None:
        link.connect_expired = True
        task.cancel()


def _peer(pipe: Pipe) -> str:
    peer = pipe.transport.get_extra_info("peername") if pipe.transport else None
    return f"{peer[0]}:{peer[1]}" if peer else "?"
