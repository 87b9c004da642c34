"""The egress DNS proxy's userspace forwarder: TCP forwarding per EGRESS_DNS_PROXY_DESTINATION.

Used when EGRESS_DNS_PROXY_DEBUG is set (it logs every connection); otherwise DNS proxy mode forwards
in the kernel (`dns_kernel`).

What the image's haproxy does with the generated config: one listener per line (`bind :PORT`), each
connection forwarded to the target's port; a name target is resolved at run time through the pod's
resolver (/etc/resolv.conf, in a thread: the loop never blocks) and re-resolved when the last answer
is older than `resolve_every` (haproxy's 1 s resolution interval); the last good answer is kept for
`hold_valid` (10 s) when the resolver fails or does not answer within 5 s. Several addresses are used
round-robin (`server-template`); a failed connect tries the next address, up to `retries` (3) more
times (`option redispatch`). Timeouts as the config says: connect 10 s, client/server inactivity
1 min. At most `max_connections` (4000, `maxconn`) at once; more are closed at once.
EGRESS_DNS_PROXY_DEBUG logs one line per connection to stdout. The data path is `epollfwd`: a plain
edge-triggered epoll loop per worker, no asyncio.
"""

from __future__ import annotations

import _socket
import functools
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from osdn.egress.dns_config import DnsDestination
from osdn.egress.epollfwd import Listener, Loop, Pair, listen

log = logging.getLogger(__name__)
Resolve = Callable[[str, int], tuple[str, ...]]


@dataclass(frozen=True)
class DnsProxyOptions:
    connect_timeout: float = 10.0
    inactivity: float = 60.0
    retries: int = 3
    resolve_every: float = 1.0
    hold_valid: float = 10.0
    resolve_timeout: float = 5.0
    max_connections: int = 4000
    debug: bool = False


@dataclass
class _Answer:
    addrs: tuple[str, ...] = ()
    at: float = -1e9
    turn: int = 0
    pending: int = 0  # the resolution under way (0: none)
    waiting: list[tuple[DnsDestination, Pair]] = field(default_factory=list)


def system_resolve(name: str, port: int) -> tuple[str, ...]:
    infos = socket.getaddrinfo(name, port, family=socket.AF_INET, type=socket.SOCK_STREAM)
    return tuple(dict.fromkeys(str(i[4][0]) for i in infos))


@dataclass
class DnsProxy:
    dests: list[DnsDestination]
    options: DnsProxyOptions = field(default_factory=DnsProxyOptions)
    resolve: Resolve = system_resolve  # blocking: runs in a thread
    clock: Callable[[], float] = time.monotonic
    answers: dict[str, _Answer] = field(default_factory=dict)
    active: int = 0
    loop: Loop = field(default_factory=Loop)
    resolutions: int = 0

    def bind(self, host: str = "0.0.0.0") -> None:
        """Listen on every destination's port (OSError when one cannot be bound)."""
        for d in self.dests:
            Listener(self.loop, listen(host, d.listen_port), functools.partial(self._accept, d))

    def run(self) -> None:
        """Forward until `stop`; then close every connection and listener."""
        try:
            self.loop.run()
        finally:
            self.loop.close()

    def stop(self) -> None:
        self.loop.stop()

    def _accept(self, d: DnsDestination, sock: _socket.socket, peer: tuple[str, int]) -> None:
        if self.active >= self.options.max_connections:
            sock.close()
            return
        self.active += 1
        opts = self.options
        done = functools.partial(self._done, d, self.clock()) if opts.debug else self._closed
        pair = Pair(self.loop, sock, peer, opts.connect_timeout, opts.inactivity, done)
        if not d.is_name:
            pair.connect((d.target,), d.remote_port, opts.retries + 1)
            return
        ans = self.answers.setdefault(d.target, _Answer())
        if self.clock() - ans.at < self.options.resolve_every:
            self._connect(d, pair, ans)
            return
        ans.waiting.append((d, pair))
        if not ans.pending:
            self._start_resolution(d, ans)

    def _connect(self, d: DnsDestination, pair: Pair, ans: _Answer) -> None:
        """Connect to the answer's addresses, rotated round-robin."""
        addrs = ans.addrs
        if addrs:
            ans.turn = (ans.turn + 1) % len(addrs)
            addrs = addrs[ans.turn:] + addrs[:ans.turn]
        pair.connect(addrs, d.remote_port, self.options.retries + 1)

    def _start_resolution(self, d: DnsDestination, ans: _Answer) -> None:
        self.resolutions += 1
        token = ans.pending = self.resolutions
        asked, loop = self.clock(), self.loop

        def work() -> None:
            try:
                addrs, error = self.resolve(d.target, d.remote_port), None
            except OSError as exc:
                addrs, error = (), exc
            loop.call_soon_threadsafe(lambda: self._answered(d.target, token, asked, addrs, error))

        threading.Thread(target=work, name=f"resolve {d.target}", daemon=True).start()
        limit = self.options.resolve_timeout
        loop.at(loop.now + limit, lambda _now: self._answered(
            d.target, token, asked, (), TimeoutError(f"no answer within {limit:g} s")))

    def _answered(self, name: str, token: int, asked: float, addrs: tuple[str, ...], error: OSError | None) -> None:
        ans = self.answers[name]
        if ans.pending != token:  # answered already (or timed out)
            return
        ans.pending = 0
        if error is None:
            ans.addrs, ans.at = addrs, asked
        else:
            if asked - ans.at > self.options.hold_valid:
                ans.addrs = ()
            log.warning("resolving %s failed: %s", name, error)
        waiting, ans.waiting = ans.waiting, []
        for d, pair in waiting:
            if not pair.closed:
                self._connect(d, pair, ans)

    def _closed(self, pair: Pair) -> None:
        self.active -= 1

    def _done(self, d: DnsDestination, start: float, pair: Pair) -> None:
        """With EGRESS_DNS_PROXY_DEBUG: the connection's log line."""
        self.active -= 1
        peer = f"{pair.peer_addr[0]}:{pair.peer_addr[1]}"
        if pair.joined:
            self._log(f"{peer} fe{d.number} :{d.port} -> be{d.number}/{pair.addr}:{d.remote_port} "
                      f"{self.clock() - start:.3f}s {pair.client.count} bytes up "
                      f"{pair.upstream.count if pair.upstream else 0} bytes down")
        elif pair.failed:
            error = pair.error or OSError(f"{d.target} has no address")
            self._log(f"{peer} fe{d.number} :{d.port} -> {d.target}:{d.target_port} failed: "
                      f"{error or type(error).__name__}")

    def _log(self, line: str) -> None:
        print(line, flush=True)
