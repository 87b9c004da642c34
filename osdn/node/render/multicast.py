"""Render the multicast part of `table bridge osdn`: who receives a pod's group traffic.

Pure. openshift-sdn's tables 110/111/120 in nftables terms. Delivery is decided per *multicast
group key*, never per IP group membership:
- multitenant: the key is the netid, so joined projects share delivery and global projects (netid 0)
  reach only each other; a netid is enabled only when every NetNamespace sharing it is
  (`intent.multicast_netids`);
- networkpolicy: the key is the project. Netids are unique per project there (the master gives
  each its own; `default` is 0), and a netid that several projects of this node's view share
  anyway (NetNamespaces edited by hand) is split into one key per project (`SPLIT_BASE` up), so
  multicast never leaves a project. NetworkPolicy is not consulted (the inet table accepts
  multicast before any policy);
- subnet: no key is enabled, every pod's multicast is dropped.

Chains (the forward hook runs once per output port of a bridged frame):
- forward: `ip daddr 224.0.0.0/4` -> `multicast`: the sender's key from `mc_src_netid` (every
  enabled pod of the cluster, by IP; anti-spoofing makes the source address trustworthy) into the
  mark, then the frame may leave by the port of a local pod with the same key (`mc_port_netid`),
  or by an uplink (the VXLAN device, which floods it to every other node: head-end replication;
  the receiving node filters again by the same maps); anything else counts in `drop_multicast`.
- output / input: the node's own multicast never enters the bridge's ports (pods, other nodes),
  and pods' multicast is not delivered to the node (`drop_multicast_node`), as openshift-sdn's
  table 0 drops multicast from tun0 and table 120 outputs to pod ports only.
"""

from __future__ import annotations

from collections import defaultdict

from osdn.node.intent import NodeIntent
from osdn.node.render import elements as el
from osdn.node.render.ruleset import Chain, Set

BRIDGE_PRIO = -200  # `priority filter` in the bridge family
MULTICAST = "224.0.0.0/4"
SPLIT_BASE = 1 << 25  # networkpolicy: per-project keys of a netid shared by several projects
COUNTERS = ("drop_multicast", "drop_multicast_node")


def group_keys(intent: NodeIntent) -> dict[str, int]:
    """Pure: pod IP -> multicast group key, for every pod whose multicast is enabled."""
    if not intent.multicast_netids:
        return {}
    if intent.mode == "multitenant":
        return {p.ip: p.netid for p in intent.pods if p.netid in intent.multicast_netids}
    if intent.mode != "networkpolicy":
        return {}
    projects: dict[int, set[str]] = defaultdict(set)
    for p in intent.pods:
        projects[p.netid].add(p.namespace)
    split = sorted(ns for netid, nss in projects.items() if len(nss) > 1 for ns in nss)
    split_key = {ns: SPLIT_BASE + i for i, ns in enumerate(split)}
    return {p.ip: split_key.get(p.namespace, p.netid) for p in intent.pods if p.netid in intent.multicast_netids}


def render_multicast(intent: NodeIntent) -> tuple[list[Set], list[Chain]]:
    """Pure: the multicast sets and chains of `table bridge osdn`."""
    keys = group_keys(intent)
    src = frozenset(f"{el.ip(ip)} : {key}" for ip, key in keys.items())
    ports = frozenset(f"{el.ifname(lp.veth)} . {keys[lp.ip]}" for lp in intent.local_pods if lp.ip in keys)
    sets = [Set("mc_src_netid", ("ipv4_addr",), src, map_to="mark"),
            Set("mc_port_netid", ("ifname", "mark"), ports)]
    node_drop = (f"ip daddr {MULTICAST} counter name drop_multicast_node drop",)
    chains = [
        Chain("multicast", rules=(
            "meta mark set ip saddr map @mc_src_netid oifname . meta mark @mc_port_netid accept",
            "meta mark set ip saddr map @mc_src_netid oifname @uplinks accept",
            "counter name drop_multicast drop",
        )),
        Chain("forward", hook="forward", prio=BRIDGE_PRIO, rules=(f"ip daddr {MULTICAST} jump multicast",)),
        Chain("output", hook="output", prio=BRIDGE_PRIO, rules=node_drop),
        Chain("input", hook="input", prio=BRIDGE_PRIO, rules=node_drop),
    ]
    return sets, chains

