"""The node's incremental compiler: the same `NodeIntent` as `compile.compile_intent`, recomputing only
what changed since the last call.

Pure state, no I/O, no clock, no thread: the agent feeds it object changes (`update`, from its
informers' events; `resync` with a whole snapshot on full syncs, which diffs by resourceVersion) and
asks for the intent (`compile`). Invariant, proved by property tests against `compile_intent` for
random event sequences (tests/unit/node/test_incremental_compile.py): after any sequence of updates,
`compile(facts) == compile_intent(<the current objects>, facts)`.

What is cached and when it is recomputed:
- every object, by (kind, namespace, name), with its parsed model form (Pods: `objects.Pod`, parsed
  once per resourceVersion: IP parsing is most of the model's per-pod cost);
- per namespace a version (a global tick), bumped when a pod of it appears, goes or changes in
  anything the model reads (labels, IP, ports, host network, node);
- the namespace tables (`cluster.namespace_tables`: labels, implied namespaces, default netids) and
  their version, rebuilt when a Namespace, NetNamespace or the set of implied namespaces changes;
- per NetworkPolicy its compiled `Policy` (or closed form and why), valid while the policy object,
  and the versions of what it reads, are unchanged: the pods of its own namespace, of the namespaces
  its namespaceSelectors match (plus the namespace tables' version), or every pod when it has an
  ipBlock peer or an egress rule with named ports and no `to` (those look at every pod). A miss is
  compiled by the model (`netpol.compile_policies`) against just the pods it reads, so there is one
  semantics; the node's sets are IPs, so the pod indexes of that smaller universe never leak out.
  Only *suspect* policies are checked (an index dependency -> readers; a changed policy object),
  and a pod change makes a reader suspect only if one of its pod selectors matches the pod, old or
  new (`pod_selectors`: a pod no selector matches is read for nothing);
- per Service its ServiceVIPs, valid while the Service, its EndpointSlices (indexed by their
  `kubernetes.io/service-name` label, merged by `osdn.model.slices`), the gateway and, for a
  Service without slices, its Endpoints or else its namespace's pods are unchanged; only the
  services an event names (its Service, Endpoints or slices, or a pod of its namespace) are
  checked, and the VIP list is assembled again only when some service's VIPs moved;
- anything else (ClusterNetwork, HostSubnets) is cheap and recomputed when it changes; a change of
  ClusterNetwork drops every cached policy.
A sync after one pod or policy change therefore costs O(pods) dictionary work (assembling the pod
list) plus the policies that select the changed pod, instead of the whole model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from osdn.api import labels
from osdn.api.kinds.networking import network_policy_limit_problems
from osdn.errors import BadRequestError
from osdn.model import objects as o
from osdn.model.cluster import (
    IMPLYING_KINDS,
    NETWORKPOLICY,
    ClusterState,
    cluster_network_settings,
    implied_namespace,
    namespace_tables,
)
from osdn.model.netpol import compile_policies
from osdn.model.slices import endpoints_from_slices, service_of
from osdn.model.subnets import gateway_for
from osdn.node import egress_firewall as efw
from osdn.node.compile import (
    NodeFacts,
    NoHostSubnetError,
    PodIps,
    compute_multicast_netids,
    compute_nodes,
    known_namespaces,
    policy_or_closed,
    unknown_namespace_policies,
)
from osdn.node.intent import LocalPod, Node, NodeIntent, Policy, PolicyFailure, derive
from osdn.node.podindex import ClusterPodIndex
from osdn.node.services import ServiceVIP, compute_services, unique_addresses

Obj = Mapping[str, Any]
Key = tuple[str, str, str]  # kind, namespace, name
PolicyKey = tuple[str, str]  # namespace, name
ALL = "*"  # a policy that reads every pod
GLOBAL_KINDS = frozenset({"ClusterNetwork", "HostSubnet", "Namespace", "NetNamespace"})
_Globals = tuple[str, tuple[o.Net, ...], o.Net, tuple[o.HostSubnet, ...], tuple[Node, ...], frozenset[str] | None]


@dataclass(frozen=True)
class _Compiled:
    """A policy's node form, and the versions of what it read when it was compiled."""

    policy: Policy
    why: str
    deps: tuple[tuple[str, int], ...]


def object_key(kind: str, obj: Obj) -> Key:
    meta = o.meta(obj)
    return kind, str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _same(a: Obj | None, b: Obj | None) -> bool:
    if a is None or b is None:
        return a is b
    rv_a, rv_b = o.meta(a).get("resourceVersion"), o.meta(b).get("resourceVersion")
    return bool(rv_a) and rv_a == rv_b or a == b


class IncrementalCompiler:
    """See the module docstring. Not thread-safe: one caller (the agent's sync thread) at a time."""

    def __init__(self) -> None:
        self._objs: dict[str, dict[tuple[str, str], Obj]] = {}
        self._tick = 0
        self._pods: dict[Key, o.Pod] = {}
        self._pod_index = ClusterPodIndex()
        self._pods_by_ns: dict[str, dict[str, o.Pod]] = {}
        self._pod_keys_by_ns: dict[str, dict[Key, None]] = {}  # namespace -> its pods' keys (ordered set)
        self._ns_version: dict[str, int] = {}
        self._implying: dict[str, int] = {}  # namespace -> how many namespaced objects name it
        self._tables_dirty = True
        self._tables: tuple[dict[str, o.Namespace], dict[str, o.NetNamespace]] = ({}, {})
        self._tables_version = 0
        self._policies: dict[tuple[str, str], _Compiled] = {}
        self.recompiled = 0  # policies compiled so far (a cache miss each)
        self.checked = 0  # policies the last compile checked for staleness (the suspects)
        self._readers: dict[str, set[PolicyKey]] = {}  # dependency (see `_Compiled.deps`) -> policies reading it
        self._pod_filters: dict[PolicyKey, tuple[labels.Selector, ...] | None] = {}  # see `pod_selectors`
        self._suspects: set[PolicyKey] | None = None  # policies to check for staleness next compile (None: all)
        self._policies_gen = 0  # bumped by every change of `_policies`
        self._policy_tick = 0  # bumped by every change of a NetworkPolicy object
        self._policy_objs: tuple[int, dict[PolicyKey, Obj], list[PolicyKey]] | None = None  # by tick, keys sorted
        self._policies_out: tuple[tuple[frozenset[str] | None, int],
                                  tuple[tuple[Policy, ...], tuple[PolicyFailure, ...]]] | None = None
        self._out_policies: dict[PolicyKey, Policy] = {}  # the policies of `_policies_out`, by key
        self._touched: set[PolicyKey] = set()  # policies (re)compiled or dropped since `_policies_out`
        self._globals_tick = 0  # bumped by every change of a kind `_globals` reads
        self._globals_cache: tuple[int, _Globals] | None = None
        self._services_out: tuple[ServiceVIP, ...] | None = None
        self._services_subnet = ""  # the node subnet `_services_out` was computed for
        self._dirty_services: set[tuple[str, str]] = set()  # services whose inputs may have changed
        self._services_by_ns: dict[str, dict[tuple[str, str], None]] = {}  # implied namespace -> its services' keys
        self._services: dict[tuple[str, str], tuple[tuple[object, ...], tuple[ServiceVIP, ...]]] = {}
        self._slices: dict[tuple[str, str], dict[str, Obj]] = {}  # (namespace, service) -> its slices by name

    # -- feeding -----------------------------------------------------------------------------------
    def update(self, kind: str, key: tuple[str, str], obj: Obj | None) -> None:
        """Object `kind` (namespace, name) is now `obj` (None: deleted)."""
        k = (kind, *key)
        bucket = self._objs.setdefault(kind, {})
        old = bucket.get(key)
        if _same(old, obj):
            if obj is not None:
                bucket[key] = obj
            return
        if obj is None:
            del bucket[key]
        else:
            bucket[key] = obj
        self._tick += 1
        if kind in GLOBAL_KINDS:
            self._globals_tick += 1
        if kind in ("Service", "Endpoints"):
            self._dirty_services.add(key)
        if kind == "Service":
            self._index_service(key, old, obj)
        if kind == "EndpointSlice":
            self._slice_changed(key[1], old, obj)
        if kind in IMPLYING_KINDS:
            self._count_implied(old, -1)
            self._count_implied(obj, +1)
        if kind == "Pod":
            self._pod_changed(k, obj)
        elif kind == "NetworkPolicy":
            self._policy_tick += 1
            self._forget_policy((k[1] or "default", k[2]))
        elif kind in ("Namespace", "NetNamespace"):
            self._tables_dirty = True
        elif kind == "ClusterNetwork":
            self._policies.clear()
            self._readers, self._suspects = {}, None
            self._policies_gen += 1

    def resync(self, objs: Iterable[tuple[str, Obj]]) -> None:
        """Make the cache hold exactly `objs` ((kind, object) pairs): the full sync's safety net."""
        seen: set[Key] = set()
        for kind, obj in objs:
            k = object_key(kind, obj)
            seen.add(k)
            self.update(kind, k[1:], obj)
        for k in [(kind, *key) for kind, bucket in self._objs.items() for key in bucket if (kind, *key) not in seen]:
            self.update(k[0], (k[1], k[2]), None)

    def objects(self) -> list[Obj]:
        return [obj for bucket in self._objs.values() for obj in bucket.values()]

    def _count_implied(self, obj: Obj | None, delta: int) -> None:
        if obj is None:
            return
        ns = implied_namespace(obj)
        n = self._implying.get(ns, 0) + delta
        if n:
            self._implying[ns] = n
        else:
            del self._implying[ns]
        if (n == 0) or (n == delta):  # a namespace appeared or went: the tables change
            self._tables_dirty = True

    def _index_service(self, key: tuple[str, str], old: Obj | None, new: Obj | None) -> None:
        """Keep the services-by-namespace index (the namespace whose pods a service without endpoints reads)."""
        if old is not None:
            _drop(self._services_by_ns, implied_namespace(old), key)
        if new is not None:
            self._services_by_ns.setdefault(implied_namespace(new), {})[key] = None

    def _slice_changed(self, name: str, old: Obj | None, new: Obj | None) -> None:
        """Keep the slices-by-Service index: slice `name` left its old Service and joined its new one."""
        before = service_of(old) if old is not None else None
        self._dirty_services.update(k for k in (before, service_of(new) if new is not None else None) if k is not None)
        if before is not None and before in self._slices:
            self._slices[before].pop(name, None)
            if not self._slices[before]:
                del self._slices[before]
        after = service_of(new) if new is not None else None
        if new is not None and after is not None:
            self._slices.setdefault(after, {})[name] = new

    def _pod_changed(self, k: Key, obj: Obj | None) -> None:
        old = self._pods.pop(k, None)
        new = o.pod_from_obj(obj) if obj is not None else None
        if old is not None:
            _drop(self._pods_by_ns, old.namespace, old.name)
            _drop(self._pod_keys_by_ns, old.namespace, k)
        if new is not None:
            self._pods[k] = new
            self._pods_by_ns.setdefault(new.namespace, {})[new.name] = new
            self._pod_keys_by_ns.setdefault(new.namespace, {})[k] = None
        self._pod_index.update(old, new)
        if old != new:
            changed = tuple(p for p in (old, new) if p is not None)
            for p in changed:
                self._bump(p.namespace, changed)
                self._dirty_services.update(self._services_by_ns.get(p.namespace, ()))  # those without endpoints read pods
            self._bump(ALL, changed)

    def _bump(self, dep: str, pods: tuple[o.Pod, ...] = ()) -> None:
        """Dependency `dep` changed (through `pods`, old and new, if a pod changed): its version moves,
        and the policies that read it are suspect, except those none of whose pod selectors match
        one of `pods` (see `pod_selectors`): their compiled form cannot have changed."""
        if dep:
            self._ns_version[dep] = self._tick
        if self._suspects is None:
            return
        readers = self._readers.get(dep, set())
        if not pods:
            self._suspects |= readers
            return
        filters = self._pod_filters
        self._suspects.update(k for k in readers if k not in self._suspects and _selects_any(filters.get(k), pods))

    # -- compiling ---------------------------------------------------------------------------------
    def _of_kind(self, kind: str) -> list[Obj]:
        return list(self._objs.get(kind, {}).values())

    def compile(self, facts: NodeFacts) -> NodeIntent:
        """Pure with respect to the fed objects: `compile_intent(self.objects(), facts)`."""
        mode, cidrs, service_cidr, subnets, nodes, known = self._globals()
        own = next((h for h in subnets if h.node == facts.name and h.subnet is not None), None)
        if own is None:
            raise NoHostSubnetError(f"node {facts.name} has no HostSubnet with a subnet")
        namespaces, netns = self._namespace_tables()
        pods = self._pod_index.cluster_pods(facts, known, netns)
        policies, failures = self._compile_policies(mode, known, namespaces)
        if mode == NETWORKPOLICY and known is not None and not self._pod_index.namespaces(facts) <= known:
            policies += unknown_namespace_policies(pods, known)
        subnet = str(own.subnet)
        gateway = gateway_for(subnet)
        return NodeIntent(
            mode=mode,  # type: ignore[arg-type]
            node_name=facts.name, cluster_cidrs=tuple(str(c) for c in cidrs), service_cidr=str(service_cidr),
            local_subnet=subnet, gateway=gateway, node_ip=facts.node_ip, nodes=nodes,
            pods=pods, local_pods=tuple(sorted(LocalPod(a.ip, a.mac, a.host_veth) for a in facts.attachments)),
            uplinks=facts.uplinks, policies=policies, multicast_netids=compute_multicast_netids(netns),
            policy_failures=failures if mode == NETWORKPOLICY else (), services=self._service_vips(subnet),
            egress_firewall=efw.compute_node_firewall(mode, self._of_kind("EgressNetworkPolicy"), netns,
                                                      ((a.ip, a.namespace) for a in facts.attachments)),
        )

    def _globals(self) -> _Globals:
        """Mode, CIDRs, HostSubnets, nodes and known namespaces: recomputed only after a change of
        their kinds (they parse addresses, which costs more than a dictionary lookup)."""
        if self._globals_cache is None or self._globals_cache[0] != self._globals_tick:
            mode, cidrs, service_cidr = cluster_network_settings(self._of_kind("ClusterNetwork"))
            subnets = tuple(sorted((o.hostsubnet_from_obj(h) for h in self._of_kind("HostSubnet")),
                                   key=lambda h: h.node))
            self._globals_cache = (self._globals_tick, (mode, cidrs, service_cidr, subnets, compute_nodes(subnets),
                                                        self._known(mode)))
        return self._globals_cache[1]

    def _namespace_tables(self) -> tuple[dict[str, o.Namespace], dict[str, o.NetNamespace]]:
        if self._tables_dirty:
            tables = namespace_tables(self._of_kind("Namespace"), self._of_kind("NetNamespace"), self._implying)
            self._tables_dirty = False
            if tables != self._tables:
                self._tables, self._tables_version = tables, self._tick
                self._bump("")
        return self._tables

    def _known(self, mode: str) -> frozenset[str] | None:
        kind = "NetNamespace" if mode != NETWORKPOLICY else "Namespace"
        return known_namespaces(self._of_kind(kind), mode)

    # -- services ----------------------------------------------------------------------------------
    def _service_vips(self, subnet: str) -> tuple[ServiceVIP, ...]:
        """Every service's VIPs; a service's are recomputed (by `services.compute_services` on a snapshot
        of just that service and the Endpoints equivalent to its slices, or without slices its
        Endpoints, or without either its namespace's pods) only when one of those or this node's subnet
        changed: only the services an event touched are looked at (`_dirty_services`), so a sync after
        one endpoint change costs O(that service), plus the assembly when some service's VIPs moved."""
        services = self._objs.get("Service", {})
        dirty: Iterable[tuple[str, str]] = self._dirty_services
        self._dirty_services = set()
        if subnet != self._services_subnet or self._services_out is None:
            dirty, self._services_subnet = [*services, *self._services], subnet
        changed = self._services_out is None
        for key in dirty:
            changed |= self._service_changed(key, services.get(key), subnet)
        if changed:
            self._services_out = unique_addresses(v for _, vips in self._services.values() for v in vips)
        assert self._services_out is not None
        return self._services_out

    def _service_changed(self, key: tuple[str, str], svc: Obj | None, subnet: str) -> bool:
        """Bring service `key`'s VIPs up to date; whether they changed (equal VIPs keep their objects)."""
        got = self._services.get(key)
        if svc is None:
            return self._services.pop(key, None) is not None
        slices = tuple(sorted(self._slices.get(key, {}).items()))
        ep = None if slices else self._objs.get("Endpoints", {}).get(key)
        ns = implied_namespace(svc)
        inputs = (svc, slices, ep, subnet, None if slices or ep is not None else self._ns_version.get(ns, 0))
        if got is not None and _same_inputs(got[0], inputs):
            return False
        objs = [svc, *self._endpoints_of(key, slices, ep, ns)]
        vips = compute_services(ClusterState.from_objects(objs), gateway_for(subnet), subnet)
        same = got is not None and got[1] == vips
        self._services[key] = (inputs, got[1] if same and got is not None else vips)
        return not same

    def _endpoints_of(self, key: tuple[str, str], slices: tuple[tuple[str, Obj], ...], ep: Obj | None,
                      ns: str) -> list[Obj]:
        """What decides a service's endpoints: its slices (as Endpoints), its Endpoints, or its pods."""
        if slices:
            return [endpoints_from_slices(*key, (s for _, s in slices))]
        if ep is not None:
            return [ep]
        return [self._objs["Pod"][(k[1], k[2])] for k in self._pod_keys(ns)]

    def _pod_keys(self, ns: str) -> list[Key]:
        return list(self._pod_keys_by_ns.get(ns, ()))

    # -- policies ----------------------------------------------------------------------------------
    def _forget_policy(self, key: PolicyKey) -> None:
        """Policy `key`'s object changed: its compiled form goes, and it is to be checked next compile."""
        self._drop_compiled(key)
        if self._suspects is not None:
            self._suspects.add(key)

    def _drop_compiled(self, key: PolicyKey) -> None:
        self._pod_filters.pop(key, None)
        gone = self._policies.pop(key, None)
        for dep, _ in gone.deps if gone is not None else ():
            self._readers.get(dep, set()).discard(key)
        self._policies_gen += 1
        self._touched.add(key)

    def _compile_policies(self, mode: str, known: frozenset[str] | None, namespaces: Mapping[str, o.Namespace]
                          ) -> tuple[tuple[Policy, ...], tuple[PolicyFailure, ...]]:
        """Only the suspects (policies whose object or whose dependencies changed since the last call)
        are checked and recompiled; the result is reused while no policy changed."""
        suspects, self._suspects = self._suspects, set()
        self.checked = 0
        try:
            if suspects is None or suspects:
                objs = self._policy_objects()
                keys = objs.keys() if suspects is None else suspects & objs.keys()
                stale = [key for key in keys if not self._valid(self._policies.get(key))]
                self.checked = len(keys)
                if stale:
                    self._recompile([objs[key] for key in sorted(stale)], namespaces)
        except Exception:
            self._suspects = None  # whatever was half done: check every policy next time
            raise
        skip = known if mode == NETWORKPOLICY else None
        if self._policies_out is None or self._policies_out[0] != (skip, self._policies_gen):
            self._policies_out = ((skip, self._policies_gen), self._derived(skip, self._assemble_policies(skip)))
        return self._policies_out[1]

    def _derived(self, skip: frozenset[str] | None, out: tuple[tuple[Policy, ...], tuple[PolicyFailure, ...]]
                 ) -> tuple[tuple[Policy, ...], tuple[PolicyFailure, ...]]:
        """`out` with its policies as an `intent.Derived` of the last ones (what left and came, from the
        policies touched since), so the render follows one policy change at O(1)."""
        touched, self._touched = self._touched, set()
        last = self._policies_out
        if last is None or last[0][0] != skip:  # what is skipped changed: compare in full
            self._out_policies = {(p.namespace, p.name): p for p in out[0]}
            return derive(out[0], None, (), ()), out[1]
        gone: list[Policy] = []
        came: list[Policy] = []
        for key in touched:
            before, c = self._out_policies.get(key), self._policies.get(key)
            now = c.policy if c is not None and (skip is None or key[0] in skip) else None
            if before is now:
                continue
            if before is not None:
                gone.append(before)
                del self._out_policies[key]
            if now is not None:
                came.append(now)
                self._out_policies[key] = now
        return derive(out[0], last[1][0], tuple(gone), tuple(came)), out[1]

    def _policy_objects(self) -> dict[PolicyKey, Obj]:
        """The NetworkPolicy objects by policy key, rebuilt only after one of them changed."""
        if self._policy_objs is None or self._policy_objs[0] != self._policy_tick:
            objs = {(k[0] or "default", k[1]): v for k, v in self._objs.get("NetworkPolicy", {}).items()}
            self._policy_objs = (self._policy_tick, objs, sorted(objs))
        return self._policy_objs[1]

    def _policy_order(self) -> list[PolicyKey]:
        self._policy_objects()
        assert self._policy_objs is not None
        return self._policy_objs[2]

    def _assemble_policies(self, skip: frozenset[str] | None) -> tuple[tuple[Policy, ...], tuple[PolicyFailure, ...]]:
        """Every compiled policy in key order (those of namespaces in `skip`'s complement left out)."""
        policies: list[Policy] = []
        failures: list[PolicyFailure] = []
        for key in self._policy_order():
            if skip is not None and key[0] not in skip:
                continue
            c = self._policies[key]
            policies.append(c.policy)
            if c.why:
                failures.append(PolicyFailure(key[0], key[1], c.why))
        return tuple(policies), tuple(failures)

    def _valid(self, c: _Compiled | None) -> bool:
        return c is not None and all(self._version(dep) == v for dep, v in c.deps)

    def _version(self, dep: str) -> int:
        return self._tables_version if dep == "" else self._ns_version.get(dep, 0)

    def _recompile(self, objs: list[Obj], namespaces: Mapping[str, o.Namespace]) -> None:
        """Compile `objs` with the model against only the pods they read."""
        reads = {obj_id: policy_reads(obj, namespaces) for obj_id, obj in enumerate(objs)}
        spaces: set[str] = set().union(*reads.values())
        if ALL in spaces:
            pods = [p for ns in sorted(self._pods_by_ns) for p in self._pods_by_ns[ns].values()]
        else:
            pods = [p for ns in sorted(spaces) for p in self._pods_by_ns.get(ns, {}).values()]
        pods.sort(key=lambda p: p.key)
        ips = PodIps(pods)
        compiled = compile_policies(objs, pods, namespaces)
        self.recompiled += len(objs)
        by_key = {(cp.namespace, cp.name): cp for cp in compiled}
        for obj_id, obj in enumerate(objs):
            key = (implied_namespace(obj), str(o.meta(obj).get("name", "")))
            pol, why = policy_or_closed(by_key[key], ips)
            deps = tuple((ns, self._version(ns)) for ns in sorted(reads[obj_id]))
            self._drop_compiled(key)
            self._policies[key] = _Compiled(pol, why, deps)
            self._pod_filters[key] = None if ALL in reads[obj_id] else pod_selectors(obj)
            for dep, _ in deps:
                self._readers.setdefault(dep, set()).add(key)


def policy_reads(obj: Obj, namespaces: Mapping[str, o.Namespace]) -> set[str]:
    """Pure, conservative: the namespaces whose pods a NetworkPolicy's compilation reads (`ALL`: every
    pod), plus "" when it reads the namespace tables (namespaceSelectors). Never raises: anything it
    cannot read means every pod."""
    own = implied_namespace(obj)
    try:
        spec = obj.get("spec") or {}
        out = {own}
        for direction, peer_key in (("ingress", "from"), ("egress", "to")):
            for rule in spec.get(direction) or []:
                rule = rule or {}
                peers = rule.get(peer_key) or []
                named = any(isinstance((p or {}).get("port"), str) and not str(p.get("port")).isdigit()
                            for p in rule.get("ports") or [])
                if direction == "egress" and named and not peers:
                    return {ALL}
                for peer in peers:
                    out |= _peer_reads(peer or {}, namespaces)
        return out
    except (AttributeError, TypeError, ValueError, LookupError, BadRequestError):
        return {ALL}


def pod_selectors(obj: Obj) -> tuple[labels.Selector, ...] | None:
    """Pure, conservative: the pod selectors a NetworkPolicy's compilation tests pods with (its
    podSelector and every peer's, whatever the peer's namespaces). A pod that matches none of them
    is in none of the policy's pod sets, so nothing about it (IP, ports) is read: its change cannot
    change the compiled policy. None: any pod can (an ipBlock peer, a policy the model fails closed,
    whose selection may be every pod of its namespace, or anything this cannot read)."""
    try:
        spec = obj.get("spec") or {}
        if network_policy_limit_problems(spec):
            return None
        out = [labels.from_label_selector(spec.get("podSelector"))]
        for direction, peer_key in (("ingress", "from"), ("egress", "to")):
            for rule in spec.get(direction) or []:
                for peer in (rule or {}).get(peer_key) or []:
                    if (peer or {}).get("ipBlock") is not None:
                        return None
                    out.append(labels.from_label_selector((peer or {}).get("podSelector")))
        return tuple(out)
    except (AttributeError, TypeError, ValueError, LookupError, BadRequestError):
        return None


def _selects_any(selectors: tuple[labels.Selector, ...] | None, pods: tuple[o.Pod, ...]) -> bool:
    return selectors is None or any(sel.matches(p.labels) for sel in selectors for p in pods)


def _same_inputs(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    return all(x is y or x == y for x, y in zip(a, b, strict=True))


def _drop(index: dict[str, dict[Any, Any]], outer: str, inner: object) -> None:
    got = index.get(outer)
    if got is not None:
        got.pop(inner, None)
        if not got:
            del index[outer]


def _peer_reads(peer: Obj, namespaces: Mapping[str, o.Namespace]) -> set[str]:
    if peer.get("ipBlock") is not None:
        return {ALL}
    ns_raw = peer.get("namespaceSelector")
    if ns_raw is None:
        return set()
    sel = labels.from_label_selector(ns_raw)
    return {"", *(n for n, ns in namespaces.items() if sel.matches(ns.labels))}
