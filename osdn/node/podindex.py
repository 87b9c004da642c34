"""Every pod IP of the cluster as `ClusterPod`s, kept current pod by pod (the incremental compiler's
pod list; `compile.compute_cluster_pods` is its from-scratch twin, and the two must agree).

Pure state, no I/O. Rules (the model's): per IP, the API pod with the greatest `namespace/name` key
wins (the model sorts pods by key and the last one per IP stays); pods without an IP or on the host
network are in no set; a local attachment wins over any API pod with its IP; a namespace this node
does not know gets a netid of its own (`compile.unknown_netids`), others their NetNamespace's netid
(0 without one). After one pod change, `cluster_pods` costs one bisect plus a pass over the sorted
IPs (no parsing, no object creation), unless the netids changed (then every `ClusterPod` is rebuilt).
The result is an `intent.Derived` of the previous one: which `ClusterPod`s left and came, so its
consumers (the render, the VXLAN entries, the conntrack cleanup) pay for the change, not the cluster.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Mapping

from osdn.model import objects as o
from osdn.node.compile import NodeFacts, unknown_netids
from osdn.node.intent import ClusterPod, NetID, derive


class ClusterPodIndex:
    def __init__(self) -> None:
        self._by_ip: dict[str, dict[str, o.Pod]] = {}  # IP -> pod key -> pod (pods in sets only)
        self._winner: dict[str, o.Pod] = {}
        self._spaces: Counter[str] = Counter()  # namespace -> pods in `_by_ip`
        self._ips: list[str] = []  # winners' IPs, sorted
        self._dirty: set[str] = set()
        self._out: dict[str, ClusterPod] = {}
        self._context: object = None  # what the netids in `_out` were computed from
        self._last: tuple[object, tuple[ClusterPod, ...]] | None = None  # the last result and its inputs
        self._shown: dict[str, ClusterPod] = {}  # the last result by IP
        self._mine: tuple[object, dict[str, ClusterPod]] = (None, {})  # the local pods' entries, and their inputs

    def update(self, old: o.Pod | None, new: o.Pod | None) -> None:
        """A pod changed from `old` to `new` (None: absent)."""
        for pod, add in ((old, False), (new, True)):
            if pod is None or pod.ip is None or pod.host_network:
                continue
            ip = str(pod.ip)
            group = self._by_ip.setdefault(ip, {})
            if add:
                group[pod.key] = pod
                self._spaces[pod.namespace] += 1
            elif group.pop(pod.key, None) is not None:
                self._spaces[pod.namespace] -= 1
                if not self._spaces[pod.namespace]:
                    del self._spaces[pod.namespace]
            self._elect(ip, group)

    def _elect(self, ip: str, group: dict[str, o.Pod]) -> None:
        before = self._winner.get(ip)
        after = group[max(group)] if group else None
        if not group:
            del self._by_ip[ip]
        if before is after:
            return
        self._dirty.add(ip)
        if after is None:
            del self._winner[ip]
            del self._ips[bisect.bisect_left(self._ips, ip)]
            return
        if before is None:
            bisect.insort(self._ips, ip)
        self._winner[ip] = after

    def namespaces(self, facts: NodeFacts) -> set[str]:
        """The namespaces of the pods `cluster_pods` lists."""
        hidden = Counter(p.namespace for a in facts.attachments for p in self._by_ip.get(a.ip, {}).values())
        spaces = {ns for ns, n in self._spaces.items() if n > hidden[ns]}  # pods hidden by attachments don't count
        return spaces | {a.namespace for a in facts.attachments}

    def cluster_pods(self, facts: NodeFacts, known: frozenset[str] | None,
                     netns: Mapping[str, o.NetNamespace]) -> tuple[ClusterPod, ...]:
        unknown = unknown_netids(self.namespaces(facts), known)

        def netid(ns: str) -> NetID:
            got = unknown.get(ns)
            if got is not None:
                return got
            nn = netns.get(ns)
            return NetID(nn.netid if nn else 0)

        context = (unknown, {n: v.netid for n, v in netns.items()})
        memo = (context, facts.name, facts.attachments)
        if not self._dirty and self._last is not None and self._last[0] == memo:
            return self._last[1]
        full = context != self._context
        dirty = self._refresh(context, netid)
        last_mine = self._mine[1]
        mine = self._local(facts, netid, context)
        result = self._assemble(mine)
        self._last = (memo, derive(result, None if full else self._last[1] if self._last else None,
                                   *self._delta(dirty, mine, last_mine, full)))
        return self._last[1]

    def _local(self, facts: NodeFacts, netid: Callable[[str], NetID], context: object) -> dict[str, ClusterPod]:
        """The local attachments' entries, the same objects while the attachments and netids stay."""
        key = (context, facts.name, facts.attachments)
        if self._mine[0] != key:
            self._mine = (key, {a.ip: ClusterPod(a.ip, a.namespace, netid(a.namespace), facts.name,
                                                 f"{a.namespace}/{a.pod}") for a in facts.attachments})
        return self._mine[1]

    def _assemble(self, mine: dict[str, ClusterPod]) -> tuple[ClusterPod, ...]:
        out = self._out
        if not mine:
            return tuple(map(out.__getitem__, self._ips))
        if all(ip in self._winner for ip in mine):  # the usual case: the API already shows the local pods
            return tuple(map((out | mine).__getitem__, self._ips))  # C-level passes (a pod change: ~3x faster)
        merged = [out[ip] for ip in self._ips if ip not in mine] + list(mine.values())
        merged.sort(key=lambda p: p.ip)
        return tuple(merged)

    def _delta(self, dirty: set[str], mine: dict[str, ClusterPod], last_mine: dict[str, ClusterPod],
               full: bool) -> tuple[tuple[ClusterPod, ...], tuple[ClusterPod, ...]]:
        """The entries that left and came since the last result (`_shown` follows)."""
        shown = self._shown
        if full:
            self._shown = self._out | mine
            return (), ()
        candidates = dirty if mine is last_mine else dirty | mine.keys() | last_mine.keys()
        gone, new = [], []
        for ip in candidates:
            before, after = shown.get(ip), mine.get(ip) or self._out.get(ip)
            if before is after:
                continue
            if before is not None:
                gone.append(before)
            if after is None:
                del shown[ip]
            else:
                shown[ip] = after
                new.append(after)
        return tuple(gone), tuple(new)

    def _refresh(self, context: object, netid: Callable[[str], NetID]) -> set[str]:
        """Bring `_out` up to date with the winners; the IPs it changed."""
        if context != self._context:
            self._context, self._dirty = context, set(self._winner)
            self._out = {}
        dirty = self._dirty
        for ip in dirty:
            w = self._winner.get(ip)
            if w is None:
                self._out.pop(ip, None)
            else:
                self._out[ip] = ClusterPod(ip, w.namespace, netid(w.namespace), w.node, w.key)
        self._dirty = set()
        return dirty
