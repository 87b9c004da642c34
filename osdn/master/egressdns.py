"""The master's DNS resolution of EgressNetworkPolicy `dnsName`s, for pods that use other resolvers.

The node's DNS server installs a name's addresses before a pod sees them (`osdn.node.dnshold`); a pod
that asks another resolver is covered by this controller, as openshift-sdn's EgressDNS does it:
every name is re-queried after min(TTL, 30 s) (TTL 0: 30 s; clamped to 30 min), a failed query keeps
the old addresses and is retried after the last answer's interval (30 s if it never answered). A name's addresses are published on every
policy that mentions it, as the annotation `network.osdn.io/dns-resolved` (JSON `{name: [IPs]}`),
which the node agents and the oracle read. A name publishes at most `MAX_ADDRESSES` addresses (the
lowest; the rest are logged): whoever answers for a name may return 4,000 records, and 50 such names
would make a policy's annotation larger than the API's 256 KiB, so no name of it would be published.

`next_query_in`, `answer_ttl` and `desired_annotation` are pure. Queries (dnspython, with
`nameservers` from master.yaml `egressDNS`, else /etc/resolv.conf; inside `netns` if set: the lab
queries from its router's namespace) run on a small thread pool started with the controller, so a
slow or dead name never delays the others (openshift-sdn TestSync: a name answered in 50 ms is
published, and re-queried after its 1 s TTL, while another takes 3.5 s); each finished query wakes
the controller thread, which alone keeps the table and patches policies whose annotation differs.
Without `prepare` (unit tests driving `round`), queries run inline.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.resolver

from osdn.client import Client
from osdn.errors import NotFoundError, OsdnError
from osdn.kernel import netns as kernel_netns
from osdn.master.controller import Controller, Informers
from osdn.model.egress_firewall import RESOLVED_ANNOTATION, resolved_of

log = logging.getLogger(__name__)
Obj = dict[str, Any]
DEFAULT_INTERVAL = 30.0
MAX_INTERVAL = 1800.0
MAX_ADDRESSES = 200  # per name: 50 names x 200 addresses stay under the 256 KiB annotation limit
ROUND = "round"
QUERY_WORKERS = 8
Resolve = Callable[[str], tuple[tuple[str, ...], int]]
Answer = tuple[tuple[str, ...], int] | Exception     # addresses and TTL, or why the query failed


def next_query_in(ttl: int | None) -> float:
    """Pure: seconds until the next query of a name whose answer had `ttl` (None: failed)."""
    if ttl is None or ttl <= 0:
        return DEFAULT_INTERVAL
    return min(float(ttl), DEFAULT_INTERVAL, MAX_INTERVAL)


def _address_key(address: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in address.split("."))


def answer_ttl(ttls: Iterable[int]) -> int:
    """Pure: the TTL of a whole answer (CNAMEs included): the smallest non-zero one, as openshift-sdn's
    `doOneQuery` (records with TTL 0 do not count; none left: 0, i.e. the default interval)."""
    return min((t for t in ttls if t > 0), default=0)


def policy_names(obj: Mapping[str, Any]) -> list[str]:
    """Pure: the dnsNames of one policy, lower case, no final dot."""
    rules = (obj.get("spec") or {}).get("egress") or []
    names = {str((r.get("to") or {}).get("dnsName") or "").lower().rstrip(".") for r in rules if isinstance(r, dict)}
    return sorted(n for n in names if n)


def desired_annotation(obj: Mapping[str, Any], table: Mapping[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """Pure: what the policy's annotation should say: its names' current addresses (names never
    resolved yet are left out)."""
    return {n: sorted(table[n]) for n in policy_names(obj) if n in table}


@dataclass
class NameState:
    addresses: tuple[str, ...] = ()
    due: float = 0.0
    resolved: bool = False
    interval: float = DEFAULT_INTERVAL  # from the last answer's TTL; a failure retries after it


@dataclass(frozen=True)
class EgressDNSOptions:
    nameservers: tuple[str, ...] = ()
    netns: str = ""
    timeout: float = 5.0

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> EgressDNSOptions:
        unknown = sorted(set(raw) - {"nameservers", "netns", "timeout"})
        if unknown:
            raise OsdnError(f"master config egressDNS: unknown field(s) {', '.join(unknown)}")
        return cls(tuple(str(s) for s in raw.get("nameservers") or ()), str(raw.get("netns") or ""),
                   float(raw.get("timeout") or 5.0))


def make_resolver(opts: EgressDNSOptions) -> Resolve:
    """A function name -> (IPv4 addresses, smallest TTL); raises DNSException on failure."""
    def query(name: str) -> tuple[tuple[str, ...], int]:
        res = dns.resolver.Resolver(configure=not opts.nameservers)
        if opts.nameservers:
            res.nameservers = list(opts.nameservers)
        res.lifetime = opts.timeout
        ans = res.resolve(name + ".", "A", search=False)
        return tuple(sorted(r.address for r in ans)), answer_ttl(int(r.ttl) for r in ans.response.answer)

    if not opts.netns:
        return query
    return lambda name: kernel_netns.run_in_netns(opts.netns, query, name)


class EgressDNSController(Controller):
    """Resolve every dnsName of every EgressNetworkPolicy on its schedule; publish on the policies.
    One work key (`ROUND`): policy events and a timer (the earliest due name) enqueue it."""

    name = "egress-dns"

    def __init__(self, client: Client, informers: Informers, resolve: Resolve,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(client)
        self.resolve, self.clock = resolve, clock
        self.names: dict[str, NameState] = {}
        self.policies = informers.on("EgressNetworkPolicy", lambda *_: self.enqueue(ROUND))
        self._next = threading.Event()
        self._wait = MAX_INTERVAL
        self._pool: ThreadPoolExecutor | None = None
        self._inflight: set[str] = set()
        self._answers: queue.SimpleQueue[tuple[str, float, Answer]] = queue.SimpleQueue()

    def prepare(self) -> None:
        self._pool = ThreadPoolExecutor(QUERY_WORKERS, thread_name_prefix="master-egress-dns-query")
        threading.Thread(target=self._timer, name="master-egress-dns-timer", daemon=True).start()
        self.enqueue(ROUND)

    def stop(self) -> None:
        super().stop()
        self._next.set()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _timer(self) -> None:
        while not self._stop.is_set():
            if not self._next.wait(self._wait):
                self.enqueue(ROUND)
            self._next.clear()

    def reconcile(self, key: Hashable) -> None:
        self._wait = self.round()
        self._next.set()  # restart the timer with the new wait

    def round(self) -> float:
        """Take in finished queries, start the due ones, publish changes; seconds until the next name
        is due (names being queried wake the controller when they finish)."""
        objs = self.policies.items()
        wanted = {n for o in objs for n in policy_names(o)}
        for gone in set(self.names) - wanted:
            del self.names[gone]
        self._take_answers()
        now = self.clock()
        for name in sorted(wanted - self._inflight):
            if self.names.setdefault(name, NameState()).due <= now:
                self._start(name)
        self._take_answers()
        table = {n: s.addresses for n, s in self.names.items() if s.resolved}
        for obj in objs:
            self._publish(obj, table)
        dues = [s.due for n, s in self.names.items() if n not in self._inflight]
        return max(0.05, min(dues) - self.clock()) if dues else MAX_INTERVAL

    def _start(self, name: str) -> None:
        if self._pool is None:
            self._answers.put((name, *self._ask(name)))
            return
        self._inflight.add(name)
        self._pool.submit(self._ask_then_wake, name)

    def _ask(self, name: str) -> tuple[float, Answer]:
        try:
            got: Answer = self.resolve(name)
        except (dns.exception.DNSException, OSError) as exc:
            got = exc
        return self.clock(), got

    def _ask_then_wake(self, name: str) -> None:
        """On a pool thread: one query; its answer (or failure) goes to the controller thread."""
        try:
            when, got = self._ask(name)
        except Exception as exc:  # a bug in the resolver: still a (failed) answer, never a stuck name
            log.exception("egress-dns: %s: unexpected error", name)
            when, got = self.clock(), exc
        self._answers.put((name, when, got))
        self.enqueue(ROUND)

    def _take_answers(self) -> None:
        while True:
            try:
                name, when, got = self._answers.get_nowait()
            except queue.Empty:
                return
            self._inflight.discard(name)
            st = self.names.get(name)
            if st is not None:      # None: no policy mentions it any more
                self._record(name, st, when, got)

    def _record(self, name: str, st: NameState, now: float, got: Answer) -> None:
        if isinstance(got, Exception):
            log.warning("egress-dns: %s: %s; keeping %s", name, type(got).__name__, list(st.addresses) or "nothing")
            st.due = now + st.interval
            return
        addrs, ttl = got
        if len(addrs) > MAX_ADDRESSES:
            log.warning("egress-dns: %s: %d addresses, publishing the lowest %d", name, len(addrs), MAX_ADDRESSES)
            addrs = tuple(sorted(addrs, key=_address_key)[:MAX_ADDRESSES])
        if addrs != st.addresses or not st.resolved:
            log.info("egress-dns: %s -> %s (ttl %ds)", name, ", ".join(addrs) or "-", ttl)
        st.interval = next_query_in(ttl)
        st.addresses, st.resolved, st.due = addrs, True, now + st.interval

    def _publish(self, obj: Mapping[str, Any], table: Mapping[str, tuple[str, ...]]) -> None:
        want = desired_annotation(obj, table)
        if want == {k: sorted(v) for k, v in resolved_of(obj).items()}:
            return
        meta = obj.get("metadata") or {}
        patch = {"metadata": {"annotations": {RESOLVED_ANNOTATION: json.dumps(want, sort_keys=True)}}}
        try:
            self.client.patch("EgressNetworkPolicy", meta["name"], patch, meta.get("namespace", ""))
        except NotFoundError:
            return
