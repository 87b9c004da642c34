"""Byte relays shared by the egress proxies: bounded reads, timeouts, half-close, chunked framing.

Nothing is buffered beyond one piece of `Limits.piece` bytes per direction; writers are drained
after every piece, so a slow reader slows its sender instead of growing memory. A read (or the
write after it) that makes no progress for `io_timeout` seconds ends the client connection: its
`Deadline` cancels the handler task.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from osdn.egress.http_wire import WireError

T = TypeVar("T")


@dataclass(frozen=True)
class Limits:
    max_head: int = 65536  # request/status line + header fields, bytes
    max_headers: int = 100
    max_connections: int = 1024
    idle_timeout: float = 120.0  # a kept-alive client connection with no new request
    connect_timeout: float = 10.0
    io_timeout: float = 900.0  # no byte moved on a body or tunnel for this long (squid's read_timeout)
    piece: int = 256 * 1024


async def open_upstream(addrs: tuple[str, ...], port: int, dl: Deadline,
                        ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to the first address that answers (each try bounded by connect_timeout)."""
    limit = dl.limits.max_head
    return await _first(addrs, port, dl, lambda addr: asyncio.open_connection(addr, port, limit=limit))


async def _first(addrs: tuple[str, ...], port: int, dl: Deadline, connect: Callable[[str], Awaitable[T]]) -> T:
    last: Exception | None = None
    for addr in addrs:
        try:
            return await dl.within(dl.limits.connect_timeout, connect(addr))
        except OSError as exc:  # TimeoutError is one
            last = exc
    if isinstance(last, TimeoutError):
        raise WireError(504, f"egress router: connecting to port {port} of {', '.join(addrs)} timed out")
    raise WireError(502, f"egress router: cannot connect to port {port} of {', '.join(addrs)}: {last}")


def take_buffered(reader: asyncio.StreamReader) -> bytes:
    """What `reader` has read ahead and holds (asyncio has no public call for it), removed from it."""
    buffer = getattr(reader, "_buffer", None)
    if not buffer:
        return b""
    data = bytes(buffer)
    buffer.clear()
    return data


class Deadline:
    """The one timer of a client connection (instead of one per read): once `at` has passed, the
    connection's handler task is cancelled and `expired` is set. Moving the deadline is a float
    assignment; the timer re-arms itself lazily when it fires early (asyncio.timeout per read cost a
    timer, a Timeout and several running-loop look-ups on every read)."""

    def __init__(self, limits: Limits, loop: asyncio.AbstractEventLoop | None = None,
                 task: asyncio.Task[Any] | None = None) -> None:
        self.limits = limits
        self.loop = loop or asyncio.get_running_loop()
        self.task = task or asyncio.current_task(self.loop)
        self.at = float("inf")
        self.armed = float("inf")
        self.timer: asyncio.TimerHandle | None = None
        self.expired = False
        self.cut = False  # a `within` bound cancelled the task

    def after(self, seconds: float) -> None:
        self.at = self.loop.time() + seconds
        if self.at < self.armed:
            self._arm()

    def io(self) -> None:
        self.after(self.limits.io_timeout)

    def _arm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.armed = self.at
        self.timer = self.loop.call_at(self.at, self._fire)

    def _fire(self) -> None:
        self.timer, self.armed = None, float("inf")
        if self.loop.time() + 0.001 < self.at:
            self._arm()
        elif self.task is not None:
            self.expired = True
            self.task.cancel()

    async def within(self, seconds: float, aw: Awaitable[T]) -> T:
        """`aw`, or TimeoutError after `seconds`: a plain timer cancels this connection's task (an
        asyncio.timeout would look the running loop and task up, a getpid system call each)."""
        timer = self.loop.call_later(seconds, self._cut)
        try:
            return await aw
        except asyncio.CancelledError:
            if not self.cut:
                raise
            self.cut = False
            self.absorb()
            raise TimeoutError(f"no answer within {seconds:g} s") from None
        finally:
            timer.cancel()

    def _cut(self) -> None:
        if self.task is not None:
            self.cut = True
            self.task.cancel()

    def absorb(self) -> None:
        """The expiry's cancellation is handled: the task may await again (its close, say)."""
        if self.task is not None:
            self.task.uncancel()

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer, self.armed, self.at = None, float("inf"), float("inf")


async def _read(src: asyncio.StreamReader, n: int, dl: Deadline) -> bytes:
    dl.io()
    return await src.read(n)


async def _line(src: asyncio.StreamReader, dl: Deadline) -> bytes:
    dl.io()
    return await src.readuntil(b"\n")


async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, dl: Deadline, half_close: bool = True) -> int:
    """Copy until EOF; then half-close `dst` (write EOF) when asked. Returns the bytes moved."""
    moved = 0
    while data := await _read(src, dl.limits.piece, dl):
        dst.write(data)
        moved += len(data)
        await dst.drain()
    if half_close and dst.can_write_eof():
        with contextlib.suppress(OSError):
            dst.write_eof()
    return moved


async def read_exactly(src: asyncio.StreamReader, n: int, dl: Deadline) -> bytes:
    dl.io()
    try:
        return await src.readexactly(n)
    except asyncio.IncompleteReadError as exc:
        raise ConnectionError(f"body ended {n - len(exc.partial)} bytes early") from None


async def relay_length(src: asyncio.StreamReader, dst: asyncio.StreamWriter, length: int, dl: Deadline) -> None:
    left = length
    while left:
        data = await _read(src, min(left, dl.limits.piece), dl)
        if not data:
            raise ConnectionError(f"body ended {left} bytes early")
        dst.write(data)
        left -= len(data)
        await dst.drain()


async def relay_chunked(src: asyncio.StreamReader, dst: asyncio.StreamWriter, dl: Deadline, dechunk: bool) -> None:
    """Relay a chunked body chunk by chunk (framing kept, or removed when `dechunk`), trailers too."""
    while True:
        line = await _line(src, dl)
        size_text = line.split(b";", 1)[0].strip()
        if not size_text or len(size_text) > 16 or any(c not in b"0123456789abcdefABCDEF" for c in size_text):
            raise WireError(400, "malformed chunk size")
        size = int(size_text, 16)
        if not dechunk:
            dst.write(line)
        if size == 0:
            break
        await relay_length(src, dst, size, dl)
        crlf = await _line(src, dl)
        if crlf.strip():
            raise WireError(400, "chunk data longer than its size")
        if not dechunk:
            dst.write(crlf)
    budget = dl.limits.max_head
    while True:  # trailer fields, then the empty line
        line = await _line(src, dl)
        budget -= len(line)
        if budget < 0:
            raise WireError(431, "chunked trailers too large")
        if not dechunk:
            dst.write(line)
        if not line.strip():
            return
