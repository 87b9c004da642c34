"""The node's DNS server: UDP and TCP on `<node gateway>:53` inside the node's network namespace.

Side effects: sockets and threads. Every thread that owns a socket runs inside the node namespace
(`osdn.kernel.netns.run_in_netns`; a socket stays in the namespace it was created in), so queries
to the upstream resolvers leave from the node, as a node's own resolver would.

Per query (`Resolver.handle`, the whole protocol logic, tested without sockets):
1. Hostile input: shorter than a header or a response (QR set): dropped; unparsable or longer than
   `MAX_QUERY` (parsing costs ~3 µs a byte on the thread that reads every pod's UDP queries: one
   pod sending 64 KiB queries stalled it): FORMERR (id echoed, no question); opcode other than QUERY: NOTIMP; not exactly one question: FORMERR; class
   other than IN: REFUSED. A UDP answer larger than the client's buffer (512, or its EDNS size) is
   sent truncated (TC) so the client retries over TCP; over TCP an answer may take 64 KiB whatever
   EDNS size the query names (a larger one is truncated too).
2. The cluster zone (`zone.answer`, from the informer cache): answered at once, authoritative.
3. Anything else: the TTL-bounded cache (`cache.AnswerCache`), else the upstream resolvers in
   order, with a fresh query (our own random id, never the client's message), `upstream_timeout`
   per resolver; dnspython's `udp_with_fallback` checks the answer's source, id and question and
   retries over TCP when it is truncated. Nothing answers: SERVFAIL.
4. The answer hook (`set_answer_hook`): before an answer with addresses is sent, the hook is called
   as `hook(client_ip, name, addresses, ttl)`; it may block, or return a `concurrent.futures.Future`
   or an awaitable, and the answer waits (at most `hold_timeout`) until it is done. A hook that
   fails or times out turns the answer into SERVFAIL: the pod never sees an address the hook did not
   accept (fail closed). This is where the egress firewall installs a DNS name's addresses before
   the pod can connect to them. With `wants(client_ip)` the hook names the clients it cares about;
   the others keep the UDP fast path (`fastpath`) and inline zone answers.
Work that may wait (upstream queries, a registered hook) runs on a bounded pool of worker threads
fed by a fair queue (`fairqueue.FairQueue`: `queue_size` queries, at most `client_queue` of one
client, clients served in turn), so one pod flooding names that resolve slowly delays only itself;
a query that finds its client's share or the queue full is dropped: the client retries.
TCP clients get a thread each: at most `max_tcp_clients` at once and `tcp_per_client` of one client
address (`fairqueue.FairSlots`), each query whole within `tcp_idle` seconds; past a bound the
connection is closed at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import inspect
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from osdn.kernel import netns
from osdn.node.dns.cache import MAX_ENTRIES, MAX_RECORDS, MAX_TTL, AnswerCache
from osdn.node.dns.fairqueue import FairQueue, FairSlots
from osdn.node.dns.fastpath import FORWARDED_LIFETIME, FastPath
from osdn.node.dns.zone import ZoneAnswer, ZoneData, answer

log = logging.getLogger(__name__)
EDNS_PAYLOAD = 1232  # the UDP size we advertise (DNS flag day 2020: no IP fragmentation)
MAX_QUERY = 1232  # bytes; real queries (a 255-byte name, EDNS options, padding) stay under 600
AnswerHook = Callable[[str, str, tuple[str, ...], int], Any]
Clock = Callable[[], float]


@dataclass(frozen=True)
class DnsConfig:
    netns: str
    listen: str  # the node's pod gateway address
    port: int = 53
    upstreams: tuple[str, ...] = ()  # "ip" or "ip:port"
    upstream_timeout: float = 2.0
    cache_size: int = MAX_ENTRIES
    cache_records: int = MAX_RECORDS  # records in all cached answers
    max_ttl: int = MAX_TTL
    workers: int = 8
    queue_size: int = 1024
    client_queue: int = 128  # queries of one client waiting for a worker
    max_tcp_clients: int = 64
    tcp_per_client: int = 8  # connections of one client address
    tcp_idle: float = 5.0
    hold_timeout: float = 2.0


MEMO_ENTRIES = 10_000


class SharedZone:
    """The zone data shared by the informer threads (`update`) and the DNS threads (`answer`).

    Answers are remembered per lower-case name and type until the zone's generation moves (at most
    `MEMO_ENTRIES`), and handed out with the query's letter case: building the answer of a service
    with 1,000 endpoints costs ~30 ms on the thread that reads every pod's UDP queries, and the fast
    path does not see a query in new random case (0x20) as a repeat."""

    def __init__(self, data: ZoneData | None = None) -> None:
        self.data = data or ZoneData()
        self._lock = threading.Lock()
        self._memo: dict[tuple[dns.name.Name, int], ZoneAnswer | None] = {}
        self._memo_generation = -1

    def update(self, kind: str, new: Any, old: Any) -> None:
        if kind in ("Service", "Endpoints", "Pod"):
            with self._lock:
                self.data.update(kind, new, old)

    def answer(self, qname: dns.name.Name, qtype: int) -> ZoneAnswer | None:
        key = (qname.canonicalize(), qtype)
        with self._lock:
            if self._memo_generation != self.data.generation or len(self._memo) >= MEMO_ENTRIES:
                self._memo, self._memo_generation = {}, self.data.generation
            if key in self._memo:
                got = self._memo[key]
            else:
                got = self._memo[key] = answer(self.data, key[0], qtype)
        return None if got is None else _in_case_of(got, key[0], qname)

    @property
    def generation(self) -> int:
        return self.data.generation


def _in_case_of(got: ZoneAnswer, canonical: dns.name.Name, qname: dns.name.Name) -> ZoneAnswer:
    """`got` (answered for `canonical`) with the answer records at that name written as `qname`."""
    if qname.labels == canonical.labels:
        return got
    records = []
    for rr in got.answer:
        if rr.name.labels == canonical.labels:
            rr = rr.copy()
            rr.name = qname
        records.append(rr)
    return dataclasses.replace(got, answer=tuple(records))


class Resolver:
    """The protocol logic: a query's wire bytes -> the answer's wire bytes (None: stay silent)."""

    def __init__(self, cfg: DnsConfig, zone: SharedZone, clock: Clock = time.monotonic) -> None:
        self.cfg, self.zone, self.clock = cfg, zone, clock
        self.cache = AnswerCache(cfg.cache_size, cfg.max_ttl, cfg.cache_records)
        self._cache_lock = threading.Lock()
        self.hook: AnswerHook | None = None

    # -- step 1 and 2: parse, check, the zone ----------------------------------------------------
    def parse(self, wire: bytes) -> dns.message.Message | bytes | None:
        """The query, or the bytes of an immediate error answer, or None (drop)."""
        if len(wire) < 12 or wire[2] & 0x80:
            return None
        if len(wire) > MAX_QUERY:
            return _header_only(wire, dns.rcode.FORMERR)
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return _header_only(wire, dns.rcode.FORMERR)
        if query.opcode() != dns.opcode.QUERY:
            return _error(query, dns.rcode.NOTIMP)
        if len(query.question) != 1:
            return _error(query, dns.rcode.FORMERR)
        if query.question[0].rdclass != dns.rdataclass.IN:
            return _error(query, dns.rcode.REFUSED)
        return query

    def local(self, query: dns.message.Message) -> dns.message.Message | None:
        """The zone's answer, or None when the name is forwarded; SERVFAIL if the zone's data cannot
        answer (say an ExternalName stored before validation refused it)."""
        q = query.question[0]
        try:
            got = self.zone.answer(q.name, q.rdtype)
        except Exception as exc:
            log.warning("dns: cannot answer %s from the cluster zone: %s", q.name, str(exc) or type(exc).__name__)
            return _error_message(query, dns.rcode.SERVFAIL)
        return None if got is None else _zone_response(query, got)

    # -- step 3: the cache and the upstreams -----------------------------------------------------
    def forward(self, query: dns.message.Message) -> dns.message.Message:
        q = query.question[0]
        key = (q.name.to_text().lower(), q.rdtype, q.rdclass)
        with self._cache_lock:
            hit = self.cache.get(key, self.clock())
        if hit is not None:
            return _from_upstream(query, hit[0], hit[1])
        for upstream in self.cfg.upstreams:
            host, _, port = upstream.partition(":")
            ask = dns.message.make_query(q.name, q.rdtype, q.rdclass, use_edns=0, payload=EDNS_PAYLOAD)
            try:
                got, _tcp = dns.query.udp_with_fallback(ask, host, timeout=self.cfg.upstream_timeout,
                                                         port=int(port or 53))
            except (dns.exception.DNSException, OSError) as exc:
                log.warning("dns: upstream %s failed for %s: %s", upstream, q.name, str(exc) or type(exc).__name__)
                continue
            if got.rcode() in (dns.rcode.SERVFAIL, dns.rcode.REFUSED):
                continue
            with self._cache_lock:
                self.cache.put(key, got, self.clock())
            return _from_upstream(query, got, 0)
        return _error_message(query, dns.rcode.SERVFAIL)

    # -- step 4: the hook ------------------------------------------------------------------------
    def hold(self, client: str, query: dns.message.Message, response: dns.message.Message) -> dns.message.Message:
        """Run the answer hook (if any, and the answer has addresses); SERVFAIL if it fails."""
        hook = self.hook
        addrs = tuple(r.address for rr in response.answer if rr.rdtype == dns.rdatatype.A for r in rr)
        if hook is None or not addrs:
            return response
        name = response.question[0].name.to_text() if response.question else ""
        ttl = min(rr.ttl for rr in response.answer)
        try:
            _wait(hook(client, name, addrs, ttl), self.cfg.hold_timeout)
        except Exception as exc:
            shown = ", ".join(addrs[:4]) + (f" and {len(addrs) - 4} more" if len(addrs) > 4 else "")
            log.warning("dns: answer hook refused %s (%s) for %s: %s", name, shown, client, str(exc) or type(exc).__name__)
            return _error_message(query, dns.rcode.SERVFAIL)
        return response

    def handle(self, wire: bytes, client: str) -> dns.message.Message | bytes | None:
        """The whole path, blocking (workers and tests)."""
        query = self.parse(wire)
        if not isinstance(query, dns.message.Message):
            return query
        return self.hold(client, query, self.local(query) or self.forward(query))


def _wait(result: Any, timeout: float) -> None:
    if isinstance(result, concurrent.futures.Future):
        result.result(timeout=timeout)
    elif inspect.isawaitable(result):
        async def bounded() -> None:
            await asyncio.wait_for(result, timeout)
        asyncio.run(bounded())


def _header_only(wire: bytes, rcode: int) -> bytes:
    flags = 0x8000 | (wire[2] & 0x79) << 8 | rcode  # QR, the query's opcode and RD
    return wire[:2] + struct.pack("!HHHHH", flags, 0, 0, 0, 0)


def _error(query: dns.message.Message, rcode: dns.rcode.Rcode) -> bytes:
    return _error_message(query, rcode).to_wire()


def _error_message(query: dns.message.Message, rcode: dns.rcode.Rcode) -> dns.message.Message:
    resp = dns.message.make_response(query, our_payload=EDNS_PAYLOAD)
    resp.set_rcode(rcode)
    resp.flags |= dns.flags.RA
    return resp


def _zone_response(query: dns.message.Message, got: ZoneAnswer) -> dns.message.Message:
    resp = dns.message.make_response(query, our_payload=EDNS_PAYLOAD)
    resp.flags |= dns.flags.AA | dns.flags.RA
    resp.set_rcode(got.rcode)
    resp.answer, resp.authority, resp.additional = list(got.answer), list(got.authority), list(got.additional)
    return resp


def _from_upstream(query: dns.message.Message, got: dns.message.Message, aged: int) -> dns.message.Message:
    resp = dns.message.make_response(query, our_payload=EDNS_PAYLOAD)
    resp.flags |= dns.flags.RA
    resp.set_rcode(got.rcode())
    for section in ("answer", "authority", "additional"):
        rrsets = []
        for rr in getattr(got, section):
            if rr.rdclass != dns.rdataclass.IN:
                continue
            copy = rr.copy()
            copy.ttl = max(0, rr.ttl - aged)
            rrsets.append(copy)
        setattr(resp, section, rrsets)
    return resp


def to_udp_wire(query_wire: bytes, response: dns.message.Message | bytes) -> bytes:
    """The answer for UDP: truncated (TC, no records) if larger than the client accepts."""
    if isinstance(response, bytes):
        return response
    return _wire(query_wire, response, max(512, response.request_payload if response.request_payload > 0 else 512))


def to_tcp_wire(query_wire: bytes, response: dns.message.Message | bytes) -> bytes:
    """The answer for TCP: up to 64 KiB (the query's EDNS size is a UDP limit), else truncated."""
    return response if isinstance(response, bytes) else _wire(query_wire, response, 65535)


def _wire(query_wire: bytes, response: dns.message.Message, limit: int) -> bytes:
    records = sum(len(rr) for rr in (*response.answer, *response.authority, *response.additional))
    try:
        if 12 + 11 * records > limit:  # a header, and 11 bytes at least a record: no need to render them
            raise dns.exception.TooBig
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:
        short = dns.message.make_response(dns.message.from_wire(query_wire), our_payload=EDNS_PAYLOAD)
        short.flags |= dns.flags.TC | dns.flags.RA
        return short.to_wire()


class DnsServer:
    """The sockets and threads around a `Resolver`."""

    def __init__(self, cfg: DnsConfig, zone: SharedZone) -> None:
        self.cfg = cfg
        self.resolver = Resolver(cfg, zone)
        self.fast = FastPath()
        self.wants: Callable[[str], bool] | None = None
        self._queue: FairQueue[tuple[bytes, tuple[str, int]]] = FairQueue(cfg.queue_size, cfg.client_queue)
        self._drop_logged = 0.0
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._stop = threading.Event()
        self._tcp_slots = FairSlots(cfg.max_tcp_clients, cfg.tcp_per_client)
        self._threads: list[threading.Thread] = []

    def set_answer_hook(self, hook: AnswerHook | None, wants: Callable[[str], bool] | None = None) -> None:
        """Register the answer hook. `wants(client_ip)`, if given, says whether the hook cares about
        that client's answers at all; the others keep the inline answers and the UDP fast path."""
        self.resolver.hook, self.wants = hook, wants

    def _unhooked(self, client: str) -> bool:
        """Whether answers to `client` may skip the hook (fast path, inline zone answers)."""
        if self.resolver.hook is None:
            return True
        wants = self.wants
        return wants is not None and not wants(client)

    def start(self) -> DnsServer:
        self._udp, self._tcp = netns.run_in_netns(self.cfg.netns, self._bind)
        self._spawn(self._udp_loop, "dns-udp")
        self._spawn(self._tcp_loop, "dns-tcp")
        for i in range(self.cfg.workers):
            self._spawn(self._worker, f"dns-worker-{i}")
        log.info("dns: serving %s:%d (UDP, TCP) in %s; upstreams %s", self.cfg.listen, self.cfg.port,
                 self.cfg.netns, ", ".join(self.cfg.upstreams) or "none")
        return self

    def stop(self) -> None:
        self._stop.set()
        for s in (self._udp, self._tcp):
            if s is not None:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
        self._queue.close()
        for t in self._threads:
            t.join(timeout=2)

    def _bind(self) -> tuple[socket.socket, socket.socket]:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            for s in (udp, tcp):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((self.cfg.listen, self.cfg.port))
            tcp.listen(128)
        except OSError:
            udp.close()
            tcp.close()
            raise
        return udp, tcp

    def _spawn(self, fn: Callable[[], None], name: str) -> None:
        t = threading.Thread(target=netns.run_in_netns, args=(self.cfg.netns, fn), name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def _udp_loop(self) -> None:
        assert self._udp is not None
        while not self._stop.is_set():
            try:
                wire, peer = self._udp.recvfrom(65535)
            except OSError:
                return
            if peer is None:  # shutdown() woke us: `stop` is running
                continue
            try:
                self._udp_one(wire, peer)
            except Exception:  # one query must never stop the node's DNS; logged at most once a second
                if time.monotonic() - self._drop_logged > 1.0:
                    self._drop_logged = time.monotonic()
                    log.exception("dns: query from %s failed", peer[0])

    def _udp_one(self, wire: bytes, peer: tuple[str, int]) -> None:
        """One UDP query: the fast path, an immediate answer (error or zone), or the worker queue."""
        r, fast = self.resolver, self.fast
        generation = r.zone.generation  # before answering: an answer is never newer than its stamp
        unhooked = self._unhooked(peer[0])
        if unhooked:
            hit = fast.get(wire, generation, time.monotonic())
            if hit is not None:
                assert self._udp is not None
                with contextlib.suppress(OSError):
                    self._udp.sendto(hit, peer)
                return
        query = r.parse(wire)
        if query is None:
            return
        if not isinstance(query, dns.message.Message):
            self._send(wire, query, peer)
            return
        local = r.local(query) if unhooked else None
        if local is None:
            self._defer(wire, peer)
            return
        out = self._send(wire, local, peer)
        if not local.flags & dns.flags.TC and not out[2] & 0x02:
            fast.put(wire, out, generation, float("inf"))

    def _defer(self, wire: bytes, peer: tuple[str, int]) -> None:
        if not self._queue.put(peer[0], (wire, peer)) and time.monotonic() - self._drop_logged > 1.0:
            self._drop_logged = time.monotonic()  # a flood logs once a second, not once a query
            log.warning("dns: %d queries waiting (%s at its share of %d); dropping one from it",
                        len(self._queue), peer[0], self.cfg.client_queue)

    def _send(self, wire: bytes, response: dns.message.Message | bytes, peer: tuple[str, int]) -> bytes:
        assert self._udp is not None
        out = to_udp_wire(wire, response)
        with contextlib.suppress(OSError):
            self._udp.sendto(out, peer)
        return out

    def _worker(self) -> None:
        while True:
            item = self._queue.get()
            if item is None or self._stop.is_set():
                return
            wire, peer = item
            try:
                response = self.resolver.handle(wire, peer[0])
            except Exception:
                log.exception("dns: query from %s failed", peer[0])
                continue
            if response is None:
                continue
            out = self._send(wire, response, peer)
            ttl = forwarded_lifetime(response)
            if ttl and not out[2] & 0x02:  # replayed only to clients the hook does not want
                self.fast.put(wire, out, None, time.monotonic() + ttl)

    def _tcp_loop(self) -> None:
        assert self._tcp is not None
        while not self._stop.is_set():
            try:
                conn, peer = self._tcp.accept()
            except OSError:
                return
            if not self._tcp_slots.acquire(peer[0]):
                conn.close()  # too many clients, or too many of this one
                continue
            threading.Thread(target=netns.run_in_netns, args=(self.cfg.netns, self._tcp_client, conn, peer),
                             name="dns-tcp-client", daemon=True).start()

    def _tcp_client(self, conn: socket.socket, peer: tuple[str, int]) -> None:
        try:
            while not self._stop.is_set():
                deadline = time.monotonic() + self.cfg.tcp_idle  # for the whole next query, not per byte
                head = _recv_exact(conn, 2, deadline)
                if head is None:
                    return
                wire = _recv_exact(conn, struct.unpack("!H", head)[0], deadline)
                if wire is None:
                    return
                response = self.resolver.handle(wire, peer[0])
                if response is None:
                    return
                out = to_tcp_wire(wire, response)
                conn.sendall(struct.pack("!H", len(out)) + out)
        except (OSError, dns.exception.DNSException):
            return
        finally:
            conn.close()
            self._tcp_slots.release(peer[0])


def forwarded_lifetime(response: dns.message.Message | bytes) -> float:
    """How long the fast path may replay a forwarded answer (0: not at all)."""
    if isinstance(response, bytes) or response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return 0.0
    ttls = [rr.ttl for rr in (*response.answer, *response.authority)]
    return min([FORWARDED_LIFETIME, *ttls]) if ttls else 0.0


def _recv_exact(conn: socket.socket, n: int, deadline: float) -> bytes | None:
    """`n` bytes before `deadline` (a trickling client is cut off), or None at the end of the stream."""
    buf = b""
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("query not complete in time")
        conn.settimeout(left)
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf
