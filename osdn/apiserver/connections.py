"""Connection limits at the HTTP edge: what uvicorn does not bound by itself.

uvicorn (httptools) arms no timer before a connection's first request and none while headers trickle
in, and puts no cap on the size of a request's headers; a client that stops reading a response keeps
its connection forever. `GuardedHttp` adds, per connection:
- a request-header deadline (as Go's ReadHeaderTimeout, 32 s in kube-apiserver): a connection whose
  request headers are not complete in time (idle after connect, or a slowloris drip) is closed;
- a header size cap: more than `max_header_bytes` of an incomplete header block is answered 431;
- a request-body deadline: a body not complete `body_timeout` seconds after its headers (a slow
  drip of the body) closes the connection; the rest of a body answered before it was read (a 413 by
  Content-Length) is body, not the next request's headers;
- a write-stall deadline: while the socket does not take our data (the transport paused writing),
  a client that reads nothing for `write_stall_timeout` seconds is disconnected (a stalled watcher);
  one that reads slowly (the buffer shrinks) is not.
Idle keep-alive connections close after uvicorn's `timeout_keep_alive`; `max_connections` is
uvicorn's `limit_concurrency` (503 past it).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float = 32.0        # seconds for a request's headers to arrive, from connect or last response
    max_header_bytes: int = 64 * 1024   # bytes of one request line + headers
    body_timeout: float = 60.0          # seconds for a request's body to arrive after its headers
    write_stall_timeout: float = 60.0   # seconds a client may take none of the data waiting for it
    idle_timeout: int = 30              # seconds an idle keep-alive connection stays open (clients: 25)
    max_connections: int = 1000         # open connections (and requests in flight) before 503s


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol with the deadlines and the header cap above."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(cast(asyncio.Transport, transport))
        self._header_timer: asyncio.TimerHandle | None = None
        self._stall_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._stall_mark = 0
        self._header_bytes = 0
        self._in_body = False             # between a request's headers and the end of its body
        self._await_headers()

    def _await_headers(self) -> None:
        self._cancel("_header_timer")
        self._header_bytes = 0
        self._header_timer = self.loop.call_later(self.limits.header_timeout, self._headers_too_slow)

    def _cancel(self, name: str) -> None:
        timer = getattr(self, name, None)
        if timer is not None:
            timer.cancel()
            setattr(self, name, None)

    def _peer(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "?"

    def _headers_too_slow(self) -> None:
        if not self.transport.is_closing():  # else closed as idle already, its TLS goodbye unanswered: no news
            log.warning("closing connection from %s: no complete request headers within %gs",
                        self._peer(), self.limits.header_timeout)
        self.transport.abort()

    def _body_too_slow(self) -> None:
        log.warning("closing connection from %s: request body not complete within %gs",
                    self._peer(), self.limits.body_timeout)
        self.transport.abort()

    def _arm_stall_timer(self) -> None:
        self._stall_mark = self.transport.get_write_buffer_size()
        self._stall_timer = self.loop.call_later(self.limits.write_stall_timeout, self._write_stalled)

    def _write_stalled(self) -> None:
        if self.transport.get_write_buffer_size() < self._stall_mark:   # slow, but it reads: wait on
            self._arm_stall_timer()
            return
        log.warning("closing connection from %s: it took no data for %gs",
                    self._peer(), self.limits.write_stall_timeout)
        self.transport.abort()

    def data_received(self, data: bytes) -> None:
        awaiting = self._header_timer is not None
        super().data_received(data)
        if awaiting and self._header_timer is not None and not self.transport.is_closing():
            self._header_bytes += len(data)
            if self._header_bytes > self.limits.max_header_bytes:
                self._cancel("_header_timer")
                log.warning("refusing request from %s: headers larger than %d bytes",
                            self._peer(), self.limits.max_header_bytes)
                self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                                     b"content-length: 0\r\nconnection: close\r\n\r\n")
                self.transport.close()

    def on_headers_complete(self) -> None:
        self._cancel("_header_timer")
        self._in_body = True
        super().on_headers_complete()
        if not self.pipeline:             # a pipelined request's body is read after the current response
            self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_too_slow)

    def on_message_complete(self) -> None:
        self._cancel("_body_timer")
        self._in_body = False
        super().on_message_complete()
        if self.cycle.response_complete:  # answered before its body was read (a 413): headers next
            self._next_headers()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self._in_body:             # else the rest of the body is still to come, not headers
            self._next_headers()

    def _next_headers(self) -> None:
        if not self.transport.is_closing() and not self.pipeline and self.cycle.response_complete:
            self._await_headers()

    def pause_writing(self) -> None:
        super().pause_writing()
        self._cancel("_stall_timer")
        self._arm_stall_timer()

    def resume_writing(self) -> None:
        self._cancel("_stall_timer")
        super().resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in ("_header_timer", "_stall_timer", "_body_timer"):
            self._cancel(timer)
        super().connection_lost(exc)


def protocol_class(limits: ConnectionLimits) -> type[GuardedHttp]:
    """A GuardedHttp bound to `limits` (uvicorn instantiates the class itself, per connection)."""
    return type("GuardedHttp", (GuardedHttp,), {"limits": limits})


def uvicorn_options(limits: ConnectionLimits) -> dict[str, Any]:
    """The uvicorn.Config keywords that carry these limits."""
    return {"http": protocol_class(limits), "timeout_keep_alive": limits.idle_timeout,
            "limit_concurrency": limits.max_connections}
