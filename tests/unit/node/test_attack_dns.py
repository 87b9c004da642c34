"""Hostile clients and upstreams against the node DNS server: TCP answers larger than the query's
EDNS size, one client holding every TCP slot, upstream answers of thousands of records filling the
cache, and 64 KiB queries filling the fast path. No root: sockets on loopback and socketpairs."""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rrset
import pytest

from osdn.node.dns import server as server_module
from osdn.node.dns.cache import MAX_RECORDS, AnswerCache
from osdn.node.dns.fastpath import MAX_BYTES, FastPath
from osdn.node.dns.server import DnsConfig, DnsServer, Resolver, SharedZone, to_tcp_wire

CLIENT = "10.128.0.9"


def headless(n: int) -> SharedZone:
    zone = SharedZone()
    addrs = [{"ip": f"10.{128 + i // 62500}.{i // 250 % 250}.{i % 250 + 2}"} for i in range(n)]
    zone.update("Service", {"metadata": {"name": "big", "namespace": "p"}, "spec": {"clusterIP": "None"}}, None)
    zone.update("Endpoints", {"metadata": {"name": "big", "namespace": "p"}, "subsets": [{"addresses": addrs}]}, None)
    return zone


def tcp_exchange(server: DnsServer, wire: bytes) -> bytes:
    """One query through the server's TCP client handler over a socketpair; the answer's bytes."""
    ours, theirs = socket.socketpair()
    t = threading.Thread(target=server._tcp_client, args=(theirs, (CLIENT, 40000)), daemon=True)
    t.start()
    try:
        ours.settimeout(20)
        ours.sendall(struct.pack("!H", len(wire)) + wire)
        head = ours.recv(2, socket.MSG_WAITALL)
        assert len(head) == 2, "the server closed the connection without an answer"
        return ours.recv(struct.unpack("!H", head)[0], socket.MSG_WAITALL)
    finally:
        ours.close()
        t.join(timeout=20)


def test_tcp_answers_are_not_limited_to_the_querys_edns_size() -> None:
    server = DnsServer(DnsConfig("unused", "10.128.0.1"), headless(200))
    query = dns.message.make_query("big.p.svc.cluster.local", "A", use_edns=0, payload=1232)  # as dig +tcp sends
    got = dns.message.from_wire(tcp_exchange(server, query.to_wire()))
    assert not got.flags & dns.flags.TC and len(got.answer[0]) == 200  # ~3.2 KiB: the reason TCP exists


def test_tcp_answers_over_64k_are_truncated_not_dropped() -> None:
    r = Resolver(DnsConfig("unused", "10.128.0.1"), headless(5000))
    wire = dns.message.make_query("big.p.svc.cluster.local", "A").to_wire()
    full = r.handle(wire, CLIENT)
    assert isinstance(full, dns.message.Message) and len(full.answer[0]) == 5000
    out = to_tcp_wire(wire, full)
    assert len(out) <= 65535 and dns.message.from_wire(out).flags & dns.flags.TC


def test_one_client_cannot_hold_every_tcp_slot() -> None:
    cfg = DnsConfig("unused", "10.128.0.1")
    slots = DnsServer(cfg, SharedZone())._tcp_slots
    held = 0
    while held < cfg.max_tcp_clients and slots.acquire(CLIENT):
        held += 1
    assert held == cfg.tcp_per_client < cfg.max_tcp_clients
    assert slots.acquire("10.128.0.10")  # another pod still gets in
    slots.release(CLIENT)
    assert slots.acquire(CLIENT) and not slots.acquire(CLIENT)
    others = [f"10.128.1.{i}" for i in range(cfg.max_tcp_clients)]
    admitted = sum(slots.acquire(ip) for ip in others)
    assert admitted == cfg.max_tcp_clients - cfg.tcp_per_client - 1  # the total holds too


RECORDS = list(dns.rrset.from_text_list("x.", 300, "IN", "A", [f"198.18.{i // 256}.{i % 256}" for i in range(4000)]))


class HugeUpstream:
    """A UDP upstream on loopback answering every A query with 4,000 records (~64 KiB)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                wire, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            q = dns.message.from_wire(wire)
            r = dns.message.make_response(q)
            r.answer.append(dns.rrset.from_rdata_list(q.question[0].name, 300, RECORDS))
            self.sock.sendto(r.to_wire(max_size=65535), peer)  # past the EDNS size we asked for


@pytest.fixture
def huge() -> Iterator[HugeUpstream]:
    up = HugeUpstream()
    yield up
    up.sock.close()


def test_huge_upstream_answers_cannot_fill_memory(huge: HugeUpstream) -> None:
    assert AnswerCache().max_records == MAX_RECORDS <= 25 * 4001  # the default: ~16 MiB, not 10,000 x 600 KiB
    cfg = DnsConfig("unused", "10.128.0.1", upstreams=(f"127.0.0.1:{huge.port}",), upstream_timeout=10,
                    cache_records=3 * 4001)
    r = Resolver(cfg, SharedZone(), clock=lambda: 1000.0)
    for i in range(5):  # ~600 KiB parsed each: 10,000 of them used to be kept (gigabytes)
        got = r.handle(dns.message.make_query(f"n{i}.tenant.test", "A").to_wire(), CLIENT)
        assert isinstance(got, dns.message.Message) and len(got.answer[0]) == 4000  # still answered
    assert r.cache.records <= 3 * 4001 and len(r.cache) == 3
    assert r.cache.get(("n4.tenant.test.", 1, 1), 1000.0) is not None  # the newest stayed
    assert r.cache.get(("n0.tenant.test.", 1, 1), 1000.0) is None  # the oldest went


def test_64k_queries_cannot_fill_the_fast_path() -> None:
    fast = FastPath()
    answer = b"\x00" * 512
    for i in range(400):  # 64 KiB of EDNS options each: 25 MiB
        fast.put(struct.pack("!H", 0) + i.to_bytes(4, "big") + b"\x00" * 65000, answer, 1, float("inf"))
    assert fast.bytes <= MAX_BYTES and len(fast) * 65000 <= MAX_BYTES
    again = struct.pack("!H", 7) + (399).to_bytes(4, "big") + b"\x00" * 65000
    assert fast.get(again, 1, 0.0) == b"\x00\x07" + answer[2:]


def test_oversized_queries_are_refused_before_they_are_parsed() -> None:
    r = Resolver(DnsConfig("unused", "10.128.0.1"), headless(3))
    options = [dns.edns.GenericOption(65001, b"") for _ in range(16000)]  # ~0.2 s to parse, on the UDP thread
    huge = dns.message.make_query("big.p.svc.cluster.local", "A", use_edns=0, options=options)
    wire = huge.to_wire(max_size=65535)
    got = r.handle(wire, CLIENT)
    assert isinstance(got, bytes) and got[:2] == wire[:2]
    assert dns.message.from_wire(got).rcode() == dns.rcode.FORMERR
    padded = dns.message.make_query("big.p.svc.cluster.local", "A", use_edns=0,
                                    options=[dns.edns.GenericOption(12, b"\x00" * 1000)])  # padding
    ok = r.handle(padded.to_wire(), CLIENT)
    assert isinstance(ok, dns.message.Message) and len(ok.answer[0]) == 3


def test_random_case_floods_build_a_big_answer_once_per_zone_change(monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[str] = []
    real = server_module.answer

    def counting(data: Any, qname: dns.name.Name, qtype: int) -> Any:
        builds.append(qname.to_text())
        return real(data, qname, qtype)

    monkeypatch.setattr(server_module, "answer", counting)
    zone = headless(1000)  # ~30 ms to build, on the thread reading every pod's UDP queries
    r = Resolver(DnsConfig("unused", "10.128.0.1"), zone)
    rng = random.Random(7)
    for _ in range(50):  # 0x20: each query in new letter case, so the byte-keyed fast path misses
        name = "".join(c.upper() if rng.random() < 0.5 else c for c in "big.p.svc.cluster.local.")
        got = r.handle(dns.message.make_query(name, "A").to_wire(), CLIENT)
        assert isinstance(got, dns.message.Message) and len(got.answer[0]) == 1000
        assert got.answer[0].name.to_text() == name == got.question[0].name.to_text()  # the query's case
    assert builds == ["big.p.svc.cluster.local."]
    zone.update("Endpoints", {"metadata": {"name": "big", "namespace": "p"},
                              "subsets": [{"addresses": [{"ip": "10.128.9.9"}]}]}, None)
    assert texts_of(r, "BIG.p.svc.cluster.local") == ["BIG.p.svc.cluster.local. A 10.128.9.9"]  # the new zone
    assert len(builds) == 2


def texts_of(r: Resolver, name: str) -> list[str]:
    got = r.handle(dns.message.make_query(name, "A").to_wire(), CLIENT)
    assert isinstance(got, dns.message.Message)
    return sorted(f"{rr.name} A {rd}" for rr in got.answer for rd in rr)


def hostile_zone() -> SharedZone:
    """A zone holding an ExternalName the API refuses today (300 characters), as older data could."""
    zone = headless(3)
    zone.update("Service", {"metadata": {"name": "old", "namespace": "p"},
                            "spec": {"type": "ExternalName", "externalName": "a" * 300}}, None)
    return zone


def test_zone_data_that_cannot_answer_gives_servfail() -> None:
    r = Resolver(DnsConfig("unused", "10.128.0.1"), hostile_zone())
    got = r.handle(dns.message.make_query("old.p.svc.cluster.local", "A").to_wire(), CLIENT)
    assert isinstance(got, dns.message.Message) and got.rcode() == dns.rcode.SERVFAIL
    assert texts_of(r, "big.p.svc.cluster.local") != []  # the rest of the zone answers


def test_a_failing_query_never_stops_the_udp_thread() -> None:
    server = DnsServer(DnsConfig("unused", "127.0.0.1"), hostile_zone())
    server._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server._udp.bind(("127.0.0.1", 0))
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(20)
    loop = threading.Thread(target=server._udp_loop, daemon=True)
    loop.start()

    called = threading.Event()

    def wants(ip: str) -> bool:
        called.set()
        raise RuntimeError("a bug in the hook's client filter")

    try:
        server.set_answer_hook(lambda *a: None, wants)
        client.sendto(dns.message.make_query("big.p.svc.cluster.local", "A").to_wire(), server._udp.getsockname())
        assert called.wait(20)
        server.set_answer_hook(None)
        for name, rcode in (("old.p.svc.cluster.local", dns.rcode.SERVFAIL), ("big.p.svc.cluster.local", dns.rcode.NOERROR)):
            query = dns.message.make_query(name, "A")
            client.sendto(query.to_wire(), server._udp.getsockname())
            while True:  # skip an answer to the first query, should one come
                got = dns.message.from_wire(client.recv(4096))
                if got.id == query.id:
                    break
            assert got.rcode() == rcode
    finally:
        server._stop.set()
        with contextlib.suppress(OSError):  # ENOTCONN, and recvfrom wakes all the same (as in `stop`)
            server._udp.shutdown(socket.SHUT_RDWR)
        server._udp.close()
        client.close()
        loop.join(timeout=20)
