"""Egress IP plumbing in a node namespace: labelled addresses, fwmark rules and their routing tables.

Netlink primitives that take an `NL` handle (run them inside `links.with_netlink`). Idempotent: each
`sync_*` compares with what the kernel holds and returns what it changed.
- The *uplink* is the interface holding the node IP (`find_uplink`); egress IPs are added to it with
  the node IP's prefix length and the label `<ifname>:eip` (openshift-sdn's), which is how osdn finds
  its own addresses again after a restart. Nothing is ever written to a configuration file.
- Steering rules have one priority (`RULE_PRIORITY` of the caller) and match `iif <bridge>` plus an
  fwmark under a mask, so they apply to pod traffic routed by the node and never to the node's own
  packets (the VXLAN encapsulation of a steered packet keeps its mark); each points to a table with
  one `default via <gateway> dev <bridge> onlink` route.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from osdn.kernel.links import AF_INET, NL, LinkNotFoundError, nl_errors

RTNH_F_ONLINK = 4


@dataclass(frozen=True)
class Uplink:
    """The interface that holds the node IP, and that address's network."""

    ifname: str
    index: int
    mac: str
    network: ipaddress.IPv4Network

    @property
    def label(self) -> str:
        return f"{self.ifname}:eip"[:15]


@dataclass(frozen=True, order=True)
class FwmarkRule:
    mark: int
    mask: int
    table: int
    iifname: str


def find_uplink(nl: NL, node_ip: str) -> Uplink:
    """The interface holding `node_ip` (LinkNotFoundError if none does)."""
    for a in nl.ipr.get_addr(family=AF_INET, address=node_ip):
        idx = a["index"]
        link = nl.ipr.link("get", index=idx)[0]
        net = ipaddress.IPv4Network(f"{node_ip}/{a['prefixlen']}", strict=False)
        return Uplink(link.get_attr("IFLA_IFNAME"), idx, str(link.get_attr("IFLA_ADDRESS")), net)
    raise LinkNotFoundError(f"no interface holds the node IP {node_ip} in netns {nl.netns!r}")


def observe_labelled(nl: NL, up: Uplink) -> set[str]:
    """The addresses on the uplink that carry osdn's egress label."""
    return {str(a.get_attr("IFA_ADDRESS")) for a in nl.ipr.get_addr(family=AF_INET, index=up.index)
            if a.get_attr("IFA_LABEL") == up.label}


def add_labelled(nl: NL, up: Uplink, ip: str) -> None:
    with nl_errors(f"add egress IP {ip}/{up.network.prefixlen} to {up.ifname!r} in netns {nl.netns!r}"):
        nl.ipr.addr("add", index=up.index, address=ip, prefixlen=up.network.prefixlen, label=up.label)


def delete_labelled(nl: NL, up: Uplink, ip: str) -> None:
    with nl_errors(f"remove egress IP {ip} from {up.ifname!r} in netns {nl.netns!r}"):
        nl.ipr.addr("del", index=up.index, address=ip, prefixlen=up.network.prefixlen)


def observe_rules(nl: NL, priority: int) -> set[FwmarkRule]:
    out = set()
    for r in nl.ipr.get_rules(family=AF_INET):
        if r.get_attr("FRA_PRIORITY") == priority:
            out.add(FwmarkRule(int(r.get_attr("FRA_FWMARK") or 0), int(r.get_attr("FRA_FWMASK") or 0),
                               int(r.get_attr("FRA_TABLE") or r["table"]), str(r.get_attr("FRA_IIFNAME") or "")))
    return out


def sync_rules(nl: NL, priority: int, want: set[FwmarkRule]) -> tuple[set[FwmarkRule], set[FwmarkRule]]:
    """Make the rules at `priority` exactly `want`; returns (added, removed)."""
    have = observe_rules(nl, priority)
    for r in sorted(have - want):
        with nl_errors(f"remove rule fwmark {r.mark:#x}/{r.mask:#x} lookup {r.table} in netns {nl.netns!r}"):
            nl.ipr.rule("del", **_rule_args(r, priority))
    for r in sorted(want - have):
        with nl_errors(f"add rule fwmark {r.mark:#x}/{r.mask:#x} lookup {r.table} in netns {nl.netns!r}"):
            nl.ipr.rule("add", **_rule_args(r, priority))
    return want - have, have - want


def _rule_args(r: FwmarkRule, priority: int) -> dict[str, Any]:
    args: dict[str, Any] = {"table": r.table, "priority": priority, "fwmark": r.mark, "fwmask": r.mask}
    if r.iifname:
        args["iifname"] = r.iifname
    return args


def observe_default_route(nl: NL, table: int) -> tuple[str, int] | None:
    """(gateway, oif) of the default route in `table`, or None."""
    for r in nl.ipr.get_routes(family=AF_INET, table=table):
        if r.get_attr("RTA_TABLE") == table and r["dst_len"] == 0:
            return str(r.get_attr("RTA_GATEWAY")), int(r.get_attr("RTA_OIF") or 0)
    return None


def ensure_default_route(nl: NL, table: int, gateway: str, oif: int) -> bool:
    if observe_default_route(nl, table) == (gateway, oif):
        return False
    with nl_errors(f"route default via {gateway} in table {table} in netns {nl.netns!r}"):
        nl.ipr.route("replace", dst="0.0.0.0/0", gateway=gateway, oif=oif, table=table, flags=RTNH_F_ONLINK)
    return True


def delete_default_route(nl: NL, table: int) -> bool:
    if observe_default_route(nl, table) is None:
        return False
    with nl_errors(f"remove the default route of table {table} in netns {nl.netns!r}"):
        nl.ipr.route("del", dst="0.0.0.0/0", table=table)
    return True
