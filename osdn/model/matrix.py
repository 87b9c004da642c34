"""The pod-to-pod reachability matrix for one probe, and the impact of a change (opened/closed).

Pure. Same answers as `oracle.compute_verdict` for every ordered pair of distinct pods (the tests
hold it to that), computed with per-pod peer tables instead of pair by pair: each pod's egress table
and each pod's ingress table is built once per probe (ingress tables are shared by pods with the same
policies and container ports), then every pair is two set lookups. Reasons are built only on demand.
Host-network pods are not in the matrix: they are their node, not pods.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from osdn.model.cluster import MULTITENANT, NETWORKPOLICY, ClusterState
from osdn.model.netpol import EGRESS, INGRESS, PeerTable, compute_egress_table, compute_ingress_table

Probe = tuple[str, int]  # (protocol, port)


class Cell(NamedTuple):
    src: str
    dst: str
    allowed: bool
    reason: str


@dataclass(frozen=True)
class Matrix:
    """`allowed[i][j]` says whether pod `pods[i]` reaches pod `pods[j]` on `protocol`/`port`."""

    state: ClusterState
    protocol: str
    port: int
    index: tuple[int, ...]  # state.pods indexes of the matrix pods
    allowed: tuple[bytes, ...]
    egress: dict[int, PeerTable]
    ingress: dict[int, PeerTable]
    _memo: dict[tuple[int, int, int], str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def pods(self) -> tuple[str, ...]:
        return tuple(self.state.pods[i].key for i in self.index)

    def is_allowed(self, src: str, dst: str) -> bool:
        pos = {k: n for n, k in enumerate(self.pods)}
        return bool(self.allowed[pos[src]][pos[dst]])

    def cells(self) -> Iterator[Cell]:
        """Every ordered pair of distinct pods, sources in order, with its reason."""
        keys = self.pods
        reason = self._policy_reason if self.state.mode == NETWORKPOLICY else self.reason
        for a, s in enumerate(self.index):
            row = self.allowed[a]
            for b, d in enumerate(self.index):
                if a != b:
                    yield Cell(keys[a], keys[b], bool(row[b]), reason(s, d))

    def _policy_reason(self, s: int, d: int) -> str:
        pods = self.state.pods
        if pods[s].ip is None or pods[d].ip is None:
            return self.reason(s, d)
        return f"egress: {self._part(s, d, EGRESS)}; ingress: {self._part(d, s, INGRESS)}"

    def reason(self, s: int, d: int) -> str:
        st, pods = self.state, self.state.pods
        if pods[s].ip is None or pods[d].ip is None:
            return f"{pods[s].key if pods[s].ip is None else pods[d].key} has no IP (not running)"
        if st.mode == MULTITENANT:
            sv, dv = st.netid(pods[s].namespace), st.netid(pods[d].namespace)
            why = "same netid" if sv == dv else "a global project (netid 0)" if 0 in (sv, dv) else "different netids"
            return f"multitenant: netid {sv} -> netid {dv}: {why}"
        if st.mode != NETWORKPOLICY:
            return "subnet mode: every pod reaches every pod"
        return f"egress: {self._part(s, d, EGRESS)}; ingress: {self._part(d, s, INGRESS)}"

    def _part(self, me: int, peer: int, direction: str) -> str:
        """One direction's reason, memoised by (pod, deciding rule): few distinct strings per matrix."""
        table = self.egress[me] if direction == EGRESS else self.ingress[me]
        hit = (table.hits.get(peer) or table.fallback) if table.isolated_by else None
        key = (me, id(hit), direction == EGRESS)
        text = self._memo.get(key)
        if text is None:
            text = self._memo[key] = _why(table, peer, self.state.pods[me].key, direction)
        return text

def _why(table: PeerTable, peer: int, key: str, direction: str) -> str:
    if not table.isolated_by:
        return f"{key} not isolated for {direction}"
    hit = table.lookup(peer)
    if hit is not None:
        return hit.describe()
    return f"{key} isolated for {direction} by {', '.join(p.ref for p in table.isolated_by)}; no rule allows it"


def compute_matrix(state: ClusterState, protocol: str = "TCP", port: int = 80) -> Matrix:
    """The full pod-to-pod matrix for one probe."""
    index = tuple(i for i, p in enumerate(state.pods) if not p.host_network)
    has_ip = [state.pods[i].ip is not None for i in index]
    egress: dict[int, PeerTable] = {}
    ingress: dict[int, PeerTable] = {}
    if state.mode == NETWORKPOLICY:
        egress, ingress = _tables(state, index, protocol, port)
        rows = _policy_rows(index, egress, ingress)
    elif state.mode == MULTITENANT:
        netids = [state.netid(state.pods[i].namespace) for i in index]
        rows = [bytes(int(v == w or v == 0 or w == 0) for w in netids) for v in netids]
    else:
        rows = [bytes([1]) * len(index) for _ in index]
    allowed = tuple(bytes(int(rows[a][b] and has_ip[a] and has_ip[b] and a != b) for b in range(len(index)))
                    for a in range(len(index)))
    return Matrix(state, protocol, port, index, allowed, egress, ingress)


def _tables(state: ClusterState, index: Sequence[int], protocol: str,
            port: int) -> tuple[dict[int, PeerTable], dict[int, PeerTable]]:
    egress, ingress = {}, {}
    shared: dict[tuple[object, ...], PeerTable] = {}
    for i in index:
        pod = state.pods[i]
        pols = state.policies_by_ns.get(pod.namespace, ())
        egress[i] = compute_egress_table(pols, i, state.pods, protocol, port)
        key = (pod.namespace, tuple(id(p) for p in pols if i in p.selected), pod.ports)
        if key not in shared:
            shared[key] = compute_ingress_table(pols, i, pod, protocol, port)
        ingress[i] = shared[key]
    return egress, ingress


def _policy_rows(index: Sequence[int], egress: dict[int, PeerTable], ingress: dict[int, PeerTable]) -> list[bytes]:
    in_open = [not ingress[d].isolated_by or ingress[d].fallback is not None for d in index]
    in_hits = [ingress[d].hits for d in index]
    rows = []
    for s in index:
        e = egress[s]
        e_open = not e.isolated_by or e.fallback is not None
        e_hits = e.hits
        rows.append(bytes(int((e_open or d in e_hits) and (in_open[b] or s in in_hits[b]))
                          for b, d in enumerate(index)))
    return rows


@dataclass(frozen=True)
class Change:
    src: str
    dst: str
    protocol: str
    port: int
    before: str  # reason before the change
    after: str


def compute_impact(before: ClusterState, after: ClusterState,
                   probes: Iterable[Probe]) -> tuple[list[Change], list[Change]]:
    """(opened, closed): connections between pods present in both states whose verdict changes."""
    opened: list[Change] = []
    closed: list[Change] = []
    for protocol, port in probes:
        mb, ma = compute_matrix(before, protocol, port), compute_matrix(after, protocol, port)
        pos_a = {k: n for n, k in enumerate(ma.pods)}
        common = [(n, pos_a[k]) for n, k in enumerate(mb.pods) if k in pos_a]
        for sb, sa in common:
            for db, da in common:
                was, now = mb.allowed[sb][db], ma.allowed[sa][da]
                if was == now or sb == db:
                    continue
                s, d = mb.index[sb], mb.index[db]
                change = Change(before.pods[s].key, before.pods[d].key, protocol, port, mb.reason(s, d),
                                ma.reason(ma.index[sa], ma.index[da]))
                (opened if now else closed).append(change)
    return opened, closed
