"""Addresses the node's DNS server saw in answers for egress firewall names, with their lifetimes.

Pure: `now` is passed in, no clock, no I/O, no lock (the caller, `osdn.node.dnshold`, holds one).
A name keeps each address until `now + max(ttl, min_hold)` of the last answer that
carried it: a pod that resolved a name can connect while its answer is valid (and a little longer:
`min_hold` covers TTL 0 and the time between answer and connect). An address past its time stays
while `live` says a connection to it is open (the caller asks conntrack), so an open connection is
never cut because its name's answer expired. Expired addresses leave at the next sync.

A name holds at most `max_addresses` addresses (a name whose answers a tenant controls, e.g. a
fresh address per query, could otherwise grow a node's sets without bound): past it, the addresses closest to expiry are
forgotten first, never those of the answer being learned.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass, field

MIN_HOLD = 5.0  # seconds an answered address stays at least (TTL 0 or 1 s answers)
MAX_HOLD = 1800.0  # at most this long without a new answer (openshift-sdn clamps TTLs at 30 min)
MAX_ADDRESSES = 4096  # per name


@dataclass
class FqdnCache:
    """Per name: address -> expiry time (seconds, the caller's clock)."""

    min_hold: float = MIN_HOLD
    max_hold: float = MAX_HOLD
    max_addresses: int = MAX_ADDRESSES
    entries: dict[str, dict[str, float]] = field(default_factory=dict)

    def hold_time(self, ttl: int) -> float:
        """Pure: how long an answer with `ttl` keeps its addresses."""
        return min(max(float(ttl), self.min_hold), self.max_hold)

    def learn(self, name: str, addresses: Iterable[str], ttl: int, now: float) -> tuple[str, ...]:
        """Record an answer for `name`; returns the addresses it did not hold (valid) before: those
        must be installed before the answer is released."""
        until = now + self.hold_time(ttl)
        addrs = sorted(set(addresses))
        fresh = self.fresh(name, addrs, now)
        held = self.entries.setdefault(name, {})
        for a in addrs:
            held[a] = max(held.get(a, until), until)
        self._cap(held, keep=set(addrs))
        return fresh

    def fresh(self, name: str, addresses: Iterable[str], now: float) -> tuple[str, ...]:
        """The addresses `learn` would return, without learning them."""
        held = self.entries.get(name, {})
        return tuple(a for a in sorted(set(addresses)) if held.get(a, -1.0) <= now)

    def _cap(self, held: dict[str, float], keep: set[str]) -> None:
        over = len(held) - self.max_addresses
        if over > 0:
            for a in sorted((a for a in held if a not in keep), key=held.__getitem__)[:over]:
                del held[a]

    def addresses(self, now: float, live: Container[str] = ()) -> dict[str, frozenset[str]]:
        """Per name, the addresses still held: valid, or expired with an open connection."""
        return {name: frozenset(a for a, t in held.items() if t > now or a in live)
                for name, held in self.entries.items()}

    def expired(self, now: float) -> set[str]:
        """Addresses past their time (whether they stay depends on open connections)."""
        return {a for held in self.entries.values() for a, t in held.items() if t <= now}

    def expire(self, now: float, live: Container[str] = (), keep: Container[str] | None = None) -> int:
        """Forget expired addresses without an open connection, and names not in `keep` (None: all
        kept); the number of addresses forgotten."""
        gone = 0
        for name in list(self.entries):
            held = self.entries[name]
            if keep is not None and name not in keep:
                gone += len(held)
                del self.entries[name]
                continue
            for a in [a for a, t in held.items() if t <= now and a not in live]:
                del held[a]
                gone += 1
        return gone
