"""The node DNS server's protocol logic (`Resolver`): the cluster zone per the Kubernetes DNS spec,
hostile input, the TTL cache, upstream answers validated, and the answer hook. No root: upstreams
are fake servers on loopback, the resolver is driven with wire bytes."""

from __future__ import annotations

import concurrent.futures
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osdn.node.dns.cache import AnswerCache, answer_ttl
from osdn.node.dns.server import DnsConfig, Resolver, SharedZone, to_udp_wire

Obj = dict[str, Any]
CLIENT = "10.128.0.9"


def world() -> SharedZone:
    zone = SharedZone()
    objs: list[tuple[str, Obj]] = [
        ("Service", {"metadata": {"name": "web", "namespace": "p"},
                     "spec": {"clusterIP": "172.30.0.20", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}),
        ("Service", {"metadata": {"name": "db", "namespace": "p"},
                     "spec": {"clusterIP": "None", "ports": [{"name": "sql", "port": 5432}]}}),
        ("Endpoints", {"metadata": {"name": "db", "namespace": "p"},
                       "subsets": [{"addresses": [{"ip": "10.128.0.5", "hostname": "db-0"}, {"ip": "10.128.0.6"}],
                                    "notReadyAddresses": [{"ip": "10.128.0.7"}],
                                    "ports": [{"name": "sql", "port": 5432, "protocol": "TCP"}]}]}),
        ("Service", {"metadata": {"name": "ext", "namespace": "p"},
                     "spec": {"type": "ExternalName", "externalName": "web.ext.test"}}),
        ("Pod", {"metadata": {"name": "x", "namespace": "p"}, "spec": {}, "status": {"podIP": "10.128.0.5"}}),
    ]
    for kind, obj in objs:
        zone.update(kind, obj, None)
    return zone


def ask(r: Resolver, name: str, rdtype: str = "A", **kw: Any) -> dns.message.Message:
    got = r.handle(dns.message.make_query(name, rdtype, **kw).to_wire(), CLIENT)
    assert isinstance(got, dns.message.Message)
    return got


def texts(msg: dns.message.Message, section: str = "answer") -> list[str]:
    return sorted(f"{rr.name} {dns.rdatatype.to_text(rr.rdtype)} {r}" for rr in getattr(msg, section) for r in rr)


@pytest.fixture
def resolver() -> Resolver:
    return Resolver(DnsConfig("unused", "10.128.0.1", upstream_timeout=0.3), world())


CASES = [
    ("web.p.svc.cluster.local", "A", "NOERROR", ["web.p.svc.cluster.local. A 172.30.0.20"]),
    ("WEB.P.svc.Cluster.Local", "A", "NOERROR", ["WEB.P.svc.Cluster.Local. A 172.30.0.20"]),
    ("db.p.svc.cluster.local", "A", "NOERROR", ["db.p.svc.cluster.local. A 10.128.0.5", "db.p.svc.cluster.local. A 10.128.0.6"]),
    ("db-0.db.p.svc.cluster.local", "A", "NOERROR", ["db-0.db.p.svc.cluster.local. A 10.128.0.5"]),
    ("10-128-0-6.db.p.svc.cluster.local", "A", "NOERROR", ["10-128-0-6.db.p.svc.cluster.local. A 10.128.0.6"]),
    ("10-128-0-7.db.p.svc.cluster.local", "A", "NXDOMAIN", []),  # not ready
    ("_http._tcp.web.p.svc.cluster.local", "SRV", "NOERROR",
     ["_http._tcp.web.p.svc.cluster.local. SRV 0 100 80 web.p.svc.cluster.local."]),
    ("_sql._tcp.db.p.svc.cluster.local", "SRV", "NOERROR",
     ["_sql._tcp.db.p.svc.cluster.local. SRV 0 50 5432 10-128-0-6.db.p.svc.cluster.local.",
      "_sql._tcp.db.p.svc.cluster.local. SRV 0 50 5432 db-0.db.p.svc.cluster.local."]),
    ("_http._udp.web.p.svc.cluster.local", "SRV", "NXDOMAIN", []),
    ("ext.p.svc.cluster.local", "A", "NOERROR", ["ext.p.svc.cluster.local. CNAME web.ext.test."]),
    ("10-128-0-5.p.pod.cluster.local", "A", "NOERROR", ["10-128-0-5.p.pod.cluster.local. A 10.128.0.5"]),
    ("10-128-0-5.q.pod.cluster.local", "A", "NXDOMAIN", []),  # verified: no such pod in q
    ("web.p.svc.cluster.local", "AAAA", "NOERROR", []),
    ("p.svc.cluster.local", "A", "NOERROR", []),
    ("nosuch.svc.cluster.local", "A", "NXDOMAIN", []),
    ("nope.p.svc.cluster.local", "A", "NXDOMAIN", []),
    ("a.b.c.d.e.f.svc.cluster.local", "A", "NXDOMAIN", []),
    ("dns-version.cluster.local", "TXT", "NOERROR", ['dns-version.cluster.local. TXT "1.1.0"']),
    ("20.0.30.172.in-addr.arpa", "PTR", "NOERROR", ["20.0.30.172.in-addr.arpa. PTR web.p.svc.cluster.local."]),
    ("5.0.128.10.in-addr.arpa", "PTR", "NOERROR", ["5.0.128.10.in-addr.arpa. PTR db-0.db.p.svc.cluster.local."]),
]


@pytest.mark.parametrize(("name", "rdtype", "rcode", "want"), CASES, ids=[f"{c[0]}/{c[1]}" for c in CASES])
def test_cluster_zone(resolver: Resolver, name: str, rdtype: str, rcode: str, want: list[str]) -> None:
    got = ask(resolver, name, rdtype)
    assert dns.rcode.to_text(got.rcode()) == rcode
    assert texts(got) == want
    assert got.flags & dns.flags.AA and got.flags & dns.flags.QR
    if not want:  # negative answers carry the zone's SOA (RFC 2308)
        assert [rr.rdtype for rr in got.authority] == [dns.rdatatype.SOA]


def test_srv_answers_carry_their_targets_addresses(resolver: Resolver) -> None:
    got = ask(resolver, "_sql._tcp.db.p.svc.cluster.local", "SRV")
    assert texts(got, "additional") == ["10-128-0-6.db.p.svc.cluster.local. A 10.128.0.6",
                                        "db-0.db.p.svc.cluster.local. A 10.128.0.5"]


def test_watch_events_change_answers_at_once(resolver: Resolver) -> None:
    svc = {"metadata": {"name": "web", "namespace": "p"}, "spec": {"clusterIP": "172.30.0.21"}}
    resolver.zone.update("Service", svc, None)
    assert texts(ask(resolver, "web.p.svc.cluster.local")) == ["web.p.svc.cluster.local. A 172.30.0.21"]
    resolver.zone.update("Service", None, svc)
    assert ask(resolver, "web.p.svc.cluster.local").rcode() == dns.rcode.NXDOMAIN


# -- hostile input -------------------------------------------------------------------------------

def header(qid: int, flags: int, qd: int = 1) -> bytes:
    return struct.pack("!HHHHHH", qid, flags, qd, 0, 0, 0)


QNAME = b"\x03web\x01p\x03svc\x07cluster\x05local\x00\x00\x01\x00\x01"


@pytest.mark.parametrize(("wire", "want"), [
    (b"", None), (b"\x12\x34\x01", None),                         # shorter than a header: dropped
    (header(7, 0x8100) + QNAME, None),                            # a response (QR): dropped, never answered
    (header(7, 0x0100) + b"\x03web\xc0\x0c", "FORMERR"),          # a compression loop
    (header(7, 0x0100) + QNAME + b"junk", "FORMERR"),             # trailing junk
    (header(7, 0x0100, qd=2) + QNAME, "FORMERR"),                 # says 2 questions, has 1
    (header(7, 0x0100, qd=0), "FORMERR"),                         # no question
    (header(7, 0x2100) + QNAME, "NOTIMP"),                        # opcode STATUS
    (header(7, 0x0100) + QNAME[:-2] + b"\x00\x03", "REFUSED"),    # class CHAOS
], ids=["empty", "short", "response", "loop", "junk", "count", "noquestion", "opcode", "chaos"])
def test_malformed_queries_are_dropped_or_refused(resolver: Resolver, wire: bytes, want: str | None) -> None:
    got = resolver.handle(wire, CLIENT)
    if want is None:
        assert got is None
        return
    raw = got if isinstance(got, bytes) else got.to_wire() if got is not None else b""
    assert raw[:2] == wire[:2] and raw[2] & 0x80  # our id echoed, QR set
    assert dns.rcode.to_text(dns.rcode.Rcode(raw[3] & 0x0F)) == want


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_get_an_answer_or_silence_never_an_exception(wire: bytes) -> None:
    r = Resolver(DnsConfig("unused", "10.128.0.1", upstreams=()), world())
    got = r.handle(wire, CLIENT)
    assert got is None or isinstance(got, bytes | dns.message.Message)


def test_large_udp_answers_are_truncated_for_tcp_retry() -> None:
    zone = SharedZone()
    addrs = [{"ip": f"10.128.{i // 250}.{i % 250 + 2}"} for i in range(200)]
    zone.update("Service", {"metadata": {"name": "big", "namespace": "p"}, "spec": {"clusterIP": "None"}}, None)
    zone.update("Endpoints", {"metadata": {"name": "big", "namespace": "p"}, "subsets": [{"addresses": addrs}]}, None)
    r = Resolver(DnsConfig("unused", "10.128.0.1"), zone)
    wire = dns.message.make_query("big.p.svc.cluster.local", "A").to_wire()
    full = r.handle(wire, CLIENT)
    assert isinstance(full, dns.message.Message) and len(full.answer[0]) == 200  # TCP gets everything
    udp = dns.message.from_wire(to_udp_wire(wire, full))
    assert udp.flags & dns.flags.TC and not udp.answer


# -- upstreams and the cache ---------------------------------------------------------------------

class FakeUpstream:
    """A UDP DNS server on loopback answering A queries with `reply(query) -> Message | None`."""

    def __init__(self, reply: Callable[[dns.message.Message], Any]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries: list[dns.message.Message] = []
        self.reply = reply
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                wire, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            q = dns.message.from_wire(wire)
            self.queries.append(q)
            out = self.reply(q)
            for one in out if isinstance(out, list) else [out] if out is not None else []:
                self.sock.sendto(one if isinstance(one, bytes) else one.to_wire(), peer)

    def close(self) -> None:
        self.sock.close()


def a_answer(q: dns.message.Message, ip: str = "203.0.113.80", ttl: int = 30) -> dns.message.Message:
    r = dns.message.make_response(q)
    r.answer.append(dns.rrset.from_text(q.question[0].name, ttl, "IN", "A", ip))
    return r


@pytest.fixture
def upstream(request: pytest.FixtureRequest) -> Iterator[FakeUpstream]:
    up = FakeUpstream(getattr(request, "param", a_answer))
    yield up
    up.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def forwarding(up: FakeUpstream, clock: Clock | None = None, **kw: Any) -> Resolver:
    cfg = DnsConfig("unused", "10.128.0.1", upstreams=(f"127.0.0.1:{up.port}",), upstream_timeout=0.3, **kw)
    return Resolver(cfg, world(), clock or Clock())


def test_outside_names_are_forwarded_with_our_own_id_and_cached_by_ttl(upstream: FakeUpstream) -> None:
    clock = Clock()
    r = forwarding(upstream, clock)
    q = dns.message.make_query("web.ext.test", "A")
    first = r.handle(q.to_wire(), CLIENT)
    assert isinstance(first, dns.message.Message) and first.id == q.id
    assert texts(first) == ["web.ext.test. A 203.0.113.80"] and not first.flags & dns.flags.AA
    assert upstream.queries[0].id != q.id or len(upstream.queries) == 1  # a fresh query, not the client's bytes
    clock.now += 10
    again = ask(r, "WEB.ext.test")
    assert len(upstream.queries) == 1 and again.answer[0].ttl == 20  # from the cache, aged
    clock.now += 21
    ask(r, "web.ext.test")
    assert len(upstream.queries) == 2  # expired: asked again
    assert ask(r, "nope.p.svc.cluster.local").rcode() == dns.rcode.NXDOMAIN and len(upstream.queries) == 2


def test_cache_is_bounded(upstream: FakeUpstream) -> None:
    r = forwarding(upstream, cache_size=3)
    for i in range(6):
        ask(r, f"n{i}.ext.test")
    assert len(r.cache) == 3
    ask(r, "n5.ext.test")
    assert len(upstream.queries) == 6  # the newest stayed
    ask(r, "n0.ext.test")
    assert len(upstream.queries) == 7  # the oldest went


def wrong_id(q: dns.message.Message) -> dns.message.Message:
    r = a_answer(q, "6.6.6.6")
    r.id = (q.id + 1) % 65536
    return r


def wrong_question(q: dns.message.Message) -> dns.message.Message:
    r = a_answer(dns.message.make_query("evil.test", "A"), "6.6.6.6")
    r.id = q.id
    return r


@pytest.mark.parametrize("upstream", [wrong_id, wrong_question, lambda q: b"\x00garbage", lambda q: None],
                         indirect=True, ids=["wrong-id", "wrong-question", "garbage", "silent"])
def test_invalid_or_missing_upstream_answers_give_servfail(upstream: FakeUpstream) -> None:
    got = ask(forwarding(upstream), "web.ext.test")
    assert got.rcode() == dns.rcode.SERVFAIL and not got.answer


def test_no_upstream_gives_servfail_for_outside_names() -> None:
    r = Resolver(DnsConfig("unused", "10.128.0.1"), world())
    assert ask(r, "web.ext.test").rcode() == dns.rcode.SERVFAIL
    assert ask(r, "web.p.svc.cluster.local").rcode() == dns.rcode.NOERROR  # the zone never needs one


def test_answer_ttl_rules() -> None:
    q = dns.message.make_query("x.test", "A")
    assert answer_ttl(a_answer(q, ttl=99999)) == 3600
    fail = dns.message.make_response(q)
    fail.set_rcode(dns.rcode.SERVFAIL)
    assert answer_ttl(fail) is None
    cache = AnswerCache(max_entries=2)
    cache.put(("x.test.", 1, 1), a_answer(q, ttl=5), now=0)
    assert cache.get(("x.test.", 1, 1), now=4.9) is not None and cache.get(("x.test.", 1, 1), now=5) is None


# -- the answer hook -----------------------------------------------------------------------------

def test_hook_sees_every_answer_with_addresses_before_it_is_returned(upstream: FakeUpstream) -> None:
    r = forwarding(upstream)
    seen: list[tuple[str, str, tuple[str, ...], int]] = []
    r.hook = lambda client, name, addrs, ttl: seen.append((client, name, addrs, ttl))
    ask(r, "web.ext.test")
    ask(r, "web.p.svc.cluster.local")
    ask(r, "nope.p.svc.cluster.local")  # no addresses: not held
    assert seen == [(CLIENT, "web.ext.test.", ("203.0.113.80",), 30),
                    (CLIENT, "web.p.svc.cluster.local.", ("172.30.0.20",), 5)]


def test_hook_future_holds_the_answer_and_a_failing_hook_fails_closed(upstream: FakeUpstream) -> None:
    r = forwarding(upstream, hold_timeout=0.2)
    done: concurrent.futures.Future[None] = concurrent.futures.Future()
    r.hook = lambda *a: done
    threading.Timer(0.05, done.set_result, args=(None,)).start()
    assert ask(r, "web.ext.test").answer  # waited for the future, then answered
    r.hook = lambda *a: concurrent.futures.Future()  # never completes
    assert ask(r, "web.ext.test").rcode() == dns.rcode.SERVFAIL

    async def refuse(*_a: Any) -> None:
        raise PermissionError("not installed")
    r.hook = refuse
    assert ask(r, "web.ext.test").rcode() == dns.rcode.SERVFAIL


# -- the UDP fast path ---------------------------------------------------------------------------

def test_fast_path_replays_by_bytes_with_the_new_id_until_the_zone_or_the_lifetime_changes() -> None:
    from osdn.node.dns.fastpath import FastPath

    fast = FastPath(max_entries=2)
    q1 = dns.message.make_query("web.p.svc.cluster.local", "A")
    answer = dns.message.make_response(q1).to_wire()
    fast.put(q1.to_wire(), answer, generation=7, expires=float("inf"))
    q2 = dns.message.make_query("web.p.svc.cluster.local", "A")  # same bytes but the id
    q2.id = (q1.id + 1) % 65536
    hit = fast.get(q2.to_wire(), 7, now=0)
    assert hit is not None and hit[:2] == q2.to_wire()[:2] and hit[2:] == answer[2:]
    assert fast.get(q2.to_wire(), 8, now=0) is None  # the zone changed
    other = dns.message.make_query("WEB.p.svc.cluster.local", "A").to_wire()  # other bytes: parsed afresh
    assert fast.get(other, 7, now=0) is None
    fast.put(other, answer, generation=None, expires=10.0)  # forwarded: any generation, until it expires
    assert fast.get(other, 99, now=9.9) is not None and fast.get(other, 99, now=10.0) is None
    fast.put(dns.message.make_query("x.test", "A").to_wire(), answer, None, 1.0)
    assert len(fast) == 1  # full: started afresh


def test_pod_status_churn_leaves_the_zone_generation_alone() -> None:
    zone = world()
    before = zone.generation
    pod = {"metadata": {"name": "x", "namespace": "p"}, "spec": {}, "status": {"podIP": "10.128.0.5"}}
    zone.update("Pod", {**pod, "status": {**pod["status"], "phase": "Running"}}, pod)
    assert zone.generation == before  # the fast path's cluster answers stay valid
    zone.update("Pod", {**pod, "status": {"podIP": "10.128.0.8"}}, pod)
    assert zone.generation > before
    assert ask(Resolver(DnsConfig("unused", "10.128.0.1"), zone), "10-128-0-8.p.pod.cluster.local").answer
