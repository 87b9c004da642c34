"""Render `table inet osdn`: stateful pod-to-pod enforcement in the node namespace's forward hook.

Pure. br_netfilter is on in every namespace here, so inet rules see *bridged* pod traffic, with
conntrack; cross-node traffic enters and leaves through the VXLAN port of the same bridge. Ingress is
enforced on the destination node, egress on the source node; both nodes hold the cluster-wide maps.

forward: invalid dropped (`drop_invalid`); replies (conntrack's reply direction) and related packets
(ICMP errors) accepted; multicast left to the bridge table; then, for *every* packet in a
connection's request direction, not only the first, per mode:
- subnet: nothing more (all allowed).
- multitenant (pod network to pod network only): hosts (every node IP and gateway) are netid 0; a
  packet passes iff src or dst netid is 0, or both netids are equal. `meta mark` is scratch space
  holding the looked-up netid (caveat: this chain overwrites the packet mark). Unknown pod IPs have no
  netid and reach only netid-0 pods. Drops count in `drop_multitenant`.
- networkpolicy: see `render.policy`. Pod <-> own node traffic is local (input/output hooks), never
  forwarded, so no policy applies to it: upstream's "traffic to and from the node where a Pod is
  running is always allowed".

Checking every request-direction packet is what makes a revocation (isolate-projects, a deny policy)
cut established connections at once, as openshift-sdn's stateless flows and OVN do, and what stops a
pod that inherits a deleted pod's IP from riding its open flows (conntrack entries outlive pods). The
replies of a connection whose requests are dropped need no check. The cost is a few hash lookups per
packet (bench/dataplane.py measures it).

postrouting (nat, every mode): pod traffic leaving the cluster network is masqueraded to the node's
address on the way out (openshift-sdn's `-s clusterNetwork ! -d clusterNetwork -j MASQUERADE`), so
the outside world answers the node and conntrack hands the reply back to the pod. Pods of a project
with egress IPs are SNATed to its egress IP or steered to the node holding it instead (`render.egress_ip`). Policy decisions
happen earlier (forward) on the pod's own address. Pod-to-pod traffic is never translated.

Services (every mode): ClusterIP DNAT in prerouting/output before forward, so the checks above see
the endpoint pod; see `render.services`.
"""

from __future__ import annotations

from collections.abc import Callable

from osdn.node.intent import NodeIntent
from osdn.node.render import egress_firewall as efw
from osdn.node.render import elements as el
from osdn.node.render import services as svc
from osdn.node.render.egress_ip import COUNTER as EGRESS_COUNTER
from osdn.node.render.egress_ip import render_egress_chains, render_egress_nat, render_egress_sets
from osdn.node.render.policy import render_policy
from osdn.node.render.ruleset import Chain, Set, Table

HEAD = (
    "ct state invalid counter name drop_invalid drop",
    "ct direction reply accept",
    "ct state related accept",
    "ip daddr 224.0.0.0/4 accept",
)

SRCNAT_PRIO = 100  # `priority srcnat`
MASQUERADE = "ip saddr @cluster_cidrs ip daddr != @cluster_cidrs ip daddr != 224.0.0.0/4 masquerade"  # multicast is bridged, never translated


Part = tuple[list[Set], list[Chain]]


def full_services(intent: NodeIntent) -> Part:
    """Pure: the service sets and chains of `intent`, rendered from scratch."""
    return (svc.render_service_sets(intent.services, (p.ip for p in intent.local_pods), (intent.node_ip,)),
            svc.render_service_chains(intent.services))


def full_multitenant(intent: NodeIntent) -> Part:
    """Pure: the multitenant sets and chain of `intent`, rendered from scratch."""
    pods = intent.pods
    return (assemble_multitenant(frozenset(el.ip(a) for a in intent.host_addrs()),
                                 frozenset(f"{el.ip(p.ip)} : {p.netid}" for p in pods),
                                 frozenset(f"{el.ip(p.ip)} . {p.netid}" for p in pods)),
            [multitenant_chain()])


def render_inet_table(intent: NodeIntent, policy: Callable[[NodeIntent], Part] = render_policy,
                      services: Callable[[NodeIntent], Part] = full_services,
                      multitenant: Callable[[NodeIntent], Part] = full_multitenant) -> Table:
    """Pure: the inet-family table for `intent`. `policy`, `services` and `multitenant` render the
    parts that grow with the cluster (`render.incremental` passes its own, which keep state)."""
    sets = [Set("cluster_cidrs", ("ipv4_addr",), el.nets(intent.cluster_cidrs), flags=("interval",))]
    chains: list[Chain] = []
    counters = ["drop_invalid"]
    tail: tuple[str, ...] = ()
    if intent.mode == "multitenant":
        mt_sets, mt_chains = multitenant(intent)
        sets.extend(mt_sets)
        chains.extend(mt_chains)
        counters.append("drop_multitenant")
        tail = ("ip saddr @cluster_cidrs ip daddr @cluster_cidrs jump multitenant",)
    elif intent.mode == "networkpolicy":
        np_sets, np_chains = policy(intent)
        sets.extend(np_sets)
        chains.extend(np_chains)
        counters.extend(("drop_np_ingress", "drop_np_egress"))
        tail = ("jump networkpolicy",)
    svc_sets, svc_chains = services(intent)  # render.services
    sets.extend(svc_sets)
    chains.extend(svc_chains)
    counters.append(svc.COUNTER)
    if intent.mode != "subnet" and intent.egress_firewall.programs:  # see render.egress_firewall
        sets.extend(efw.render_egress_firewall_sets(intent.egress_firewall))
        chains.extend(efw.render_egress_firewall_chains(intent.egress_firewall))
        counters.append(efw.COUNTER)
        tail += (efw.FORWARD_RULE,)
    chains.append(Chain("forward", HEAD + svc.service_forward_rules(intent.service_cidr) + tail, hook="forward"))
    nat: tuple[str, ...] = ()
    if not intent.egress.empty:  # egress IPs: see render.egress_ip
        sets.extend(render_egress_sets(intent.egress))
        chains.extend(render_egress_chains(intent.service_cidr, intent.egress.bridge))
        counters.append(EGRESS_COUNTER)
        nat = render_egress_nat()
    chains.append(Chain("postrouting", (*nat, svc.HAIRPIN_MASQUERADE, svc.EXTERNAL_MASQUERADE,
                                                   svc.NODEPORT_MASQUERADE, MASQUERADE),
                        hook="postrouting", type="nat", prio=SRCNAT_PRIO))
    return Table("inet", counters=tuple(counters), sets=tuple(sets), chains=tuple(chains))


def assemble_multitenant(hosts: frozenset[str], netids: frozenset[str], pairs: frozenset[str]) -> list[Set]:
    """Pure: the multitenant sets from their elements (host addresses, pod -> netid, pod . netid)."""
    return [Set("host_addrs", ("ipv4_addr",), hosts),
            Set("pod_netid", ("ipv4_addr",), netids, map_to="mark"),
            Set("pod_netid_pairs", ("ipv4_addr", "mark"), pairs)]


def multitenant_chain() -> Chain:
    return Chain("multitenant", (
        "ip saddr @host_addrs accept",
        "ip daddr @host_addrs accept",
        "meta mark set ip saddr map @pod_netid meta mark 0 accept",
        "meta mark set ip daddr map @pod_netid meta mark 0 accept",
        "meta mark set ip saddr map @pod_netid ip daddr . meta mark @pod_netid_pairs accept",
        "counter name drop_multitenant drop",
    ))

