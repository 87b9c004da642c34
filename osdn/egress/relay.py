"""The egress HTTP proxy's limits and message-body framing, fed bytes as they arrive. Pure.

`Body` is one body's framing (a length, chunked, or until the connection closes) as a state
machine: `feed` takes what just arrived, hands what belongs to the body to `out` (the chunked
framing kept, or removed for an HTTP/1.0 client) and says how much was the body's; the rest is the
next message's. Nothing is held beyond a partial chunk-size or trailer line, which is bounded
(`limit`, the head size): a longer one is refused (`WireError`), as are malformed chunk sizes,
chunk data longer than its size and trailers over `limit` bytes in all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from osdn.egress.http_wire import Framing, WireError

LENGTH, CLOSE, SIZE, DATA, DATA_END, TRAILER, DONE = range(7)
_HEX = frozenset(b"0123456789abcdefABCDEF")


@dataclass(frozen=True)
class Limits:
    max_head: int = 65536  # request/status line + header fields, bytes
    max_headers: int = 100
    max_connections: int = 1024
    idle_timeout: float = 120.0  # a kept-alive client connection with no new request
    connect_timeout: float = 10.0
    io_timeout: float = 900.0  # no byte moved on a body or tunnel for this long (squid's read_timeout)
    piece: int = 256 * 1024


class Body:
    """A message body's framing; `done` once it has all arrived (a CLOSE body: never, the caller
    ends it at EOF)."""

    __slots__ = ("state", "left", "dechunk", "line", "budget", "limit")

    def __init__(self, framing: Framing, dechunk: bool, limit: int) -> None:
        self.dechunk, self.limit, self.budget, self.line = dechunk, limit, limit, b""
        self.left = 0
        if framing.chunked:
            self.state = SIZE
        elif framing.length is None:
            self.state = CLOSE
        else:
            self.left = framing.length
            self.state = LENGTH if framing.length else DONE

    @property
    def done(self) -> bool:
        return self.state == DONE

    def feed(self, data: bytes, out: Callable[[bytes], None]) -> int:
        """Pass this body's part of `data` to `out`; return its length (the rest is not this body's)."""
        state = self.state
        if state == LENGTH:
            n = min(self.left, len(data))
            out(data if n == len(data) else data[:n])
            self.left -= n
            if not self.left:
                self.state = DONE
            return n
        if state == CLOSE:
            out(data)
            return len(data)
        if state == DONE:
            return 0
        return self._chunked(data, out)

    def _chunked(self, data: bytes, out: Callable[[bytes], None]) -> int:
        pos, end, dechunk = 0, len(data), self.dechunk
        while pos < end and self.state != DONE:
            if self.state == DATA:
                n = min(self.left, end - pos)
                if dechunk:
                    out(data[pos:pos + n])
                pos += n
                self.left -= n
                if not self.left:
                    self.state = DATA_END
                continue
            nl = data.find(b"\n", pos)
            if nl < 0:
                self._partial(data[pos:])
                pos = end
                break
            line, self.line = self.line + data[pos:nl + 1], b""
            pos = nl + 1
            self._line(line)
        if not dechunk and pos:
            out(data if pos == end else data[:pos])
        return pos

    def _partial(self, piece: bytes) -> None:
        self.line += piece
        if len(self.line) > self.limit:
            raise WireError(400, "chunk size or trailer line too long")

    def _line(self, line: bytes) -> None:
        if self.state == SIZE:
            size_text = line.split(b";", 1)[0].strip()
            if not size_text or len(size_text) > 16 or not _HEX.issuperset(size_text):
                raise WireError(400, "malformed chunk size")
            self.left = int(size_text, 16)
            self.state = DATA if self.left else TRAILER
        elif self.state == DATA_END:
            if line.strip():
                raise WireError(400, "chunk data longer than its size")
            self.state = SIZE
        else:  # TRAILER: fields, then the empty line
            self.budget -= len(line)
            if self.budget < 0:
                raise WireError(431, "chunked trailers too large")
            if not line.strip():
                self.state = DONE
