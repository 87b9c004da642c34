"""Canonical nft text for set elements (the inverse lives in `render.parse`).

Pure. One function per element kind; every rendered element goes through one of these, so render and
parse agree on identity: addresses via `ipaddress`, /32 as a bare address, single ports as `80`,
ranges as `a-b`, interface names quoted, MACs lower case, marks in decimal.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from osdn.node.intent import DestPort, PortRange


@lru_cache(maxsize=1 << 17)
def ip(addr: str) -> str:
    """A canonical IPv4 address (cached: render sees the same pod IPs many times)."""
    return str(ipaddress.IPv4Address(addr))


def nets(cidrs: Iterable[str]) -> frozenset[str]:
    """Collapsed, non-overlapping networks (an interval set rejects overlaps); /32 as bare address."""
    collapsed = ipaddress.collapse_addresses(ipaddress.IPv4Network(c, strict=False) for c in cidrs)
    return frozenset(str(n.network_address) if n.prefixlen == 32 else str(n) for n in collapsed)


def ifname(name: str) -> str:
    return f'"{name}"'


def mac(addr: str) -> str:
    return addr.lower()


def port_range(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def merge_ports(ports: Iterable[PortRange]) -> dict[str, list[tuple[int, int]]]:
    """Per protocol, the sorted union of the ranges, with overlapping or adjacent ranges merged."""
    by_proto: dict[str, list[tuple[int, int]]] = {}
    for p in sorted(ports):
        spans = by_proto.setdefault(p.proto, [])
        if spans and p.first <= spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], max(spans[-1][1], p.last))
        else:
            spans.append((p.first, p.last))
    return by_proto


def proto_ports(ports: Iterable[PortRange]) -> frozenset[str]:
    """Elements of an `inet_proto . inet_service` interval set."""
    return frozenset(f"{proto} . {port_range(a, b)}"
                     for proto, spans in merge_ports(ports).items() for a, b in spans)


def dest_ports(items: Iterable[DestPort]) -> frozenset[str]:
    """Elements of an `ipv4_addr . inet_proto . inet_service` interval set (named ports)."""
    return frozenset(f"{ip(d.ip)} . {d.proto} . {d.port}" for d in items)
