"""TCP forwarding on a plain edge-triggered epoll loop (the DNS proxy's data path), without asyncio.

Every socket is registered once (EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET), never modified; closing it
removes it (a listener that runs out of descriptors pauses 0.1 s, then accepts again: no new edge
would come). A `Side` remembers what the last edges said (readable, writable) and a pump copies from
one side to the other through one preallocated buffer while the source has data and the destination
takes it: a short read means the socket is drained (as nginx does; unless the peer has half-closed,
then it reads on to the end), a short send keeps the rest (at most one buffer) and stops reading
that side until the destination is writable again, so memory stays bounded and a slow reader slows
its sender. EOF is passed on as a half-close; the pair is closed when both directions have ended,
on an error, or after `inactivity` seconds without an event. Upstream connects are non-blocking,
each bounded by `connect_timeout`; a failed or timed-out try moves on to the next address.

Timers are a heap checked after each epoll_wait (`Loop.at`); the pairs' timeouts are one sweep over
the open pairs every second (or a quarter of the shortest timeout), not a timer per connection (a
heap entry per short connection lives as long as its timeout). Other threads (a name resolution) and
signals wake the loop through a pipe (`Loop.call_soon_threadsafe`, `Loop.stop`).
"""

from __future__ import annotations

import _socket
import asyncio
import collections
import contextlib
import errno
import heapq
import itertools
import os
import select
import socket
import threading
import time
from collections.abc import Callable

IN, OUT, RDHUP, HUP, ERR, ET = (select.EPOLLIN, select.EPOLLOUT, select.EPOLLRDHUP, select.EPOLLHUP,
                                select.EPOLLERR, select.EPOLLET)
MASK = IN | OUT | RDHUP | ET
ENDED = RDHUP | HUP | ERR
READ = IN | ENDED
PIECE = 262144
ACCEPT_PAUSE = 0.1  # seconds, after accept failed for want of descriptors or memory
SWEEP = 1.0  # seconds between timeout checks at most (less when a timeout is shorter)
ACCEPT = "_accept"  # the C socket's accept4 (fd, address): no socket.socket wrapper; typeshed omits it
DONTWAIT = socket.MSG_DONTWAIT  # accepted sockets stay blocking: no fcntl per connection


class Loop:
    """An epoll loop: `fds` maps a descriptor to the object whose `event(mask)` handles it. It runs on
    its own (`run`), or inside an asyncio loop (`attach`: its epoll descriptor is one reader there)."""

    def __init__(self, waker: bool = True) -> None:
        self.epoll = select.epoll()
        self.fds: dict[int, Side | Listener | _Waker] = {}
        self.heap: list[tuple[float, int, Callable[[float], None]]] = []
        self.seq = itertools.count()
        self.now = time.monotonic()
        self.soon: collections.deque[Callable[[], None]] = collections.deque()
        self.stopping = False
        self.buffer = bytearray(PIECE)
        self.view = memoryview(self.buffer)
        self.waker: _Waker | None = None
        if waker:
            self.waker = _Waker(self)
            self.add(self.waker.r, self.waker)
        self.host: asyncio.AbstractEventLoop | None = None  # when attached
        self.armed = float("inf")  # the host's timer for the heap's first entry
        self.pairs: set[Pair] = set()  # checked by one sweep every `tick` seconds, not a timer each
        self.tick = SWEEP
        self.sweeping = False

    def add(self, fd: int, handler: Side | Listener | _Waker) -> None:
        self.fds[fd] = handler
        self.epoll.register(fd, MASK)

    def at(self, when: float, fn: Callable[[float], None]) -> None:
        """Call fn(now) once `now` >= when."""
        heapq.heappush(self.heap, (when, next(self.seq), fn))
        if self.host is not None and when < self.armed:
            self._arm()

    def watch(self, pair: Pair, shortest: float) -> None:
        """Check `pair`'s timeouts from now on; the sweep runs often enough for its shortest one."""
        self.pairs.add(pair)
        self.tick = min(self.tick, max(0.01, shortest / 4))
        if not self.sweeping:
            self.sweeping = True
            self.at(self.now + self.tick, self._sweep)

    def _sweep(self, now: float) -> None:
        for pair in list(self.pairs):
            if not pair.closed:
                pair.check(now)
        self.sweeping = bool(self.pairs)
        if self.sweeping:
            self.at(now + self.tick, self._sweep)

    def call_soon_threadsafe(self, fn: Callable[[], None]) -> None:
        assert self.waker is not None
        self.soon.append(fn)
        self.waker.wake()

    def stop(self) -> None:
        """From any thread or a signal handler."""
        assert self.waker is not None
        self.stopping = True
        self.waker.wake()

    def run(self) -> None:
        poll, heap = self.epoll.poll, self.heap
        clock = time.monotonic
        while not self.stopping:
            events = poll(max(0.0, heap[0][0] - self.now) if heap else -1, 256)
            self.now = clock()
            self._dispatch(events)

    def _dispatch(self, events: list[tuple[int, int]]) -> None:
        fds, heap, now = self.fds, self.heap, self.now
        for fd, mask in events:
            handler = fds.get(fd)
            if handler is not None:  # else closed by an earlier event of this batch
                handler.event(mask)
        while heap and heap[0][0] <= now:
            heapq.heappop(heap)[2](now)

    def attach(self, host: asyncio.AbstractEventLoop) -> None:
        """Be driven by `host`: one reader (this epoll's descriptor, never changed) and one timer."""
        self.host = host
        host.add_reader(self.epoll.fileno(), self._ready)

    def refresh(self) -> None:
        """Attached: the time, before a pair is made from outside an event of this loop."""
        self.now = time.monotonic()

    def _ready(self) -> None:
        self.now = time.monotonic()
        self._dispatch(self.epoll.poll(0, 256))

    def _arm(self) -> None:
        assert self.host is not None
        self.armed = self.heap[0][0]
        self.host.call_later(max(0.0, self.armed - time.monotonic()), self._tick, self.armed)

    def _tick(self, armed: float) -> None:
        if armed != self.armed:  # superseded by an earlier one
            return
        self.armed = float("inf")
        self._ready()
        if self.heap and self.heap[0][0] < self.armed:  # (not armed again by an `at` meanwhile)
            self._arm()

    def close(self) -> None:
        if self.host is not None and not self.host.is_closed():
            self.host.remove_reader(self.epoll.fileno())
        for handler in list(self.fds.values()):
            if isinstance(handler, Side):
                handler.pair.close()
            elif isinstance(handler, Listener):
                handler.sock.close()
        self.fds.clear()
        if self.waker is not None:
            self.waker.close()
        self.epoll.close()


class _Waker:
    """A pipe in the loop: a byte written from another thread (or a signal handler) wakes it."""

    def __init__(self, loop: Loop) -> None:
        self.loop = loop
        self.r, self.w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.lock = threading.RLock()  # no write after close (the descriptor could be someone else's)
        self.closed = False

    def wake(self) -> None:
        with self.lock, contextlib.suppress(BlockingIOError):  # full: a wake-up is pending anyway
            if not self.closed:
                os.write(self.w, b"w")

    def event(self, mask: int) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self.r, 4096):
                pass
        while self.loop.soon:
            self.loop.soon.popleft()()

    def close(self) -> None:
        with self.lock:
            self.closed = True
            os.close(self.r)
            os.close(self.w)


class Listener:
    """A listening socket; `on_accept(sock, peer)` gets each new connection (a blocking socket)."""

    def __init__(self, loop: Loop, sock: _socket.socket, on_accept: Callable[[_socket.socket, tuple[str, int]], None]) -> None:
        self.loop, self.sock, self.on_accept = loop, sock, on_accept
        sock.setblocking(False)
        loop.add(sock.fileno(), self)

    def event(self, mask: int) -> None:
        accept: Callable[[], tuple[int, tuple[str, int]]] = getattr(self.sock, ACCEPT)
        on_accept = self.on_accept
        while True:
            try:
                fd, peer = accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.ECONNABORTED:  # that one is gone: the next
                    continue
                # EMFILE, ENFILE, ENOBUFS...: the rest waits in the backlog; no new edge may come, so
                # accepting resumes after a pause (as asyncio does)
                self.loop.at(self.loop.now + ACCEPT_PAUSE, lambda _now: self.event(IN))
                return
            on_accept(_socket.socket(socket.AF_INET, socket.SOCK_STREAM, 0, fd), peer)


def listen(host: str, port: int, backlog: int = 1024) -> _socket.socket:
    """A listening socket shared with the other workers (SO_REUSEPORT); TCP_NODELAY is inherited
    by the accepted connections."""
    sock = _socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


class Side:
    """One socket of a forwarded pair and what its last edges said."""

    __slots__ = ("sock", "fd", "pair", "peer", "readable", "writable", "ended", "eof", "rest", "count")

    def __init__(self, pair: Pair, sock: _socket.socket, writable: bool) -> None:
        self.sock, self.fd, self.pair = sock, sock.fileno(), pair
        self.peer: Side | None = None
        self.readable = self.ended = self.eof = False
        self.writable = writable
        self.rest = b""  # read from this side, not yet taken by the peer
        self.count = 0

    def event(self, mask: int) -> None:
        pair = self.pair
        pair.last = pair.loop.now
        if mask & ERR:
            if self is pair.upstream and pair.connecting:
                pair.connect_failed()
            else:
                pair.close()
            return
        if mask & ENDED:
            self.ended = True
        peer = self.peer
        if peer is None:  # not joined yet: connecting (the upstream), or waiting for it (the client)
            if self is pair.upstream and mask & OUT:
                pair.connected()
                if not pair.closed:
                    self.event(mask)
            elif mask & READ:
                self.readable = True
            return
        if mask & READ and not self.eof:  # (an ended socket reports ENDED on every edge)
            self.readable = True
            self.pump(peer)
        if mask & OUT:
            self.writable = True
            if (peer.rest or peer.readable) and not pair.closed:
                peer.pump(self)

    def pump(self, dst: Side) -> None:
        """Copy from this side to dst while this side has data and dst takes it."""
        pair, view, size, send = self.pair, self.pair.loop.view, PIECE, dst.sock.send
        while True:
            if self.rest:
                try:
                    sent = send(self.rest, DONTWAIT)
                except BlockingIOError:
                    dst.writable = False
                    return
                except OSError:
                    pair.close()
                    return
                self.rest = self.rest[sent:]
                if self.rest:
                    dst.writable = False
                    return
            if not (self.readable and dst.writable):
                return
            try:
                n = self.sock.recv_into(view, size, DONTWAIT)
            except BlockingIOError:
                self.readable = False
                return
            except OSError:
                pair.close()
                return
            if not n:
                self.readable = False
                self.eof = True
                pair.half_closed(self, dst)
                return
            self.count += n
            try:
                sent = send(view[:n], DONTWAIT)
            except BlockingIOError:
                sent = 0
            except OSError:
                pair.close()
                return
            if sent < n:
                self.rest = bytes(view[sent:n])
                dst.writable = False
                return
            if n < size and not self.ended:  # drained: the next byte brings a new edge
                self.readable = False
                return


class Pair:
    """A client connection and its upstream: connects (trying `addrs` in turn, `tries` times in
    all), then forwards both ways. `on_done(pair)` is called once, at the close; `on_failed(pair)`
    before it when no try connected (the client socket is still open). `early` is what the client
    sent that was read before (it goes upstream first), `greeting` what the client gets first once
    connected (the HTTP proxy's `200 Connection established`)."""

    __slots__ = ("loop", "peer_addr", "connect_timeout", "inactivity", "on_done", "on_failed", "greeting", "client",
                 "upstream", "addrs", "port", "tries", "attempt", "addr", "error", "connecting", "joined", "failed",
                 "connect_due", "closed", "last")

    def __init__(self, loop: Loop, client: _socket.socket, peer: tuple[str, int], connect_timeout: float,
                 inactivity: float, on_done: Callable[[Pair], None],
                 on_failed: Callable[[Pair], None] | None = None, early: bytes = b"", greeting: bytes = b"") -> None:
        self.loop, self.peer_addr = loop, peer
        self.connect_timeout, self.inactivity, self.on_done = connect_timeout, inactivity, on_done
        self.on_failed, self.greeting = on_failed, greeting
        self.client = Side(self, client, writable=True)
        self.client.rest = early
        self.upstream: Side | None = None
        self.addrs: tuple[str, ...] = ()
        self.port = 0
        self.tries = self.attempt = 0
        self.addr = ""  # the upstream address, once connected
        self.error: OSError | None = None  # why the last connect failed
        self.connecting = self.joined = self.failed = False
        self.connect_due = 0.0
        self.closed = False
        self.last = loop.now
        loop.add(self.client.fd, self.client)
        loop.watch(self, min(connect_timeout, inactivity))

    def connect(self, addrs: tuple[str, ...], port: int, tries: int) -> None:
        self.addrs, self.port, self.tries = addrs, port, tries
        self._try()

    def _try(self) -> None:
        if self.closed:
            return
        if not self.addrs or self.attempt >= self.tries:
            self.failed = True
            if self.on_failed is not None:
                self.on_failed(self)
            self.close()
            return
        addr = self.addrs[self.attempt % len(self.addrs)]
        self.attempt += 1
        family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        try:
            sock = _socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        except OSError as exc:  # EMFILE...
            self.error = exc
            self._try()
            return
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            code = sock.connect_ex((addr, self.port))
        except OSError as exc:  # not an address of that family after all
            code, self.error = -1, exc
        if code not in (0, errno.EINPROGRESS):
            sock.close()
            if code != -1:
                self.error = OSError(code, os.strerror(code))
            self._try()
            return
        self.addr, self.connecting = addr, True
        self.upstream = Side(self, sock, writable=False)
        self.loop.add(self.upstream.fd, self.upstream)
        self.connect_due = self.loop.now + self.connect_timeout

    def connected(self) -> None:
        assert self.upstream is not None
        self.connecting, self.joined = False, True
        self.upstream.writable = True
        self.client.peer, self.upstream.peer = self.upstream, self.client  # the caller pumps
        if self.greeting:
            self.upstream.rest = self.greeting
            self.upstream.pump(self.client)

    def connect_failed(self, error: OSError | None = None) -> None:
        assert self.upstream is not None
        if error is None:
            code = self.upstream.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            error = OSError(code, os.strerror(code))
        self.error = error
        self._drop(self.upstream)
        self.upstream, self.addr, self.connecting = None, "", False
        self._try()

    def check(self, now: float) -> None:
        """Called by the loop's sweep: a connect try past connect_timeout fails, an idle pair is closed."""
        if self.connecting and now >= self.connect_due:
            self.connect_failed(TimeoutError(f"connecting to {self.addr}:{self.port} timed out"))
        elif now >= self.last + self.inactivity:
            self.close()

    def half_closed(self, src: Side, dst: Side) -> None:
        """src sent EOF: pass it on, or close the pair once both directions have ended (closing sends
        the FIN: no shutdown first)."""
        if dst.eof:
            self.close()
            return
        try:
            dst.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.close()

    def _drop(self, side: Side) -> None:
        self.loop.fds.pop(side.fd, None)
        side.sock.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.loop.pairs.discard(self)
        self._drop(self.client)
        if self.upstream is not None:
            self._drop(self.upstream)
        self.on_done(self)
        for side in (self.client, self.upstream):  # no cycle left: freed at once, not by the collector
            if side is not None:
                side.peer = None
                del side.pair
