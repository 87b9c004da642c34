"""Byte relays shared by the egress proxies: bounded reads, timeouts, half-close, chunked framing.

Nothing is buffered beyond one piece of `Limits.piece` bytes per direction; writers are drained
after every piece, so a slow reader slows its sender instead of growing memory. A read that makes
no progress for `io_timeout` seconds ends the relay with asyncio.TimeoutError.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from osdn.egress.http_wire import WireError


@dataclass(frozen=True)
class Limits:
    max_head: int = 65536  # request/status line + header fields, bytes
    max_headers: int = 100
    max_connections: int = 1024
    idle_timeout: float = 120.0  # a kept-alive client connection with no new request
    connect_timeout: float = 10.0
    io_timeout: float = 900.0  # no byte moved on a body or tunnel for this long (squid's read_timeout)
    piece: int = 256 * 1024


async def open_upstream(addrs: tuple[str, ...], port: int, limits: Limits,
                        ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to the first address that answers (each try bounded by connect_timeout)."""
    last: Exception | None = None
    for addr in addrs:
        try:
            async with asyncio.timeout(limits.connect_timeout):
                return await asyncio.open_connection(addr, port, limit=limits.max_head)
        except TimeoutError as exc:
            last = exc
        except OSError as exc:
            last = exc
    if isinstance(last, asyncio.TimeoutError):
        raise WireError(504, f"egress router: connecting to port {port} of {', '.join(addrs)} timed out")
    raise WireError(502, f"egress router: cannot connect to port {port} of {', '.join(addrs)}: {last}")


async def _read(src: asyncio.StreamReader, n: int, limits: Limits) -> bytes:
    async with asyncio.timeout(limits.io_timeout):
        return await src.read(n)


async def _line(src: asyncio.StreamReader, limits: Limits) -> bytes:
    async with asyncio.timeout(limits.io_timeout):
        return await src.readuntil(b"\n")


async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, limits: Limits, half_close: bool = True) -> int:
    """Copy until EOF; then half-close `dst` (write EOF) when asked. Returns the bytes moved."""
    moved = 0
    while data := await _read(src, limits.piece, limits):
        dst.write(data)
        moved += len(data)
        await dst.drain()
    if half_close and dst.can_write_eof():
        with contextlib.suppress(OSError):
            dst.write_eof()
    return moved


async def splice(ar: asyncio.StreamReader, aw: asyncio.StreamWriter, br: asyncio.StreamReader,
                 bw: asyncio.StreamWriter, limits: Limits) -> tuple[int, int]:
    """Both directions at once until both have ended (or one fails: then both are cut)."""
    down = asyncio.ensure_future(pump(br, aw, limits))
    try:
        sent = await pump(ar, bw, limits)
        return sent, await down
    finally:
        down.cancel()


async def read_exactly(src: asyncio.StreamReader, n: int, limits: Limits) -> bytes:
    try:
        async with asyncio.timeout(limits.io_timeout):
            return await src.readexactly(n)
    except asyncio.IncompleteReadError as exc:
        raise ConnectionError(f"body ended {n - len(exc.partial)} bytes early") from None


async def relay_length(src: asyncio.StreamReader, dst: asyncio.StreamWriter, length: int, limits: Limits) -> None:
    left = length
    while left:
        data = await _read(src, min(left, limits.piece), limits)
        if not data:
            raise ConnectionError(f"body ended {left} bytes early")
        dst.write(data)
        left -= len(data)
        await dst.drain()


async def relay_chunked(src: asyncio.StreamReader, dst: asyncio.StreamWriter, limits: Limits, dechunk: bool) -> None:
    """Relay a chunked body chunk by chunk (framing kept, or removed when `dechunk`), trailers too."""
    while True:
        line = await _line(src, limits)
        size_text = line.split(b";", 1)[0].strip()
        if not size_text or len(size_text) > 16 or any(c not in b"0123456789abcdefABCDEF" for c in size_text):
            raise WireError(400, "malformed chunk size")
        size = int(size_text, 16)
        if not dechunk:
            dst.write(line)
        if size == 0:
            break
        await relay_length(src, dst, size, limits)
        crlf = await _line(src, limits)
        if crlf.strip():
            raise WireError(400, "chunk data longer than its size")
        if not dechunk:
            dst.write(crlf)
    budget = limits.max_head
    while True:  # trailer fields, then the empty line
        line = await _line(src, limits)
        budget -= len(line)
        if budget < 0:
            raise WireError(431, "chunked trailers too large")
        if not dechunk:
            dst.write(line)
        if not line.strip():
            return
