"""Render egress IPs into `table inet osdn`: classify, steer, SNAT, and never leave from a node address.

Pure. Rendered only when the node has egress work (`EgressIntent.empty` is false), so a cluster
without egress IPs keeps its ruleset as it was. The codes and the mark layout are in
`osdn.node.egress_intent`; routes and addresses are applied by `osdn.node.egressip`.

- `egress_pre` (prerouting, mangle -150, before the routing decision and before DNAT): a new
  connection from a pod of an egress namespace (`egress_src`) to a destination outside the cluster
  network, the service network, multicast and this node's own addresses gets its code in `ct mark`
  (map `egress_code`); steered connections copy the code into `meta mark` for the policy-routing
  rule; `DROP` connections are dropped (`drop_egress`).
- `postrouting` (nat, srcnat; the chain `render.inet` owns): `SNAT` connections are translated to
  their egress IP (map `egress_snat`), steered ones leave unNATed; both before the node's masquerade.
- `egress_post` (postrouting, filter 300, after NAT): the guard. A `SNAT` connection whose source is
  not an egress IP this node holds (`egress_held`; the IP moved away) is dropped; so is a steered
  one that would leave other than through the bridge (its policy-routing rule is not there yet:
  it would go out unNATed), and any unclassified connection of an egress pod to the outside
  (opened before its namespace got egress IPs; or to a service whose endpoint is outside): whatever
  the timing, nothing of theirs leaves from a node address or its own pod address.
- `egress_in` (input): new connections to a held egress IP are refused (openshift-sdn does the same).
"""

from __future__ import annotations

from osdn.node.egress_intent import DROP, EGRESS_MASK, SNAT, STEER, EgressIntent
from osdn.node.render import elements as el
from osdn.node.render.ruleset import Chain, Set

COUNTER = "drop_egress"
MULTICAST = "224.0.0.0/4"


def _code(value: int) -> str:
    return f"0x{value:08x}"


def render_egress_sets(intent: EgressIntent) -> list[Set]:
    """Pure: the egress maps and sets."""
    return [
        Set("egress_code", ("ipv4_addr",), frozenset(f"{el.ip(ip)} : {code}" for ip, code in intent.codes),
            map_to="mark"),
        Set("egress_snat", ("ipv4_addr",), frozenset(f"{el.ip(ip)} : {el.ip(e)}" for ip, e in intent.snat),
            map_to="ipv4_addr"),
        Set("egress_src", ("ipv4_addr",), frozenset(el.ip(ip) for ip, _ in intent.codes)),
        Set("egress_held", ("ipv4_addr",), frozenset(el.ip(a) for a in intent.addresses)),
    ]


def render_egress_chains(service_cidr: str, bridge: str) -> list[Chain]:
    """Pure: the egress base chains (their rules depend only on the service network and the bridge)."""
    mask = _code(EGRESS_MASK)
    outside = f"ip daddr != @cluster_cidrs ip daddr != {service_cidr} ip daddr != {MULTICAST}"
    pre = (
        f"ip saddr @egress_src ct state new {outside} fib daddr type != local ct mark set ip saddr map @egress_code",
        f"ct direction original ct mark and {_code(STEER)} == {_code(STEER)} meta mark set ct mark and {mask}",
        f"ct mark and {mask} == {_code(DROP)} counter name {COUNTER} drop",
    )
    post = (
        f"ct direction original ct mark and {mask} == {_code(SNAT)} ip saddr != @egress_held "
        f"counter name {COUNTER} drop",
        f"ct direction original ct mark and {mask} == 0x00000000 ct original ip saddr @egress_src "
        f"ip daddr != @cluster_cidrs ip daddr != {MULTICAST} counter name {COUNTER} drop",
        f"ct direction original ct mark and {_code(STEER)} == {_code(STEER)} oifname != {el.ifname(bridge)} "
        f"counter name {COUNTER} drop",
    )
    return [
        Chain("egress_pre", pre, hook="prerouting", prio=-150),
        Chain("egress_post", post, hook="postrouting", prio=300),
        Chain("egress_in", (f"ip daddr @egress_held ct state new counter name {COUNTER} reject",), hook="input"),
    ]


def render_egress_nat() -> tuple[str, ...]:
    """Pure: the rules that go first in the srcnat chain (before the node's masquerade)."""
    mask = _code(EGRESS_MASK)
    return (f"ct mark and {mask} == {_code(SNAT)} snat ip to ip saddr map @egress_snat",
            f"ct mark and {_code(STEER)} == {_code(STEER)} accept")
