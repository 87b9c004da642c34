"""TCP forwarding between two asyncio transports (the DNS proxy's data path), without stream objects.

Each side's Protocol writes what it receives straight into the other side's transport; when a
transport's write buffer fills, the other side stops reading until it drains (pause/resume), so
memory stays bounded by the transports' high-water marks. EOF is passed on as a half-close; the
pair is closed when both directions have ended, when either side fails, or after `inactivity`
seconds without a byte in either direction. `on_done(sent, received)` is called once at the end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast


class Pipe(asyncio.Protocol):
    """One side of a forwarded connection."""

    def __init__(self, link: Link, hold: bool = False) -> None:
        self.link, self.hold = link, hold
        self.transport: asyncio.Transport | None = None
        self.peer: Pipe | None = None
        self.pending: list[bytes] = []  # received before the peer was joined (at most one read)
        self.made: Callable[[], object] | None = None  # called once the transport exists
        self.count = 0
        self.eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's TCPTransport is not a subclass
        transport = self.transport
        if self.hold:  # nothing to forward to yet
            transport.pause_reading()
        if self.made is not None:
            self.made()

    def data_received(self, data: bytes) -> None:
        self.count += len(data)
        self.link.touch()
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write(data)
        else:
            self.pending.append(data)

    def eof_received(self) -> bool:
        self.eof = True
        self.forward_eof()
        return True

    def forward_eof(self) -> None:
        if self.peer is None or self.peer.transport is None:
            return
        if self.peer.eof:  # both directions have ended: closing sends the FIN (no shutdown first)
            self.link.close()
        elif self.peer.transport.can_write_eof():
            self.peer.transport.write_eof()

    def start(self) -> None:
        """The peer is joined: flush what came early, pass on an early EOF, read on."""
        assert self.peer is not None and self.peer.transport is not None and self.transport is not None
        for data in self.pending:
            self.peer.transport.write(data)
        self.pending.clear()
        if self.eof:
            self.forward_eof()
        elif self.hold:
            self.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.link.close()

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


class Link:
    """A client Pipe and an upstream Pipe, joined; closes both once."""

    def __init__(self, loop: asyncio.AbstractEventLoop, inactivity: float, on_done: Callable[[int, int], None]) -> None:
        self.loop = loop  # passed in: each running-loop look-up is a getpid system call in Python 3.11
        self.inactivity, self.on_done = inactivity, on_done
        self.client, self.upstream = Pipe(self, hold=True), Pipe(self)
        self.closed = False
        self.addr = ""  # the upstream address, once connected
        self.connect_expired = False  # the connect timer cancelled the connecting task
        self.last = self.loop.time()
        self.timer = self.loop.call_later(inactivity, self._check)

    def touch(self) -> None:
        self.last = self.loop.time()

    def join(self) -> None:
        """Both sides are connected: each passes on what it received meanwhile (an upstream may speak
        first, before the task that connected it runs again)."""
        self.client.peer, self.upstream.peer = self.upstream, self.client
        self.upstream.start()
        if not self.closed:
            self.client.start()

    def adopt_client(self, transport: asyncio.BaseTransport, early: bytes, eof: bool) -> None:
        """Take over a client connection another protocol has read from (the HTTP proxy's CONNECT):
        `early` is what that protocol had read ahead, `eof` whether the client had half-closed."""
        transport.set_protocol(self.client)
        self.client.connection_made(transport)
        if early:
            self.client.data_received(early)
        self.client.eof = eof

    def _check(self) -> None:
        idle = self.loop.time() - self.last
        if idle >= self.inactivity:
            self.close()
        else:
            self.timer = self.loop.call_later(self.inactivity - idle, self._check)

    def close_upstream(self) -> None:
        if self.upstream.transport is not None:
            self.upstream.transport.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.timer.cancel()
        for side in (self.client, self.upstream):
            if side.transport is not None:
                side.transport.close()
        self.on_done(self.client.count, self.upstream.count)
