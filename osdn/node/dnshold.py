"""The DNS hold: a DNS answer for an egress firewall name reaches the pod only after its addresses
are in that name's nft set (no race between the pod and the firewall, as in Cilium and Antrea).

Side effects: nft element adds (through `Dataplane.add_elements`, the single writer's lock) and a
conntrack listing when addresses expire. Threads: `on_answer` runs on the DNS server's workers;
`overlay` runs inside `Dataplane.sync` (under the same lock), so a sync never removes an address the
hold just installed, and its rendered ruleset always carries the held addresses.

- `on_answer(client, name, addresses, ttl)` (the `osdn.node.dns.server` answer hook): if the client
  is a pod of this node whose project's EgressNetworkPolicy mentions `name` (case and a final dot
  aside), record the addresses (`osdn.node.fqdn.FqdnCache`) and add the new ones to
  the sets; return when the kernel has them. A failure raises: the DNS server answers SERVFAIL, the
  pod never sees an address the firewall does not know. Other answers pass untouched.
- Between two syncs a name gets at most `max_added` (4,096) new addresses in the kernel; past that
  its answers fail (SERVFAIL, nothing learned) until the next sync has pruned the set to what the
  cache holds. The cache's own cap forgets old addresses, but only a sync takes them out of the
  kernel: a name answering 4,000 fresh addresses each time grew its set by millions before.
- `enabled=False` (`osdn node --no-egress-dns-hold`, or `OSDN_EGRESS_DNS_HOLD=0`): answers are
  never held; names then follow the master's TTL-aware resolution only (openshift-sdn's race).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from osdn.errors import KernelError, OsdnError
from osdn.kernel import conntrack
from osdn.node.dataplane import Dataplane
from osdn.node.egress_firewall import EgressFirewallIntent
from osdn.node.fqdn import MAX_ADDRESSES, FqdnCache
from osdn.node.render.egress_firewall import dns_set
from osdn.node.render.ruleset import TABLE_NAME, Ruleset

log = logging.getLogger(__name__)
Clock = Callable[[], float]


class HoldFull(OsdnError):
    """A name got more new addresses since the last sync than the kernel may take in between."""


class DnsHold:
    def __init__(self, dataplane: Dataplane, enabled: bool = True, clock: Clock = time.monotonic,
                 cache: FqdnCache | None = None, max_added: int = MAX_ADDRESSES) -> None:
        self.dataplane, self.enabled, self.clock = dataplane, enabled, clock
        self.cache = cache or FqdnCache()
        self.max_added = max_added
        self._added: dict[str, int] = {}  # per name: elements added to the kernel since the last sync
        self.firewall = EgressFirewallIntent()
        self._lock = threading.Lock()
        self.held = 0  # answers held (metrics, tests)

    def configure(self, firewall: EgressFirewallIntent) -> None:
        """The firewall of the last sync: which pods' answers are held, for which names."""
        with self._lock:
            self.firewall = firewall

    def on_answer(self, client: str, name: str, addresses: tuple[str, ...], ttl: int) -> None:
        if not self.enabled:
            return
        qname = name.lower().rstrip(".")
        with self._lock:
            if qname not in self.firewall.names_of(client):
                return
        with self.dataplane.lock:  # learn and install atomically with respect to syncs
            now = self.clock()
            since = self._added.get(qname, 0)
            if since + len(self.cache.fresh(qname, addresses, now)) > self.max_added:
                raise HoldFull(f"dns hold: {qname}: {since} new addresses since the last sync, at most "
                               f"{self.max_added}; answers fail until the next sync")
            new = self.cache.learn(qname, addresses, ttl, now)
            if new:
                added = self.dataplane.add_elements("inet", {dns_set(qname): new})
                self._added[qname] = since + added
                log.debug("dns hold: %s -> %s for %s: %d new element(s)", name, addresses, client, added)
        self.held += 1

    def overlay(self, desired: Ruleset) -> Ruleset:
        """`desired` plus the held addresses of every name whose set it declares (runs in a sync)."""
        self._added = {}  # this sync takes the set back to what the cache holds
        table = desired.by_id().get(("inet", TABLE_NAME))
        if table is None or not self.cache.entries:
            return desired
        now = self.clock()
        live = self._live() if self.cache.expired(now) else set()
        declared = {s.name for s in table.sets}
        self.cache.expire(now, live, keep={n for n in self.cache.entries if dns_set(n) in declared})
        held = {dns_set(n): a for n, a in self.cache.addresses(now, live).items()}
        sets = tuple(replace(s, elements=s.elements | held[s.name]) if s.name in held else s for s in table.sets)
        return Ruleset(tuple(replace(t, sets=sets) if t is table else t for t in desired.tables))

    def _live(self) -> set[str]:
        netns = self.dataplane.netns
        if netns is None:
            return set()
        try:
            return conntrack.list_destinations(netns)
        except KernelError as exc:  # keep everything rather than cut connections we cannot see
            log.warning("dns hold: cannot list connections in %s, keeping expired addresses: %s", netns, exc)
            return set(self.cache.expired(self.clock()))
