"""Render `table bridge osdn`: anti-spoofing on pod ports and per-netid multicast.

Pure. Why the bridge family: only there is `iifname` the bridge *port* (the pod's host veth); in the
inet family bridged packets show the bridge itself. Anti-spoofing needs no conntrack, so the bridge
family (which has none here) is enough.

- prerouting: frames from an uplink (the VXLAN port) pass; pods may not emit VXLAN; a frame from any
  other port must carry (port, IP, MAC) of a local pod, ARP included; everything else (unknown
  ports, IPv6, forged addresses) is dropped and counted in `drop_spoof`.
- forward (runs once per output port): multicast passes only if the sender's netid has multicast
  enabled and the output port leads to a pod of that netid (or is an uplink: the receiving node
  filters again).
"""

from __future__ import annotations

from osdn.node.intent import NodeIntent
from osdn.node.render import elements as el
from osdn.node.render.ruleset import Chain, Set, Table

BRIDGE_PRIO = -200  # `priority filter` in the bridge family


def render_bridge_table(intent: NodeIntent) -> Table:
    """Pure: the bridge-family table for `intent`."""
    chains = [_prerouting(intent)]
    sets = [
        Set("uplinks", ("ifname",), frozenset(el.ifname(u) for u in intent.uplinks)),
        Set("pod_addrs", ("ifname", "ipv4_addr", "ether_addr"),
            frozenset(f"{el.ifname(p.veth)} . {el.ip(p.ip)} . {el.mac(p.mac)}" for p in intent.local_pods)),
    ]
    counters = ["drop_spoof", "drop_pod_vxlan"]
    if intent.mode != "subnet":
        sets.extend(_multicast_sets(intent))
        chains.extend(_multicast_chains())
        counters.append("drop_multicast")
    return Table("bridge", counters=tuple(counters), sets=tuple(sets), chains=tuple(chains))


def _prerouting(intent: NodeIntent) -> Chain:
    return Chain("prerouting", hook="prerouting", prio=BRIDGE_PRIO, rules=(
        "iifname @uplinks accept",
        f"udp dport {intent.vxlan_port} counter name drop_pod_vxlan drop",
        "iifname . ip saddr . ether saddr @pod_addrs accept",
        "iifname . arp saddr ip . arp saddr ether @pod_addrs iifname . arp saddr ip . ether saddr @pod_addrs accept",
        "counter name drop_spoof drop",
    ))


def _multicast_sets(intent: NodeIntent) -> list[Set]:
    enabled = intent.multicast_netids
    netid_of = {p.ip: p.netid for p in intent.pods}
    src = frozenset(f"{el.ip(p.ip)} : {p.netid}" for p in intent.pods if p.netid in enabled)
    ports = {f"{el.ifname(lp.veth)} . {netid_of[lp.ip]}" for lp in intent.local_pods
             if netid_of.get(lp.ip) in enabled}
    ports.update(f"{el.ifname(u)} . {n}" for u in intent.uplinks for n in enabled)
    return [Set("mc_src_netid", ("ipv4_addr",), src, map_to="mark"),
            Set("mc_port_netid", ("ifname", "mark"), frozenset(ports))]


def _multicast_chains() -> list[Chain]:
    return [
        Chain("multicast", rules=(
            "meta mark set ip saddr map @mc_src_netid oifname . meta mark @mc_port_netid accept",
            "counter name drop_multicast drop",
        )),
        Chain("forward", hook="forward", prio=BRIDGE_PRIO, rules=("ip daddr 224.0.0.0/4 jump multicast",)),
    ]
