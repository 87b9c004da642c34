"""Render service forwarding into `table inet osdn`: kube-proxy's nftables mode, with the endpoints
in a map instead of chains, so the rules and chains are O(1) in the number of services.

Pure. Layout (the packet path costs two map lookups whatever the number of services):
- `svc_dispatch`: verdict map `ClusterIP . proto . port -> goto svc_n<N>` (N = its number of
  endpoints), looked up by the nat base chains `svc_prerouting` (prerouting, dstnat -100: pods, and
  packets from other nodes) and `svc_output` (output, dstnat: clients on the node itself).
- `svc_n<N>` (one per endpoint count in use, not per service): `meta mark set numgen random mod N`,
  then `dnat ip to ip daddr . meta l4proto . th dport . meta mark map @svc_backends`.
- `svc_backends`: map `ClusterIP . proto . port . slot -> endpoint IP . port`, slots 0..N-1. So a new
  service, an endpoint change or a deleted service is element changes only. (Chains and anonymous
  sets per service would make every nft transaction slow: libnftables' cache is O(chains + sets).)
- sessionAffinity ClientIP (the exception, a chain per service and per endpoint): `svc_<h>` sends a
  client found in `svc_affinity` (client IP . endpoint id, with the Service's timeout) back to its
  endpoint, else jumps to a random `sep_<h>` that records the client and DNATs.
- Hairpin (the client is the endpoint itself): `svc_hairpin` holds `ip . ip` for every local pod;
  such a connection passes forward (a pod always reaches itself) and is masqueraded in postrouting to
  the node's bridge address (a pod cannot accept a packet from its own address).
- `svc_no_endpoints`: verdict map, the ClusterIP . proto . port of services without endpoints ->
  `goto svc_reject` (TCP: a reset; UDP/SCTP: ICMP port unreachable), kube-proxy's
  `no-endpoint-services`. Consulted for new connections in filter base chains *before* DNAT, where
  `reject` is allowed: `svc_filter_prerouting` (prerouting, dstnat - 10: pods, other nodes) and
  `svc_filter_output` (output, dstnat - 10: the node itself). Not in forward, where kube-proxy has
  it: a `reject` there answers TCP, but the ICMP error for a forwarded UDP packet is eaten by the
  kernel's per-host ICMP rate limit on this kernel (6.18: `IcmpOutRateLimitHost` counts every one,
  tests/kernel/test_render_services.py), while from prerouting it goes out at once. The client sees
  *connection refused* at once, not a timeout.
- externalIPs (`ServiceVIP.external`) are more keys of the same maps, so they cost nothing more per
  packet. Their addresses are in `svc_external`: a connection DNATed from one of them whose client is
  not a pod (from outside, arriving at this node, or the node itself) is masqueraded in postrouting
  to the node's address towards the endpoint, as kube-proxy does, so the endpoint's replies come
  back through this node and its conntrack. A pod client keeps its address, as for a ClusterIP, so
  isolation and NetworkPolicy judge the real client pod.
- Node ports (`ServiceVIP.node_port`, kube-proxy's `nodeport-ips` / `service-nodeports`): after the
  ClusterIP lookup, a packet to one of this node's addresses (`svc_nodeport_ips`, the node IP, kube's
  `--nodeport-addresses primary`) is looked up by `proto . port` in the verdict map `svc_nodeports`
  -> `goto svc_np<N>`, which DNATs through `svc_np_backends` (`proto . port . slot -> endpoint`);
  sessionAffinity ClientIP services get their affinity chains as for a ClusterIP. Without any
  endpoint, `svc_np_no_endpoints` rejects in the filter chains, before DNAT. externalTrafficPolicy
  Local: `svc_nodeports` has this node's endpoints only, or `drop`; this node's pods
  (`ip saddr @cluster_cidrs` in prerouting: pods of other nodes arrive masqueraded to their node)
  and the node itself (output) are looked up first in `svc_np_internal` -> `svc_npi<N>` ->
  `svc_npi_backends`, every endpoint (kube-proxy's short-circuit). Cluster policy node ports are in
  `svc_np_masq`: the nat chain sets bit `NODEPORT_MASQ` of the conntrack mark (bits 0-15 are free,
  see `node.egress_intent`) and postrouting masquerades such connections whose client is not a pod,
  so the replies come back through this node; Local ones keep the client's address.
- Traffic to the service network that no rule DNATed (an unknown port or address) is dropped in
  forward (`drop_service`).
DNAT happens before the forward hook, so the isolation and NetworkPolicy checks there judge the
endpoint pod (post-DNAT destination and port) and the real client; replies are un-DNATed by
conntrack, and reply-direction packets are accepted before any check.
The maps and sets are declared always, so service churn never changes the table's head.
`meta mark` is scratch space here as in the policy chains.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from functools import lru_cache

from osdn.node.render import elements as el
from osdn.node.render.ruleset import Chain, Set
from osdn.node.services import ServiceEndpoint, ServiceVIP

DSTNAT_PRIO = -100
FILTER_PRIO = DSTNAT_PRIO - 10  # kube-proxy's filter chains: before DNAT
COUNTER = "drop_service"
GROUP_BIT = "01:00:00:00:00:00"  # the multicast/broadcast bit of a destination MAC
HAIRPIN_ECHO_PRIO = -300  # bridge forward, before the multicast chains
_KEY = "ipv4_addr", "inet_proto", "inet_service"
DISPATCH = "ip daddr . meta l4proto . th dport vmap @svc_dispatch"
PICK = ("meta mark set numgen random mod {n} meta l4proto {{ tcp, udp, sctp }} "
        "dnat ip to ip daddr . meta l4proto . th dport . meta mark map @svc_backends")
NO_ENDPOINTS = ("ct state new ip daddr . meta l4proto . th dport vmap @svc_no_endpoints",)
REJECT = ("meta l4proto tcp reject with tcp reset", "reject")
HAIRPIN_ACCEPT = "ip saddr . ip daddr @svc_hairpin accept"
HAIRPIN_MASQUERADE = "ct status dnat ip saddr . ip daddr @svc_hairpin masquerade"
EXTERNAL_MASQUERADE = "ct status dnat ip saddr != @cluster_cidrs ct original ip daddr @svc_external masquerade"
NODEPORT_MASQ = "0x00000001"  # conntrack mark bit: a connection to a Cluster policy node port
NODEPORT_DISPATCH = "ip daddr @svc_nodeport_ips meta l4proto . th dport vmap @svc_nodeports"
NODEPORT_MARK = f"ip daddr @svc_nodeport_ips meta l4proto . th dport @svc_np_masq ct mark set ct mark or {NODEPORT_MASQ}"
NODEPORT_NO_ENDPOINTS = "ct state new ip daddr @svc_nodeport_ips meta l4proto . th dport vmap @svc_np_no_endpoints"
NODEPORT_PICK = ("meta mark set numgen random mod {n} meta l4proto {{ tcp, udp, sctp }} "
                 "dnat ip to meta l4proto . th dport . meta mark map @svc_{kind}_backends")
NODEPORT_PODS = "ip daddr @svc_nodeport_ips ip saddr @cluster_cidrs meta l4proto . th dport vmap @svc_np_internal"
NODEPORT_HOST = "ip daddr @svc_nodeport_ips meta l4proto . th dport vmap @svc_np_internal"
NODEPORT_MASQUERADE = f"ct mark and {NODEPORT_MASQ} == {NODEPORT_MASQ} ip saddr != @cluster_cidrs masquerade"
SERVICE_SETS = ("svc_dispatch", "svc_backends", "svc_no_endpoints", "svc_external",
                "svc_nodeports", "svc_np_backends", "svc_np_no_endpoints", "svc_np_masq",
                "svc_np_internal", "svc_npi_backends")
_NP_KEY = "inet_proto", "inet_service"


def _h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _id(v: ServiceVIP) -> str:
    return f"{v.key}/{v.vip}/{v.proto}/{v.port}" + ("/internal" if v.internal else "")


def service_chain(v: ServiceVIP) -> str:
    return f"svc_{_h(_id(v))}"


def endpoint_chain(v: ServiceVIP, ep: ServiceEndpoint) -> str:
    return f"sep_{_h(f'{_id(v)}/{ep.ip}/{ep.port}')}"


def affinity_id(v: ServiceVIP, ep: ServiceEndpoint) -> int:
    """A 32-bit id of (service port, endpoint) for the affinity set (0 is never used)."""
    return int(endpoint_chain(v, ep)[4:12], 16) or 1


def _external(v: ServiceVIP) -> frozenset[str]:
    return frozenset((el.ip(v.vip),)) if v.external else frozenset()


@lru_cache(maxsize=1 << 16)
def _elements(v: ServiceVIP) -> tuple[str | None, frozenset[str], str | None]:
    """Memoized: the service port's dispatch element, its backends elements and its no-endpoints
    element (one of the first and the last is None)."""
    key = f"{v.proto} . {v.port}" if v.node_port else f"{el.ip(v.vip)} . {v.proto} . {v.port}"
    if not v.endpoints:   # Local without a local endpoint: dropped in nat, after this node's own clients
        return (f"{key} : drop", frozenset(), None) if v.local else (None, frozenset(), f"{key} : goto svc_reject")
    if v.affinity is not None:
        return f"{key} : goto {service_chain(v)}", frozenset(), None
    backends = frozenset(f"{key} . {i} : {el.ip(ep.ip)} . {ep.port}" for i, ep in enumerate(v.endpoints))
    return f"{key} : goto {pick_chain(len(v.endpoints), _kind(v))}", backends, None


def _kind(v: ServiceVIP) -> str:
    """Which pick chains and backends map `v` uses: ClusterIPs and externalIPs (""), node ports
    ("np"), Local node ports for this node's own clients ("npi")."""
    return "npi" if v.internal else "np" if v.node_port else ""


def pick_chain(n: int, kind: str = "") -> str:
    return f"svc_{kind or 'n'}{n}"


def _one(item: str | None) -> frozenset[str]:
    return frozenset(() if item is None else (item,))


def service_part(v: ServiceVIP) -> tuple[tuple[str, frozenset[str]], ...]:
    """Pure, memoized through `_elements`: what one service port adds to the service sets and maps
    (`render.incremental` keeps one part per service port)."""
    d, b, e = _elements(v)
    if v.internal:
        return (("svc_np_internal", _one(d)), ("svc_npi_backends", b))
    if v.node_port:
        masq = _one(f"{v.proto} . {v.port}" if v.external and v.endpoints else None)
        return (("svc_nodeports", _one(d)), ("svc_np_backends", b), ("svc_np_no_endpoints", _one(e)),
                ("svc_np_masq", masq))
    return (("svc_dispatch", _one(d)), ("svc_backends", b), ("svc_no_endpoints", _one(e)),
            ("svc_external", _external(v)))


def hairpin_elements(local_ips: Iterable[str]) -> frozenset[str]:
    return frozenset(f"{el.ip(a)} . {el.ip(a)}" for a in local_ips)


def render_service_sets(services: tuple[ServiceVIP, ...], local_ips: Iterable[str],
                        node_ips: Iterable[str] = ()) -> list[Set]:
    """Pure: the dispatch and backends maps, the no-endpoints set, the externalIPs, the node port
    maps, the hairpin pairs of the local pods, this node's addresses (node ports) and the
    (packet-path filled) affinity set."""
    elems: dict[str, set[str]] = {name: set() for name in SERVICE_SETS}
    for v in services:
        for name, items in service_part(v):
            elems[name] |= items
    return assemble_service_sets({k: frozenset(v) for k, v in elems.items()}, hairpin_elements(local_ips),
                                 node_port_ips(node_ips))


def node_port_ips(node_ips: Iterable[str]) -> frozenset[str]:
    return frozenset(el.ip(a) for a in node_ips if a)


def assemble_service_sets(elems: Mapping[str, frozenset[str]], hairpin: frozenset[str],
                          node_ips: frozenset[str] = frozenset()) -> list[Set]:
    """Pure: the service sets from their elements (per set name), the hairpin pairs and the node's
    addresses."""
    return [Set("svc_dispatch", _KEY, elems["svc_dispatch"], map_to="verdict"),
            Set("svc_backends", (*_KEY, "mark"), elems["svc_backends"], map_to="ipv4_addr . inet_service"),
            Set("svc_no_endpoints", _KEY, elems["svc_no_endpoints"], map_to="verdict"),
            Set("svc_external", ("ipv4_addr",), elems["svc_external"]),
            Set("svc_nodeport_ips", ("ipv4_addr",), node_ips),
            Set("svc_nodeports", _NP_KEY, elems["svc_nodeports"], map_to="verdict"),
            Set("svc_np_backends", (*_NP_KEY, "mark"), elems["svc_np_backends"], map_to="ipv4_addr . inet_service"),
            Set("svc_np_no_endpoints", _NP_KEY, elems["svc_np_no_endpoints"], map_to="verdict"),
            Set("svc_np_masq", _NP_KEY, elems["svc_np_masq"]),
            Set("svc_np_internal", _NP_KEY, elems["svc_np_internal"], map_to="verdict"),
            Set("svc_npi_backends", (*_NP_KEY, "mark"), elems["svc_npi_backends"], map_to="ipv4_addr . inet_service"),
            Set("svc_hairpin", ("ipv4_addr", "ipv4_addr"), hairpin),
            Set("svc_affinity", ("ipv4_addr", "mark"), flags=("timeout",))]


def pick_count(v: ServiceVIP) -> tuple[int, str] | None:
    """The pick chain `v` uses: its endpoint count and kind (`_kind`) (None: it has none: no
    endpoints, or affinity)."""
    return (len(v.endpoints), _kind(v)) if v.endpoints and v.affinity is None else None


def render_service_chains(services: tuple[ServiceVIP, ...]) -> list[Chain]:
    """Pure: the nat base chains, the output reject chain, one pick chain per endpoint count in use,
    and the chains of the services with session affinity."""
    counts = {n for n in map(pick_count, services) if n is not None}
    return assemble_service_chains(counts, [c for v in services if v.endpoints and v.affinity is not None
                                            for c in affinity_chains(v)])


def assemble_service_chains(counts: Iterable[tuple[int, str]], affinity: Iterable[Chain]) -> list[Chain]:
    """Pure: the service chains, from the pick chains in use (endpoint count, kind) and the
    affinity chains."""
    chains = [Chain("svc_prerouting", (DISPATCH, NODEPORT_PODS, NODEPORT_MARK, NODEPORT_DISPATCH), hook="prerouting",
                    type="nat", prio=DSTNAT_PRIO),
              Chain("svc_output", (DISPATCH, NODEPORT_HOST, NODEPORT_MARK, NODEPORT_DISPATCH), hook="output",
                    type="nat", prio=DSTNAT_PRIO),
              Chain("svc_filter_prerouting", (*NO_ENDPOINTS, NODEPORT_NO_ENDPOINTS), hook="prerouting",
                    prio=FILTER_PRIO),
              Chain("svc_filter_output", (*NO_ENDPOINTS, NODEPORT_NO_ENDPOINTS), hook="output", prio=FILTER_PRIO),
              Chain("svc_reject", REJECT)]
    chains.extend(Chain(pick_chain(n, kind), ((NODEPORT_PICK if kind else PICK).format(n=n, kind=kind),))
                  for n, kind in sorted(counts))
    chains.extend(affinity)
    return chains


@lru_cache(maxsize=1 << 14)
def affinity_chains(v: ServiceVIP) -> tuple[Chain, ...]:
    """Pure, memoized (unchanged services hand the plan the same objects, which it skips by
    identity): the chains of one service port with session affinity."""
    return (Chain(service_chain(v), _affinity_rules(v)),
            *(Chain(endpoint_chain(v, ep), _endpoint_rules(v, ep)) for ep in v.endpoints))


def _dnat(v: ServiceVIP, ep: ServiceEndpoint) -> str:
    return f"meta l4proto {v.proto} dnat ip to {el.ip(ep.ip)}:{ep.port}"


def _affinity_rules(v: ServiceVIP) -> tuple[str, ...]:
    rules = [f"meta mark set {affinity_id(v, ep)} ip saddr . meta mark @svc_affinity goto {endpoint_chain(v, ep)}"
             for ep in v.endpoints]
    if len(v.endpoints) == 1:
        rules.append(f"goto {endpoint_chain(v, v.endpoints[0])}")
    else:
        picks = ", ".join(f"{i} : goto {endpoint_chain(v, ep)}" for i, ep in enumerate(v.endpoints))
        rules.append(f"numgen random mod {len(v.endpoints)} vmap {{ {picks} }}")
    return tuple(rules)


def _endpoint_rules(v: ServiceVIP, ep: ServiceEndpoint) -> tuple[str, ...]:
    return (f"meta mark set {affinity_id(v, ep)} update @svc_affinity {{ ip saddr . meta mark timeout {v.affinity}s }}",
            _dnat(v, ep))


def service_forward_rules(service_cidr: str) -> tuple[str, ...]:
    """Pure: the forward chain's service rules (after replies are accepted, before the mode's checks):
    hairpin connections pass (a pod always reaches itself), and anything still addressed to the
    service network was not DNATed (no-endpoint services were rejected in prerouting): dropped."""
    return (HAIRPIN_ACCEPT, f"ip daddr {service_cidr} counter name {COUNTER} drop")


def render_hairpin_echo(local_veths: Iterable[str]) -> tuple[Set, Chain]:
    """Pure: `table bridge osdn` part. Pod ports are in hairpin mode (`links.ensure_hairpin`) so a
    pod can reach itself through a ClusterIP; this keeps the bridge from sending flooded frames
    (broadcast, multicast) back out of the port they came in on, which hairpin mode would also do."""
    ports = frozenset(f"{el.ifname(v)} . {el.ifname(v)}" for v in local_veths)
    return (Set("hairpin_ports", ("ifname", "ifname"), ports),
            Chain("hairpin_echo", (f"ether daddr & {GROUP_BIT} == {GROUP_BIT} iifname . oifname @hairpin_ports drop",),
                  hook="forward", prio=HAIRPIN_ECHO_PRIO))
