"""The master's DNS resolution of EgressNetworkPolicy `dnsName`s, for pods that use other resolvers.

The node's DNS server installs a name's addresses before a pod sees them (`osdn.node.dnshold`); a pod
that asks another resolver is covered by this controller, as openshift-sdn's EgressDNS does it:
every name is re-queried after min(TTL, 30 s) (TTL 0: 30 s; clamped to 30 min), a failed query keeps
the old addresses and is retried after the last answer's interval (30 s if it never answered). A name's addresses are published on every
policy that mentions it, as the annotation `network.osdn.io/dns-resolved` (JSON `{name: [IPs]}`),
which the node agents and the oracle read. Wildcard names (`*.example.com`) cannot be resolved:
they are matched from DNS answers on the nodes only.

`next_query_in` and `desired_annotation` are pure; the controller thread resolves (dnspython, with
`nameservers` from master.yaml `egressDNS`, else /etc/resolv.conf; inside `netns` if set: the lab
queries from its router's namespace) and patches policies whose annotation differs.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.resolver

from osdn.client import Client
from osdn.errors import NotFoundError, OsdnError
from osdn.kernel import netns as kernel_netns
from osdn.master.controller import Controller, Informers
from osdn.model.egress_firewall import RESOLVED_ANNOTATION, WILDCARD, resolved_of

log = logging.getLogger(__name__)
Obj = dict[str, Any]
DEFAULT_INTERVAL = 30.0
MAX_INTERVAL = 1800.0
ROUND = "round"
Resolve = Callable[[str], tuple[tuple[str, ...], int]]


def next_query_in(ttl: int | None) -> float:
    """Pure: seconds until the next query of a name whose answer had `ttl` (None: failed)."""
    if ttl is None or ttl <= 0:
        return DEFAULT_INTERVAL
    return min(float(ttl), DEFAULT_INTERVAL, MAX_INTERVAL)


def policy_names(obj: Mapping[str, Any]) -> list[str]:
    """Pure: the resolvable dnsNames of one policy (wildcards left out), lower case, no final dot."""
    rules = (obj.get("spec") or {}).get("egress") or []
    names = {str((r.get("to") or {}).get("dnsName") or "").lower().rstrip(".") for r in rules if isinstance(r, dict)}
    return sorted(n for n in names if n and not n.startswith(WILDCARD))


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
        return tuple(sorted(r.address for r in ans)), int(ans.rrset.ttl if ans.rrset is not None else 0)

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

    def prepare(self) -> None:
        threading.Thread(target=self._timer, name="master-egress-dns-timer", daemon=True).start()
        self.enqueue(ROUND)

    def stop(self) -> None:
        super().stop()
        self._next.set()

    def _timer(self) -> None:
        while not self._stop.is_set():
            if not self._next.wait(self._wait):
                self.enqueue(ROUND)
            self._next.clear()

    def reconcile(self, key: Hashable) -> None:
        self._wait = self.round()
        self._next.set()  # restart the timer with the new wait

    def round(self) -> float:
        """Resolve what is due, publish changes; seconds until the next name is due."""
        objs = self.policies.items()
        wanted = {n for o in objs for n in policy_names(o)}
        for gone in set(self.names) - wanted:
            del self.names[gone]
        now = self.clock()
        for name in sorted(wanted):
            st = self.names.setdefault(name, NameState())
            if st.due <= now:
                self._query(name, st, now)
        table = {n: s.addresses for n, s in self.names.items() if s.resolved}
        for obj in objs:
            self._publish(obj, table)
        dues = [s.due for s in self.names.values()]
        return max(0.05, min(dues) - self.clock()) if dues else MAX_INTERVAL

    def _query(self, name: str, st: NameState, now: float) -> None:
        try:
            addrs, ttl = self.resolve(name)
        except (dns.exception.DNSException, OSError) as exc:
            log.warning("egress-dns: %s: %s; keeping %s", name, type(exc).__name__, list(st.addresses) or "nothing")
            st.due = now + st.interval
            return
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
