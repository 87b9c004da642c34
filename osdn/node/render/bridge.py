"""Render `table bridge osdn`: anti-spoofing on pod ports and per-netid multicast.

Pure. Why the bridge family: only there is `iifname` the bridge *port* (the pod's host veth); in the
inet family bridged packets show the bridge itself. Anti-spoofing needs no conntrack, so the bridge
family (which has none here) is enough.

- prerouting: frames from an uplink (the VXLAN port) pass; pods may not emit VXLAN; a frame from any
  other port must carry (port, IP, MAC) of a local pod, ARP included; everything else (unknown
  ports, IPv6, forged addresses) is dropped and counted in `drop_spoof`.
- forward, output, input: multicast, see `render.multicast` (every mode; none is enabled in subnet mode).
- hairpin_echo (forward, first): no flooded frame goes back out of its own pod port (`render.services`).
"""

from __future__ import annotations

from osdn.node.intent import NodeIntent
from osdn.node.render import elements as el
from osdn.node.render.multicast import BRIDGE_PRIO, render_multicast
from osdn.node.render.multicast import COUNTERS as MULTICAST_COUNTERS
from osdn.node.render.ruleset import Chain, Set, Table
from osdn.node.render.services import render_hairpin_echo


def render_bridge_table(intent: NodeIntent) -> Table:
    """Pure: the bridge-family table for `intent`."""
    chains = [_prerouting(intent)]
    sets = [
        Set("uplinks", ("ifname",), frozenset(el.ifname(u) for u in intent.uplinks)),
        Set("pod_addrs", ("ifname", "ipv4_addr", "ether_addr"),
            frozenset(f"{el.ifname(p.veth)} . {el.ip(p.ip)} . {el.mac(p.mac)}" for p in intent.local_pods)),
    ]
    mc_sets, mc_chains = render_multicast(intent)
    sets.extend(mc_sets)
    chains.extend(mc_chains)
    echo_set, echo_chain = render_hairpin_echo(p.veth for p in intent.local_pods)  # see render.services
    sets.append(echo_set)
    chains.append(echo_chain)
    counters = ("drop_spoof", "drop_pod_vxlan", *MULTICAST_COUNTERS)
    return Table("bridge", counters=tuple(counters), sets=tuple(sets), chains=tuple(chains))


def _prerouting(intent: NodeIntent) -> Chain:
    return Chain("prerouting", hook="prerouting", prio=BRIDGE_PRIO, rules=(
        "iifname @uplinks accept",
        f"udp dport {intent.vxlan_port} counter name drop_pod_vxlan drop",
        "iifname . ip saddr . ether saddr @pod_addrs accept",
        "iifname . arp saddr ip . arp saddr ether @pod_addrs iifname . arp saddr ip . ether saddr @pod_addrs accept",
        "counter name drop_spoof drop",
    ))

